// OpenShift kinds: network.openshift.io/v1 NetNamespace, HostSubnet, ClusterNetwork and
// EgressNetworkPolicy (openshift/api network/v1; also served under the OpenShift 3.x legacy `v1`
// API, which seed 004 uses), cloud.network.openshift.io/v1 CloudPrivateIPConfig and
// route.openshift.io/v1 Route. The network.openshift.io kinds keep their fields at the top level
// (no spec), exactly as upstream. Pure: no I/O.
import { type Static, Type } from "@sinclair/typebox";
import { duplicate, type FieldError, invalid, notSupported, required, tooMany } from "../errors.js";
import { cidrsOverlap, parseIPv6 } from "../ip.js";
import { isRecord, type KubeObject } from "../object.js";
import {
  as,
  ConditionSchema,
  dig,
  digArr,
  digStr,
  Enum,
  Int,
  Int64,
  IntOrString,
  joinOrNone,
  KindSchema,
  LocalObjectReferenceSchema,
  Opt,
  Str,
  Struct,
  Time,
} from "./common.js";
import { column, defineKind } from "./define.js";
import {
  dns1123SubdomainErrors,
  dnsNameErrors,
  pathSegmentNameErrors,
  pushAll,
  validateCIDR,
  validateIP,
  validateNetworkCIDR,
} from "./rules.js";

const LEGACY = [{ group: "", version: "v1" }];

// ------------------------------------------------------------------------------------- NetNamespace

/** Highest VNID (24 bits). */
export const MAX_VNID = 16777215;

export const NetNamespaceSchema = KindSchema(
  "NetNamespace holds the VNID of a project (ovs-multitenant) and its static egress IPs.",
  {
    netname: Str("Name of the namespace; must equal metadata.name."),
    netid: Int64("VNID: 0 = global, else 1..16777215."),
    egressIPs: Opt(Type.Array(Str(), { description: "Static egress IPs; only the first is used." })),
  },
);
export type NetNamespace = Static<typeof NetNamespaceSchema>;

export const netNamespaceType = defineKind({
  group: "network.openshift.io",
  version: "v1",
  kind: "NetNamespace",
  plural: "netnamespaces",
  namespaced: false,
  aliases: LEGACY,
  hasGeneration: true,
  schema: NetNamespaceSchema,
  openAPIName: "io.openshift.network.v1.NetNamespace",
  nameRule: pathSegmentNameErrors,
  validate(obj) {
    const nn = as<NetNamespace>(obj);
    const errs: FieldError[] = [];
    if (obj.metadata.name !== undefined && nn.netname !== obj.metadata.name) {
      errs.push(invalid("netname", nn.netname, "must match metadata.name"));
    }
    if (!Number.isInteger(nn.netid) || nn.netid < 0 || nn.netid > MAX_VNID) {
      errs.push(invalid("netid", nn.netid, `must be between 0 and ${MAX_VNID}`));
    }
    errs.push(...egressIPv4List(nn.egressIPs, "egressIPs"));
    return errs;
  },
  columns: [
    column("NetID", "integer", "VNID", (o) => dig(o, "netid") as number | undefined),
    column("Egress IPs", "string", "Static egress IPs", (o) => joinOrNone(digArr(o, "egressIPs"))),
  ],
});

/** openshift-sdn egress IPs are IPv4 only. */
function egressIPv4List(ips: string[] | undefined, path: string): FieldError[] {
  const errs: FieldError[] = [];
  const seen = new Set<string>();
  (ips ?? []).forEach((s, i) => {
    errs.push(...validateIP(s, `${path}[${i}]`, 4).errors);
    if (seen.has(s)) errs.push(duplicate(`${path}[${i}]`, s));
    seen.add(s);
  });
  return errs;
}

// --------------------------------------------------------------------------------------- HostSubnet

export const HostSubnetSchema = KindSchema("HostSubnet describes the pod subnet allocated to a node.", {
  host: Str("Node name; must equal metadata.name."),
  hostIP: Str("The node's IP address."),
  subnet: Str("Pod subnet of the node (CIDR)."),
  egressIPs: Opt(Type.Array(Str(), { description: "Egress IPs placed on this node by hand." })),
  egressCIDRs: Opt(
    Type.Array(Str(), { description: "Ranges from which egress IPs are assigned automatically." }),
  ),
});
export type HostSubnet = Static<typeof HostSubnetSchema>;

