// Small helpers for the openshift-sdn controllers' shells (NetNamespace, HostSubnet): write
// expectations, so a cluster-wide reconcile never decides from a cache that does not yet show its
// own previous writes (client-go's "expectations" pattern), and de-duplication of the Events the
// pure decisions repeat on every run. No API access here; the controllers do the writing.
import type { KubeObject } from "../../api/object.js";
import type { DecisionEvent } from "../common/decision.js";

/** resourceVersions are opaque in general; ours and etcd's are decimal counters, so compare them
 *  numerically when both are, and fall back to equality otherwise. */
export function resourceVersionAtLeast(have: string | undefined, want: string | undefined): boolean {
  if (have === undefined || want === undefined) return false;
  if (/^\d+$/.test(have) && /^\d+$/.test(want)) return BigInt(have) >= BigInt(want);
  return have === want;
}

interface Expectation {
  /** Written resourceVersion, or undefined for a delete. */
  rv?: string;
  /** uid of the deleted object (a re-created object has another uid). */
  uid?: string;
  at: number;
}

/** Writes this controller made that its informer cache must show before the next decision. An
 *  expectation that is not met within `ttlMs` is dropped (e.g. the watch relisted past it). */
export class WriteExpectations {
  private readonly pending = new Map<string, Expectation>();

  constructor(
    private readonly ttlMs = 5_000,
    private readonly now: () => number = Date.now,
  ) {}

  written(obj: KubeObject | undefined): void {
    const name = obj?.metadata.name;
    if (!obj || !name) return;
    this.pending.set(name, { rv: obj.metadata.resourceVersion, at: this.now() });
  }

  deleted(name: string, uid: string | undefined): void {
    this.pending.set(name, { uid, at: this.now() });
  }

  /** True when the cache (looked up by name) reflects every recorded write. */
  satisfied(get: (name: string) => KubeObject | undefined): boolean {
    const t = this.now();
    for (const [name, e] of this.pending) {
      const cur = get(name);
      const met =
        e.rv === undefined
          ? cur === undefined || (e.uid !== undefined && cur.metadata.uid !== e.uid)
          : resourceVersionAtLeast(cur?.metadata.resourceVersion, e.rv);
      if (met || t - e.at > this.ttlMs) this.pending.delete(name);
    }
    return this.pending.size === 0;
  }

  get size(): number {
    return this.pending.size;
  }
}

const eventKey = (e: DecisionEvent) =>
  JSON.stringify([e.object.kind, e.object.namespace ?? "", e.object.name, e.type, e.reason, e.message]);

/** Passes on only the events that were not returned by the previous run: a standing problem is
 *  recorded once when it appears, and again only after it went away and came back. */
export class EventDedup {
  private last = new Set<string>();

  fresh(events: DecisionEvent[]): DecisionEvent[] {
    const now = new Set<string>();
    const out: DecisionEvent[] = [];
    for (const e of events) {
      const k = eventKey(e);
      if (now.has(k)) continue;
      now.add(k);
      if (!this.last.has(k)) out.push(e);
    }
    this.last = now;
    return out;
  }
}
