// Per-pool serialisation and coalescing of store transactions inside one resident IPAM daemon.
// Transactions queued for one key (store + network_name) run one batch at a time; every transaction
// waiting when a batch starts (same scope, up to maxBatch) joins it, and the batch is ONE store
// transaction whose function runs the members' pure functions one after the other on an overlay of
// the snapshot, so that each sees the addresses the earlier ones took. 50 concurrent ADDs on a pool
// thus cost one pool read and one pool write instead of 50 racing read-modify-writes. A member whose
// own function throws (e.g. the pool is exhausted for it) fails alone; a failed store transaction
// fails every member. Across daemons and plugin processes the store's optimistic concurrency stays
// the guarantee. No I/O here: the store work is the injected BatchRunner.
import type { Change, Snapshot } from "./allocator.js";
import type { OverlappingRangeIPReservation } from "./model.js";
import { ReservationView } from "./reservation-view.js";
import { type StoreScope, StoreTimeoutError } from "./store.js";

export type TxFn<T> = (snap: Snapshot) => { result: T; change: Change };

/** One member's outcome inside a batch. */
export type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/** Runs one store transaction for a whole batch (the store's `transact` with the given deadline). */
export type BatchRunner = (scope: StoreScope, fn: TxFn<Outcome[]>, timeoutMs: number) => Promise<Outcome[]>;

/** Reservations as seen by a member of a batch: the base snapshot's (possibly lazily fetched:
 *  lookups go through to the base map, so a lazy store still learns which names to fetch) with the
 *  earlier members' creates and deletes on top. */
class ReservationOverlay extends ReservationView {
  /** name → reservation created by an earlier member, or null when an earlier member deleted it. */
  readonly changed = new Map<string, OverlappingRangeIPReservation | null>();
  constructor(private readonly base: ReadonlyMap<string, OverlappingRangeIPReservation>) {
    super();
  }

  get(name: string): OverlappingRangeIPReservation | undefined {
    const c = this.changed.get(name);
    if (c !== undefined) return c ?? undefined;
    return this.base.get(name);
  }
  protected present(): Map<string, OverlappingRangeIPReservation> {
    const m = new Map<string, OverlappingRangeIPReservation>();
    for (const [k, v] of this.base) if (!this.changed.has(k)) m.set(k, v);
    for (const [k, v] of this.changed) if (v) m.set(k, v);
    return m;
  }
}

/** Runs the members' functions in order on one snapshot and merges their changes into the net change
 *  against that snapshot: the last version of each pool; a reservation deleted and created again
 *  stays a delete + create (the store applies deletes first); one created and deleted again within
 *  the batch disappears. Pure. */
export function combine(fns: readonly TxFn<unknown>[]): TxFn<Outcome[]> {
  return (snap) => {
    const pools = new Map(snap.pools);
    const reservations = new ReservationOverlay(snap.reservations);
    /** Reservations of the base snapshot that the batch deletes. */
    const deleteBase = new Set<string>();
    let claims: string[] | undefined;
    const outcomes: Outcome[] = [];
    for (const fn of fns) {
      let out: ReturnType<TxFn<unknown>>;
      try {
        out = fn(
          snap.pick === undefined ? { pools, reservations } : { pools, reservations, pick: snap.pick },
        );
      } catch (error) {
        outcomes.push({ ok: false, error });
        continue;
      }
      outcomes.push({ ok: true, value: out.result });
      const c = out.change;
      for (const p of c.pools) pools.set(p.name, p);
      for (const name of c.deleteReservations) {
        // Deleting what an earlier member created (and the base did not hold) needs no store write.
        if (!reservations.changed.has(name)) deleteBase.add(name);
        reservations.changed.set(name, null);
      }
      for (const r of c.createReservations) reservations.changed.set(r.name, r);
      if (c.claims) claims = [...(claims ?? []), ...c.claims];
    }
    const change: Change = {
      pools: [...pools.values()].filter((p) => snap.pools.get(p.name) !== p),
      createReservations: [...reservations.changed.values()].filter(
        (r): r is OverlappingRangeIPReservation => r !== null,
      ),
      deleteReservations: [...deleteBase],
    };
    if (claims) change.claims = claims;
    return { result: outcomes, change };
  };
}

