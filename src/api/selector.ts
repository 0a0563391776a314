// Kubernetes label selectors: the string form (`a=b,c!=d,e in (x,y),f notin (z),g,!h`, as
// `kubectl -l` and `--selector` take it) and the object form (`{matchLabels, matchExpressions}`,
// metav1.LabelSelector), compiled to one matcher type. Semantics follow apimachinery's
// `labels.Parse` and `metav1.LabelSelectorAsSelector`. Pure: no I/O.
import { type FieldError, fieldError, invalid, required } from "./errors.js";

export type SelectorOperator = "In" | "NotIn" | "Exists" | "DoesNotExist" | "Gt" | "Lt";

/** One requirement: key + operator + values (empty for Exists/DoesNotExist, one for Gt/Lt). */
export interface Requirement {
  key: string;
  operator: SelectorOperator;
  values: string[];
}

/** A compiled selector: all requirements must hold (AND). `nothing` matches no object at all
 *  (apimachinery's `labels.Nothing()`, the meaning of a nil LabelSelector). */
export interface Selector {
  requirements: Requirement[];
  nothing?: boolean;
}

export interface LabelSelectorRequirement {
  key: string;
  operator: string;
  values?: string[];
}

/** metav1.LabelSelector as plain data. */
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

/** A selector string that does not parse. `position` is the 0-based character offset. */
export class SelectorParseError extends Error {
  constructor(
    readonly selector: string,
    readonly position: number,
    readonly value: string,
    readonly detail: string,
  ) {
    super(
      `unable to parse selector ${JSON.stringify(selector)} at position ${position} (${JSON.stringify(value)}): ${detail}`,
    );
    this.name = "SelectorParseError";
  }
}

/** A LabelSelector object that is not valid; carries one FieldError per problem. */
export class LabelSelectorError extends Error {
  constructor(readonly errors: FieldError[]) {
    super(
      errors
        .map((e) => `${e.field}: ${e.detail}${e.value === undefined ? "" : ` (${JSON.stringify(e.value)})`}`)
        .join("; "),
    );
    this.name = "LabelSelectorError";
  }
}

export const everything = (): Selector => ({ requirements: [] });
export const nothing = (): Selector => ({ requirements: [], nothing: true });

const NAME_RE = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS1123_SUBDOMAIN_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const VALUE_RE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** Why `key` is not a qualified label key, or undefined when it is one. */
export function labelKeyProblem(key: string): string | undefined {
  if (key === "") return "name part must be non-empty";
  const parts = key.split("/");
  if (parts.length > 2)
    return "a qualified name must consist of an optional DNS subdomain prefix and a name, separated by '/'";
  const name = parts.length === 2 ? parts[1]! : parts[0]!;
  if (parts.length === 2) {
    const prefix = parts[0]!;
    if (prefix === "") return "prefix part must be non-empty";
    if (prefix.length > 253) return "prefix part must be no more than 253 characters";
    if (!DNS1123_SUBDOMAIN_RE.test(prefix)) return "prefix part must be a lowercase RFC 1123 subdomain";
  }
  if (name === "") return "name part must be non-empty";
  if (name.length > 63) return "name part must be no more than 63 characters";
  if (!NAME_RE.test(name))
    return "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
  return undefined;
}

/** Why `value` is not a valid label value, or undefined when it is one ("" is valid). */
export function labelValueProblem(value: string): string | undefined {
  if (value.length > 63) return "must be no more than 63 characters";
  if (!VALUE_RE.test(value))
    return "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
  return undefined;
}

// ---- string form -------------------------------------------------------------------------------

type TokKind = "id" | "=" | "==" | "!=" | "!" | "(" | ")" | "," | ">" | "<" | "end";
interface Token {
  kind: TokKind;
  text: string;
  pos: number;
}

function lex(s: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const special = "=!(),<> \t\n";
  while (i < s.length) {
    const c = s[i]!;
    if (c === " " || c === "\t" || c === "\n") {
      i++;
      continue;
    }
    const two = s.slice(i, i + 2);
    if (two === "==" || two === "!=") {
      out.push({ kind: two, text: two, pos: i });
      i += 2;
      continue;
    }
    if ("=!(),<>".includes(c)) {
      out.push({ kind: c as TokKind, text: c, pos: i });
      i++;
      continue;
    }
    const start = i;
    while (i < s.length && !special.includes(s[i]!)) i++;
    out.push({ kind: "id", text: s.slice(start, i), pos: start });
  }
  out.push({ kind: "end", text: "", pos: s.length });
  return out;
}

