// The Whereabouts reconciler's decision (MISSION §4): which allocations and
// OverlappingRangeIPReservations to remove because their pod no longer exists, or exists but no
// longer lists the address in its `k8s.v1.cni.cncf.io/network-status` annotation. A pure function
// of plain data (pools, reservations, pods, the clock); the controller and `egress ipam reconcile`
// read the objects and write the plan. Races with ADDs in progress are handled here by two rules:
// pods without a network-status annotation are left alone, and nothing younger than the grace period
// is removed for a network-status mismatch or as an orphaned reservation (see docs/ipam.md).
import { formatIP, type IP, parseCIDR, parseIP } from "../api/ip.js";
import type { IPAllocation, IPPool } from "./model.js";
import { normalizeRange, reservationName } from "./model.js";

export const NETWORK_STATUS_ANNOTATION = "k8s.v1.cni.cncf.io/network-status";
/** Long enough to cover an ADD's retries against a contended pool (lock_timeout_ms, 10 s default). */
export const DEFAULT_GRACE_MS = 60_000;

export interface ReservationRecord {
  name: string;
  containerid: string;
  podref: string;
  ifname: string;
  /** metadata.creationTimestamp in ms, when known. */
  createdMs?: number;
}

/** What the reconciler needs of a pod. */
export interface PodView {
  /** Addresses listed in the network-status annotation (canonical text); undefined when the pod has
   *  no (or an undecodable) annotation, i.e. its attachments may still be in progress. */
  networkStatusIPs?: ReadonlySet<string>;
}

export interface ReconcileInput {
  pools: readonly IPPool[];
  reservations: readonly ReservationRecord[];
  /** The existing pod named `namespace/name`, undefined when there is none. */
  pod: (podref: string) => PodView | undefined;
  now: number;
  graceMs: number;
  /** When the allocation was first known to exist (ms), undefined when unknown (counts as old). */
  allocationSince?: (pool: string, offset: string, a: IPAllocation) => number | undefined;
}

export type RemovalReason = "pod-gone" | "not-in-network-status" | "orphaned-reservation";

export interface Removal {
  kind: "IPPool allocation" | "OverlappingRangeIPReservation";
  /** Pool name (allocations) or reservation name. */
  object: string;
  ip?: string;
  podref: string;
  containerID: string;
  ifname: string;
  reason: RemovalReason;
}

export interface ReconcilePlan {
  /** Changed pools, carrying the resourceVersion they were read at. */
  pools: IPPool[];
  deleteReservations: string[];
  removed: Removal[];
}

/** Decodes the annotation's addresses (Multus: `[{name, interface, ips: [...], mac, ...}]`). */
export function networkStatusIPs(annotation: string | undefined): Set<string> | undefined {
  if (annotation === undefined) return undefined;
  let doc: unknown;
  try {
    doc = JSON.parse(annotation);
  } catch {
    return undefined;
  }
  if (!Array.isArray(doc)) return undefined;
  const out = new Set<string>();
  for (const e of doc) {
    const ips = (e as { ips?: unknown } | null)?.ips;
    if (!Array.isArray(ips)) continue;
    for (const text of ips) {
      if (typeof text !== "string") continue;
      const ip = parseIP(text.split("/")[0] ?? "");
      if (ip) out.add(formatIP(ip));
    }
  }
  return out;
}

/** network_name of a pool, recovered from its name (`<network_name>-<normalized range>`). */
export function networkOfPool(pool: IPPool): string {
  const suffix = normalizeRange(pool.range);
  if (pool.name === suffix) return "";
  return pool.name.endsWith(`-${suffix}`) ? pool.name.slice(0, -suffix.length - 1) : "";
}

function ipOf(pool: IPPool, offset: string): IP | undefined {
  const c = parseCIDR(pool.range);
  if (!c || !/^\d+$/.test(offset)) return undefined;
  return { family: c.family, value: c.network + BigInt(offset) };
}

