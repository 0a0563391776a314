// Event de-duplication for recomputed decisions. The pure decisions repeat the event for every
// problem that still exists on every run; users must see one Event per problem, and a new one when
// a problem that had gone away comes back. Pure: no I/O; the caller records what `fresh` returns.
import type { DecisionEvent } from "../common/decision.js";

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

/** Remembers the problems reported by the previous run of one source. */
export class EventDeduper<E extends KeyedEvent = KeyedEvent> {
  private active = new Set<string>();

  /** The events of this run that were not reported by the previous run (each distinct problem
   *  once, even when the run lists it twice). This run's events become the active set. */
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
}
