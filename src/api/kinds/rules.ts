// Semantic validation rules shared by the kinds: Kubernetes name syntaxes (DNS-1123, DNS-1035,
// qualified names, label values, IANA service names), ObjectMeta, label selectors, ports, IPs and
// CIDRs. Each rule returns FieldErrors carrying the Kubernetes field path and the offending value,
// worded as the Kubernetes API words them. Pure: no I/O; never throws on malformed input.
import { duplicate, type FieldError, fieldError, invalid, notSupported, required } from "../errors.js";
import { type CIDR, cidrContains, type IP, parseCIDR, parseIP } from "../ip.js";
import { isRecord } from "../object.js";

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const QUALIFIED_NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const CONFIG_MAP_KEY = /^[-._a-zA-Z0-9]+$/;
const IANA_SVC_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

export const DNS1123_LABEL_MSG =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
export const DNS1123_SUBDOMAIN_MSG =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
export const DNS1035_LABEL_MSG =
  "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";

/** Problems with `s` as a DNS-1123 label (max 63); empty list = valid. */
export function dns1123LabelErrors(s: string): string[] {
  const errs: string[] = [];
  if (s.length > 63) errs.push("must be no more than 63 characters");
  if (!DNS1123_LABEL.test(s)) errs.push(DNS1123_LABEL_MSG);
  return errs;
}

export function dns1123SubdomainErrors(s: string): string[] {
  const errs: string[] = [];
  if (s.length > 253) errs.push("must be no more than 253 characters");
  if (!DNS1123_SUBDOMAIN.test(s)) errs.push(DNS1123_SUBDOMAIN_MSG);
  return errs;
}

export function dns1035LabelErrors(s: string): string[] {
  const errs: string[] = [];
  if (s.length > 63) errs.push("must be no more than 63 characters");
  if (!DNS1035_LABEL.test(s)) errs.push(DNS1035_LABEL_MSG);
  return errs;
}

export const isDNS1123Label = (s: string): boolean => dns1123LabelErrors(s).length === 0;
export const isDNS1123Subdomain = (s: string): boolean => dns1123SubdomainErrors(s).length === 0;

/** Label/annotation key syntax: `[prefix/]name`, prefix a DNS-1123 subdomain, name ≤ 63. */
export function qualifiedNameErrors(s: string): string[] {
  const parts = s.split("/");
  let name = s;
  const errs: string[] = [];
  if (parts.length === 2) {
    const prefix = parts[0]!;
    name = parts[1]!;
    if (prefix.length === 0) errs.push("prefix part must be non-empty");
    else for (const e of dns1123SubdomainErrors(prefix)) errs.push(`prefix part ${e}`);
  } else if (parts.length > 2) {
    return [
      "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
    ];
  }
  if (name.length === 0) errs.push("name part must be non-empty");
  else if (name.length > 63) errs.push("name part must be no more than 63 characters");
  if (name.length > 0 && !QUALIFIED_NAME_PART.test(name)) {
    errs.push(
      "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
    );
  }
  return errs;
}

export function labelValueErrors(s: string): string[] {
  const errs: string[] = [];
  if (s.length > 63) errs.push("must be no more than 63 characters");
  if (!LABEL_VALUE.test(s)) {
    errs.push(
      "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
    );
  }
  return errs;
}

/** ConfigMap/Secret data keys. */
export function configMapKeyErrors(s: string): string[] {
  const errs: string[] = [];
  if (s.length > 253) errs.push("must be no more than 253 characters");
  if (!CONFIG_MAP_KEY.test(s)) {
    errs.push(
      "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
    );
  }
  if (s === ".") errs.push("must not be '.'");
  else if (s === "..") errs.push("must not be '..'");
  else if (s.startsWith("..")) errs.push("must not start with '..'");
  return errs;
}

/** IANA service name (named ports): ≤ 15 chars, lower-case alphanumerics and '-', ≥ 1 letter,
 *  no leading/trailing/double '-'. */
export function ianaSvcNameErrors(s: string): string[] {
  const errs: string[] = [];
  if (s.length > 15) errs.push("must be no more than 15 characters");
  if (!IANA_SVC_NAME.test(s)) {
    errs.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)");
  } else if (s.includes("--")) errs.push("must not contain consecutive hyphens");
  if (!/[a-z]/.test(s)) errs.push("must contain at least one letter (a-z)");
  return errs;
}

/** Adds one FieldErrorValueInvalid per message. */
export function pushAll(out: FieldError[], field: string, value: unknown, messages: string[]): void {
  for (const m of messages) out.push(invalid(field, value, m));
}

export type NameRule = (name: string) => string[];

export interface MetaOptions {
  /** Validates metadata.name (and generateName's prefix). Default: DNS-1123 subdomain. */
  nameRule?: NameRule;
}

const MAX_ANNOTATIONS_BYTES = 256 * 1024;

/** metav1.ObjectMeta rules: name (or generateName) syntax, namespace syntax, labels, annotations,
 *  owner references, finalizers. Scope (namespace present or not) is the API server's business. */