/** Annotation that lets a HostSubnet be created without a subnet (one is allocated). */
export const ASSIGN_HOST_SUBNET_ANNOTATION = "pod.network.openshift.io/assign-subnet";

export const hostSubnetType = defineKind({
  group: "network.openshift.io",
  version: "v1",
  kind: "HostSubnet",
  plural: "hostsubnets",
  namespaced: false,
  aliases: LEGACY,
  hasGeneration: true,
  schema: HostSubnetSchema,
  openAPIName: "io.openshift.network.v1.HostSubnet",
  validate(obj, old) {
    const hs = as<HostSubnet>(obj);
    const errs: FieldError[] = [];
    if (obj.metadata.name !== undefined && hs.host !== obj.metadata.name) {
      errs.push(invalid("host", hs.host, "must be the same as metadata.name"));
    }
    if (hs.host !== "") pushAll(errs, "host", hs.host, dns1123SubdomainErrors(hs.host));
    if (hs.hostIP === "") errs.push(required("hostIP"));
    else errs.push(...validateIP(hs.hostIP, "hostIP").errors);
    if (hs.subnet === "") {
      if (obj.metadata.annotations?.[ASSIGN_HOST_SUBNET_ANNOTATION] === undefined)
        errs.push(required("subnet"));
    } else errs.push(...validateNetworkCIDR(hs.subnet, "subnet").errors);
    errs.push(...egressIPv4List(hs.egressIPs, "egressIPs"));
    (hs.egressCIDRs ?? []).forEach((c, i) => {
      errs.push(...validateNetworkCIDR(c, `egressCIDRs[${i}]`).errors);
    });
    if (old !== undefined) {
      const o = as<HostSubnet>(old);
      if (o.subnet !== "" && hs.subnet !== o.subnet)
        errs.push(invalid("subnet", hs.subnet, "cannot change the subnet lease midflight."));
    }
    return errs;
  },
  columns: [
    column("Host", "string", "Node", (o) => digStr(o, "host")),
    column("Host IP", "string", "Node IP", (o) => digStr(o, "hostIP")),
    column("Subnet", "string", "Pod subnet", (o) => digStr(o, "subnet")),
    column("Egress CIDRs", "string", "Egress CIDRs", (o) => joinOrNone(digArr(o, "egressCIDRs"))),
    column("Egress IPs", "string", "Egress IPs", (o) => joinOrNone(digArr(o, "egressIPs"))),
  ],
});

// ----------------------------------------------------------------------------------- ClusterNetwork

export const ClusterNetworkEntrySchema = Struct({
  CIDR: Str("Pod network range."),
  hostSubnetLength: Int("Host bits of each node's subnet (9 → /23 from a /14)."),
});

export const ClusterNetworkSchema = KindSchema("ClusterNetwork describes the cluster's SDN configuration.", {
  network: Opt(Str("Legacy: the first cluster network CIDR.")),
  hostsubnetlength: Opt(Int("Legacy: the first cluster network's hostSubnetLength.")),
  serviceNetwork: Str(),
  pluginName: Opt(Str()),
  clusterNetworks: Type.Array(ClusterNetworkEntrySchema),
  vxlanPort: Opt(Int()),
  mtu: Opt(Int()),
});
export type ClusterNetwork = Static<typeof ClusterNetworkSchema>;

