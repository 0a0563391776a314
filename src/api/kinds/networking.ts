// networking.k8s.io/v1 NetworkPolicy and Ingress, and coordination.k8s.io/v1 Lease. NetworkPolicy
// lists are atomic as in Kubernetes (a strategic merge patch replaces them whole). Pure: no I/O.
import type { Static } from "@sinclair/typebox";
import { type FieldError, forbidden, invalid, notSupported, required } from "../errors.js";
import { isRecord, type KubeObject } from "../object.js";
import {
  AtomicList,
  as,
  dig,
  digArr,
  digStr,
  Int,
  IntOrString,
  KindSchema,
  LabelSelectorSchema,
  Opt,
  Str,
  Struct,
  Time,
} from "./common.js";
import { column, defineKind } from "./define.js";
import {
  cidrContains,
  dnsNameErrors,
  pushAll,
  validateCIDR,
  validateLabelSelector,
  validatePortNumber,
  validatePortNumOrName,
  validateProtocol,
} from "./rules.js";

// ------------------------------------------------------------------------------------ NetworkPolicy

const NetworkPolicyPort = Struct({ protocol: Opt(Str()), port: Opt(IntOrString()), endPort: Opt(Int()) });
const IPBlock = Struct({ cidr: Str(), except: Opt(AtomicList(Str())) });
const NetworkPolicyPeer = Struct({
  podSelector: Opt(LabelSelectorSchema),
  namespaceSelector: Opt(LabelSelectorSchema),
  ipBlock: Opt(IPBlock),
});

export const NetworkPolicySchema = KindSchema(
  "NetworkPolicy describes what traffic is allowed for a set of pods.",
  {
    spec: Struct({
      // Required in Kubernetes, but `podSelector:` (null) is common in manifests and means {} — the
      // defaults fill it.
      podSelector: Opt(LabelSelectorSchema),
      ingress: Opt(
        AtomicList(
          Struct({ ports: Opt(AtomicList(NetworkPolicyPort)), from: Opt(AtomicList(NetworkPolicyPeer)) }),
        ),
      ),
      egress: Opt(
        AtomicList(
          Struct({ ports: Opt(AtomicList(NetworkPolicyPort)), to: Opt(AtomicList(NetworkPolicyPeer)) }),
        ),
      ),
      policyTypes: Opt(AtomicList(Str())),
    }),
  },
);
export type NetworkPolicy = Static<typeof NetworkPolicySchema>;
export type NetworkPolicyPeer = Static<typeof NetworkPolicyPeer>;
export type NetworkPolicyPort = Static<typeof NetworkPolicyPort>;

function validatePeer(peer: NetworkPolicyPeer, path: string): FieldError[] {
  const errs: FieldError[] = [];
  const set = [peer.podSelector, peer.namespaceSelector, peer.ipBlock].filter((x) => x !== undefined).length;
  if (set === 0) errs.push(required(path, "must specify a peer"));
  if (peer.ipBlock !== undefined && set > 1)
    errs.push(forbidden(path, "may not specify more than 1 peer when ipBlock is specified"));
  errs.push(...validateLabelSelector(peer.podSelector, `${path}.podSelector`));
  errs.push(...validateLabelSelector(peer.namespaceSelector, `${path}.namespaceSelector`));
  if (peer.ipBlock !== undefined) {
    const cidrPath = `${path}.ipBlock.cidr`;
    if (peer.ipBlock.cidr === "") errs.push(required(cidrPath));
    const { errors, cidr } = validateCIDR(peer.ipBlock.cidr, cidrPath);
    errs.push(...errors);
    (peer.ipBlock.except ?? []).forEach((e, i) => {
      const p = `${path}.ipBlock.except[${i}]`;
      const r = validateCIDR(e, p);
      errs.push(...r.errors);
      if (cidr && r.cidr) {
        const inside =
          r.cidr.family === cidr.family &&
          r.cidr.prefix > cidr.prefix &&
          cidrContains(cidr, { family: r.cidr.family, value: r.cidr.network });
        if (!inside) errs.push(invalid(p, e, "must be a strict subset of `cidr`"));
      }
    });
  }
  return errs;
}

function validateNPPort(port: NetworkPolicyPort, path: string): FieldError[] {
  const errs = validateProtocol(port.protocol, `${path}.protocol`);
  if (port.port !== undefined) errs.push(...validatePortNumOrName(port.port, `${path}.port`));
  if (port.endPort !== undefined) {
    if (typeof port.port !== "number") {
      errs.push(required(`${path}.port`, "must be specified when endPort is specified"));
    } else if (port.endPort < port.port) {
      errs.push(invalid(`${path}.endPort`, port.endPort, "must be greater than or equal to `port`"));
    }
    errs.push(...validatePortNumber(port.endPort, `${path}.endPort`));
  }
  return errs;
}

