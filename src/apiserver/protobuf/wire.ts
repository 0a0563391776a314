// Protobuf wire-format reader: varints (64-bit via BigInt), length-delimited records, unknown-field
// skipping, packed and unpacked repeated scalars. It knows nothing about Kubernetes; the schema-driven
// decoder in ./decode.ts sits on top. Offsets are absolute in the buffer handed in, so errors point at
// the byte in the request body. Pure: no I/O. Must never loop without consuming input.

import { ProtobufDecodeError } from "./errors.js";

export const WireType = { Varint: 0, Fixed64: 1, Len: 2, StartGroup: 3, EndGroup: 4, Fixed32: 5 } as const;
export type WireTypeValue = (typeof WireType)[keyof typeof WireType];

/** Largest field number protobuf allows (2^29 - 1). */
const MAX_FIELD = 0x1fffffff;

export interface Tag {
  field: number;
  wireType: WireTypeValue;
  /** Offset of the tag's first byte. */
  offset: number;
}

/** A window [start, end) of the underlying buffer. */
export interface Span {
  start: number;
  end: number;
}

export class WireReader {
  pos: number;

  constructor(
    readonly buf: Uint8Array,
    start = 0,
    readonly end = buf.length,
  ) {
    this.pos = start;
  }

  eof(): boolean {
    return this.pos >= this.end;
  }

  private fail(detail: string, offset = this.pos): never {
    throw new ProtobufDecodeError("Malformed", offset, detail);
  }

  /** Reads an unsigned varint of up to 10 bytes, truncated to 64 bits as Go's decoders do. */
  readVarint(): bigint {
    const start = this.pos;
    // Fast path: up to 4 bytes (28 bits) fit a JS number without loss.
    let small = 0;
    for (let i = 0; i < 4; i++) {
      if (this.pos >= this.end) this.fail("truncated varint", start);
      const b = this.buf[this.pos++]!;
      small |= (b & 0x7f) << (7 * i);
      if (b < 0x80) return BigInt(small >>> 0);
    }
    let v = BigInt(small >>> 0);
    for (let i = 4; i < 10; i++) {
      if (this.pos >= this.end) this.fail("truncated varint", start);
      const b = this.buf[this.pos++]!;
      v |= BigInt(b & 0x7f) << BigInt(7 * i);
      if (b < 0x80) return BigInt.asUintN(64, v);
    }
    return this.fail("varint longer than 10 bytes", start);
  }

  /** Reads a varint that must fit in a non-negative JS safe integer (tags, lengths). */
  private readSmallVarint(what: string): number {
    const start = this.pos;
    const v = this.readVarint();
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`${what} ${v} is too large`, start);
    return Number(v);
  }

  readTag(): Tag {
    const offset = this.pos;
    const key = this.readSmallVarint("tag");
    const field = Math.floor(key / 8);
    const wireType = key % 8;
    if (field === 0) this.fail("field number 0 is not allowed", offset);
    if (field > MAX_FIELD) this.fail(`field number ${field} is out of range`, offset);
    if (wireType > 5) this.fail(`bad wire type ${wireType} for field ${field}`, offset);
    return { field, wireType: wireType as WireTypeValue, offset };
  }

  /** Reads a length prefix and returns the span of the payload, checking it stays inside the window. */
  readLen(): Span {
    const offset = this.pos;
    const len = this.readSmallVarint("length");
    const start = this.pos;
    if (len > this.end - start) {
      this.fail(`length ${len} runs past the end of the message (${this.end - start} bytes left)`, offset);
    }
    this.pos = start + len;
    return { start, end: this.pos };
  }

  readFixed(bytes: 4 | 8): Span {
    const start = this.pos;
    if (this.end - start < bytes) this.fail(`truncated ${bytes * 8}-bit fixed value`, start);
    this.pos += bytes;
    return { start, end: this.pos };
  }

  /** Skips the value of a field this reader's caller does not know. Groups are rejected: no
   *  Kubernetes message uses them, and accepting them would need a recursive scan. */
  skip(tag: Tag): void {
    switch (tag.wireType) {
      case WireType.Varint:
        this.readVarint();
        return;
      case WireType.Fixed64:
        this.readFixed(8);
        return;
      case WireType.Len:
        this.readLen();
        return;
      case WireType.Fixed32:
        this.readFixed(4);
        return;
      default:
        this.fail(`unsupported wire type ${tag.wireType} (group) for field ${tag.field}`, tag.offset);
    }
  }
}

/** Interprets a raw 64-bit varint as Go does for each integer type. */
export function asInt32(v: bigint): number {
  return Number(BigInt.asIntN(32, v));
}
export function asInt64(v: bigint): bigint {
  return BigInt.asIntN(64, v);
}
export function asBool(v: bigint): boolean {
  return v !== 0n;
}

/** Reads every varint of a packed repeated field (the payload of one LEN record). */
export function readPacked(buf: Uint8Array, span: Span): bigint[] {
  const r = new WireReader(buf, span.start, span.end);
  const out: bigint[] = [];
  while (!r.eof()) out.push(r.readVarint());
  return out;
}

/** Encodes an unsigned or two's-complement varint; used by tests and fixtures builders. */
export function encodeVarint(value: bigint | number): number[] {
  let v = BigInt.asUintN(64, BigInt(value));
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}