export const clusterNetworkType = defineKind({
  group: "network.openshift.io",
  version: "v1",
  kind: "ClusterNetwork",
  plural: "clusternetworks",
  namespaced: false,
  aliases: LEGACY,
  hasGeneration: true,
  schema: ClusterNetworkSchema,
  openAPIName: "io.openshift.network.v1.ClusterNetwork",
  validate(obj) {
    const cn = as<ClusterNetwork>(obj);
    const errs: FieldError[] = [];
    if (cn.clusterNetworks.length === 0) errs.push(required("clusterNetworks"));
    const svc = validateNetworkCIDR(cn.serviceNetwork, "serviceNetwork");
    errs.push(...svc.errors);
    const seen: { cidr: NonNullable<ReturnType<typeof validateCIDR>["cidr"]>; i: number }[] = [];
    cn.clusterNetworks.forEach((e, i) => {
      const p = `clusterNetworks[${i}]`;
      const { errors, cidr } = validateNetworkCIDR(e.CIDR, `${p}.CIDR`);
      errs.push(...errors);
      if (!cidr) return;
      const hostBits = (cidr.family === 4 ? 32 : 128) - cidr.prefix;
      if (!Number.isInteger(e.hostSubnetLength) || e.hostSubnetLength < 2 || e.hostSubnetLength > hostBits) {
        errs.push(
          invalid(
            `${p}.hostSubnetLength`,
            e.hostSubnetLength,
            `must be between 2 and ${hostBits} (the host bits of ${e.CIDR})`,
          ),
        );
      }
      for (const s of seen) {
        if (cidrsOverlap(s.cidr, cidr))
          errs.push(invalid(`${p}.CIDR`, e.CIDR, `overlaps clusterNetworks[${s.i}].CIDR`));
      }
      seen.push({ cidr, i });
      if (svc.cidr && cidrsOverlap(svc.cidr, cidr)) {
        errs.push(invalid("serviceNetwork", cn.serviceNetwork, `overlaps clusterNetworks[${i}].CIDR`));
      }
    });
    const first = cn.clusterNetworks[0];
    if (cn.network !== undefined && cn.network !== "" && first && cn.network !== first.CIDR) {
      errs.push(invalid("network", cn.network, "must match clusterNetworks[0].CIDR"));
    }
    if (
      cn.hostsubnetlength !== undefined &&
      cn.hostsubnetlength !== 0 &&
      first &&
      cn.hostsubnetlength !== first.hostSubnetLength
    ) {
      errs.push(
        invalid("hostsubnetlength", cn.hostsubnetlength, "must match clusterNetworks[0].hostSubnetLength"),
      );
    }
    if (cn.vxlanPort !== undefined && (cn.vxlanPort < 1 || cn.vxlanPort > 65535)) {
      errs.push(invalid("vxlanPort", cn.vxlanPort, "must be between 1 and 65535, inclusive"));
    }
    if (cn.mtu !== undefined && (cn.mtu < 576 || cn.mtu > 65536)) {
      errs.push(invalid("mtu", cn.mtu, "must be between 576 and 65536"));
    }
    return errs;
  },
  columns: [
    column("Cluster Networks", "string", "CIDR:hostSubnetLength of each cluster network", (o) =>
      joinOrNone(
        digArr(o, "clusterNetworks").map(
          (e) => `${digStr(e, "CIDR") ?? ""}:${digStr(e, "hostSubnetLength") ?? ""}`,
        ),
      ),
    ),
    column("Service Network", "string", "Service CIDR", (o) => digStr(o, "serviceNetwork")),
    column("Plugin Name", "string", "SDN plugin", (o) => digStr(o, "pluginName")),
  ],
});

// ------------------------------------------------------------------------------ EgressNetworkPolicy

export const EgressNetworkPolicyRuleSchema = Struct({
  type: Enum(["Allow", "Deny"] as const),
  to: Struct({ cidrSelector: Opt(Str()), dnsName: Opt(Str()) }),
});
export type EgressNetworkPolicyRule = Static<typeof EgressNetworkPolicyRuleSchema>;

export const EgressNetworkPolicySchema = KindSchema(
  "EgressNetworkPolicy (openshift-sdn) lists which external destinations a project's pods may reach.",
  { spec: Struct({ egress: Type.Array(EgressNetworkPolicyRuleSchema) }) },
);
export type EgressNetworkPolicy = Static<typeof EgressNetworkPolicySchema>;

/** openshift/api EgressNetworkPolicyMaxRules. */
export const EGRESS_NETWORK_POLICY_MAX_RULES = 50;

export const egressNetworkPolicyType = defineKind({
  group: "network.openshift.io",
  version: "v1",
  kind: "EgressNetworkPolicy",
  plural: "egressnetworkpolicies",
  namespaced: true,
  aliases: LEGACY,
  hasGeneration: true,
  schema: EgressNetworkPolicySchema,
  openAPIName: "io.openshift.network.v1.EgressNetworkPolicy",
  nameRule: pathSegmentNameErrors,
  validate(obj) {
    const enp = as<EgressNetworkPolicy>(obj);
    const errs: FieldError[] = [];
    if (enp.spec.egress.length > EGRESS_NETWORK_POLICY_MAX_RULES) {
      errs.push(tooMany("spec.egress", enp.spec.egress.length, EGRESS_NETWORK_POLICY_MAX_RULES));
    }
    enp.spec.egress.forEach((rule, i) => {
      const rp = `spec.egress[${i}]`;
      const { cidrSelector, dnsName } = rule.to;
      const hasCidr = cidrSelector !== undefined && cidrSelector !== "";
      const hasDns = dnsName !== undefined && dnsName !== "";
      if (hasCidr === hasDns)
        errs.push(invalid(`${rp}.to`, rule.to, "must specify exactly one of cidrSelector and dnsName"));
      if (hasCidr) errs.push(...validateCIDR(cidrSelector, `${rp}.to.cidrSelector`).errors);
      if (hasDns) pushAll(errs, `${rp}.to.dnsName`, dnsName, dnsNameErrors(dnsName, false));
    });
    return errs;
  },
});

