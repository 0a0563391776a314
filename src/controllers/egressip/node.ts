// What EgressIP assignment needs to know about a node, and how to read it from the node's
// annotations and conditions. The controller builds EgressNode values with these helpers; the
// assignment itself (assign.ts) never sees API objects. Pure: no I/O.
import { type CIDR, cidrContains, type Family, type IP, parseCIDR, parseIP } from "../../api/ip.js";

export const EGRESS_ASSIGNABLE_LABEL = "k8s.ovn.org/egress-assignable";
export const PRIMARY_IFADDR_ANNOTATION = "k8s.ovn.org/node-primary-ifaddr";
export const HOST_CIDRS_ANNOTATION = "k8s.ovn.org/host-cidrs";
export const CLOUD_EGRESS_IPCONFIG_ANNOTATION = "cloud.network.openshift.io/egress-ipconfig";
export const CONTROL_PLANE_LABELS = [
  "node-role.kubernetes.io/control-plane",
  "node-role.kubernetes.io/master",
];

/** Cluster platform. Clouds take subnet and capacity from the egress-ipconfig annotation;
 *  everything else (BareMetal, None, vSphere, lab) uses primary ifaddr + host-cidrs. */
export type Platform = "BareMetal" | "AWS" | "GCP" | "Azure" | "OpenStack";
export const CLOUD_PLATFORMS: readonly Platform[] = ["AWS", "GCP", "Azure", "OpenStack"];
export const isCloud = (p: Platform): boolean => CLOUD_PLATFORMS.includes(p);

/** `cloud.network.openshift.io/egress-ipconfig` entry. capacity is per family (AWS) or shared `ip`
 *  (GCP, Azure); a family with no capacity given has none. */
export interface CloudEgressIPConfig {
  interface?: string;
  ifaddr: { ipv4?: string; ipv6?: string };
  capacity: { ipv4?: number; ipv6?: number; ip?: number };
}

export interface EgressNode {
  name: string;
  labels: Record<string, string>;
  /** Ready condition is True. */
  ready: boolean;
  /** Passed the controller's health check. */
  reachable: boolean;
  /** Node that runs only hostNetwork pods (no overlay): never assignable. */
  hostNetworkOnly?: boolean;
  /** Node's own addresses (status.addresses); an egress IP equal to one is refused. */
  addresses: string[];
  /** `k8s.ovn.org/node-primary-ifaddr`: address/len per family. */
  primaryIfAddr?: { ipv4?: string; ipv6?: string };
  /** `k8s.ovn.org/host-cidrs`: address/len of every host interface (bare metal secondary networks). */
  hostCIDRs?: string[];
  /** First entry of `cloud.network.openshift.io/egress-ipconfig`. */
  cloudConfig?: CloudEgressIPConfig;
}

export class NodeAnnotationError extends Error {
  constructor(
    readonly node: string,
    readonly annotation: string,
    readonly value: string,
    readonly detail: string,
  ) {
    super(`node ${node}: annotation ${annotation}=${JSON.stringify(value)}: ${detail}`);
    this.name = "NodeAnnotationError";
  }
}

function parseJSON(node: string, key: string, raw: string): unknown {
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    throw new NodeAnnotationError(node, key, raw, "not valid JSON");
  }
}

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Reads the three egress annotations. Throws NodeAnnotationError for malformed values (the
 *  controller then treats the node as not assignable and says so). */
export function parseNodeEgressAnnotations(
  node: string,
  annotations: Record<string, string> | undefined,
): Pick<EgressNode, "primaryIfAddr" | "hostCIDRs" | "cloudConfig"> {
  const a = annotations ?? {};
  const out: Pick<EgressNode, "primaryIfAddr" | "hostCIDRs" | "cloudConfig"> = {};
  const p = a[PRIMARY_IFADDR_ANNOTATION];
  if (p !== undefined) {
    const v = parseJSON(node, PRIMARY_IFADDR_ANNOTATION, p);
    if (!isObj(v)) throw new NodeAnnotationError(node, PRIMARY_IFADDR_ANNOTATION, p, "must be a JSON object");
    const r: { ipv4?: string; ipv6?: string } = {};
    for (const fam of ["ipv4", "ipv6"] as const) {
      const x = v[fam];
      if (x === undefined) continue;
      const c = typeof x === "string" ? parseCIDR(x) : undefined;
      if (!c || c.family !== (fam === "ipv4" ? 4 : 6))
        throw new NodeAnnotationError(
          node,
          PRIMARY_IFADDR_ANNOTATION,
          p,
          `${fam} must be an ${fam} address/len`,
        );
      r[fam] = x as string;
    }
    out.primaryIfAddr = r;
  }
  const h = a[HOST_CIDRS_ANNOTATION];
  if (h !== undefined) {
    const v = parseJSON(node, HOST_CIDRS_ANNOTATION, h);
    if (!Array.isArray(v) || !v.every((x) => typeof x === "string" && parseCIDR(x) !== undefined))
      throw new NodeAnnotationError(
        node,
        HOST_CIDRS_ANNOTATION,
        h,
        "must be a JSON list of address/len strings",
      );
    out.hostCIDRs = v as string[];
  }
  const c = a[CLOUD_EGRESS_IPCONFIG_ANNOTATION];
  if (c !== undefined) {
    const v = parseJSON(node, CLOUD_EGRESS_IPCONFIG_ANNOTATION, c);
    const first = Array.isArray(v) ? (v[0] as unknown) : undefined;
    if (!isObj(first) || !isObj(first.ifaddr) || !isObj(first.capacity))
      throw new NodeAnnotationError(
        node,
        CLOUD_EGRESS_IPCONFIG_ANNOTATION,
        c,
        "must be a list of {interface, ifaddr, capacity}",
      );
    const ifaddr: CloudEgressIPConfig["ifaddr"] = {};
    for (const fam of ["ipv4", "ipv6"] as const) {
      const x = first.ifaddr[fam];
      if (x === undefined) continue;
      if (typeof x !== "string" || !parseCIDR(x))
        throw new NodeAnnotationError(
          node,
          CLOUD_EGRESS_IPCONFIG_ANNOTATION,
          c,
          `ifaddr.${fam} must be a CIDR`,
        );
      ifaddr[fam] = x;
    }
    const capacity: CloudEgressIPConfig["capacity"] = {};
    for (const k of ["ipv4", "ipv6", "ip"] as const) {
      const x = first.capacity[k];
      if (x === undefined) continue;
      if (typeof x !== "number" || !Number.isInteger(x) || x < 0)
        throw new NodeAnnotationError(
          node,
          CLOUD_EGRESS_IPCONFIG_ANNOTATION,
          c,
          `capacity.${k} must be a non-negative integer`,
        );
      capacity[k] = x;
    }
    out.cloudConfig = { ifaddr, capacity };
    if (typeof first.interface === "string") out.cloudConfig.interface = first.interface;
  }
  return out;
}

