import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  decodeMutation,
  decodeSnapshotRecord,
  encodeMutation,
  encodeSnapshotEntry,
  FRAME_HEADER,
  type Mutation,
  readFrame,
} from "./codec.js";

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    op: fc.constant("put" as const),
    revision: fc.integer({ min: 2, max: 2 ** 50 }),
    key: fc.string({ minLength: 1, unit: "grapheme" }),
    value: fc.string({ unit: "grapheme" }),
  }),
  fc.record({
    op: fc.constant("delete" as const),
    revision: fc.integer({ min: 2, max: 2 ** 50 }),
    key: fc.string({ minLength: 1, unit: "grapheme" }),
  }),
);

describe("codec", () => {
  it("round-trips mutations through a frame (property)", () => {
    fc.assert(
      fc.property(mutationArb, (m) => {
        const buf = encodeMutation(m);
        const f = readFrame(buf, 0);
        assert.ok(f.ok);
        assert.equal(f.next, buf.length);
        assert.deepEqual(decodeMutation(f.payload), { ...m });
      }),
    );
  });

  it("round-trips snapshot entries", () => {
    const kv = { key: "/registry/ns/é", value: '{"a":"ü"}', createRevision: 3, modRevision: 9, version: 4 };
    const f = readFrame(encodeSnapshotEntry(kv), 0);
    assert.ok(f.ok);
    assert.deepEqual(decodeSnapshotRecord(f.payload), { type: "entry", kv });
  });

  const good = encodeMutation({ op: "put", revision: 7, key: "k", value: '{"x":1}' });
  const cases: Array<{ name: string; bytes: Buffer; reason: RegExp }> = [
    { name: "empty", bytes: Buffer.alloc(0), reason: /truncated frame header/ },
    { name: "half header", bytes: good.subarray(0, 5), reason: /truncated frame header/ },
    { name: "cut payload", bytes: good.subarray(0, good.length - 1), reason: /truncated record/ },
    { name: "zero-filled tail", bytes: Buffer.alloc(64), reason: /implausible record length 0/ },
    {
      name: "flipped payload byte",
      bytes: Buffer.from(good).fill(0x41, good.length - 1),
      reason: /crc mismatch/,
    },
    {
      name: "huge length",
      bytes: Buffer.concat([Buffer.from([0xff, 0xff, 0xff, 0xff]), good.subarray(4)]),
      reason: /implausible record length/,
    },
  ];
  for (const c of cases) {
    it(`rejects a damaged frame: ${c.name}`, () => {
      const f = readFrame(c.bytes, 0);
      assert.equal(f.ok, false);
      if (!f.ok) assert.match(f.reason, c.reason);
    });
  }

  it("reads consecutive frames", () => {
    const a = encodeMutation({ op: "delete", revision: 3, key: "a" });
    const buf = Buffer.concat([a, good]);
    const f1 = readFrame(buf, 0);
    assert.ok(f1.ok);
    assert.equal(f1.next, a.length);
    const f2 = readFrame(buf, f1.next);
    assert.ok(f2.ok);
    assert.equal(f2.next, buf.length);
    assert.equal(FRAME_HEADER, 8);
  });
});
