// The MVCC state machine shared by every store implementation: the current value of every key (a
// Map plus a sorted key array for prefix listing), the global revision, and the bounded event
// history used to resume watches. Applying the same mutations in the same order always yields the
// same state, which is what makes log replay equal to the live store. Pure: no I/O, no timers.
import type { Mutation } from "./codec.js";
import { SortedKeyValues } from "./sorted.js";
import type { KeyValue, WatchEvent } from "./types.js";

/** Error raised when a mutation does not fit the state (replay of a damaged or foreign log). */
export class StateMismatchError extends Error {
  override name = "StateMismatchError";
}

/** The event `m` produces when the key's current value is `current`. Pure. */
export function eventFor(current: KeyValue | undefined, m: Mutation): WatchEvent {
  if (m.op === "put") {
    const kv: KeyValue = Object.freeze({
      key: m.key,
      value: m.value,
      createRevision: current ? current.createRevision : m.revision,
      modRevision: m.revision,
      version: current ? current.version + 1 : 1,
    });
    return current
      ? { type: "put", kv, prev: current, revision: m.revision }
      : { type: "put", kv, revision: m.revision };
  }
  if (!current) throw new StateMismatchError(`delete of absent key "${m.key}" at revision ${m.revision}`);
  const kv: KeyValue = Object.freeze({
    key: m.key,
    value: current.value,
    createRevision: current.createRevision,
    modRevision: m.revision,
    version: 0,
  });
  return { type: "delete", kv, prev: current, revision: m.revision };
}

export class MvccState {
  private readonly map = new Map<string, KeyValue>();
  /** The same values in key order, for prefix listing. */
  private readonly sorted = new SortedKeyValues();
  private rev: number;

  /** An empty store is at revision 1, as a fresh etcd; the first write gets revision 2. */
  constructor(revision = 1) {
    this.rev = revision;
  }

  get revision(): number {
    return this.rev;
  }

  get size(): number {
    return this.map.size;
  }

  get(key: string): KeyValue | undefined {
    return this.map.get(key);
  }

  /** Applies the next mutation (its revision must be revision + 1) and returns its event. */
  apply(m: Mutation): WatchEvent {
    if (m.revision !== this.rev + 1) {
      throw new StateMismatchError(
        `mutation revision ${m.revision} does not follow store revision ${this.rev}`,
      );
    }
    const current = this.map.get(m.key);
    const ev = eventFor(current, m);
    if (ev.type === "put") {
      this.sorted.set(ev.kv);
      this.map.set(m.key, ev.kv);
    } else {
      this.sorted.delete(m.key);
      this.map.delete(m.key);
    }
    this.rev = m.revision;
    return ev;
  }

  /** Loads one snapshot entry; entries must arrive in ascending key order. */
  loadEntry(kv: KeyValue): void {
    const last = this.sorted.last();
    if (last !== undefined && !(last.key < kv.key)) {
      throw new StateMismatchError(`snapshot key "${kv.key}" is not after "${last.key}"`);
    }
    if (kv.modRevision > this.rev) {
      throw new StateMismatchError(
        `snapshot key "${kv.key}" has modRevision ${kv.modRevision} > ${this.rev}`,
      );
    }
    this.sorted.push(kv);
    this.map.set(kv.key, kv);
  }

  list(prefix: string, limit?: number, startAfter?: string): { items: KeyValue[]; more: boolean } {
    return this.sorted.list(prefix, limit, startAfter);
  }

  count(prefix: string): number {
    return this.sorted.countPrefix(prefix);
  }

  /** All entries in key order (a cheap copy of references: values are frozen and never mutated). */
  entries(): KeyValue[] {
    return this.sorted.toArray();
  }
}

/** The last events, in revision order, for watch resumption. Every revision in
 *  (compactedRevision, latest] has its event here. */
export class EventHistory {
  private events: WatchEvent[] = [];
  private start = 0;
  private compacted: number;

  constructor(
    private readonly capacity: number,
    compactedRevision: number,
  ) {
    this.compacted = compactedRevision;
  }

  get compactedRevision(): number {
    return this.compacted;
  }

  get length(): number {
    return this.events.length - this.start;
  }

  push(e: WatchEvent): void {
    this.events.push(e);
    while (this.length > this.capacity) this.compacted = this.events[this.start++]!.revision;
    this.tidy();
  }

  /** Drops events with revision <= `revision`. */
  compact(revision: number): void {
    while (this.start < this.events.length && this.events[this.start]!.revision <= revision) this.start++;
    this.compacted = Math.max(this.compacted, revision);
    this.tidy();
  }

  /** Events with revision > `from` (caller checks from >= compactedRevision). */
  since(from: number): WatchEvent[] {
    let lo = this.start;
    let hi = this.events.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.events[mid]!.revision <= from) lo = mid + 1;
      else hi = mid;
    }
    return this.events.slice(lo);
  }

  /** Shifting the array on every push would be O(n); drop the dead prefix in bulk instead. */
  private tidy(): void {
    if (this.start > 1024 && this.start * 2 > this.events.length) {
      this.events = this.events.slice(this.start);
      this.start = 0;
    }
  }
}