export const networkPolicyType = defineKind({
  group: "networking.k8s.io",
  version: "v1",
  kind: "NetworkPolicy",
  plural: "networkpolicies",
  shortNames: ["netpol"],
  namespaced: true,
  builtin: true,
  hasGeneration: true,
  schema: NetworkPolicySchema,
  openAPIName: "io.k8s.api.networking.v1.NetworkPolicy",
  validate(obj) {
    const np = as<NetworkPolicy>(obj);
    const errs = validateLabelSelector(np.spec.podSelector, "spec.podSelector");
    for (const dir of ["ingress", "egress"] as const) {
      const peersField = dir === "ingress" ? "from" : "to";
      (np.spec[dir] ?? []).forEach((rule, i) => {
        const rp = `spec.${dir}[${i}]`;
        (rule.ports ?? []).forEach((p, j) => {
          errs.push(...validateNPPort(p, `${rp}.ports[${j}]`));
        });
        const peers = (rule as { from?: NetworkPolicyPeer[]; to?: NetworkPolicyPeer[] })[peersField] ?? [];
        peers.forEach((peer, j) => {
          errs.push(...validatePeer(peer, `${rp}.${peersField}[${j}]`));
        });
      });
    }
    const types = np.spec.policyTypes ?? [];
    if (types.length > 2)
      errs.push(invalid("spec.policyTypes", types, "may not specify more than two policyTypes"));
    const seen = new Set<string>();
    types.forEach((t, i) => {
      if (t !== "Ingress" && t !== "Egress")
        errs.push(notSupported(`spec.policyTypes[${i}]`, t, ["Ingress", "Egress"]));
      else if (seen.has(t))
        errs.push({
          field: `spec.policyTypes[${i}]`,
          type: "FieldValueDuplicate",
          value: t,
          detail: "Duplicate value",
        });
      seen.add(t);
    });
    return errs;
  },
  defaults(obj) {
    if (!isRecord(obj.spec)) return;
    const spec = obj.spec;
    if (!isRecord(spec.podSelector)) spec.podSelector = {};
    // Kubernetes: Ingress always, plus Egress when egress rules are given.
    if (
      spec.policyTypes === undefined ||
      (Array.isArray(spec.policyTypes) && spec.policyTypes.length === 0)
    ) {
      spec.policyTypes =
        Array.isArray(spec.egress) && spec.egress.length > 0 ? ["Ingress", "Egress"] : ["Ingress"];
    }
    for (const dir of ["ingress", "egress"]) {
      const rules = spec[dir];
      if (!Array.isArray(rules)) continue;
      for (const r of rules) {
        if (!isRecord(r) || !Array.isArray(r.ports)) continue;
        for (const p of r.ports) if (isRecord(p)) p.protocol ??= "TCP";
      }
    }
  },
  columns: [
    column("Pod-Selector", "string", "Pods the policy applies to", (o) =>
      formatLabelSelector(dig(o, "spec", "podSelector")),
    ),
  ],
});

/** metav1.FormatLabelSelector: "a=b,c in (d,e)"; "<none>" for an empty selector. */
export function formatLabelSelector(sel: unknown): string {
  if (!isRecord(sel)) return "<none>";
  const parts: string[] = [];
  if (isRecord(sel.matchLabels)) {
    for (const k of Object.keys(sel.matchLabels).sort()) parts.push(`${k}=${String(sel.matchLabels[k])}`);
  }
  for (const e of Array.isArray(sel.matchExpressions) ? sel.matchExpressions : []) {
    if (!isRecord(e)) continue;
    const values = Array.isArray(e.values) ? e.values.map(String).join(",") : "";
    switch (e.operator) {
      case "In":
        parts.push(`${String(e.key)} in (${values})`);
        break;
      case "NotIn":
        parts.push(`${String(e.key)} notin (${values})`);
        break;
      case "Exists":
        parts.push(String(e.key));
        break;
      case "DoesNotExist":
        parts.push(`!${String(e.key)}`);
        break;
    }
  }
  return parts.length > 0 ? parts.join(",") : "<none>";
}

// ------------------------------------------------------------------------------------------ Ingress

const ServiceBackendPort = Struct({ name: Opt(Str()), number: Opt(Int()) });
const IngressBackend = Struct({
  service: Opt(Struct({ name: Str(), port: Opt(ServiceBackendPort) })),
  resource: Opt(Struct({ apiGroup: Opt(Str()), kind: Str(), name: Str() })),
});

export const IngressSchema = KindSchema(
  "Ingress is a collection of rules routing inbound traffic to backends.",
  {
    spec: Opt(
      Struct({
        ingressClassName: Opt(Str()),
        defaultBackend: Opt(IngressBackend),
        tls: Opt(AtomicList(Struct({ hosts: Opt(AtomicList(Str())), secretName: Opt(Str()) }))),
        rules: Opt(
          AtomicList(
            Struct({
              host: Opt(Str()),
              http: Opt(
                Struct({
                  paths: AtomicList(Struct({ path: Opt(Str()), pathType: Str(), backend: IngressBackend })),
                }),
              ),
            }),
          ),
        ),
      }),
    ),
    status: Opt(
      Struct({
        loadBalancer: Opt(
          Struct({
            ingress: Opt(
              AtomicList(
                Struct({
                  ip: Opt(Str()),
                  hostname: Opt(Str()),
                  ports: Opt(AtomicList(Struct({ port: Int(), protocol: Str(), error: Opt(Str()) }))),
                }),
              ),
            ),
          }),
        ),
      }),
    ),
  },
);
export type Ingress = Static<typeof IngressSchema>;

