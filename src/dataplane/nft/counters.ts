// Reads named counters back from `nft -j list table` output (the real nft JSON shape, which FakeNft
// mirrors for counters). Named counters keep their names across generations (generations.ts declares
// them only when absent and never deletes them), so they keep counting across whole-table updates;
// a table replaced with a plain whole-table script (tests, the lab's direct applies) resets them, and
// a caller that wants running totals then reads them here and passes them to compileNodeProgram
// (CompileOptions.counters). Parsing only: never composes or runs nft.
import type { NftExecer } from "./execer.js";

export interface CounterValue {
  packets: number;
  bytes: number;
}

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null;
const isCount = (x: unknown): x is number => typeof x === "number" && Number.isSafeInteger(x) && x >= 0;

/** Named counters found in an `nft -j list` document, by name; malformed entries are ignored. */
export function countersFromJson(doc: unknown): Map<string, CounterValue> {
  const out = new Map<string, CounterValue>();
  const items = isRecord(doc) && Array.isArray(doc.nftables) ? (doc.nftables as unknown[]) : [];
  for (const item of items) {
    const c = isRecord(item) ? item.counter : undefined;
    if (!isRecord(c) || typeof c.name !== "string" || !isCount(c.packets) || !isCount(c.bytes)) continue;
    out.set(c.name, { packets: c.packets, bytes: c.bytes });
  }
  return out;
}

/** The table's named counters now; empty when the table does not exist yet. */
export async function readCounters(
  nft: NftExecer,
  family: string,
  table: string,
): Promise<Map<string, CounterValue>> {
  return countersFromJson(await nft.listJson(family, table));
}