interface Member {
  scope: StoreScope;
  scopeKey: string;
  fn: TxFn<unknown>;
  deadline: number;
  timeoutMs: number;
  run: BatchRunner;
  resolve(v: unknown): void;
  reject(e: unknown): void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

interface Queue {
  waiting: Member[];
  busy: boolean;
}

const scopeKeyOf = (s: StoreScope): string =>
  JSON.stringify([s.network, s.reservations, s.pools.map((p) => p.name)]);

export interface PoolQueueStats {
  transactions: number;
  batches: number;
  largestBatch: number;
  queueTimeouts: number;
}

export class PoolQueues {
  private readonly queues = new Map<string, Queue>();
  private readonly maxBatch: number;
  private readonly now: () => number;
  readonly stats: PoolQueueStats = { transactions: 0, batches: 0, largestBatch: 0, queueTimeouts: 0 };

  constructor(opts: { maxBatch?: number; now?: () => number } = {}) {
    this.maxBatch = opts.maxBatch ?? 100;
    this.now = opts.now ?? Date.now;
  }

  /** Transactions queued or running. */
  get pending(): number {
    let n = 0;
    for (const q of this.queues.values()) n += q.waiting.length + (q.busy ? 1 : 0);
    return n;
  }

  /** Queues `fn` behind the transactions of `key` (one store and network). A member still waiting
   *  after `timeoutMs` fails with StoreTimeoutError (CNI 11), like a plugin process waiting for the
   *  host lock; once its batch runs, the store's own deadline applies. */
  transact<T>(key: string, scope: StoreScope, fn: TxFn<T>, timeoutMs: number, run: BatchRunner): Promise<T> {
    this.stats.transactions++;
    return new Promise<T>((resolve, reject) => {
      const m: Member = {
        scope,
        scopeKey: scopeKeyOf(scope),
        fn,
        deadline: this.now() + timeoutMs,
        timeoutMs,
        run,
        resolve: resolve as (v: unknown) => void,
        reject,
        timer: undefined,
      };
      let q = this.queues.get(key);
      if (!q) {
        q = { waiting: [], busy: false };
        this.queues.set(key, q);
      }
      q.waiting.push(m);
      const queue = q;
      m.timer = setTimeout(() => {
        const i = queue.waiting.indexOf(m);
        if (i < 0) return;
        queue.waiting.splice(i, 1);
        this.stats.queueTimeouts++;
        reject(new StoreTimeoutError(`the daemon's queue for network "${scope.network}"`, timeoutMs));
      }, timeoutMs);
      this.pump(key);
    });
  }

  private pump(key: string): void {
    const q = this.queues.get(key);
    if (!q || q.busy) return;
    const head = q.waiting[0];
    if (!head) {
      this.queues.delete(key);
      return;
    }
    const batch: Member[] = [];
    q.waiting = q.waiting.filter((m) => {
      if (batch.length < this.maxBatch && m.scopeKey === head.scopeKey) {
        batch.push(m);
        return false;
      }
      return true;
    });
    for (const m of batch) clearTimeout(m.timer);
    q.busy = true;
    this.stats.batches++;
    this.stats.largestBatch = Math.max(this.stats.largestBatch, batch.length);
    const now = this.now();
    const timeoutMs = Math.max(1, ...batch.map((m) => m.deadline - now));
    const fn = combine(batch.map((m) => m.fn));
    let settled: Promise<void>;
    try {
      settled = head.run(head.scope, fn, timeoutMs).then(
        (outcomes) =>
          batch.forEach((m, i) => {
            const o = outcomes[i];
            if (!o) m.reject(new Error("batch returned no outcome for a member"));
            else if (o.ok) m.resolve(o.value);
            else m.reject(o.error);
          }),
        (e: unknown) => {
          for (const m of batch) m.reject(e);
        },
      );
    } catch (e) {
      for (const m of batch) m.reject(e);
      settled = Promise.resolve();
    }
    void settled.finally(() => {
      q.busy = false;
      this.pump(key);
    });
  }
}
