// Typed errors of the store. The API server maps them to Kubernetes statuses (CasFailedError → 409
// Conflict, KeyNotFoundError → 404, CompactedError → 410 Gone, the rest → 500). Pure: no I/O.
import type { KeyValue } from "./types.js";

export class StoreError extends Error {
  override name = "StoreError";
}

/** A compare-and-swap precondition failed. `current` is the key's current value (undefined = absent). */
export class CasFailedError extends StoreError {
  override name = "CasFailedError";
  constructor(
    readonly key: string,
    readonly expectModRevision: number,
    readonly current: KeyValue | undefined,
  ) {
    super(
      `compare-and-swap failed for key "${key}": expected modRevision ${expectModRevision}` +
        (expectModRevision === 0 ? " (must not exist)" : "") +
        `, found ${current === undefined ? "no key" : `modRevision ${current.modRevision}`}`,
    );
  }
}

/** Unconditional delete of a key that does not exist. */
export class KeyNotFoundError extends StoreError {
  override name = "KeyNotFoundError";
  constructor(readonly key: string) {
    super(`key "${key}" not found`);
  }
}

/** watch() from a revision whose events are no longer retained (the API server answers 410 Gone). */
export class CompactedError extends StoreError {
  override name = "CompactedError";
  constructor(
    readonly requestedRevision: number,
    readonly compactedRevision: number,
  ) {
    super(
      `revision ${requestedRevision} has been compacted (oldest resumable revision is ${compactedRevision})`,
    );
  }
}

/** A key, value or option the store cannot accept (names the field and the offending value). */
export class InvalidArgumentError extends StoreError {
  override name = "InvalidArgumentError";
  constructor(
    readonly field: string,
    readonly value: unknown,
    detail: string,
  ) {
    super(`invalid ${field} ${JSON.stringify(value)?.slice(0, 200)}: ${detail}`);
  }
}

export class StoreClosedError extends StoreError {
  override name = "StoreClosedError";
  constructor() {
    super("store is closed");
  }
}

/** Writing or syncing the log failed. The store refuses further writes (after a failed fsync the
 *  kernel may have dropped the dirty pages, so retrying is unsafe); the outcome of the rejected
 *  writes is unknown until the store is reopened. Reads keep working. */
export class StoreFailedError extends StoreError {
  override name = "StoreFailedError";
  constructor(override readonly cause: unknown) {
    super(`store log write failed, store is read-only until reopened: ${describe(cause)}`);
  }
}

/** Another process (or another open in this process) holds the directory. */
export class StoreLockedError extends StoreError {
  override name = "StoreLockedError";
  constructor(
    readonly dir: string,
    readonly holder: string,
  ) {
    super(`store directory ${dir} is locked by ${holder}`);
  }
}

/** The on-disk state is damaged somewhere other than a torn log tail (names file and offset). */
export class CorruptStoreError extends StoreError {
  override name = "CorruptStoreError";
  constructor(
    readonly file: string,
    readonly offset: number,
    detail: string,
  ) {
    super(`corrupt store file ${file} at offset ${offset}: ${detail}`);
  }
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
