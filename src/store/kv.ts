// The store engine shared by MemoryStore and the durable store: validation, compare-and-swap,
// revision assignment, group commit through a Journal, commit into the MVCC state, watch fan-out and
// history. The durable store is exactly this engine plus a write-ahead-log Journal; MemoryStore uses
// a Journal that does nothing. Pure of I/O itself: all disk access is behind the Journal.
import type { Mutation } from "./codec.js";
import {
  CasFailedError,
  CompactedError,
  InvalidArgumentError,
  KeyNotFoundError,
  StoreClosedError,
  StoreFailedError,
} from "./errors.js";
import { EventHistory, eventFor, MvccState } from "./state.js";
import type {
  DeleteOptions,
  KeyValue,
  ListOptions,
  ListResult,
  PutOptions,
  Store,
  StoreOptions,
  WatchEvent,
  WatchHandle,
} from "./types.js";

export const DEFAULT_WATCH_HISTORY = 10_000;

/** Durability behind the engine. The engine calls append() with one batch at a time (never
 *  concurrently) and checkpoint() only between batches, when the state holds everything appended. */
export interface Journal {
  /** Makes the batch durable, in order. A rejection means the outcome of the batch is unknown. */
  append(batch: readonly Mutation[]): Promise<void>;
  /** Lets the journal start a snapshot of `state` (always when `force`, otherwise when its log has
   *  grown enough). Resolves once the engine may append again, with the background part (`done`:
   *  snapshot durable, old log removed), or undefined when nothing was started. (Wrapped in an object
   *  because a promise resolved with a promise would wait for the inner one.) */
  checkpoint(state: MvccState, force: boolean): Promise<{ done: Promise<void> } | undefined>;
  /** Waits for background work and releases resources. */
  close(): Promise<void>;
}

export const nullJournal: Journal = {
  append: () => Promise.resolve(),
  checkpoint: () => Promise.resolve(undefined),
  close: () => Promise.resolve(),
};

interface Pending {
  mutation: Mutation;
  resolve(kv: KeyValue): void;
  reject(err: unknown): void;
}

interface Watcher {
  prefix: string;
  /** Live events with revision <= this are skipped: either before fromRevision or already in the
   *  backlog taken from history (a watch opened inside a callback sees the current event there). */
  after: number;
  onEvent: (e: WatchEvent) => void;
  /** Events waiting for the first (asynchronous) delivery; null once live. */
  backlog: WatchEvent[] | null;
  cancelled: boolean;
}

interface Deferred {
  resolve(): void;
  reject(err: unknown): void;
}

// String.prototype.isWellFormed is in Node 20 but not in the ES2023 lib typings.
const wellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed();

function checkKey(key: unknown, field = "key"): string {
  if (typeof key !== "string") throw new InvalidArgumentError(field, key, "must be a string");
  if (key.length === 0) throw new InvalidArgumentError(field, key, "must not be empty");
  if (!wellFormed(key)) throw new InvalidArgumentError(field, key, "contains a lone UTF-16 surrogate");
  return key;
}

function checkRevision(field: string, v: unknown, min: number): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min) {
    throw new InvalidArgumentError(field, v, `must be an integer >= ${min}`);
  }
  return v;
}

export class KvStore implements Store {
  private queue: Pending[] = [];
  /** Latest queued (not yet durable) state per key, so CAS checks see queued writes in order while
   *  readers only see acknowledged ones. null = queued delete. */
  private readonly overlay = new Map<string, { kv: KeyValue | null; revision: number }>();
  private lastAssigned: number;
  private writing = false;
  private checkpointWaiters: Deferred[] = [];
  private idleWaiters: Array<() => void> = [];
  private failure: StoreFailedError | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly watchers = new Set<Watcher>();
  private readonly onError: (err: unknown, context: string) => void;

  constructor(
    private readonly state: MvccState,
    private readonly history: EventHistory,
    private readonly journal: Journal,
    opts: StoreOptions = {},
  ) {
    this.lastAssigned = state.revision;
    this.onError =
      opts.onError ??
      ((err, context) => process.emitWarning(`store: ${context}: ${String(err)}`, "StoreWarning"));
  }

