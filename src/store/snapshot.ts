// Snapshot files: the whole state at one revision, as framed records (header, one entry per key in
// key order, end marker with the count). Written to a temp file in chunks (so the event loop and the
// log keep running), fsynced, renamed into place and the directory fsynced: a snapshot file either
// exists complete or not at all. I/O adapter around codec.ts.
import { open, readFile, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import {
  decodeSnapshotRecord,
  encodeSnapshotEnd,
  encodeSnapshotEntry,
  encodeSnapshotHeader,
  RecordFormatError,
  readFrame,
  SNAPSHOT_FORMAT,
} from "./codec.js";
import { CorruptStoreError } from "./errors.js";
import { snapshotName, syncDir } from "./files.js";
import { MvccState, StateMismatchError } from "./state.js";
import type { KeyValue } from "./types.js";

const CHUNK = 1 << 20;

/** Writes snap-<revision>.snap durably; returns its size in bytes. */
export async function writeSnapshot(
  dir: string,
  revision: number,
  entries: readonly KeyValue[],
): Promise<number> {
  const final = join(dir, snapshotName(revision));
  const tmp = `${final}.tmp`;
  const fh = await open(tmp, "w");
  let size = 0;
  try {
    let parts: Buffer[] = [encodeSnapshotHeader(revision, entries.length)];
    let partBytes = parts[0]!.length;
    const flush = async (): Promise<void> => {
      const buf = Buffer.concat(parts, partBytes);
      let off = 0;
      while (off < buf.length) off += (await fh.write(buf, off, buf.length - off, size + off)).bytesWritten;
      size += buf.length;
      parts = [];
      partBytes = 0;
    };
    for (const kv of entries) {
      const b = encodeSnapshotEntry(kv);
      parts.push(b);
      partBytes += b.length;
      if (partBytes >= CHUNK) await flush();
    }
    const end = encodeSnapshotEnd(entries.length);
    parts.push(end);
    partBytes += end.length;
    await flush();
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  await fh.close();
  await rename(tmp, final);
  await syncDir(dir);
  return size;
}

/** Loads a snapshot into a fresh state. Any damage is a CorruptStoreError: a renamed snapshot was
 *  complete and fsynced, so unlike a log tail it cannot be legitimately torn. */
export async function readSnapshot(path: string): Promise<{ state: MvccState; size: number }> {
  const buf = await readFile(path);
  let off = 0;
  let state: MvccState | undefined;
  let expected = -1;
  let loaded = 0;
  while (off < buf.length) {
    const f = readFrame(buf, off);
    if (!f.ok) throw new CorruptStoreError(path, off, f.reason);
    let rec: ReturnType<typeof decodeSnapshotRecord>;
    try {
      rec = decodeSnapshotRecord(f.payload);
    } catch (e) {
      throw new CorruptStoreError(path, off, e instanceof RecordFormatError ? e.message : String(e));
    }
    if (rec.type === "header") {
      if (state) throw new CorruptStoreError(path, off, "second snapshot header");
      if (rec.format !== SNAPSHOT_FORMAT)
        throw new CorruptStoreError(path, off, `unknown format ${rec.format}`);
      state = new MvccState(rec.revision);
      expected = rec.count;
    } else if (!state) {
      throw new CorruptStoreError(path, off, "record before snapshot header");
    } else if (rec.type === "entry") {
      try {
        state.loadEntry(rec.kv);
      } catch (e) {
        throw new CorruptStoreError(path, off, e instanceof StateMismatchError ? e.message : String(e));
      }
      loaded++;
    } else {
      if (rec.count !== expected || loaded !== expected) {
        throw new CorruptStoreError(
          path,
          off,
          `end marker count ${rec.count}, header ${expected}, read ${loaded}`,
        );
      }
      if (f.next !== buf.length) throw new CorruptStoreError(path, f.next, "data after end marker");
      return { state, size: buf.length };
    }
    off = f.next;
  }
  throw new CorruptStoreError(path, off, "missing end marker");
}
