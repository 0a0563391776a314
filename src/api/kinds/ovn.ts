// k8s.ovn.org/v1 kinds from OVN-Kubernetes: EgressIP (cluster-scoped), EgressService and
// EgressFirewall (namespaced). Field names follow go-controller/pkg/crd/*/v1/types.go. CRD-style:
// no strategic-merge-patch metadata (clients use JSON merge patch). Pure: no I/O.
import { type Static, Type } from "@sinclair/typebox";
import { duplicate, type FieldError, invalid, required, tooMany } from "../errors.js";
import type { KubeObject } from "../object.js";
import {
  as,
  digArr,
  digStr,
  Enum,
  Int,
  joinOrNone,
  KindSchema,
  LabelSelectorSchema,
  Opt,
  Str,
  Struct,
} from "./common.js";
import { column, defineKind } from "./define.js";
import {
  dnsNameErrors,
  pushAll,
  validateCIDR,
  validateIP,
  validateLabelSelector,
  validatePortNumber,
} from "./rules.js";

// ----------------------------------------------------------------------------------------- EgressIP

export const EgressIPStatusItemSchema = Struct({ node: Str(), egressIP: Str() });
export type EgressIPStatusItem = Static<typeof EgressIPStatusItemSchema>;

export const EgressIPSchema = KindSchema(
  "EgressIP gives the pods of the selected namespaces a fixed source address for traffic leaving the cluster.",
  {
    spec: Struct({
      egressIPs: Type.Array(Str(), { description: "Plain IPv4/IPv6 addresses (no CIDR notation)." }),
      namespaceSelector: LabelSelectorSchema,
      podSelector: Opt(LabelSelectorSchema),
    }),
    status: Opt(Struct({ items: Type.Array(EgressIPStatusItemSchema) })),
  },
);
export type EgressIP = Static<typeof EgressIPSchema>;

export function validateEgressIP(obj: KubeObject): FieldError[] {
  const eip = as<EgressIP>(obj);
  const errs: FieldError[] = [];
  const seen = new Set<bigint>();
  eip.spec.egressIPs.forEach((s, i) => {
    const p = `spec.egressIPs[${i}]`;
    const { errors, ip } = validateIP(s, p);
    errs.push(...errors);
    if (ip) {
      // Same address written twice (also "::1" vs "0::1").
      const key = ip.family === 4 ? ip.value : ip.value | (1n << 128n);
      if (seen.has(key)) errs.push(duplicate(p, s));
      seen.add(key);
    }
  });
  errs.push(...validateLabelSelector(eip.spec.namespaceSelector, "spec.namespaceSelector"));
  errs.push(...validateLabelSelector(eip.spec.podSelector, "spec.podSelector"));
  (eip.status?.items ?? []).forEach((it, i) => {
    errs.push(...validateIP(it.egressIP, `status.items[${i}].egressIP`).errors);
    if (it.node === "") errs.push(required(`status.items[${i}].node`));
  });
  return errs;
}

export const egressIPType = defineKind({
  group: "k8s.ovn.org",
  version: "v1",
  kind: "EgressIP",
  plural: "egressips",
  shortNames: ["eip"],
  namespaced: false,
  hasGeneration: true,
  schema: EgressIPSchema,
  openAPIName: "org.ovn.k8s.v1.EgressIP",
  validate: validateEgressIP,
  columns: [
    column("EgressIPs", "string", "The requested egress IPs", (o) =>
      joinOrNone(digArr(o, "spec", "egressIPs")),
    ),
    column("Assigned Node", "string", "Nodes holding the IPs", (o) =>
      joinOrNone(digArr(o, "status", "items").map((i) => digStr(i, "node"))),
    ),
    column("Assigned EgressIPs", "string", "Assigned IPs", (o) =>
      joinOrNone(digArr(o, "status", "items").map((i) => digStr(i, "egressIP"))),
    ),
  ],
});

// ------------------------------------------------------------------------------------ EgressService

export const EgressServiceSchema = KindSchema(
  "EgressService makes the endpoints of a LoadBalancer Service leave the cluster with the service's ingress IP, or through a given network.",
  {
    spec: Opt(
      Struct({
        sourceIPBy: Opt(Enum(["LoadBalancerIP", "Network"] as const)),
        nodeSelector: Opt(LabelSelectorSchema),
        network: Opt(Str()),
      }),
    ),
    status: Opt(Struct({ host: Str() })),
  },
);
export type EgressService = Static<typeof EgressServiceSchema>;