export type Ineligibility =
  | "NotLabelled"
  | "NotReady"
  | "Unreachable"
  | "HostNetworkOnly"
  | "ControlPlaneOnAWS"
  | "NoCloudConfig";

/** Why a node may not host egress IPs, or undefined when it may. */
export function nodeIneligibility(n: EgressNode, platform: Platform): Ineligibility | undefined {
  if (!Object.hasOwn(n.labels, EGRESS_ASSIGNABLE_LABEL)) return "NotLabelled";
  if (!n.ready) return "NotReady";
  if (!n.reachable) return "Unreachable";
  if (n.hostNetworkOnly) return "HostNetworkOnly";
  if (platform === "AWS" && CONTROL_PLANE_LABELS.some((l) => Object.hasOwn(n.labels, l)))
    return "ControlPlaneOnAWS";
  if (isCloud(platform) && !n.cloudConfig) return "NoCloudConfig";
  return undefined;
}

/** The networks an egress IP may come from on this node. Bare metal: primary ifaddr (both
 *  families), then host-cidrs; cloud: the egress-ipconfig ifaddr only. */
export function egressNetworks(n: EgressNode, platform: Platform): CIDR[] {
  const out: CIDR[] = [];
  const add = (s: string | undefined) => {
    const c = s === undefined ? undefined : parseCIDR(s);
    if (c) out.push(c);
  };
  if (isCloud(platform)) {
    add(n.cloudConfig?.ifaddr.ipv4);
    add(n.cloudConfig?.ifaddr.ipv6);
    return out;
  }
  add(n.primaryIfAddr?.ipv4);
  add(n.primaryIfAddr?.ipv6);
  for (const h of n.hostCIDRs ?? []) add(h);
  return out;
}

/** The network an egress IP uses on a node: the primary network when it contains the IP,
 *  otherwise the longest-prefix match among host-cidrs (bare metal secondary networks). */
export function egressNetworkFor(n: EgressNode, platform: Platform, ip: string): CIDR | undefined {
  const a = parseIP(ip);
  if (!a) return undefined;
  const nets = egressNetworks(n, platform);
  const primaryCount = isCloud(platform)
    ? nets.length
    : [n.primaryIfAddr?.ipv4, n.primaryIfAddr?.ipv6].filter((s) => s !== undefined && parseCIDR(s)).length;
  for (const c of nets.slice(0, primaryCount)) if (cidrContains(c, a)) return c;
  let best: CIDR | undefined;
  for (const c of nets.slice(primaryCount))
    if (cidrContains(c, a) && (!best || c.prefix > best.prefix)) best = c;
  return best;
}

/** Addresses that belong to the node itself (an egress IP equal to one is an EgressIPConflict). */
export function nodeOwnIPs(n: EgressNode): IP[] {
  const out: IP[] = [];
  for (const s of n.addresses) {
    const ip = parseIP(s);
    if (ip) out.push(ip);
  }
  for (const s of [n.primaryIfAddr?.ipv4, n.primaryIfAddr?.ipv6, ...(n.hostCIDRs ?? [])]) {
    const c = s === undefined ? undefined : parseCIDR(s);
    if (c) out.push({ family: c.family, value: c.address });
  }
  return out;
}

/** Capacity of the node for one family given current counts; Infinity off cloud. */
export function capacityLeft(
  n: EgressNode,
  platform: Platform,
  family: Family,
  used: { v4: number; v6: number },
): number {
  if (!isCloud(platform)) return Number.POSITIVE_INFINITY;
  const cap = n.cloudConfig?.capacity ?? {};
  if (cap.ip !== undefined) return cap.ip - used.v4 - used.v6;
  return family === 4 ? (cap.ipv4 ?? 0) - used.v4 : (cap.ipv6 ?? 0) - used.v6;
}

/** CloudPrivateIPConfig name for an address: IPv4 as written canonically, IPv6 as 8 fully
 *  expanded lower-case hex groups joined by '.' (upstream ipStringToCloudIPConfigName). */
export function cloudPrivateIPConfigName(ip: IP): string {
  if (ip.family === 4) return [24n, 16n, 8n, 0n].map((s) => ((ip.value >> s) & 0xffn).toString()).join(".");
  const groups: string[] = [];
  for (let i = 7; i >= 0; i--)
    groups.push(((ip.value >> BigInt(i * 16)) & 0xffffn).toString(16).padStart(4, "0"));
  return groups.join(".");
}