function validateBackend(b: Static<typeof IngressBackend>, path: string): FieldError[] {
  const errs: FieldError[] = [];
  if ((b.service === undefined) === (b.resource === undefined)) {
    errs.push(invalid(path, "", "exactly one of `service` or `resource` must be specified"));
  }
  if (b.service !== undefined) {
    const port = b.service.port;
    if (
      port === undefined ||
      (port.name !== undefined && port.name !== "") === (port.number !== undefined && port.number !== 0)
    ) {
      errs.push(
        invalid(`${path}.service.port`, port ?? "", "exactly one of `name` or `number` must be specified"),
      );
    } else if (port.number !== undefined && port.number !== 0)
      errs.push(...validatePortNumber(port.number, `${path}.service.port.number`));
  }
  return errs;
}

export const ingressType = defineKind({
  group: "networking.k8s.io",
  version: "v1",
  kind: "Ingress",
  plural: "ingresses",
  shortNames: ["ing"],
  namespaced: true,
  statusSubresource: true,
  builtin: true,
  hasGeneration: true,
  schema: IngressSchema,
  openAPIName: "io.k8s.api.networking.v1.Ingress",
  validate(obj) {
    const ing = as<Ingress>(obj);
    const errs: FieldError[] = [];
    const spec = ing.spec ?? {};
    if (spec.defaultBackend !== undefined)
      errs.push(...validateBackend(spec.defaultBackend, "spec.defaultBackend"));
    if ((spec.rules ?? []).length === 0 && spec.defaultBackend === undefined) {
      errs.push(invalid("spec", "", "either `defaultBackend` or `rules` must be specified"));
    }
    (spec.rules ?? []).forEach((r, i) => {
      const rp = `spec.rules[${i}]`;
      if (r.host !== undefined && r.host !== "")
        pushAll(errs, `${rp}.host`, r.host, dnsNameErrors(r.host, true));
      (r.http?.paths ?? []).forEach((p, j) => {
        const pp = `${rp}.http.paths[${j}]`;
        const types = ["Exact", "Prefix", "ImplementationSpecific"];
        if (!types.includes(p.pathType)) errs.push(notSupported(`${pp}.pathType`, p.pathType, types));
        if (p.pathType !== "ImplementationSpecific" && !(p.path ?? "").startsWith("/")) {
          errs.push(invalid(`${pp}.path`, p.path ?? "", "must be an absolute path"));
        }
        errs.push(...validateBackend(p.backend, `${pp}.backend`));
      });
    });
    return errs;
  },
  columns: [
    column("Class", "string", "Ingress class", (o) => digStr(o, "spec", "ingressClassName")),
    column("Hosts", "string", "Hosts", (o) => {
      const hosts = digArr(o, "spec", "rules")
        .map((r) => digStr(r, "host"))
        .filter((h) => h !== undefined && h !== "");
      return hosts.length > 0 ? hosts.join(",") : "*";
    }),
    column("Address", "string", "Load-balancer addresses", (o) => {
      const a = digArr(o, "status", "loadBalancer", "ingress").map(
        (i) => digStr(i, "ip") ?? digStr(i, "hostname"),
      );
      return a.filter(Boolean).join(",") || undefined;
    }),
    column("Ports", "string", "Ports", (o) => (digArr(o, "spec", "tls").length > 0 ? "80, 443" : "80")),
  ],
});

// -------------------------------------------------------------------------------------------- Lease

export const LeaseSchema = KindSchema("Lease defines a lease concept (leader election, node heartbeats).", {
  spec: Opt(
    Struct({
      holderIdentity: Opt(Str()),
      leaseDurationSeconds: Opt(Int()),
      acquireTime: Opt(Time()),
      renewTime: Opt(Time()),
      leaseTransitions: Opt(Int()),
      strategy: Opt(Str()),
      preferredHolder: Opt(Str()),
    }),
  ),
});
export type Lease = Static<typeof LeaseSchema>;

export const leaseType = defineKind({
  group: "coordination.k8s.io",
  version: "v1",
  kind: "Lease",
  plural: "leases",
  namespaced: true,
  builtin: true,
  schema: LeaseSchema,
  openAPIName: "io.k8s.api.coordination.v1.Lease",
  validate(obj: KubeObject) {
    const spec = as<Lease>(obj).spec ?? {};
    const errs: FieldError[] = [];
    if (spec.leaseDurationSeconds !== undefined && spec.leaseDurationSeconds <= 0) {
      errs.push(invalid("spec.leaseDurationSeconds", spec.leaseDurationSeconds, "must be greater than 0"));
    }
    if (spec.leaseTransitions !== undefined && spec.leaseTransitions < 0) {
      errs.push(
        invalid("spec.leaseTransitions", spec.leaseTransitions, "must be greater than or equal to 0"),
      );
    }
    return errs;
  },
  columns: [column("Holder", "string", "Current holder", (o) => digStr(o, "spec", "holderIdentity"))],
});
