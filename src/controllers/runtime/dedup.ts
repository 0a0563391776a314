// Event de-duplication for recomputed decisions. The pure decisions return the event of every
// problem that still exists on every run; a user must see one Event per problem, and a new one when
// a problem that had gone away comes back. Shared by every controller that records decision
// events. Pure: no I/O; callers record what `fresh` returns (or hand `emit` their recorder).
import type { DecisionEvent, ObjectRef as DecisionRef } from "../common/decision.js";
import type { ObjectRef } from "./events.js";

export interface KeyedEvent extends DecisionEvent {
  /** The object's uid, so a re-created object with the same name is a new problem. */
  uid?: string;
}

export const eventKey = (e: KeyedEvent): string =>
  JSON.stringify([
    e.object.kind,
    e.object.namespace ?? "",
    e.object.name,
    e.uid ?? "",
    e.type,
    e.reason,
    e.message,
  ]);

export type RecordFn = (
  ref: ObjectRef,
  type: "Normal" | "Warning",
  reason: string,
  message: string,
) => Promise<void>;

/** Remembers the problems reported by the previous run of one source. */
export class EventDedup<E extends KeyedEvent = KeyedEvent> {
  private active = new Set<string>();

  /** The events of this run that the previous run did not report (each distinct problem once,
   *  even when the run lists it twice). This run's events become the active set. */
  fresh(events: readonly E[]): E[] {
    const next = new Set<string>();
    const out: E[] = [];
    for (const e of events) {
      const k = eventKey(e);
      if (next.has(k)) continue;
      next.add(k);
      if (!this.active.has(k)) out.push(e);
    }
    this.active = next;
    return out;
  }

  get size(): number {
    return this.active.size;
  }

  /** Forgets everything (a new leadership term reports current problems once). */
  reset(): void {
    this.active.clear();
  }
}

/** `fresh` for decision events whose objects are resolved to full references (uid, apiVersion)
 *  first; events of objects that are gone (`resolve` gives undefined) are dropped. Records the
 *  fresh ones and resolves with their number. */
export async function emitFresh(
  dedup: EventDedup,
  events: readonly DecisionEvent[],
  resolve: (ref: DecisionRef) => ObjectRef | undefined,
  record: RecordFn,
): Promise<number> {
  const keyed: (KeyedEvent & { ref: ObjectRef })[] = [];
  for (const e of events) {
    const ref = resolve(e.object);
    if (!ref) continue;
    keyed.push({
      ...e,
      object: { kind: ref.kind, name: ref.name, ...(ref.namespace ? { namespace: ref.namespace } : {}) },
      ...(ref.uid ? { uid: ref.uid } : {}),
      ref,
    });
  }
  const fresh = dedup.fresh(keyed) as (KeyedEvent & { ref: ObjectRef })[];
  await Promise.all(fresh.map((e) => record(e.ref, e.type, e.reason, e.message)));
  return fresh.length;
}
