// Binary encoding of the write-ahead log and snapshot records. Every record is framed as
// [u32 LE payload length][u32 LE crc32(payload)][payload] so a reader can tell a complete record from
// a torn or corrupted one. Pure (Buffer arithmetic and crc32 only): no file I/O here.
import { crc32 } from "node:zlib";
import type { KeyValue } from "./types.js";

/** One state change with the revision it creates; the unit the log stores and replay applies. */
export type Mutation =
  | { readonly op: "put"; readonly revision: number; readonly key: string; readonly value: string }
  | { readonly op: "delete"; readonly revision: number; readonly key: string };

export const FRAME_HEADER = 8;
/** Larger lengths are treated as garbage (a torn length field), not as a record to allocate. */
export const MAX_PAYLOAD = 256 * 1024 * 1024;

const T_PUT = 1;
const T_DELETE = 2;
const T_SNAP_HEADER = 3;
const T_SNAP_ENTRY = 4;
const T_SNAP_END = 5;
export const SNAPSHOT_FORMAT = 1;

function frame(payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER + payload.length);
  out.writeUInt32LE(payload.length, 0);
  out.writeUInt32LE(crc32(payload), 4);
  payload.copy(out, FRAME_HEADER);
  return out;
}

/** Allocates the frame and lets `fill` write the payload in place (avoids a copy on the hot path). */
function framed(payloadLength: number, fill: (b: Buffer, at: number) => void): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER + payloadLength);
  out.writeUInt32LE(payloadLength, 0);
  fill(out, FRAME_HEADER);
  out.writeUInt32LE(crc32(out.subarray(FRAME_HEADER)), 4);
  return out;
}

export function encodeMutation(m: Mutation): Buffer {
  const keyLen = Buffer.byteLength(m.key, "utf8");
  if (m.op === "delete") {
    return framed(1 + 8 + keyLen, (b, at) => {
      b.writeUInt8(T_DELETE, at);
      b.writeDoubleLE(m.revision, at + 1);
      b.write(m.key, at + 9, keyLen, "utf8");
    });
  }
  const valueLen = Buffer.byteLength(m.value, "utf8");
  return framed(1 + 8 + 4 + keyLen + valueLen, (b, at) => {
    b.writeUInt8(T_PUT, at);
    b.writeDoubleLE(m.revision, at + 1);
    b.writeUInt32LE(keyLen, at + 9);
    b.write(m.key, at + 13, keyLen, "utf8");
    b.write(m.value, at + 13 + keyLen, valueLen, "utf8");
  });
}

export class RecordFormatError extends Error {
  override name = "RecordFormatError";
}

export function decodeMutation(p: Buffer): Mutation {
  const t = p[0];
  if (t === T_PUT && p.length >= 13) {
    const revision = p.readDoubleLE(1);
    const keyLen = p.readUInt32LE(9);
    if (13 + keyLen > p.length)
      throw new RecordFormatError(`put record key length ${keyLen} exceeds payload`);
    const key = p.toString("utf8", 13, 13 + keyLen);
    return { op: "put", revision, key, value: p.toString("utf8", 13 + keyLen) };
  }
  if (t === T_DELETE && p.length >= 9) {
    return { op: "delete", revision: p.readDoubleLE(1), key: p.toString("utf8", 9) };
  }
  throw new RecordFormatError(`unknown log record type ${t} (payload ${p.length} bytes)`);
}

export function encodeSnapshotHeader(revision: number, count: number): Buffer {
  const p = Buffer.allocUnsafe(1 + 4 + 8 + 8);
  p.writeUInt8(T_SNAP_HEADER, 0);
  p.writeUInt32LE(SNAPSHOT_FORMAT, 1);
  p.writeDoubleLE(revision, 5);
  p.writeDoubleLE(count, 13);
  return frame(p);
}

export function encodeSnapshotEntry(kv: KeyValue): Buffer {
  const keyLen = Buffer.byteLength(kv.key, "utf8");
  const valueLen = Buffer.byteLength(kv.value, "utf8");
  return framed(1 + 24 + 4 + keyLen + valueLen, (b, at) => {
    b.writeUInt8(T_SNAP_ENTRY, at);
    b.writeDoubleLE(kv.createRevision, at + 1);
    b.writeDoubleLE(kv.modRevision, at + 9);
    b.writeDoubleLE(kv.version, at + 17);
    b.writeUInt32LE(keyLen, at + 25);
    b.write(kv.key, at + 29, keyLen, "utf8");
    b.write(kv.value, at + 29 + keyLen, valueLen, "utf8");
  });
}

export function encodeSnapshotEnd(count: number): Buffer {
  const p = Buffer.allocUnsafe(9);
  p.writeUInt8(T_SNAP_END, 0);
  p.writeDoubleLE(count, 1);
  return frame(p);
}

export type SnapshotRecord =
  | { type: "header"; format: number; revision: number; count: number }
  | { type: "entry"; kv: KeyValue }
  | { type: "end"; count: number };

export function decodeSnapshotRecord(p: Buffer): SnapshotRecord {
  const t = p[0];
  if (t === T_SNAP_HEADER && p.length === 21) {
    return {
      type: "header",
      format: p.readUInt32LE(1),
      revision: p.readDoubleLE(5),
      count: p.readDoubleLE(13),
    };
  }
  if (t === T_SNAP_ENTRY && p.length >= 29) {
    const keyLen = p.readUInt32LE(25);
    if (29 + keyLen > p.length)
      throw new RecordFormatError(`snapshot entry key length ${keyLen} exceeds payload`);
    return {
      type: "entry",
      kv: Object.freeze({
        key: p.toString("utf8", 29, 29 + keyLen),
        value: p.toString("utf8", 29 + keyLen),
        createRevision: p.readDoubleLE(1),
        modRevision: p.readDoubleLE(9),
        version: p.readDoubleLE(17),
      }),
    };
  }
  if (t === T_SNAP_END && p.length === 9) return { type: "end", count: p.readDoubleLE(1) };
  throw new RecordFormatError(`unknown snapshot record type ${t} (payload ${p.length} bytes)`);
}

export type FrameResult =
  | { ok: true; payload: Buffer; next: number }
  /** `reason` says why the bytes at `offset` are not a complete, intact record. */
  | { ok: false; reason: string };

/** Reads the frame at `offset`. Zero length is rejected: crc32 of nothing is 0, so a zero-filled tail
 *  (a file extended but never written, as after a crash on some filesystems) would otherwise parse. */
export function readFrame(buf: Buffer, offset: number): FrameResult {
  if (offset + FRAME_HEADER > buf.length) {
    return { ok: false, reason: `truncated frame header (${buf.length - offset} bytes left)` };
  }
  const len = buf.readUInt32LE(offset);
  if (len === 0 || len > MAX_PAYLOAD) return { ok: false, reason: `implausible record length ${len}` };
  const end = offset + FRAME_HEADER + len;
  if (end > buf.length) {
    return {
      ok: false,
      reason: `truncated record: length ${len}, ${buf.length - offset - FRAME_HEADER} bytes left`,
    };
  }
  const payload = buf.subarray(offset + FRAME_HEADER, end);
  const want = buf.readUInt32LE(offset + 4);
  const got = crc32(payload);
  if (want !== got) return { ok: false, reason: `crc mismatch (stored ${want}, computed ${got})` };
  return { ok: true, payload, next: end };
}
