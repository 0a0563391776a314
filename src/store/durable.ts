// Opening a durable store: lock the directory, load the newest snapshot, replay the log segments
// after it, drop a torn tail (a record cut short or failing its CRC at the end of the last segment,
// i.e. a write that was never acknowledged), then hand the recovered state to the shared engine
// with a WalJournal. I/O adapter: the replay logic itself is MvccState.apply, as for live writes.
import { mkdir, open, readdir, readFile, unlink } from "node:fs/promises";
import { join } from "node:path";
import { decodeMutation, readFrame } from "./codec.js";
import { CorruptStoreError } from "./errors.js";
import { parseNames, SEGMENT_RE, SNAPSHOT_RE, segmentName, snapshotName, syncDir, TEMP_RE } from "./files.js";
import { DEFAULT_WATCH_HISTORY, KvStore } from "./kv.js";
import { acquireLock, processAlive } from "./lock.js";
import { readSnapshot } from "./snapshot.js";
import { EventHistory, MvccState } from "./state.js";
import type { DurableStoreOptions } from "./types.js";
import { DEFAULT_SEGMENT_BYTES, WalJournal } from "./wal.js";

/** What open() found on disk; for logs and tests. */
export interface RecoveryInfo {
  /** Revision of the snapshot loaded (0 = none). */
  snapshotRevision: number;
  /** Log records applied after the snapshot. */
  replayed: number;
  /** Bytes cut from the end of the last segment (0 = clean tail). */
  truncatedBytes: number;
  /** Why the tail was cut (first bad record), if it was. */
  tornTail?: string;
}

export class DurableStore extends KvStore {
  constructor(
    readonly dir: string,
    readonly recovery: RecoveryInfo,
    private readonly wal: WalJournal,
    state: MvccState,
    history: EventHistory,
    opts: DurableStoreOptions,
  ) {
    super(state, history, wal, opts);
  }

  /** Bytes in the current log segment. */
  logSize(): number {
    return this.wal.segmentSize;
  }
}

export async function openStore(dir: string, opts: DurableStoreOptions = {}): Promise<DurableStore> {
  await mkdir(dir, { recursive: true });
  const lock = await acquireLock(dir);
  try {
    return await recover(dir, opts, lock);
  } catch (e) {
    await lock.release();
    throw e;
  }
}

async function recover(
  dir: string,
  opts: DurableStoreOptions,
  lock: Awaited<ReturnType<typeof acquireLock>>,
): Promise<DurableStore> {
  const names = await readdir(dir);
  for (const n of names) {
    // Half-written snapshots, and lock temp files of processes that died while locking.
    const lockTmp = /^LOCK\.(\d+)\.tmp$/.exec(n);
    if (lockTmp ? !processAlive(Number(lockTmp[1])) : TEMP_RE.test(n))
      await unlink(join(dir, n)).catch(() => undefined);
  }

  const snaps = parseNames(names, SNAPSHOT_RE);
  const snapRev = snaps[snaps.length - 1] ?? 0;
  let state = new MvccState();
  let snapshotSize = 0;
  if (snapRev > 0) {
    const loaded = await readSnapshot(join(dir, snapshotName(snapRev)));
    if (loaded.state.revision !== snapRev) {
      throw new CorruptStoreError(snapshotName(snapRev), 0, `header revision ${loaded.state.revision}`);
    }
    state = loaded.state;
    snapshotSize = loaded.size;
  }
  const history = new EventHistory(opts.watchHistory ?? DEFAULT_WATCH_HISTORY, snapRev);
  const info: RecoveryInfo = { snapshotRevision: snapRev, replayed: 0, truncatedBytes: 0 };

  const segments = parseNames(names, SEGMENT_RE);
  for (let i = 0; i < segments.length; i++) {
    const name = segmentName(segments[i]!);
    const path = join(dir, name);
    const next = segments[i + 1];
    if (next !== undefined && next <= snapRev) continue; // superseded; pruning was interrupted
    const last = i === segments.length - 1;
    const buf = await readFile(path);
    let off = 0;
    while (off < buf.length) {
      const f = readFrame(buf, off);
      if (!f.ok) {
        if (!last) throw new CorruptStoreError(name, off, `${f.reason} (not in the last segment)`);
        info.truncatedBytes = buf.length - off;
        info.tornTail = `${name} at offset ${off}: ${f.reason}`;
        break;
      }
      let m: ReturnType<typeof decodeMutation>;
      try {
        m = decodeMutation(f.payload);
      } catch (e) {
        throw new CorruptStoreError(name, off, e instanceof Error ? e.message : String(e));
      }
      if (m.revision <= snapRev) {
        off = f.next;
        continue;
      }
      if (m.revision !== state.revision + 1) {
        throw new CorruptStoreError(
          name,
          off,
          `record revision ${m.revision} after revision ${state.revision}`,
        );
      }
      try {
        history.push(state.apply(m));
      } catch (e) {
        throw new CorruptStoreError(name, off, e instanceof Error ? e.message : String(e));
      }
      info.replayed++;
      off = f.next;
    }
    if (last) {
      // Reopen for appending at the end of the valid records; cut a torn tail durably first so new
      // records never follow garbage.
      const fh = await open(path, "r+");
      try {
        if (info.truncatedBytes > 0) {
          await fh.truncate(off);
          await fh.sync();
        }
      } catch (e) {
        await fh.close();
        throw e;
      }
      const wal = new WalJournal({
        dir,
        lock,
        fh,
        base: segments[i]!,
        size: off,
        snapshotSize,
        segmentBytes: opts.segmentBytes ?? DEFAULT_SEGMENT_BYTES,
      });
      return new DurableStore(dir, info, wal, state, history, opts);
    }
  }
  // No segment at all: a new directory (a snapshot is always preceded by the segment after it).
  const fh = await open(join(dir, segmentName(state.revision)), "wx");
  await syncDir(dir);
  const wal = new WalJournal({
    dir,
    lock,
    fh,
    base: state.revision,
    size: 0,
    snapshotSize,
    segmentBytes: opts.segmentBytes ?? DEFAULT_SEGMENT_BYTES,
  });
  return new DurableStore(dir, info, wal, state, history, opts);
}
