// Write expectations (client-go's "expectations" pattern) for controllers that recompute a
// cluster-wide decision from informer caches: after a write, do not decide again until the cache
// shows it, so a stale cache can neither undo nor double-book what was just written. An expectation
// not met within the TTL is dropped (someone else overwrote us, or the watch relisted past it).
// Shared by the EgressService, LoadBalancer, NetNamespace and HostSubnet controllers. No API access;
// never throws.
import type { KubeObject } from "../../api/object.js";

/** resourceVersions are opaque in general; ours and etcd's are decimal counters, so compare them
 *  numerically when both are, and fall back to equality otherwise. */
export function resourceVersionAtLeast(have: string | undefined, want: string | undefined): boolean {
  if (have === undefined || want === undefined) return false;
  if (/^\d+$/.test(have) && /^\d+$/.test(want)) return BigInt(have) >= BigInt(want);
  return have === want;
}

interface Expectation {
  /** Whether the cached copy (undefined: not in the cache) shows the write. */
  check: (cached: KubeObject | undefined) => boolean;
  deadline: number;
}

export class WriteExpectations {
  private readonly pending = new Map<string, Expectation>();

  constructor(
    private readonly ttlMs = 5_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** After a successful write of the object cached under `key`. */
  expect(key: string, check: (cached: KubeObject | undefined) => boolean): void {
    this.pending.set(key, { check, deadline: this.now() + this.ttlMs });
  }

  /** After a create, update or patch that returned `obj`: the cache must reach its resourceVersion
   *  (keyed by name unless `key` is given). */
  written(obj: KubeObject | undefined, key = obj?.metadata.name): void {
    if (!obj || !key) return;
    const rv = obj.metadata.resourceVersion;
    this.expect(key, (cached) => resourceVersionAtLeast(cached?.metadata.resourceVersion, rv));
  }

  /** After a delete: the object is gone from the cache, or re-created (another uid). */
  deleted(key: string, uid: string | undefined): void {
    this.expect(key, (cached) => cached === undefined || (uid !== undefined && cached.metadata.uid !== uid));
  }

  /** True when the cache (looked up by key) shows every pending write; met and expired
   *  expectations are dropped. */
  satisfied(lookup: (key: string) => KubeObject | undefined): boolean {
    const t = this.now();
    for (const [key, e] of this.pending)
      if (t >= e.deadline || e.check(lookup(key))) this.pending.delete(key);
    return this.pending.size === 0;
  }

  get size(): number {
    return this.pending.size;
  }

  clear(): void {
    this.pending.clear();
  }
}
