// File naming and small fs helpers of the durable store's directory layout:
//   wal-<base>.log    log segment; holds the records with revision > base, in order
//   snap-<rev>.snap   snapshot of the whole state at revision rev (written as .tmp, fsynced, renamed)
//   LOCK              see lock.ts
// Revisions are zero-padded so names sort in revision order. I/O adapter.
import { open } from "node:fs/promises";

const PAD = 16;
export const segmentName = (base: number): string => `wal-${String(base).padStart(PAD, "0")}.log`;
export const snapshotName = (rev: number): string => `snap-${String(rev).padStart(PAD, "0")}.snap`;
export const SEGMENT_RE = /^wal-(\d{16})\.log$/;
export const SNAPSHOT_RE = /^snap-(\d{16})\.snap$/;
export const TEMP_RE = /\.tmp$/;

/** Makes created/renamed/removed directory entries durable. */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export function parseNames(names: readonly string[], re: RegExp): number[] {
  const out: number[] = [];
  for (const n of names) {
    const m = re.exec(n);
    if (m) out.push(Number(m[1]));
  }
  return out.sort((a, b) => a - b);
}
