// Reading the fields the workload controllers need from Pod and Node objects without trusting
// their shape, and a latch that lets a controller record a standing problem's Event once.
// Pure: no I/O.
import type { KubeObject } from "../../api/object.js";
import { isRecord } from "../../api/object.js";

const rec = (v: unknown): Record<string, unknown> => (isRecord(v) ? v : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);

export function conditionTrue(obj: KubeObject, type: string): boolean {
  return arr(rec(obj.status).conditions).some((c) => rec(c).type === type && rec(c).status === "True");
}

export const podSpec = (p: KubeObject) => rec(p.spec);
export const podNodeName = (p: KubeObject) => str(podSpec(p).nodeName);
export const podPhase = (p: KubeObject) => str(rec(p.status).phase);
export const podIP = (p: KubeObject) => str(rec(p.status).podIP);
export const podReady = (p: KubeObject) => conditionTrue(p, "Ready");

export function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(rec(v))) if (typeof x === "string") out[k] = x;
  return out;
}

/** Container ports by name (for named service targetPorts). */
export function namedPorts(p: KubeObject): Record<string, { port: number; protocol: string }> {
  const out: Record<string, { port: number; protocol: string }> = {};
  for (const c of arr(podSpec(p).containers)) {
    for (const port of arr(rec(c).ports)) {
      const r = rec(port);
      const name = str(r.name);
      if (name && typeof r.containerPort === "number")
        out[name] ??= { port: r.containerPort, protocol: str(r.protocol) ?? "TCP" };
    }
  }
  return out;
}

/** The controlling owner of an object, if it is of `kind`. */
export function controllerOf(obj: KubeObject, kind: string): { name: string; uid: string } | undefined {
  const o = obj.metadata.ownerReferences?.find((r) => r.controller === true);
  return o && o.kind === kind ? { name: o.name, uid: o.uid } : undefined;
}

/** Records each (object, reason, message) once while it stands; `clear` when the problem is gone. */
export class EventLatch {
  private readonly seen = new Map<string, string>();
  /** True when this is new (or changed) for `key` and should be recorded. */
  fire(key: string, reason: string, message: string): boolean {
    const v = `${reason}\n${message}`;
    if (this.seen.get(key) === v) return false;
    this.seen.set(key, v);
    return true;
  }
  clear(key: string): void {
    this.seen.delete(key);
  }
  /** Forgets every key not in `live`. */
  retain(live: Set<string>): void {
    for (const k of [...this.seen.keys()]) if (!live.has(k)) this.seen.delete(k);
  }
}
