// The `kubernetes` datastore: IPPool and OverlappingRangeIPReservation objects in the API server,
// written with optimistic concurrency (PUT with resourceVersion, POST of reservations that must not
// exist yet). Conflicts re-run the pure transaction on fresh data until the deadline, then
// StoreTimeoutError (CNI 11). Talks to the API only through KubeIPAMClient, so it is tested with a
// fake and runs unchanged against a real API server (kube-client.ts). Must not decide addresses.
import type { Change, Snapshot } from "./allocator.js";
import { isEmptyChange } from "./allocator.js";
import type { IPAllocation, IPPool, OverlappingRangeIPReservation } from "./model.js";
import { ReservationView } from "./reservation-view.js";
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
  /** Optional: changes only the given allocation keys of a pool, atomically on the server and
   *  without a resourceVersion precondition: `set` adds or replaces keys, `remove` deletes keys only
   *  while they still hold the given container ID (StoreConflictError otherwise, and when the pool is
   *  gone). Used only when every address added is claimed by an OverlappingRangeIPReservation. */
  patchPool?(name: string, set: Record<string, IPAllocation>, remove: Record<string, string>): Promise<void>;
  /** undefined when absent (404). Optional: with it, transactions fetch only the reservations the
   *  allocator asks about instead of listing the namespace on every call. */
  getReservation?(name: string): Promise<OverlappingRangeIPReservation | undefined>;
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

  private async readPools(scope: StoreScope): Promise<Map<string, IPPool>> {
    const got = await Promise.all(scope.pools.map((p) => this.client.getPool(p.name)));
    const pools = new Map<string, IPPool>();
    got.forEach((p, i) => {
      if (p) pools.set(scope.pools[i]!.name, p);
    });
    return pools;
  }

  async transact<T>(scope: StoreScope, fn: (snap: Snapshot) => { result: T; change: Change }): Promise<T> {
    if (scope.reservations && this.client.getReservation) return this.transactLazy(scope, fn);
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

  /** The transaction with lazily fetched reservations (clients with getReservation). Differences
   *  from the listing path, both to keep N contending plugins from restarting from scratch:
   *  - a reservation POST that finds the name taken only re-fetches that reservation and re-runs
   *    `fn` on the same pools (the pool write would have caught any real staleness anyway);
   *  - reservations this transaction created are kept across a lost pool write (a retry normally
   *    picks the same address: `fn` sees them as the attachment's own) and the ones the final
   *    attempt did not use are deleted after it succeeded, or all of them when it fails.
   *  Transport errors (no answer, 5xx) are retried like conflicts; a reservation that might have been
   *  created by the failed request is the attachment's own and is found again by the retry. */
  private async transactLazy<T>(
    scope: StoreScope,
    fn: (snap: Snapshot) => { result: T; change: Change },
  ): Promise<T> {
    const getReservation = this.client.getReservation!.bind(this.client);
    const deadline = this.now() + this.opts.timeoutMs;
    const owned = new Map<string, OverlappingRangeIPReservation>();
    let pools = await this.readPools(scope);
    let known = new Map<string, OverlappingRangeIPReservation | null>();
    let losses = 0;
    let complete = false;
    let change_: Change | undefined;
    let pick: number | undefined;
    const dropOwned = async (keep: ReadonlySet<string>) => {
      for (const name of owned.keys())
        if (!keep.has(name)) await this.client.deleteReservation(name).catch(() => undefined);
    };
    try {
      for (let attempt = 0; ; attempt++) {
        let out: { result: T; change: Change };
        let asked: ReadonlySet<string>;
        let rounds = 0;
        for (;;) {
          const reservations = new LazyReservations(known, complete);
          out = fn(pick === undefined ? { pools, reservations } : { pools, reservations, pick });
          // A reservation about to be created need not be looked up first: its POST fails if it
          // exists (handled above). Only the ones the plan relies on otherwise are fetched.
          for (const r of out.change.createReservations) reservations.misses.delete(r.name);
          if (reservations.misses.size === 0) {
            asked = reservations.asked;
            break;
          }
          if (++rounds > 2) {
            // Walking through addresses claimed by others one GET at a time (a burst of ADDs whose
            // pool writes have not landed yet): learn all claims at once instead.
            known = new Map((await this.client.listReservations()).map((r) => [r.name, r] as const));
            for (const [k2, v] of owned) known.set(k2, v);
            complete = true;
            continue;
          }
          const names = [...reservations.misses];
          const got = await Promise.all(names.map((n) => getReservation(n)));
          names.forEach((n, i) => {
            known.set(n, got[i] ?? null);
          });
        }
        const { result, change } = out;
        change_ = change;
        let failure: unknown;
        try {
          if (!isEmptyChange(change)) await this.applyKeeping(change, owned, pools);
          const keep = new Set([
            ...(change.claims ?? asked),
            ...change.createReservations.map((r) => r.name),
          ]);
          await dropOwned(keep);
          owned.clear();
          return result;
        } catch (e) {
          failure = e;
        }
        const transient = isTransient(failure);
        if (!(failure instanceof StoreConflictError) && !transient) throw failure;
        this.conflicts++;
        if (this.now() >= deadline) {
          const what = failure instanceof StoreConflictError ? failure.object : (failure as Error).message;
          throw new StoreTimeoutError(`${what} (${attempt + 1} conflicting attempts)`, this.opts.timeoutMs);
        }
        const lostReservation =
          failure instanceof StoreConflictError && failure.object.startsWith("OverlappingRangeIPReservation ")
            ? failure.object.slice("OverlappingRangeIPReservation ".length)
            : undefined;
        for (const [k, v] of owned) known.set(k, v);
        if (lostReservation !== undefined && !owned.has(lostReservation) && !known.has(lostReservation)) {
          // Created optimistically without looking first: see whose it is (it may be this
          // attachment's own, from an interrupted earlier call) and plan again.
          const r = await getReservation(lostReservation);
          known.set(lostReservation, r ?? null);
          const mine = change_?.createReservations.find((c) => c.name === lostReservation);
          if (!r || (mine && r.containerid === mine.containerid && r.ifname === mine.ifname)) continue;
        }
        if (lostReservation !== undefined && !owned.has(lostReservation)) {
          // Someone else claimed that address first. The others who lost the same race would all
          // run for the same next address: learn every claim at once (one LIST) and pick at random
          // among the lowest free ones, a wider choice after each loss.
          losses++;
          const [fresh, all] = await Promise.all([this.readPools(scope), this.client.listReservations()]);
          pools = fresh;
          known = new Map(all.map((r) => [r.name, r] as const));
          for (const [k2, v] of owned) known.set(k2, v);
          complete = true;
          pick = Math.floor(Math.random() * Math.min(2 ** losses, 32));
          continue;
        }
        await this.sleep(Math.random() * Math.min(200, 5 * 2 ** Math.min(attempt, 6)));
        pools = await this.readPools(scope);
        known = new Map([...owned].map(([k, v]) => [k, v] as const));
        complete = false;
        pick = undefined;
      }
    } catch (e) {
      await dropOwned(new Set());
      throw e;
    }
  }

  /** apply() for the lazy path: reservations created here are recorded in `owned` and stay when a
   *  later step fails; reservations of `owned` that the change deletes are forgotten. */
  private async applyKeeping(
    change: Change,
    owned: Map<string, OverlappingRangeIPReservation>,
    read: ReadonlyMap<string, IPPool>,
  ): Promise<void> {
    const recreated = new Set(change.createReservations.map((r) => r.name));
    // Independent reservation writes go out concurrently (a daemon's batch holds dozens); the order
    // that matters for crash safety is only reservations → pools → reservation deletes.
    await settleAll(
      change.deleteReservations
        .filter((name) => recreated.has(name))
        .map(async (name) => {
          await this.client.deleteReservation(name);
          owned.delete(name);
        }),
    );
    await settleAll(
      change.createReservations.map(async (r) => {
        await this.client.createReservation(r);
        owned.set(r.name, r);
      }),
    );
    for (const p of change.pools) {
      const before = read.get(p.name);
      if (p.resourceVersion === "" || !before) await this.client.createPool(p);
      else if (this.client.patchPool) {
        // Every address this change adds is claimed by a reservation created (or held) above, which
        // only one attachment can hold: so concurrent ADDs need no compare-and-swap on the whole pool
        // and do not conflict with each other; removals test that the key is still the one read.
        const set: Record<string, IPAllocation> = {};
        const remove: Record<string, string> = {};
        for (const [k, a] of Object.entries(p.allocations)) {
          const b = before.allocations[k];
          if (!b || b.id !== a.id || b.podref !== a.podref || b.ifname !== a.ifname) set[k] = a;
        }
        for (const [k, b] of Object.entries(before.allocations)) if (!(k in p.allocations)) remove[k] = b.id;
        await this.client.patchPool(p.name, set, remove);
      } else await this.client.replacePool(p);
    }
    await settleAll(
      change.deleteReservations
        .filter((name) => !recreated.has(name))
        .map(async (name) => {
          await this.client.deleteReservation(name);
          owned.delete(name);
        }),
    );
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

/** Waits for every promise (so nothing is left running when the caller retries) and then throws the
 *  first conflict, else the first other error. */
async function settleAll(ps: Promise<void>[]): Promise<void> {
  const rs = await Promise.allSettled(ps);
  const errors = rs.flatMap((r) => (r.status === "rejected" ? [r.reason as unknown] : []));
  if (errors.length === 0) return;
  throw errors.find((e) => e instanceof StoreConflictError) ?? errors[0];
}

/** Errors worth retrying: the API did not answer, or answered 429/5xx (kube-http.ts KubeApiError,
 *  recognised by name so this module stays free of the HTTP client). */
function isTransient(e: unknown): boolean {
  if (!(e instanceof Error) || e.name !== "KubeApiError") return false;
  const status = (e as Error & { status?: number }).status ?? 0;
  return status === 0 || status === 429 || status >= 500;
}

/** A reservation map that answers from what was fetched (`null` = known absent) and records every
 *  name it could not answer, so the store can fetch those and re-run the pure transaction. Iteration
 *  covers only the fetched reservations (the allocator only uses get/has). */
export class LazyReservations extends ReservationView {
  readonly misses = new Set<string>();
  /** Every name looked up. */
  readonly asked = new Set<string>();
  /** `complete`: `known` holds every reservation (a fresh LIST), so unknown names are absent. */
  constructor(
    private readonly known: ReadonlyMap<string, OverlappingRangeIPReservation | null>,
    private readonly complete = false,
  ) {
    super();
  }

  get(name: string): OverlappingRangeIPReservation | undefined {
    const v = this.known.get(name);
    this.asked.add(name);
    if (v === undefined && !this.complete) this.misses.add(name);
    return v ?? undefined;
  }
  protected present(): Map<string, OverlappingRangeIPReservation> {
    const m = new Map<string, OverlappingRangeIPReservation>();
    for (const [k, v] of this.known) if (v !== null) m.set(k, v);
    return m;
  }
}