  revision(): number {
    return this.state.revision;
  }

  compactedRevision(): number {
    return this.history.compactedRevision;
  }

  get(key: string): Promise<KeyValue | undefined> {
    if (this.closed) return Promise.reject(new StoreClosedError());
    return Promise.resolve(this.state.get(key));
  }

  list(prefix: string, opts: ListOptions = {}): Promise<ListResult> {
    try {
      if (this.closed) throw new StoreClosedError();
      if (typeof prefix !== "string") throw new InvalidArgumentError("prefix", prefix, "must be a string");
      if (opts.limit !== undefined) checkRevision("limit", opts.limit, 1);
      if (opts.startAfter !== undefined && typeof opts.startAfter !== "string") {
        throw new InvalidArgumentError("startAfter", opts.startAfter, "must be a string");
      }
      const { items, more } = this.state.list(prefix, opts.limit, opts.startAfter);
      return Promise.resolve({ items, more, revision: this.state.revision });
    } catch (e) {
      return Promise.reject(e);
    }
  }

  count(prefix: string): Promise<number> {
    if (this.closed) return Promise.reject(new StoreClosedError());
    return Promise.resolve(this.state.count(prefix));
  }

  put(key: string, value: string, opts: PutOptions = {}): Promise<KeyValue> {
    try {
      checkKey(key);
      if (typeof value !== "string") throw new InvalidArgumentError("value", value, "must be a string");
      if (!wellFormed(value))
        throw new InvalidArgumentError("value", value, "contains a lone UTF-16 surrogate");
      const expect = opts.expectModRevision;
      if (expect !== undefined) checkRevision("expectModRevision", expect, 0);
      this.checkWritable();
      const current = this.latest(key);
      if (expect !== undefined && (expect === 0 ? current !== undefined : current?.modRevision !== expect)) {
        throw new CasFailedError(key, expect, current);
      }
      return this.enqueue({ op: "put", revision: ++this.lastAssigned, key, value }, current);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  delete(key: string, opts: DeleteOptions = {}): Promise<KeyValue> {
    try {
      checkKey(key);
      const expect = opts.expectModRevision;
      if (expect !== undefined) checkRevision("expectModRevision", expect, 1);
      this.checkWritable();
      const current = this.latest(key);
      if (expect !== undefined && current?.modRevision !== expect)
        throw new CasFailedError(key, expect, current);
      if (!current) throw new KeyNotFoundError(key);
      return this.enqueue({ op: "delete", revision: ++this.lastAssigned, key }, current);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  watch(prefix: string, fromRevision: number, onEvent: (e: WatchEvent) => void): WatchHandle {
    if (this.closed) throw new StoreClosedError();
    if (typeof prefix !== "string") throw new InvalidArgumentError("prefix", prefix, "must be a string");
    checkRevision("fromRevision", fromRevision, 0);
    if (fromRevision < this.history.compactedRevision) {
      throw new CompactedError(fromRevision, this.history.compactedRevision);
    }
    const backlog = this.history.since(fromRevision).filter((e) => e.kv.key.startsWith(prefix));
    const w: Watcher = {
      prefix,
      after: Math.max(fromRevision, this.state.revision),
      onEvent,
      backlog,
      cancelled: false,
    };
    this.watchers.add(w);
    // First delivery is asynchronous so the caller holds the handle before any callback runs; live
    // events committed meanwhile queue behind the history in the backlog, keeping revision order.
    queueMicrotask(() => {
      const events = w.backlog ?? [];
      w.backlog = null;
      for (const e of events) {
        if (w.cancelled) break;
        this.call(w, e);
      }
    });
    return {
      cancel: () => {
        w.cancelled = true;
        this.watchers.delete(w);
      },
    };
  }

  compact(revision: number): Promise<void> {
    try {
      checkRevision("revision", revision, 0);
      if (revision > this.state.revision) {
        throw new InvalidArgumentError(
          "revision",
          revision,
          `is after the current revision ${this.state.revision}`,
        );
      }
      this.checkWritable();
    } catch (e) {
      return Promise.reject(e);
    }
    this.history.compact(revision);
    return new Promise<void>((resolve, reject) => {
      this.checkpointWaiters.push({ resolve, reject });
      this.kick();
    });
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      if (this.writing) await new Promise<void>((r) => this.idleWaiters.push(r));
      for (const w of this.watchers) w.cancelled = true;
      this.watchers.clear();
      await this.journal.close();
    })();
    return this.closing;
  }

  private checkWritable(): void {
    if (this.closed) throw new StoreClosedError();
    if (this.failure) throw this.failure;
  }

  private latest(key: string): KeyValue | undefined {
    const o = this.overlay.get(key);
    if (o) return o.kv ?? undefined;
    return this.state.get(key);
  }

  private enqueue(mutation: Mutation, current: KeyValue | undefined): Promise<KeyValue> {
    const ev = eventFor(current, mutation);
    this.overlay.set(mutation.key, { kv: ev.type === "put" ? ev.kv : null, revision: mutation.revision });
    return new Promise<KeyValue>((resolve, reject) => {
      this.queue.push({ mutation, resolve, reject });
      this.kick();
    });
  }

  private kick(): void {
    if (this.writing) return;
    this.writing = true;
    void this.writeLoop();
  }

  /** Group commit: everything queued while an append (write + fsync) is in flight goes into the next one. */
  private async writeLoop(): Promise<void> {
    try {
      while ((this.queue.length > 0 || this.checkpointWaiters.length > 0) && !this.failure) {
        if (this.queue.length > 0) {
          const batch = this.queue;
          this.queue = [];
          try {
            await this.journal.append(batch.map((p) => p.mutation));
          } catch (e) {
            this.fail(e, batch);
            break;
          }
          for (const p of batch) p.resolve(this.commit(p.mutation));
        }
        const waiters = this.checkpointWaiters;
        this.checkpointWaiters = [];
        let background: { done: Promise<void> } | undefined;
        try {
          background = await this.journal.checkpoint(this.state, waiters.length > 0);
        } catch (e) {
          // Could not start a new log segment: the log's state is unknown, stop writing.
          this.fail(e, []);
          for (const w of waiters) w.reject(this.failure);
          break;
        }
        (background?.done ?? Promise.resolve()).then(
          () => {
            for (const w of waiters) w.resolve();
          },
          (e: unknown) => {
            if (waiters.length === 0) this.onError(e, "background snapshot failed; the log is kept");
            for (const w of waiters) w.reject(e);
          },
        );
      }
    } finally {
      this.writing = false;
      const idle = this.idleWaiters;
      this.idleWaiters = [];
      for (const r of idle) r();
    }
  }

  private commit(m: Mutation): KeyValue {
    const ev = this.state.apply(m);
    const o = this.overlay.get(m.key);
    if (o && o.revision === m.revision) this.overlay.delete(m.key);
    this.history.push(ev);
    for (const w of this.watchers) {
      if (ev.revision <= w.after || !ev.kv.key.startsWith(w.prefix)) continue;
      if (w.backlog) w.backlog.push(ev);
      else this.call(w, ev);
    }
    return ev.kv;
  }

  private call(w: Watcher, e: WatchEvent): void {
    try {
      w.onEvent(e);
    } catch (err) {
      w.cancelled = true;
      this.watchers.delete(w);
      this.onError(err, `watch callback for prefix "${w.prefix}" threw; watch cancelled`);
    }
  }

  private fail(cause: unknown, batch: Pending[]): void {
    this.failure = new StoreFailedError(cause);
    const rejected = [...batch, ...this.queue];
    this.queue = [];
    this.overlay.clear();
    this.lastAssigned = this.state.revision;
    for (const p of rejected) p.reject(this.failure);
    for (const w of this.checkpointWaiters.splice(0)) w.reject(this.failure);
  }
}

/** The same engine with no disk: for unit tests of other parts and for throwaway servers. */
export class MemoryStore extends KvStore {
  constructor(opts: StoreOptions = {}) {
    super(
      new MvccState(),
      new EventHistory(opts.watchHistory ?? DEFAULT_WATCH_HISTORY, 0),
      nullJournal,
      opts,
    );
  }
}