export function validateObjectMeta(meta: unknown, opts: MetaOptions = {}, base = "metadata"): FieldError[] {
  const errs: FieldError[] = [];
  if (!isRecord(meta)) return [required(base)];
  const nameRule = opts.nameRule ?? dns1123SubdomainErrors;
  const name = meta.name;
  const gen = meta.generateName;
  if (typeof name === "string" && name !== "") {
    pushAll(errs, `${base}.name`, name, nameRule(name));
  } else if (typeof gen === "string" && gen !== "") {
    // generateName is a prefix: the server appends 5 characters, so a trailing '-' is fine.
    const prefix = gen.endsWith("-") ? gen.slice(0, -1) : gen;
    if (prefix !== "") pushAll(errs, `${base}.generateName`, gen, nameRule(prefix));
  } else {
    errs.push(required(`${base}.name`, "name or generateName is required"));
  }
  if (typeof meta.namespace === "string" && meta.namespace !== "") {
    pushAll(errs, `${base}.namespace`, meta.namespace, dns1123LabelErrors(meta.namespace));
  }
  errs.push(...validateLabels(meta.labels, `${base}.labels`));
  errs.push(...validateAnnotations(meta.annotations, `${base}.annotations`));
  if (typeof meta.generation === "number" && meta.generation < 0) {
    errs.push(invalid(`${base}.generation`, meta.generation, "must be greater than or equal to 0"));
  }
  if (Array.isArray(meta.ownerReferences)) {
    let controllers = 0;
    meta.ownerReferences.forEach((ref: unknown, i) => {
      const p = `${base}.ownerReferences[${i}]`;
      if (!isRecord(ref)) return;
      for (const f of ["apiVersion", "kind", "name", "uid"] as const) {
        if (typeof ref[f] !== "string" || ref[f] === "")
          errs.push(required(`${p}.${f}`, `${f} must not be empty`));
      }
      if (ref.controller === true) controllers++;
    });
    if (controllers > 1) {
      errs.push(
        invalid(
          `${base}.ownerReferences`,
          meta.ownerReferences,
          "Only one reference can have Controller set to true",
        ),
      );
    }
  }
  if (Array.isArray(meta.finalizers)) {
    const seen = new Set<string>();
    meta.finalizers.forEach((f: unknown, i) => {
      if (typeof f !== "string") return;
      const p = `${base}.finalizers[${i}]`;
      // "kubernetes" is the one standard finalizer without a domain prefix.
      if (f !== "kubernetes") pushAll(errs, p, f, qualifiedNameErrors(f));
      if (seen.has(f)) errs.push(duplicate(p, f));
      seen.add(f);
    });
  }
  return errs;
}

export function validateLabels(labels: unknown, path: string): FieldError[] {
  const errs: FieldError[] = [];
  if (!isRecord(labels)) return errs;
  for (const [k, v] of Object.entries(labels)) {
    pushAll(errs, path, k, qualifiedNameErrors(k));
    if (typeof v === "string") pushAll(errs, path, v, labelValueErrors(v));
  }
  return errs;
}

export function validateAnnotations(annotations: unknown, path: string): FieldError[] {
  const errs: FieldError[] = [];
  if (!isRecord(annotations)) return errs;
  let size = 0;
  for (const [k, v] of Object.entries(annotations)) {
    // Kubernetes lower-cases the key before checking it: annotation keys may contain upper case.
    pushAll(errs, path, k, qualifiedNameErrors(k.toLowerCase()));
    size += k.length + (typeof v === "string" ? v.length : 0);
  }
  if (size > MAX_ANNOTATIONS_BYTES) {
    errs.push(
      fieldError(path, "FieldValueTooLong", undefined, `must have at most ${MAX_ANNOTATIONS_BYTES} bytes`),
    );
  }
  return errs;
}

const SELECTOR_OPS = ["In", "NotIn", "Exists", "DoesNotExist"] as const;

/** metav1.LabelSelector rules; absent/null selectors are fine (they select everything/nothing as
 *  the kind defines). */