/** Parses the string form. "" selects everything. Throws SelectorParseError naming the position
 *  and the offending text. Requirements are returned in the order written. */
export function parseSelector(s: string): Selector {
  const toks = lex(s);
  let k = 0;
  const peek = (): Token => toks[k]!;
  const next = (): Token => toks[k++]!;
  const fail = (t: Token, detail: string): never => {
    throw new SelectorParseError(s, t.pos, t.text, detail);
  };
  const reqs: Requirement[] = [];
  if (peek().kind === "end") return everything();
  for (;;) {
    let t = next();
    let negated = false;
    if (t.kind === "!") {
      negated = true;
      t = next();
    }
    if (t.kind !== "id") fail(t, "expected a label key");
    const key = t.text;
    const kp = labelKeyProblem(key);
    if (kp) fail(t, `invalid label key: ${kp}`);
    const op = peek();
    if (negated) {
      if (op.kind !== "," && op.kind !== "end") fail(op, "expected ',' or end after '!<key>'");
      reqs.push({ key, operator: "DoesNotExist", values: [] });
    } else if (op.kind === "," || op.kind === "end") {
      reqs.push({ key, operator: "Exists", values: [] });
    } else if (op.kind === "=" || op.kind === "==" || op.kind === "!=") {
      next();
      const v = peek();
      // `a=` (empty value) is legal: the next token is ',' or end.
      let value = "";
      if (v.kind === "id") {
        value = v.text;
        next();
      } else if (v.kind !== "," && v.kind !== "end") fail(v, "expected a label value");
      const vp = labelValueProblem(value);
      if (vp) fail(v, `invalid label value: ${vp}`);
      reqs.push({ key, operator: op.kind === "!=" ? "NotIn" : "In", values: [value] });
    } else if (op.kind === ">" || op.kind === "<") {
      next();
      const v = next();
      if (v.kind !== "id" || !/^-?\d+$/.test(v.text)) fail(v, "expected an integer after '>' or '<'");
      reqs.push({ key, operator: op.kind === ">" ? "Gt" : "Lt", values: [v.text] });
    } else if (op.kind === "id" && (op.text === "in" || op.text === "notin")) {
      next();
      const open = next();
      if (open.kind !== "(") fail(open, `expected '(' after '${op.text}'`);
      const values: string[] = [];
      for (;;) {
        const v = peek();
        let value = "";
        if (v.kind === "id") {
          value = v.text;
          next();
        } else if (v.kind !== "," && v.kind !== ")") fail(v, "expected a label value, ',' or ')'");
        const vp = labelValueProblem(value);
        if (vp) fail(v, `invalid label value: ${vp}`);
        values.push(value);
        const sep = next();
        if (sep.kind === ")") break;
        if (sep.kind !== ",") fail(sep, "expected ',' or ')'");
      }
      reqs.push({ key, operator: op.text === "in" ? "In" : "NotIn", values: [...new Set(values)].sort() });
    } else {
      fail(op, "expected one of '=', '==', '!=', 'in', 'notin', '>', '<', ',' or end");
    }
    const sep = next();
    if (sep.kind === "end") break;
    if (sep.kind !== ",") fail(sep, "expected ',' between requirements");
    if (peek().kind === "end") fail(peek(), "expected a requirement after ','");
  }
  return { requirements: reqs };
}

// ---- object form -------------------------------------------------------------------------------

const OPERATORS = ["In", "NotIn", "Exists", "DoesNotExist"] as const;

/** Validates a LabelSelector object like apimachinery's ValidateLabelSelector. `path` is the field
 *  path of the selector (e.g. `spec.namespaceSelector`). */