// ------------------------------------------------------------------------------ CloudPrivateIPConfig

export const CloudPrivateIPConfigSchema = KindSchema(
  "CloudPrivateIPConfig asks the cloud to attach a private IP (the object's name) to a node's NIC.",
  {
    spec: Struct({ node: Opt(Str()) }),
    status: Opt(Struct({ node: Opt(Str()), conditions: Type.Array(ConditionSchema) })),
  },
);
export type CloudPrivateIPConfig = Static<typeof CloudPrivateIPConfigSchema>;

/** The name is the IP: IPv4 dotted, or IPv6 fully expanded with '.' separators
 *  (fc00.f853.0ccd.e793.0000.0000.0000.0054). */
export function cloudPrivateIPConfigNameErrors(name: string): string[] {
  if (/^\d+\.\d+\.\d+\.\d+$/.test(name))
    return validateIP(name, "").errors.length === 0 ? [] : ["must be an IPv4 address"];
  if (/^([0-9a-f]{4}\.){7}[0-9a-f]{4}$/.test(name) && parseIPv6(name.replaceAll(".", ":")) !== undefined)
    return [];
  return [
    "must be an IPv4 address or a fully expanded IPv6 address with '.' separators (e.g. fc00.f853.0ccd.e793.0000.0000.0000.0054)",
  ];
}

/** Name of the CloudPrivateIPConfig for an address (inverse of the rule above). */
export function cloudPrivateIPConfigName(ip: string): string | undefined {
  const r = validateIP(ip, "");
  if (!r.ip) return undefined;
  if (r.ip.family === 4) return ip;
  const hex = r.ip.value.toString(16).padStart(32, "0");
  return (hex.match(/.{4}/g) ?? []).join(".");
}

export const cloudPrivateIPConfigType = defineKind({
  group: "cloud.network.openshift.io",
  version: "v1",
  kind: "CloudPrivateIPConfig",
  plural: "cloudprivateipconfigs",
  namespaced: false,
  statusSubresource: true,
  hasGeneration: true,
  schema: CloudPrivateIPConfigSchema,
  openAPIName: "io.openshift.network.cloud.v1.CloudPrivateIPConfig",
  nameRule: cloudPrivateIPConfigNameErrors,
  validate(obj) {
    const c = as<CloudPrivateIPConfig>(obj);
    const errs: FieldError[] = [];
    if (c.spec.node !== undefined && c.spec.node !== "")
      pushAll(errs, "spec.node", c.spec.node, dns1123SubdomainErrors(c.spec.node));
    return errs;
  },
  columns: [
    column("Node", "string", "Requested node", (o) => digStr(o, "spec", "node")),
    column("Assigned Node", "string", "Node the cloud attached the IP to", (o) =>
      digStr(o, "status", "node"),
    ),
  ],
});

// -------------------------------------------------------------------------------------------- Route

const RouteTargetReference = Struct({ kind: Opt(Str()), name: Str(), weight: Opt(Int()) });

export const RouteSchema = KindSchema("Route exposes a Service at a host name through the router.", {
  spec: Struct({
    host: Opt(Str()),
    subdomain: Opt(Str()),
    path: Opt(Str()),
    to: RouteTargetReference,
    alternateBackends: Opt(Type.Array(RouteTargetReference)),
    port: Opt(Struct({ targetPort: IntOrString() })),
    tls: Opt(
      Struct({
        termination: Str(),
        certificate: Opt(Str()),
        key: Opt(Str()),
        caCertificate: Opt(Str()),
        destinationCACertificate: Opt(Str()),
        insecureEdgeTerminationPolicy: Opt(Str()),
        externalCertificate: Opt(LocalObjectReferenceSchema),
      }),
    ),
    wildcardPolicy: Opt(Str()),
    httpHeaders: Opt(
      Struct({
        actions: Opt(
          Struct({
            request: Opt(Type.Array(FreeFormHeader())),
            response: Opt(Type.Array(FreeFormHeader())),
          }),
        ),
      }),
    ),
  }),
  status: Opt(
    Struct({
      ingress: Opt(
        Type.Array(
          Struct({
            host: Opt(Str()),
            routerName: Opt(Str()),
            conditions: Opt(
              Type.Array(
                Struct({
                  type: Str(),
                  status: Str(),
                  reason: Opt(Str()),
                  message: Opt(Str()),
                  lastTransitionTime: Opt(Time()),
                }),
              ),
            ),
            wildcardPolicy: Opt(Str()),
            routerCanonicalHostname: Opt(Str()),
          }),
        ),
      ),
    }),
  ),
});
export type Route = Static<typeof RouteSchema>;

