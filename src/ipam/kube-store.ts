// The `kubernetes` datastore: IPPool and OverlappingRangeIPReservation objects in the API server,
// written with optimistic concurrency (PUT with resourceVersion, POST of reservations that must not
// exist yet). Conflicts re-run the pure transaction on fresh data until the deadline, then
// StoreTimeoutError (CNI 11). Talks to the API only through KubeIPAMClient, so it is tested with a
// fake and runs unchanged against a real API server (kube-client.ts). Must not decide addresses.
import type { Change, Snapshot } from "./allocator.js";
import { isEmptyChange } from "./allocator.js";
import type { IPPool, OverlappingRangeIPReservation } from "./model.js";
import { type IPAMStore, StoreConflictError, type StoreScope, StoreTimeoutError } from "./store.js";

/** The API calls the store needs. Implementations throw StoreConflictError for 409 (Conflict or
 *  AlreadyExists) and return undefined / succeed for 404 where noted. */
export interface KubeIPAMClient {
  /** undefined when the pool does not exist (404). */
  getPool(name: string): Promise<IPPool | undefined>;
  createPool(pool: IPPool): Promise<void>;
  /** PUT with `pool.resourceVersion` as precondition. */
  replacePool(pool: IPPool): Promise<void>;
  listReservations(): Promise<OverlappingRangeIPReservation[]>;
  createReservation(r: OverlappingRangeIPReservation): Promise<void>;
  /** Succeeds when the reservation is already gone. */
  deleteReservation(name: string): Promise<void>;
}

export interface KubeStoreOptions {
  timeoutMs: number;
  /** Injected for tests. */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export class KubernetesStore implements IPAMStore {
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  conflicts = 0;

  constructor(
    private readonly client: KubeIPAMClient,
    private readonly opts: KubeStoreOptions,
  ) {
    this.now = opts.now ?? Date.now;
    this.sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  async read(scope: StoreScope): Promise<Snapshot> {
    const pools = new Map<string, IPPool>();
    for (const p of scope.pools) {
      const got = await this.client.getPool(p.name);
      if (got) pools.set(p.name, got);
    }
    const reservations = new Map<string, OverlappingRangeIPReservation>();
    if (scope.reservations) for (const r of await this.client.listReservations()) reservations.set(r.name, r);
    return { pools, reservations };
  }

  async transact<T>(scope: StoreScope, fn: (snap: Snapshot) => { result: T; change: Change }): Promise<T> {
    const deadline = this.now() + this.opts.timeoutMs;
    for (let attempt = 0; ; attempt++) {
      const { result, change } = fn(await this.read(scope));
      if (isEmptyChange(change)) return result;
      try {
        await this.apply(change);
        return result;
      } catch (e) {
        if (!(e instanceof StoreConflictError)) throw e;
        this.conflicts++;
        if (this.now() >= deadline) {
          throw new StoreTimeoutError(
            `${e.object} (${attempt + 1} conflicting attempts)`,
            this.opts.timeoutMs,
          );
        }
        // Jittered, growing backoff so that contending plugins spread out.
        await this.sleep(Math.random() * Math.min(500, 10 * 2 ** Math.min(attempt, 6)));
      }
    }
  }

  /** Reservations are created before the pools are written and deleted after, so that a crash or a
   *  conflict in between can leak an address but never hand it out twice. Reservations created by a
   *  failed attempt are removed again, since the retry may pick another address. */
  private async apply(change: Change): Promise<void> {
    const recreated = new Set(change.createReservations.map((r) => r.name));
    for (const name of change.deleteReservations)
      if (recreated.has(name)) await this.client.deleteReservation(name);
    const created: string[] = [];
    try {
      for (const r of change.createReservations) {
        await this.client.createReservation(r);
        created.push(r.name);
      }
      for (const p of change.pools) {
        if (p.resourceVersion === "") await this.client.createPool(p);
        else await this.client.replacePool(p);
      }
    } catch (e) {
      for (const name of created) await this.client.deleteReservation(name).catch(() => undefined);
      throw e;
    }
    for (const name of change.deleteReservations)
      if (!recreated.has(name)) await this.client.deleteReservation(name);
  }

  async close(): Promise<void> {}
}
