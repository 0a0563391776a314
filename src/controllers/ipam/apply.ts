// Reads Whereabouts objects for the reconciler and writes its plan (src/ipam/reconcile.ts) through the
// API client: changed IPPools are PUT with the resourceVersion they were read at (a 409 means an ADD or
// DEL moved the pool meanwhile: the caller re-plans), then reservations are deleted — only those whose
// allocation's pool write succeeded, or that stand alone — so a failure in between can leak a
// reservation (removed by the next run) but never free an address that is still recorded. Shared by
// the controller and `egress ipam reconcile`. Must not decide what to remove.
import { ipPoolType, overlappingRangeIPReservationType, podType } from "../../api/kinds/index.js";
import type { KubeObject } from "../../api/object.js";
import { poolFromObject } from "../../ipam/kube-objects.js";
import type { IPPool } from "../../ipam/model.js";
import {
  NETWORK_STATUS_ANNOTATION,
  networkStatusIPs,
  type PodView,
  planReconcile,
  type ReconcilePlan,
  type Removal,
  type ReservationRecord,
} from "../../ipam/reconcile.js";
import { type Client, isConflict, isNotFound } from "../runtime/client.js";

/** An IPPool read from the API: the model plus the object it came from (kept whole when writing). */
export interface PoolObject {
  pool: IPPool;
  object: KubeObject;
}

export function poolObject(o: KubeObject): PoolObject {
  return { pool: poolFromObject(o), object: o };
}

export function reservationRecord(o: KubeObject): ReservationRecord {
  const spec = (o.spec ?? {}) as { containerid?: unknown; podref?: unknown; ifname?: unknown };
  const created = Date.parse(o.metadata.creationTimestamp ?? "");
  return {
    name: o.metadata.name ?? "",
    containerid: String(spec.containerid ?? ""),
    podref: String(spec.podref ?? ""),
    ifname: String(spec.ifname ?? ""),
    ...(Number.isFinite(created) ? { createdMs: created } : {}),
  };
}

export function podView(o: KubeObject): PodView {
  const ips = networkStatusIPs(o.metadata.annotations?.[NETWORK_STATUS_ANNOTATION]);
  return ips ? { networkStatusIPs: ips } : {};
}

export interface ApplyResult {
  applied: Removal[];
  /** Pools whose write lost a race (re-plan). */
  conflicts: string[];
}

/** Writes the plan for the pools of one namespace. */
export async function applyReconcilePlan(
  client: Client,
  namespace: string,
  plan: ReconcilePlan,
  objects: ReadonlyMap<string, KubeObject>,
): Promise<ApplyResult> {
  const conflicts: string[] = [];
  const failedPools = new Set<string>();
  for (const p of plan.pools) {
    const orig = objects.get(p.name);
    if (!orig) continue;
    const body: KubeObject = {
      ...orig,
      metadata: { ...orig.metadata, resourceVersion: p.resourceVersion },
      spec: { ...(orig.spec as Record<string, unknown>), allocations: p.allocations },
    };
    try {
      await client.update(ipPoolType, body);
    } catch (e) {
      if (!isConflict(e) && !isNotFound(e)) throw e;
      conflicts.push(p.name);
      failedPools.add(p.name);
    }
  }
  // A reservation listed right after an allocation removal belongs to it (planReconcile's order).
  const blocked = new Set<string>();
  plan.removed.forEach((r, i) => {
    const prev = plan.removed[i - 1];
    if (
      r.kind === "OverlappingRangeIPReservation" &&
      prev?.kind === "IPPool allocation" &&
      failedPools.has(prev.object)
    )
      blocked.add(r.object);
  });
  for (const name of plan.deleteReservations) {
    if (blocked.has(name)) continue;
    try {
      await client.delete(overlappingRangeIPReservationType, namespace, name);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }
  const applied = plan.removed.filter((r) =>
    r.kind === "IPPool allocation" ? !failedPools.has(r.object) : !blocked.has(r.object),
  );
  return { applied, conflicts };
}

/** Groups objects by namespace. */
export function byNamespace(objs: readonly KubeObject[]): Map<string, KubeObject[]> {
  const m = new Map<string, KubeObject[]>();
  for (const o of objs) {
    const ns = o.metadata.namespace ?? "";
    const l = m.get(ns) ?? [];
    if (l.length === 0) m.set(ns, l);
    l.push(o);
  }
  return m;
}

export function formatRemoval(r: Removal, namespace: string): string {
  const what =
    r.kind === "IPPool allocation"
      ? `IPPool ${namespace}/${r.object} ${r.ip ?? ""}`
      : `OverlappingRangeIPReservation ${namespace}/${r.object}`;
  return `${what} (pod ${r.podref || "-"}, container ${r.containerID}, ${r.ifname}): ${r.reason}`;
}

export interface ReconcileRunResult {
  removed: { namespace: string; removal: Removal }[];
  /** Pools still conflicting after the last attempt. */
  conflicts: string[];
}

/** One full reconcile from fresh lists, as `egress ipam reconcile` runs it. Pools and reservations
 *  are listed before the pods, so an allocation whose pod is missing from the later pod list belonged
 *  to a pod that is really gone. Conflicting pools are re-planned a few times. */
export async function reconcileOnce(
  client: Client,
  opts: { graceMs: number; now?: () => number; attempts?: number },
): Promise<ReconcileRunResult> {
  const out: ReconcileRunResult = { removed: [], conflicts: [] };
  const attempts = opts.attempts ?? 5;
  for (let i = 0; i < attempts; i++) {
    const pools = (await client.list(ipPoolType)).items;
    const reservations = (await client.list(overlappingRangeIPReservationType)).items;
    const pods = new Map<string, PodView>();
    for (const p of (await client.list(podType)).items)
      pods.set(`${p.metadata.namespace}/${p.metadata.name}`, podView(p));
    const resByNs = byNamespace(reservations);
    const namespaces = new Set([...byNamespace(pools).keys(), ...resByNs.keys()]);
    const poolsByNs = byNamespace(pools);
    out.conflicts = [];
    for (const ns of namespaces) {
      const objs = poolsByNs.get(ns) ?? [];
      const plan = planReconcile({
        pools: objs.map((o) => poolFromObject(o)),
        reservations: (resByNs.get(ns) ?? []).map(reservationRecord),
        pod: (ref) => pods.get(ref),
        now: (opts.now ?? Date.now)(),
        graceMs: opts.graceMs,
      });
      const r = await applyReconcilePlan(
        client,
        ns,
        plan,
        new Map(objs.map((o) => [o.metadata.name ?? "", o])),
      );
      for (const removal of r.applied) out.removed.push({ namespace: ns, removal });
      out.conflicts.push(...r.conflicts.map((c) => `${ns}/${c}`));
    }
    if (out.conflicts.length === 0) break;
  }
  return out;
}