export function validateLabelSelector(sel: unknown, path: string): FieldError[] {
  const errs: FieldError[] = [];
  if (!isRecord(sel)) return errs;
  errs.push(...validateLabels(sel.matchLabels, `${path}.matchLabels`));
  if (Array.isArray(sel.matchExpressions)) {
    sel.matchExpressions.forEach((req: unknown, i) => {
      if (!isRecord(req)) return;
      const p = `${path}.matchExpressions[${i}]`;
      if (typeof req.key === "string") pushAll(errs, `${p}.key`, req.key, qualifiedNameErrors(req.key));
      const op = req.operator;
      const values = Array.isArray(req.values) ? req.values : [];
      if (op === "In" || op === "NotIn") {
        if (values.length === 0) {
          errs.push(required(`${p}.values`, "must be specified when `operator` is 'In' or 'NotIn'"));
        }
      } else if (op === "Exists" || op === "DoesNotExist") {
        if (values.length > 0) {
          errs.push(
            forbiddenValue(
              `${p}.values`,
              "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            ),
          );
        }
      } else {
        errs.push(notSupported(`${p}.operator`, op, SELECTOR_OPS));
      }
      values.forEach((v: unknown, j) => {
        if (typeof v === "string") pushAll(errs, `${p}.values[${j}]`, v, labelValueErrors(v));
      });
    });
  }
  return errs;
}

function forbiddenValue(field: string, detail: string): FieldError {
  return fieldError(field, "FieldValueForbidden", undefined, detail);
}

export const PROTOCOLS = ["TCP", "UDP", "SCTP"] as const;

export function validatePortNumber(port: unknown, path: string, min = 1): FieldError[] {
  if (typeof port !== "number" || !Number.isInteger(port) || port < min || port > 65535) {
    return [invalid(path, port, `must be between ${min} and 65535, inclusive`)];
  }
  return [];
}

export function validateProtocol(proto: unknown, path: string): FieldError[] {
  if (proto === undefined) return [];
  return typeof proto === "string" && (PROTOCOLS as readonly string[]).includes(proto)
    ? []
    : [notSupported(path, proto, PROTOCOLS)];
}

/** An IntOrString port: number 1–65535 or an IANA service name. */
export function validatePortNumOrName(port: unknown, path: string): FieldError[] {
  if (typeof port === "number") return validatePortNumber(port, path);
  if (typeof port === "string") {
    const errs: FieldError[] = [];
    pushAll(errs, path, port, ianaSvcNameErrors(port));
    return errs;
  }
  return [];
}

/** A plain IP address; a CIDR gets its own message because it is the usual mistake. */
export function validateIP(s: unknown, path: string, family?: 4 | 6): { errors: FieldError[]; ip?: IP } {
  if (typeof s !== "string") return { errors: [] };
  const ip = parseIP(s);
  if (!ip) {
    const detail = s.includes("/")
      ? "must be a plain IP address, not a CIDR"
      : "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)";
    return { errors: [invalid(path, s, detail)] };
  }
  if (family !== undefined && ip.family !== family) {
    return { errors: [invalid(path, s, `must be a valid IPv${family} address`)] };
  }
  return { errors: [], ip };
}

export function validateCIDR(s: unknown, path: string): { errors: FieldError[]; cidr?: CIDR } {
  if (typeof s !== "string") return { errors: [] };
  const cidr = parseCIDR(s);
  if (!cidr) {
    return { errors: [invalid(path, s, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)")] };
  }
  return { errors: [], cidr };
}

/** A CIDR written in its canonical form (no host bits set), as Kubernetes requires for subnets. */
export function validateNetworkCIDR(s: unknown, path: string): { errors: FieldError[]; cidr?: CIDR } {
  const r = validateCIDR(s, path);
  if (r.cidr && r.cidr.address !== r.cidr.network) {
    return { errors: [invalid(path, s, "must be a network address (host bits must be zero)")] };
  }
  return r;
}

export { cidrContains };

/** DNS name as used by egress firewalls and routes: DNS-1123 subdomain, case-insensitive, with an
 *  optional trailing dot; `*.` prefix when `wildcard` is allowed. */
export function dnsNameErrors(s: string, wildcard: boolean): string[] {
  let name = s;
  if (wildcard && name.startsWith("*.")) name = name.slice(2);
  if (name.endsWith(".")) name = name.slice(0, -1);
  if (name.includes("*")) {
    return [wildcard ? "a wildcard is only allowed as a leading '*.' label" : "wildcards are not allowed"];
  }
  return dns1123SubdomainErrors(name.toLowerCase());
}

/** Object names as Kubernetes' path-segment rule: anything but "." / ".." / containing "/" or "%". */
export function pathSegmentNameErrors(s: string): string[] {
  if (s === "." || s === "..") return [`may not be '${s}'`];
  const errs: string[] = [];
  if (s.includes("/")) errs.push("may not contain '/'");
  if (s.includes("%")) errs.push("may not contain '%'");
  return errs;
}

/** Reports duplicates in a list of strings (first occurrence wins). */
export function uniqueStrings(values: unknown, path: string): FieldError[] {
  const errs: FieldError[] = [];
  if (!Array.isArray(values)) return errs;
  const seen = new Set<string>();
  values.forEach((v: unknown, i) => {
    if (typeof v !== "string") return;
    if (seen.has(v)) errs.push(duplicate(`${path}[${i}]`, v));
    seen.add(v);
  });
  return errs;
}

/** Deep equality for JSON values (immutability checks). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((v, i) => jsonEqual(v, b[i]));
  }
  if (isRecord(a) && isRecord(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => jsonEqual(a[k], b[k]));
  }
  return false;
}

/** `field is immutable`, as Kubernetes reports it. */
export function immutable(path: string, value: unknown): FieldError {
  return invalid(path, value, "field is immutable");
}
