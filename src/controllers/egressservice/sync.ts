// Two small helpers for controllers that recompute a cluster-wide decision from informer caches:
// WriteExpectations (do not decide again until the cache shows our own last writes, so a stale
// cache cannot undo or double-book what we just wrote) and EventDeduper (decision functions repeat
// their events on every run; a user must see each once per occurrence of the problem).
// Used by the EgressService and LoadBalancer controllers. No API access of their own beyond the
// EventRecorder handed in; never throw.
import type { KubeObject } from "../../api/object.js";
import type { DecisionEvent, ObjectRef as DecisionRef } from "../common/decision.js";
import type { ObjectRef } from "../runtime/events.js";

interface Expectation {
  check: (cached: KubeObject | undefined) => boolean;
  deadline: number;
}

/** Remembers writes whose effect the informer cache does not show yet. */
export class WriteExpectations {
  private readonly pending = new Map<string, Expectation>();

  constructor(
    /** After this long the cache is trusted anyway (someone else may have overwritten us). */
    private readonly maxWaitMs = 2000,
    private readonly now: () => number = Date.now,
  ) {}

  /** After a successful write of object `key`: `check` tells whether a cached copy shows it. */
  expect(key: string, check: (cached: KubeObject | undefined) => boolean): void {
    this.pending.set(key, { check, deadline: this.now() + this.maxWaitMs });
  }

  /** True when every pending write is visible in the cache (objects gone count as visible).
   *  Satisfied or expired entries are dropped. */
  satisfied(lookup: (key: string) => KubeObject | undefined): boolean {
    const t = this.now();
    let ok = true;
    for (const [key, e] of this.pending) {
      const cached = lookup(key);
      if (cached === undefined || e.check(cached) || t >= e.deadline) this.pending.delete(key);
      else ok = false;
    }
    return ok;
  }

  get size(): number {
    return this.pending.size;
  }

  clear(): void {
    this.pending.clear();
  }
}

export type RecordFn = (
  ref: ObjectRef,
  type: "Normal" | "Warning",
  reason: string,
  message: string,
) => Promise<void>;

/** Records each (object, type, reason, message) once while it keeps appearing in consecutive runs;
 *  when a run no longer reports it, it is forgotten and recorded again if it comes back. */
export class EventDeduper {
  private active = new Set<string>();

  constructor(private readonly record: RecordFn) {}

  /** `events` is the complete set of events of this run. `resolve` maps a decision's object to a
   *  full reference (uid, apiVersion) or undefined when the object is gone (event dropped). */
  async emit(events: DecisionEvent[], resolve: (ref: DecisionRef) => ObjectRef | undefined): Promise<number> {
    const next = new Set<string>();
    const fresh: { ref: ObjectRef; e: DecisionEvent }[] = [];
    for (const e of events) {
      const ref = resolve(e.object);
      if (!ref) continue;
      const key = JSON.stringify([
        ref.kind,
        ref.namespace ?? "",
        ref.name,
        ref.uid ?? "",
        e.type,
        e.reason,
        e.message,
      ]);
      if (next.has(key)) continue;
      next.add(key);
      if (!this.active.has(key)) fresh.push({ ref, e });
    }
    this.active = next;
    await Promise.all(fresh.map(({ ref, e }) => this.record(ref, e.type, e.reason, e.message)));
    return fresh.length;
  }

  /** Forgets everything (a new leadership term: the new leader reports current problems once). */
  reset(): void {
    this.active.clear();
  }
}
