// The store's public contract: an etcd-style MVCC key-value interface (one global revision counter,
// per-key createRevision/modRevision/version, compare-and-swap, watch from a revision, compaction).
// The API server depends only on this file and errors.ts, so an etcd backend can be dropped in later.
// Pure declarations: no I/O, no implementation.

/** One key at one revision, as etcd's mvccpb.KeyValue. Objects handed out by a store are frozen. */
export interface KeyValue {
  readonly key: string;
  /** Opaque text; the API server stores JSON. */
  readonly value: string;
  /** Revision of the put that created the key (since its last deletion). */
  readonly createRevision: number;
  /** Revision of the last put (or, in a delete event/result, of the deletion). */
  readonly modRevision: number;
  /** Number of puts since creation: 1 after create; 0 in a delete event/result (etcd's tombstone). */
  readonly version: number;
}

/** One mutation as seen by watchers. Every revision produces exactly one event. */
export type WatchEvent =
  | { readonly type: "put"; readonly kv: KeyValue; readonly prev?: KeyValue; readonly revision: number }
  | {
      readonly type: "delete";
      /** Last value of the key; modRevision = deletion revision, version = 0. */
      readonly kv: KeyValue;
      /** The key as it was before the delete. */
      readonly prev: KeyValue;
      readonly revision: number;
    };

export interface PutOptions {
  /** 0 = the key must not exist (create); n > 0 = the key's modRevision must be n; undefined = unconditional. */
  expectModRevision?: number;
}

export interface DeleteOptions {
  /** n > 0 = the key's modRevision must be n; undefined = unconditional (the key must still exist). */
  expectModRevision?: number;
}

export interface ListOptions {
  /** At most this many items (> 0); `more` tells whether further keys exist. */
  limit?: number;
  /** Return only keys strictly greater than this one (paging: pass the last key of the previous page). */
  startAfter?: string;
}

export interface ListResult {
  items: KeyValue[];
  /** Store revision the page was read at. */
  revision: number;
  more: boolean;
}

export interface WatchHandle {
  /** Stop delivery. Idempotent; no event is delivered after cancel() returns. */
  cancel(): void;
}

export interface Store {
  /** Revision of the last acknowledged (durable) write. An empty store is at revision 1, as etcd. */
  revision(): number;
  get(key: string): Promise<KeyValue | undefined>;
  /** Keys starting with `prefix`, sorted by key (UTF-16 code unit order = byte order for ASCII keys),
   *  read at the current revision. */
  list(prefix: string, opts?: ListOptions): Promise<ListResult>;
  count(prefix: string): Promise<number>;
  /** Create/update. Resolves only after the write is durable; rejects with CasFailedError (carrying the
   *  current KeyValue or undefined), InvalidKeyError, StoreClosedError or StoreFailedError. */
  put(key: string, value: string, opts?: PutOptions): Promise<KeyValue>;
  /** Delete. Resolves (after it is durable) with the delete event's kv: the last value with
   *  modRevision = deletion revision and version 0. Rejects with KeyNotFoundError if the key is absent
   *  and no expectModRevision was given, CasFailedError if the expectation fails. */
  delete(key: string, opts?: DeleteOptions): Promise<KeyValue>;
  /** Events with revision > fromRevision for keys starting with `prefix`: first the retained history,
   *  then live events, strictly in revision order. Throws CompactedError synchronously if
   *  fromRevision < compactedRevision(). The callback runs asynchronously (never inside watch()) and
   *  must not block: a slow consumer buffers on its own side. A throwing callback cancels its watch. */
  watch(prefix: string, fromRevision: number, onEvent: (e: WatchEvent) => void): WatchHandle;
  /** Smallest fromRevision that watch() accepts: all events with revision > compactedRevision() are retained. */
  compactedRevision(): number;
  /** Drop watch history up to and including `revision` (must be ≤ revision()); a durable store also
   *  writes a snapshot and starts a new log segment, resolving once old segments are removed. */
  compact(revision: number): Promise<void>;
  /** Waits for queued writes, stops watches, releases the directory. Further calls reject with StoreClosedError. */
  close(): Promise<void>;
}

export interface StoreOptions {
  /** Events kept in memory for watch resumption (default 10000). Older ones are compacted automatically. */
  watchHistory?: number;
  /** Errors nobody awaits: a watch callback that threw (its watch is cancelled), a failed background
   *  snapshot (the log is kept, so nothing is lost). `context` names the source. Default: process warning. */
  onError?: (err: unknown, context: string) => void;
}

export interface DurableStoreOptions extends StoreOptions {
  /** The log segment size after which a snapshot is written and a new segment started
   *  (default 64 MiB; the effective threshold is at least the size of the last snapshot). */
  segmentBytes?: number;
}
