// The write-ahead log: the durable Journal behind the store engine. append() writes one batch of
// framed records with a single write and a single fdatasync (group commit happens in the engine,
// which hands over everything queued while the previous sync was in flight). checkpoint() starts a
// new segment and writes a snapshot in the background; segments and snapshots it supersedes are
// removed only after the new snapshot is durable. I/O adapter: no MVCC logic here.
import type { FileHandle } from "node:fs/promises";
import { open, readdir, unlink } from "node:fs/promises";
import { join } from "node:path";
import { encodeMutation, type Mutation } from "./codec.js";
import { parseNames, SEGMENT_RE, SNAPSHOT_RE, segmentName, snapshotName, syncDir } from "./files.js";
import type { Journal } from "./kv.js";
import type { DirLock } from "./lock.js";
import { writeSnapshot } from "./snapshot.js";
import type { MvccState } from "./state.js";
import type { KeyValue } from "./types.js";

export const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;

export interface WalJournalInit {
  dir: string;
  lock: DirLock;
  /** Open segment to append to, its base revision and its valid length. */
  fh: FileHandle;
  base: number;
  size: number;
  /** Size of the newest snapshot (0 if none): the auto-checkpoint threshold is at least this, so the
   *  snapshot cost stays amortised over at least as many log bytes. */
  snapshotSize: number;
  segmentBytes: number;
}

export class WalJournal implements Journal {
  private readonly dir: string;
  private readonly lock: DirLock;
  private fh: FileHandle;
  private base: number;
  private size: number;
  private snapshotSize: number;
  private readonly segmentBytes: number;
  private snapshotting: Promise<void> | undefined;
  private closed = false;

  constructor(init: WalJournalInit) {
    this.dir = init.dir;
    this.lock = init.lock;
    this.fh = init.fh;
    this.base = init.base;
    this.size = init.size;
    this.snapshotSize = init.snapshotSize;
    this.segmentBytes = init.segmentBytes;
  }

  /** Bytes in the current segment (for tests and metrics). */
  get segmentSize(): number {
    return this.size;
  }

  async append(batch: readonly Mutation[]): Promise<void> {
    const parts = batch.map(encodeMutation);
    const buf = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    let off = 0;
    while (off < buf.length) {
      off += (await this.fh.write(buf, off, buf.length - off, this.size + off)).bytesWritten;
    }
    // fdatasync also persists the file size, which is all the metadata an append needs.
    await this.fh.datasync();
    this.size += buf.length;
  }

  async checkpoint(state: MvccState, force: boolean): Promise<{ done: Promise<void> } | undefined> {
    if (this.snapshotting) {
      if (!force) return undefined;
      await this.snapshotting.catch(() => undefined);
    }
    if (!force && this.size < Math.max(this.segmentBytes, this.snapshotSize)) return undefined;
    const revision = state.revision;
    const entries = state.entries();
    if (this.size > 0 || this.base !== revision) {
      const next = await open(join(this.dir, segmentName(revision)), "wx");
      await syncDir(this.dir);
      const old = this.fh;
      this.fh = next;
      this.base = revision;
      this.size = 0;
      await old.close();
    }
    const p = this.snapshotAndPrune(revision, entries);
    this.snapshotting = p;
    void p.then(
      () => {
        if (this.snapshotting === p) this.snapshotting = undefined;
      },
      () => {
        if (this.snapshotting === p) this.snapshotting = undefined;
      },
    );
    return { done: p };
  }

  private async snapshotAndPrune(revision: number, entries: readonly KeyValue[]): Promise<void> {
    this.snapshotSize = await writeSnapshot(this.dir, revision, entries);
    const names = await readdir(this.dir);
    const doomed = [
      ...parseNames(names, SEGMENT_RE)
        .filter((b) => b < revision)
        .map(segmentName),
      ...parseNames(names, SNAPSHOT_RE)
        .filter((r) => r < revision)
        .map(snapshotName),
    ];
    for (const n of doomed) await unlink(join(this.dir, n)).catch(() => undefined);
    if (doomed.length > 0) await syncDir(this.dir);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.snapshotting?.catch(() => undefined);
    await this.fh.close();
    await this.lock.release();
  }
}