export const egressServiceType = defineKind({
  group: "k8s.ovn.org",
  version: "v1",
  kind: "EgressService",
  plural: "egressservices",
  namespaced: true,
  statusSubresource: true,
  hasGeneration: true,
  schema: EgressServiceSchema,
  openAPIName: "org.ovn.k8s.v1.EgressService",
  validate(obj) {
    const es = as<EgressService>(obj);
    const errs = validateLabelSelector(es.spec?.nodeSelector, "spec.nodeSelector");
    return errs;
  },
  columns: [
    column("Host", "string", "Node handling the service's egress (ALL for Network)", (o) =>
      digStr(o, "status", "host"),
    ),
  ],
});

// ----------------------------------------------------------------------------------- EgressFirewall

export const EgressFirewallPortSchema = Struct({ protocol: Str(), port: Int() });
export const EgressFirewallDestinationSchema = Struct({
  cidrSelector: Opt(Str()),
  dnsName: Opt(Str()),
  nodeSelector: Opt(LabelSelectorSchema),
});
export const EgressFirewallRuleSchema = Struct({
  type: Enum(["Allow", "Deny"] as const),
  ports: Opt(Type.Array(EgressFirewallPortSchema)),
  to: EgressFirewallDestinationSchema,
});
export type EgressFirewallRule = Static<typeof EgressFirewallRuleSchema>;

export const EgressFirewallSchema = KindSchema(
  "EgressFirewall lists, in order, which destinations outside the cluster the pods of a namespace may reach.",
  {
    spec: Struct({ egress: Type.Array(EgressFirewallRuleSchema) }),
    status: Opt(Struct({ status: Opt(Str()), messages: Opt(Type.Array(Str())) })),
  },
);
export type EgressFirewall = Static<typeof EgressFirewallSchema>;

/** Upstream's MaxItems on spec.egress. */
export const EGRESS_FIREWALL_MAX_RULES = 8000;

export function validateEgressFirewall(obj: KubeObject): FieldError[] {
  const ef = as<EgressFirewall>(obj);
  const errs: FieldError[] = [];
  const name = obj.metadata.name;
  if (name !== undefined && name !== "default") {
    errs.push(invalid("metadata.name", name, 'EgressFirewall must be named "default" (one per namespace)'));
  }
  if (ef.spec.egress.length > EGRESS_FIREWALL_MAX_RULES) {
    errs.push(tooMany("spec.egress", ef.spec.egress.length, EGRESS_FIREWALL_MAX_RULES));
  }
  ef.spec.egress.forEach((rule, i) => {
    const rp = `spec.egress[${i}]`;
    const to = rule.to;
    const set = (["cidrSelector", "dnsName", "nodeSelector"] as const).filter((k) => to[k] !== undefined);
    if (set.length !== 1) {
      errs.push(
        invalid(`${rp}.to`, to, "exactly one of cidrSelector, dnsName or nodeSelector must be specified"),
      );
    }
    if (to.cidrSelector !== undefined)
      errs.push(...validateCIDR(to.cidrSelector, `${rp}.to.cidrSelector`).errors);
    if (to.dnsName !== undefined)
      pushAll(errs, `${rp}.to.dnsName`, to.dnsName, dnsNameErrors(to.dnsName, true));
    errs.push(...validateLabelSelector(to.nodeSelector, `${rp}.to.nodeSelector`));
    (rule.ports ?? []).forEach((p, j) => {
      const pp = `${rp}.ports[${j}]`;
      if (p.protocol !== "TCP" && p.protocol !== "UDP" && p.protocol !== "SCTP") {
        errs.push(invalid(`${pp}.protocol`, p.protocol, "must be TCP, UDP or SCTP"));
      }
      errs.push(...validatePortNumber(p.port, `${pp}.port`));
    });
  });
  return errs;
}

export const egressFirewallType = defineKind({
  group: "k8s.ovn.org",
  version: "v1",
  kind: "EgressFirewall",
  plural: "egressfirewalls",
  shortNames: ["ef"],
  namespaced: true,
  statusSubresource: true,
  hasGeneration: true,
  schema: EgressFirewallSchema,
  openAPIName: "org.ovn.k8s.v1.EgressFirewall",
  validate: validateEgressFirewall,
  columns: [
    column("EgressFirewall Status", "string", "Whether the rules are applied", (o) =>
      digStr(o, "status", "status"),
    ),
  ],
});
