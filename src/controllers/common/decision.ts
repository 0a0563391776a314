// Shared vocabulary of the pure decision functions: the Event they ask the controller to record,
// the deterministic "older first" order used to settle conflicts, and a small binary heap.
// Pure: no I/O, no clock (timestamps come in as data).

/** An Event a decision function asks its controller to record on `object` (kubectl describe).
 *  Decision functions are recomputed from scratch, so they repeat their events on every run;
 *  controllers de-duplicate (same object, reason and message) before writing. */
export interface DecisionEvent {
  type: "Normal" | "Warning";
  reason: string;
  message: string;
  object: ObjectRef;
}

export interface ObjectRef {
  kind: string;
  name: string;
  namespace?: string;
}

/** Anything with the metadata needed to order objects by age. */
export interface Aged {
  name: string;
  namespace?: string;
  /** RFC 3339 creationTimestamp; absent sorts last (a not-yet-created object is the newest). */
  creationTimestamp?: string;
}

/** Older first: creationTimestamp (RFC 3339 second precision compares correctly as text once
 *  normalised to Date), then namespace, then name. Total and deterministic. */
export function compareByAge(a: Aged, b: Aged): number {
  const ta = a.creationTimestamp ? Date.parse(a.creationTimestamp) : Number.POSITIVE_INFINITY;
  const tb = b.creationTimestamp ? Date.parse(b.creationTimestamp) : Number.POSITIVE_INFINITY;
  const na = Number.isNaN(ta) ? Number.POSITIVE_INFINITY : ta;
  const nb = Number.isNaN(tb) ? Number.POSITIVE_INFINITY : tb;
  if (na !== nb) return na < nb ? -1 : 1;
  return compareStrings(a.namespace ?? "", b.namespace ?? "") || compareStrings(a.name, b.name);
}

/** Code-unit order (not locale): the same on every machine. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Minimal binary min-heap. */
export class Heap<T> {
  private readonly items: T[] = [];
  constructor(private readonly less: (a: T, b: T) => boolean) {}
  get size(): number {
    return this.items.length;
  }
  peek(): T | undefined {
    return this.items[0];
  }
  push(x: T): void {
    const a = this.items;
    a.push(x);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(a[i]!, a[p]!)) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }
  pop(): T | undefined {
    const a = this.items;
    if (a.length === 0) return undefined;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.less(a[l]!, a[m]!)) m = l;
        if (r < a.length && this.less(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}