function FreeFormHeader() {
  return Type.Object({ name: Str() }, { "x-kubernetes-preserve-unknown-fields": true });
}

export const HSTS_ANNOTATION = "haproxy.router.openshift.io/hsts_header";
/** MISSION §11 / openshift router: whole value, case-insensitive, max-age required. */
export const HSTS_REGEX =
  /^(?:(?:includeSubDomains|preload)\s*;\s*)*max-age\s*=\s*(?:\d+|"\d+")(?:\s*;\s*(?:includeSubDomains|preload))*$/i;

const TERMINATIONS = ["edge", "passthrough", "reencrypt"] as const;
const INSECURE_POLICIES = ["", "None", "Allow", "Redirect"] as const;

export function validateRoute(obj: KubeObject): FieldError[] {
  const route = as<Route>(obj);
  const spec = route.spec;
  const errs: FieldError[] = [];
  for (const f of ["host", "subdomain"] as const) {
    const v = spec[f];
    if (v === undefined || v === "") continue;
    pushAll(errs, `spec.${f}`, v, dns1123SubdomainErrors(v));
    if (v.split(".").some((l) => l.length > 63))
      errs.push(invalid(`spec.${f}`, v, "must be no more than 63 characters per label"));
  }
  const targets: [Static<typeof RouteTargetReference>, string][] = [
    [spec.to, "spec.to"],
    ...(spec.alternateBackends ?? []).map(
      (b, i) => [b, `spec.alternateBackends[${i}]`] as [typeof b, string],
    ),
  ];
  for (const [t, p] of targets) {
    if (t.kind !== undefined && t.kind !== "" && t.kind !== "Service")
      errs.push(notSupported(`${p}.kind`, t.kind, ["Service"]));
    if (t.name === "") errs.push(required(`${p}.name`));
    if (t.weight !== undefined && (t.weight < 0 || t.weight > 256))
      errs.push(invalid(`${p}.weight`, t.weight, "must be between 0 and 256"));
  }
  if ((spec.alternateBackends ?? []).length > 3)
    errs.push(tooMany("spec.alternateBackends", spec.alternateBackends!.length, 3));
  const termination = spec.tls?.termination;
  if (spec.path !== undefined && spec.path !== "") {
    if (!spec.path.startsWith("/")) errs.push(invalid("spec.path", spec.path, "path must begin with /"));
    if (termination === "passthrough")
      errs.push(invalid("spec.path", spec.path, "passthrough termination does not support paths"));
  }
  if (spec.tls !== undefined) {
    const tls = spec.tls;
    if (!(TERMINATIONS as readonly string[]).includes(tls.termination)) {
      errs.push(notSupported("spec.tls.termination", tls.termination, TERMINATIONS));
    }
    if (tls.termination === "passthrough") {
      for (const f of ["certificate", "key", "caCertificate", "destinationCACertificate"] as const) {
        if (tls[f])
          errs.push(
            invalid(`spec.tls.${f}`, "redacted", "passthrough termination does not support certificates"),
          );
      }
    }
    if (tls.termination === "edge" && tls.destinationCACertificate) {
      errs.push(
        invalid(
          "spec.tls.destinationCACertificate",
          "redacted",
          "edge termination does not support destination certificates",
        ),
      );
    }
    const iep = tls.insecureEdgeTerminationPolicy;
    if (iep !== undefined) {
      if (!(INSECURE_POLICIES as readonly string[]).includes(iep)) {
        errs.push(notSupported("spec.tls.insecureEdgeTerminationPolicy", iep, INSECURE_POLICIES.slice(1)));
      } else if (tls.termination === "passthrough" && iep === "Allow") {
        errs.push(
          invalid(
            "spec.tls.insecureEdgeTerminationPolicy",
            iep,
            "InsecureEdgeTerminationPolicy is only allowed to be None or Redirect for passthrough termination",
          ),
        );
      }
    }
  }
  const wp = spec.wildcardPolicy;
  if (wp !== undefined && wp !== "" && wp !== "None" && wp !== "Subdomain") {
    errs.push(notSupported("spec.wildcardPolicy", wp, ["None", "Subdomain"]));
  }
  if (wp === "Subdomain" && !spec.host)
    errs.push(invalid("spec.wildcardPolicy", wp, "host name not specified for wildcard policy"));
  if (spec.port !== undefined) {
    const tp = spec.port.targetPort;
    if (tp === "" || tp === 0) errs.push(required("spec.port.targetPort"));
  }
  // HSTS only means something on routes the router terminates TLS for (edge, reencrypt).
  const hsts = obj.metadata.annotations?.[HSTS_ANNOTATION];
  if (
    hsts !== undefined &&
    (termination === "edge" || termination === "reencrypt") &&
    !HSTS_REGEX.test(hsts.trim())
  ) {
    errs.push(
      invalid(
        `metadata.annotations[${HSTS_ANNOTATION}]`,
        hsts,
        "must be max-age=<seconds> with optional includeSubDomains and preload directives, separated by ';' (max-age is required)",
      ),
    );
  }
  return errs;
}

