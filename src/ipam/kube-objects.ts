// Upstream-shaped IPPool / OverlappingRangeIPReservation objects (whereabouts.cni.cncf.io/v1alpha1)
// to and from the store's plain model. Pure: no I/O, and no client library (the plugin imports this).
import type { IPAllocation, IPPool, OverlappingRangeIPReservation } from "./model.js";
import { StoreConflictError, StoreCorruptError } from "./store.js";

export const group = "whereabouts.cni.cncf.io";
export const version = "v1alpha1";

export type Obj = Record<string, unknown>;
export const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
export const codeOf = (e: unknown): number | undefined =>
  typeof e === "object" && e !== null && typeof (e as { code?: unknown }).code === "number"
    ? (e as { code: number }).code
    : undefined;

export function conflictOr(e: unknown, object: string, expected: string): never {
  if (codeOf(e) === 409) throw new StoreConflictError(object, expected, "changed or exists");
  throw e;
}

export function poolFromObject(o: unknown): IPPool {
  if (!isObj(o) || !isObj(o.metadata) || !isObj(o.spec))
    throw new StoreCorruptError("IPPool", "not an IPPool object");
  const name = String(o.metadata.name ?? "");
  const allocations: Record<string, IPAllocation> = {};
  const raw = o.spec.allocations;
  if (isObj(raw)) {
    for (const [k, a] of Object.entries(raw)) {
      if (!isObj(a)) throw new StoreCorruptError(`IPPool ${name}`, `allocation ${k} is not an object`);
      allocations[k] = {
        id: String(a.id ?? ""),
        podref: String(a.podref ?? ""),
        ifname: String(a.ifname ?? ""),
      };
    }
  }
  return {
    name,
    range: String(o.spec.range ?? ""),
    allocations,
    resourceVersion: String(o.metadata.resourceVersion ?? ""),
  };
}

export function poolToObject(p: IPPool, namespace: string): Obj {
  const metadata: Obj = { name: p.name, namespace };
  if (p.resourceVersion !== "") metadata.resourceVersion = p.resourceVersion;
  return {
    apiVersion: `${group}/${version}`,
    kind: "IPPool",
    metadata,
    spec: { range: p.range, allocations: p.allocations },
  };
}

export function reservationFromObject(o: unknown): OverlappingRangeIPReservation {
  if (!isObj(o) || !isObj(o.metadata) || !isObj(o.spec)) {
    throw new StoreCorruptError(
      "OverlappingRangeIPReservation",
      "not an OverlappingRangeIPReservation object",
    );
  }
  return {
    name: String(o.metadata.name ?? ""),
    ip: "",
    containerid: String(o.spec.containerid ?? ""),
    podref: String(o.spec.podref ?? ""),
    ifname: String(o.spec.ifname ?? ""),
  };
}
