// Property tests: whatever bytes arrive, the decoder returns or throws its own typed error, quickly;
// and values it is given survive encode → decode.

import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { decodeKubernetesProtobuf, ProtobufDecodeError } from "./index.js";
import { type Bytes, envelope, len, msg, objectMeta, str, strEntry, vint } from "./test-encode.js";
import { fixturesDir } from "./test-fixtures.js";

const MAGIC = [0x6b, 0x38, 0x73, 0x00];
const KINDS: [string, string][] = [
  ["v1", "Namespace"],
  ["v1", "Pod"],
  ["v1", "Service"],
  ["v1", "Node"],
  ["v1", "Secret"],
  ["v1", "Event"],
  ["v1", "DeleteOptions"],
  ["v1", "PodList"],
  ["coordination.k8s.io/v1", "Lease"],
  ["networking.k8s.io/v1", "NetworkPolicy"],
  ["networking.k8s.io/v1", "Ingress"],
];

/** Decodes and reports "ok" or the error reason; anything else thrown fails the property. */
function outcome(body: Uint8Array): string {
  const t0 = performance.now();
  try {
    const r = decodeKubernetesProtobuf(body);
    JSON.stringify(r.object); // must be serialisable (no BigInt, no cycles)
    return "ok";
  } catch (e) {
    if (!(e instanceof ProtobufDecodeError)) throw e;
    assert.ok(e.offset >= 0 && e.offset <= body.length, `offset ${e.offset} outside body of ${body.length}`);
    return e.reason;
  } finally {
    // Bodies here are at most a few KiB and decode in well under a millisecond: seconds mean a runaway
    // loop. The bound is loose because CI shares 2 cores (a hang is also caught by the suite timeout).
    assert.ok(performance.now() - t0 < 2000, "decode took more than 2 s");
  }
}

const fixtures: Uint8Array[] = ["1.32", "1.33"].flatMap((v) => {
  const dir = join(fixturesDir(), v);
  return readdirSync(dir)
    .filter((f) => f.endsWith(".pb"))
    .map((f) => new Uint8Array(readFileSync(join(dir, f))));
});

describe("decoder robustness (fast-check)", { timeout: 120_000 }, () => {
  it("random bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => void outcome(b)),
      { numRuns: 2000 },
    );
  });

  it("magic followed by random bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => void outcome(Uint8Array.from([...MAGIC, ...b]))),
      { numRuns: 2000 },
    );
  });

  it("a valid envelope for a known kind around random object bytes", () => {
    fc.assert(
      fc.property(fc.constantFrom(...KINDS), fc.uint8Array({ maxLength: 400 }), ([v, k], raw) => {
        void outcome(envelope(v, k, [...raw]));
      }),
      { numRuns: 3000 },
    );
  });

  it("real kubectl bodies with random byte edits and truncations", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...fixtures),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.nat(),
        (body, edits, cut) => {
          const b = Uint8Array.from(body);
          for (const [pos, value] of edits) b[pos % b.length] = value;
          void outcome(b.subarray(0, Math.max(0, b.length - (cut % 8))));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it("deeply nested length-delimited bytes in an unknown field are skipped without recursion", () => {
    let nested: Bytes = [];
    for (let i = 0; i < 3000; i++) nested = len(1, nested);
    const r = decodeKubernetesProtobuf(
      envelope("v1", "Namespace", [...objectMeta("deep"), ...len(9, nested)]),
    );
    assert.deepEqual(r.unknownFields, ["<root>#9 (wire type 2)"]);
  });

  it("the unknown-field notes are capped", () => {
    const many: Bytes = [];
    for (let i = 0; i < 5000; i++) many.push(...vint(15, i));
    const r = decodeKubernetesProtobuf(envelope("v1", "Namespace", many));
    assert.equal(r.unknownFields.length, 100);
  });
});

describe("values survive encode → decode (fast-check)", () => {
  const key = fc.string({ minLength: 1, maxLength: 20 });

  it("labels and annotations", () => {
    fc.assert(
      fc.property(fc.dictionary(key, fc.string()), fc.dictionary(key, fc.string()), (labels, annotations) => {
        const extra = [
          ...Object.entries(labels).map(([k, v]) => strEntry(11, k, v)),
          ...Object.entries(annotations).map(([k, v]) => strEntry(12, k, v)),
        ];
        const obj = decodeKubernetesProtobuf(
          envelope("v1", "ConfigMap", objectMeta("c", "", ...extra)),
        ).object;
        const meta = obj.metadata as Record<string, unknown>;
        assert.deepEqual(meta.labels, Object.keys(labels).length ? { ...labels } : undefined);
        assert.deepEqual(meta.annotations, Object.keys(annotations).length ? { ...annotations } : undefined);
      }),
      { numRuns: 300 },
    );
  });

  it("int64 and int32 values, negative included", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: BigInt(Number.MIN_SAFE_INTEGER), max: BigInt(Number.MAX_SAFE_INTEGER) }),
        fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
        (i64, i32) => {
          const obj = decodeKubernetesProtobuf(
            envelope("v1", "Pod", [...msg(2, vint(4, i64), vint(25, i32))]),
          ).object;
          const spec = obj.spec as Record<string, unknown>;
          assert.equal(spec.terminationGracePeriodSeconds, Number(i64));
          assert.equal(spec.priority, i32);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("strings, including non-ASCII", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 40 }), (s) => {
        const obj = decodeKubernetesProtobuf(
          envelope("v1", "Secret", [...objectMeta("s"), ...str(3, s)]),
        ).object;
        assert.equal(obj.type, s === "" ? undefined : s);
      }),
      { numRuns: 300 },
    );
  });
});
