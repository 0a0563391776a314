import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ProtobufDecodeError } from "./errors.js";
import { hex } from "./test-encode.js";
import { asBool, asInt32, asInt64, encodeVarint, readPacked, WireReader } from "./wire.js";

function reader(s: string): WireReader {
  return new WireReader(hex(s));
}

function throwsMalformed(fn: () => unknown, offset: number, detail: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ProtobufDecodeError, `not a ProtobufDecodeError: ${String(e)}`);
    assert.equal(e.reason, "Malformed");
    assert.equal(e.offset, offset);
    assert.match(e.detail, detail);
    return true;
  });
}

describe("varints", () => {
  const cases: [string, string, bigint][] = [
    ["zero", "00", 0n],
    ["one byte max", "7f", 127n],
    ["two bytes", "ac 02", 300n],
    ["port 8080", "90 3f", 8080n],
    ["2^28 (leaves the fast path)", "80 80 80 80 01", 268435456n],
    ["2^32", "80 80 80 80 10", 4294967296n],
    ["Time seconds 2024-01-01", "80 81 c8 ac 06", 1704067200n],
    ["max uint64", "ff ff ff ff ff ff ff ff ff 01", 18446744073709551615n],
  ];
  for (const [name, bytes, want] of cases) {
    it(`reads ${name}`, () => {
      const r = reader(bytes);
      assert.equal(r.readVarint(), want);
      assert.ok(r.eof());
    });
  }

  it("reads negative int32 and int64 as Go does (10-byte two's complement)", () => {
    const minusOne = reader("ff ff ff ff ff ff ff ff ff 01").readVarint();
    assert.equal(asInt32(minusOne), -1);
    assert.equal(asInt64(minusOne), -1n);
    const minInt32 = BigInt.asUintN(64, -2147483648n);
    assert.equal(asInt32(new WireReader(Uint8Array.from(encodeVarint(minInt32))).readVarint()), -2147483648);
    const minInt64 = new WireReader(Uint8Array.from(encodeVarint(-(2n ** 63n)))).readVarint();
    assert.equal(asInt64(minInt64), -(2n ** 63n));
    assert.equal(asInt64(reader("fe ff ff ff ff ff ff ff ff 01").readVarint()), -2n);
  });

  it("truncates a 10th byte's overflow bits like gogo-generated code", () => {
    assert.equal(reader("ff ff ff ff ff ff ff ff ff 7f").readVarint(), 2n ** 64n - 1n);
  });

  it("round-trips through encodeVarint", () => {
    for (const v of [0n, 1n, 127n, 128n, 2n ** 35n, 2n ** 63n - 1n, -1n, -300n]) {
      const got = new WireReader(Uint8Array.from(encodeVarint(v))).readVarint();
      assert.equal(asInt64(got), v);
    }
  });

  it("bool is any non-zero varint", () => {
    assert.equal(asBool(0n), false);
    assert.equal(asBool(1n), true);
    assert.equal(asBool(2n), true);
  });

  it("rejects a truncated varint with the offset of its first byte", () => {
    throwsMalformed(() => new WireReader(hex("00 ff ff"), 1).readVarint(), 1, /truncated varint/);
    throwsMalformed(() => reader("80 80 80 80 80").readVarint(), 0, /truncated varint/);
  });

  it("rejects a varint longer than 10 bytes", () => {
    throwsMalformed(() => reader("ff ff ff ff ff ff ff ff ff ff 01").readVarint(), 0, /longer than 10 bytes/);
  });
});

describe("tags", () => {
  it("reads one-byte and two-byte tags", () => {
    assert.deepEqual(reader("0a").readTag(), { field: 1, wireType: 2, offset: 0 });
    // Field 17, LEN: 8a 01 (ObjectMeta.managedFields); field 40 VARINT: c0 02.
    assert.deepEqual(reader("8a 01").readTag(), { field: 17, wireType: 2, offset: 0 });
    assert.deepEqual(reader("c0 02").readTag(), { field: 40, wireType: 0, offset: 0 });
  });

  const bad: [string, string, RegExp][] = [
    ["field 0", "02", /field number 0/],
    ["wire type 6", "0e", /bad wire type 6/],
    ["wire type 7", "0f", /bad wire type 7/],
    ["field out of range", "f8 ff ff ff ff 01", /out of range/],
    ["truncated tag", "8a", /truncated varint/],
  ];
  for (const [name, bytes, detail] of bad) {
    it(`rejects ${name}`, () => throwsMalformed(() => reader(bytes).readTag(), 0, detail));
  }
});

describe("length-delimited and skipping", () => {
  it("returns the payload span", () => {
    const r = reader("03 61 62 63 ff");
    assert.deepEqual(r.readLen(), { start: 1, end: 4 });
    assert.equal(r.pos, 4);
  });

  it("rejects a length past the end of the window", () => {
    throwsMalformed(() => reader("05 61 62").readLen(), 0, /length 5 runs past the end/);
    // The window ends before the buffer does: the length must fit the window.
    throwsMalformed(() => new WireReader(hex("02 61 62"), 0, 2).readLen(), 0, /runs past/);
  });

  it("rejects an absurd length without allocating", () => {
    throwsMalformed(() => reader("ff ff ff ff ff ff ff ff 7f").readLen(), 0, /too large|runs past/);
  });

  it("skips every wire type it knows and stops at the right byte", () => {
    // field 1 varint, field 2 fixed64, field 3 LEN, field 4 fixed32, then a marker tag (field 5 varint 7).
    const r = reader("08 96 01  11 01 02 03 04 05 06 07 08  1a 02 aa bb  25 01 02 03 04  28 07");
    const seen: number[] = [];
    while (!r.eof()) {
      const t = r.readTag();
      seen.push(t.field);
      if (t.field === 5) assert.equal(r.readVarint(), 7n);
      else r.skip(t);
    }
    assert.deepEqual(seen, [1, 2, 3, 4, 5]);
  });

  it("rejects groups and truncated fixed values", () => {
    const r1 = reader("0b 0c");
    throwsMalformed(() => r1.skip(r1.readTag()), 0, /group/);
    const r2 = reader("11 01 02");
    throwsMalformed(() => r2.skip(r2.readTag()), 1, /truncated 64-bit/);
    const r3 = reader("0d 01");
    throwsMalformed(() => r3.skip(r3.readTag()), 1, /truncated 32-bit/);
  });
});

describe("packed repeated", () => {
  it("reads a packed run of varints, including negatives", () => {
    const bytes = Uint8Array.from([...encodeVarint(1000), ...encodeVarint(-1), ...encodeVarint(0)]);
    const values = readPacked(bytes, { start: 0, end: bytes.length }).map(asInt64);
    assert.deepEqual(values, [1000n, -1n, 0n]);
  });

  it("rejects a packed run that ends inside a varint", () => {
    throwsMalformed(() => readPacked(hex("01 80"), { start: 0, end: 2 }), 1, /truncated/);
  });
});