export function planReconcile(input: ReconcileInput): ReconcilePlan {
  const { now, graceMs } = input;
  const old = (since: number | undefined) => since === undefined || now - since >= graceMs;
  const resByName = new Map(input.reservations.map((r) => [r.name, r]));
  const plan: ReconcilePlan = { pools: [], deleteReservations: [], removed: [] };
  const kept: IPAllocation[] = [];

  for (const pool of input.pools) {
    const network = networkOfPool(pool);
    const allocations: Record<string, IPAllocation> = {};
    let changed = false;
    for (const [offset, a] of Object.entries(pool.allocations)) {
      const ip = ipOf(pool, offset);
      const res = ip ? resByName.get(reservationName(ip, network)) : undefined;
      const ownRes = res && res.containerid === a.id && res.ifname === a.ifname ? res : undefined;
      const since = [input.allocationSince?.(pool.name, offset, a), ownRes?.createdMs]
        .filter((v): v is number => v !== undefined)
        .reduce<number | undefined>((m, v) => (m === undefined || v < m ? v : m), undefined);
      let reason: RemovalReason | undefined;
      if (a.podref !== "" && ip) {
        const pod = input.pod(a.podref);
        if (!pod) reason = old(since) ? "pod-gone" : undefined;
        else if (pod.networkStatusIPs && !pod.networkStatusIPs.has(formatIP(ip)) && old(since))
          reason = "not-in-network-status";
      }
      if (!reason) {
        allocations[offset] = a;
        kept.push(a);
        continue;
      }
      changed = true;
      plan.removed.push({
        kind: "IPPool allocation",
        object: pool.name,
        ip: ip ? formatIP(ip) : offset,
        podref: a.podref,
        containerID: a.id,
        ifname: a.ifname,
        reason,
      });
      if (ownRes && !plan.deleteReservations.includes(ownRes.name)) {
        plan.deleteReservations.push(ownRes.name);
        plan.removed.push({
          kind: "OverlappingRangeIPReservation",
          object: ownRes.name,
          ...(ip ? { ip: formatIP(ip) } : {}),
          podref: ownRes.podref,
          containerID: ownRes.containerid,
          ifname: ownRes.ifname,
          reason,
        });
      }
    }
    if (changed) plan.pools.push({ ...pool, allocations });
  }

  // Reservations not covered above: their pod is gone, or no remaining allocation is theirs.
  const held = new Set(kept.map((a) => `${a.id}\u0000${a.ifname}`));
  const heldByPod = new Set(kept.filter((a) => a.podref !== "").map((a) => `${a.podref}\u0000${a.ifname}`));
  for (const r of input.reservations) {
    if (plan.deleteReservations.includes(r.name) || !old(r.createdMs)) continue;
    let reason: RemovalReason | undefined;
    if (r.podref !== "" && !input.pod(r.podref)) reason = "pod-gone";
    else if (!held.has(`${r.containerid}\u0000${r.ifname}`) && !heldByPod.has(`${r.podref}\u0000${r.ifname}`))
      reason = "orphaned-reservation";
    if (!reason) continue;
    plan.deleteReservations.push(r.name);
    plan.removed.push({
      kind: "OverlappingRangeIPReservation",
      object: r.name,
      podref: r.podref,
      containerID: r.containerid,
      ifname: r.ifname,
      reason,
    });
  }
  return plan;
}

/** Allocations (and their reservations) of one deleted pod, for the prompt path on pod deletion.
 *  The caller makes sure no pod of that name exists again. */
export function planPodDeleted(
  podref: string,
  pools: readonly IPPool[],
  reservations: readonly ReservationRecord[],
): ReconcilePlan {
  return planReconcile({
    pools: pools.filter((p) => Object.values(p.allocations).some((a) => a.podref === podref)),
    reservations: reservations.filter((r) => r.podref === podref),
    // Every pod but this one exists for this decision; nothing counts as young.
    pod: (ref) => (ref === podref ? undefined : {}),
    now: Number.POSITIVE_INFINITY,
    graceMs: 0,
  });
}
