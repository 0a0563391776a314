// The stored shapes of the Whereabouts IPAM (IPPool, OverlappingRangeIPReservation) and their naming
// rules, kept close to upstream's whereabouts.cni.cncf.io/v1alpha1 objects so a Kubernetes datastore
// can map them 1:1. Pure: no I/O.
import { type CIDR, formatCIDR, formatIP, type IP } from "../api/ip.js";

/** One allocation in a pool, keyed in `IPPool.allocations` by the decimal offset of the address from
 *  the range's network address (upstream: `spec.allocations["<offset>"]`). */
export interface IPAllocation {
  /** The CNI_CONTAINERID of the attachment that holds the address. */
  id: string;
  /** `namespace/name` of the pod, "" when the runtime passed no K8S_POD_* args. */
  podref: string;
  ifname: string;
}

export interface IPPool {
  /** Object name, see poolName(). */
  name: string;
  /** The range in canonical CIDR form (network address / prefix). */
  range: string;
  allocations: Record<string, IPAllocation>;
  /** Opaque version for optimistic concurrency; "" when the pool has never been stored. */
  resourceVersion: string;
}

/** A cluster-wide (per network_name) claim on one address, so that pools with overlapping ranges never
 *  hand out the same address twice (upstream: OverlappingRangeIPReservation). */
export interface OverlappingRangeIPReservation {
  /** Object name, see reservationName(). */
  name: string;
  /** Canonical text of the address. */
  ip: string;
  containerid: string;
  podref: string;
  ifname: string;
}

/** The attachment asking for or releasing addresses. */
export interface Owner {
  containerID: string;
  podRef: string;
  ifName: string;
}

/** Upstream NormalizeRange: `/` and `:` become `-`; a range ending in `:` gets a `0`. */
export function normalizeRange(range: string): string {
  const r = range.endsWith(":") ? `${range}0` : range;
  return r.replaceAll(":", "-").replaceAll("/", "-");
}

/** Upstream IPPoolName: the normalized range, prefixed `<network_name>-` when a network name is set. */
export function poolName(range: CIDR, networkName: string): string {
  const n = normalizeRange(formatCIDR(range));
  return networkName === "" ? n : `${networkName}-${n}`;
}

/** Upstream NormalizeIP: `:` become `-`, prefixed `<network_name>-`, never ending in `-`. */
export function reservationName(ip: IP, networkName: string): string {
  let n = formatIP(ip).replaceAll(":", "-");
  if (networkName !== "") n = `${networkName}-${n}`;
  return n.endsWith("-") ? `${n}0` : n;
}

export function emptyPool(name: string, range: CIDR): IPPool {
  return { name, range: formatCIDR(range), allocations: {}, resourceVersion: "" };
}

/** The address a reservation name stands for (reverse of reservationName), or undefined. */
export function ipFromReservationName(name: string, networkName: string): string | undefined {
  let n = name;
  if (networkName !== "") {
    if (!n.startsWith(`${networkName}-`)) return undefined;
    n = n.slice(networkName.length + 1);
  }
  return n.includes(".") ? n : n.replaceAll("-", ":");
}