function routeServices(o: KubeObject): string | undefined {
  const to = dig(o, "spec", "to");
  const alts = digArr(o, "spec", "alternateBackends");
  if (!isRecord(to)) return undefined;
  const all = [to, ...alts].filter(isRecord);
  if (all.length === 1) return String(to.name);
  const weight = (b: Record<string, unknown>) => (typeof b.weight === "number" ? b.weight : 100);
  const total = all.reduce((n, b) => n + weight(b), 0);
  return all
    .map((b) => `${String(b.name)}(${total > 0 ? Math.round((weight(b) * 100) / total) : 0}%)`)
    .join(",");
}

export const routeType = defineKind({
  group: "route.openshift.io",
  version: "v1",
  kind: "Route",
  plural: "routes",
  categories: ["all"],
  namespaced: true,
  statusSubresource: true,
  builtin: true,
  hasGeneration: true,
  schema: RouteSchema,
  openAPIName: "com.github.openshift.api.route.v1.Route",
  validate: validateRoute,
  defaults(obj) {
    if (!isRecord(obj.spec)) return;
    const spec = obj.spec;
    spec.wildcardPolicy ??= "None";
    if (isRecord(spec.to)) {
      spec.to.kind ??= "Service";
      spec.to.weight ??= 100;
    }
    if (Array.isArray(spec.alternateBackends)) {
      for (const b of spec.alternateBackends) if (isRecord(b)) b.kind ??= "Service";
    }
  },
  columns: [
    column("Host/Port", "string", "Host name (from status when admitted)", (o) => {
      const host = digStr(o, "spec", "host") ?? digStr(o, "status", "ingress", 0, "host");
      const admitted = digArr(o, "status", "ingress").some((i) =>
        digArr(i, "conditions").some(
          (c) => digStr(c, "type") === "Admitted" && digStr(c, "status") === "True",
        ),
      );
      if (host === undefined) return undefined;
      return admitted || digArr(o, "status", "ingress").length === 0 ? host : `${host} ... not admitted`;
    }),
    column("Path", "string", "Path", (o) => digStr(o, "spec", "path")),
    column("Services", "string", "Target services (with weights)", routeServices),
    column("Port", "string", "Target port", (o) => digStr(o, "spec", "port", "targetPort") ?? "<all>"),
    column("Termination", "string", "TLS termination", (o) => {
      const t = digStr(o, "spec", "tls", "termination");
      if (t === undefined) return undefined;
      const iep = digStr(o, "spec", "tls", "insecureEdgeTerminationPolicy");
      return iep ? `${t}/${iep}` : t;
    }),
    column("Wildcard", "string", "Wildcard policy", (o) => digStr(o, "spec", "wildcardPolicy") ?? "None"),
  ],
  fieldSelectors: {
    "spec.host": (o) => digStr(o, "spec", "host") ?? "",
    "spec.path": (o) => digStr(o, "spec", "path") ?? "",
    "spec.to.name": (o) => digStr(o, "spec", "to", "name") ?? "",
  },
});