export function validateLabelSelector(sel: LabelSelector, path: string): FieldError[] {
  const errs: FieldError[] = [];
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) {
    const kp = labelKeyProblem(k);
    if (kp) errs.push(invalid(`${path}.matchLabels`, k, kp));
    if (typeof v !== "string")
      errs.push(fieldError(`${path}.matchLabels`, "FieldValueTypeInvalid", v, "must be a string"));
    else {
      const vp = labelValueProblem(v);
      if (vp) errs.push(invalid(`${path}.matchLabels`, v, vp));
    }
  }
  (sel.matchExpressions ?? []).forEach((e, i) => {
    const p = `${path}.matchExpressions[${i}]`;
    const kp = labelKeyProblem(e.key ?? "");
    if (e.key === undefined || e.key === "") errs.push(required(`${p}.key`));
    else if (kp) errs.push(invalid(`${p}.key`, e.key, kp));
    const values = e.values ?? [];
    switch (e.operator) {
      case "In":
      case "NotIn":
        if (values.length === 0)
          errs.push(required(`${p}.values`, "must be specified when `operator` is 'In' or 'NotIn'"));
        break;
      case "Exists":
      case "DoesNotExist":
        if (values.length > 0)
          errs.push(
            fieldError(
              `${p}.values`,
              "FieldValueForbidden",
              values,
              "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            ),
          );
        break;
      default:
        errs.push(
          fieldError(
            `${p}.operator`,
            "FieldValueNotSupported",
            e.operator,
            `not a valid selector operator; supported: ${OPERATORS.join(", ")}`,
          ),
        );
    }
    values.forEach((v, j) => {
      const vp = labelValueProblem(v);
      if (vp) errs.push(invalid(`${p}.values[${j}]`, v, vp));
    });
  });
  return errs;
}

/** Compiles a LabelSelector object. `undefined`/`null` → nothing (as apimachinery for a nil
 *  selector); `{}` → everything. Callers whose API gives "absent" another meaning (an absent
 *  EgressIP podSelector selects every pod) pass `{}` instead. Throws LabelSelectorError. */
export function labelSelectorAsSelector(sel: LabelSelector | undefined | null, path = "selector"): Selector {
  if (sel === undefined || sel === null) return nothing();
  const errs = validateLabelSelector(sel, path);
  if (errs.length > 0) throw new LabelSelectorError(errs);
  const reqs: Requirement[] = [];
  for (const [key, v] of Object.entries(sel.matchLabels ?? {}))
    reqs.push({ key, operator: "In", values: [v] });
  for (const e of sel.matchExpressions ?? [])
    reqs.push({ key: e.key, operator: e.operator as SelectorOperator, values: [...(e.values ?? [])] });
  return { requirements: reqs };
}

export function requirementMatches(r: Requirement, labels: Readonly<Record<string, string>>): boolean {
  const has = Object.hasOwn(labels, r.key);
  const v = has ? labels[r.key]! : undefined;
  switch (r.operator) {
    case "In":
      return v !== undefined && r.values.includes(v);
    case "NotIn":
      return v === undefined || !r.values.includes(v);
    case "Exists":
      return has;
    case "DoesNotExist":
      return !has;
    case "Gt":
    case "Lt": {
      if (v === undefined || !/^-?\d+$/.test(v)) return false;
      const a = BigInt(v);
      const b = BigInt(r.values[0] ?? "0");
      return r.operator === "Gt" ? a > b : a < b;
    }
  }
}

export function selectorMatches(
  sel: Selector,
  labels: Readonly<Record<string, string>> | undefined,
): boolean {
  if (sel.nothing) return false;
  const l = labels ?? {};
  return sel.requirements.every((r) => requirementMatches(r, l));
}

/** Convenience: does a LabelSelector object select these labels? (nil selects nothing.) */
export function matchesLabelSelector(
  sel: LabelSelector | undefined | null,
  labels: Readonly<Record<string, string>> | undefined,
): boolean {
  return selectorMatches(labelSelectorAsSelector(sel), labels);
}

/** Renders a selector in the string form (kubectl's canonical spelling). */
export function formatSelector(sel: Selector): string {
  if (sel.nothing) return "<none>";
  return sel.requirements
    .map((r) => {
      switch (r.operator) {
        case "In":
          return r.values.length === 1 ? `${r.key}=${r.values[0]}` : `${r.key} in (${r.values.join(",")})`;
        case "NotIn":
          return r.values.length === 1
            ? `${r.key}!=${r.values[0]}`
            : `${r.key} notin (${r.values.join(",")})`;
        case "Exists":
          return r.key;
        case "DoesNotExist":
          return `!${r.key}`;
        case "Gt":
          return `${r.key}>${r.values[0]}`;
        default:
          return `${r.key}<${r.values[0]}`;
      }
    })
    .join(",");
}
