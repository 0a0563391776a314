import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { SortedKeyValues } from "./sorted.js";
import type { KeyValue } from "./types.js";

const kv = (key: string, rev: number): KeyValue => ({
  key,
  value: String(rev),
  createRevision: rev,
  modRevision: rev,
  version: 1,
});

describe("SortedKeyValues", () => {
  it("behaves like a sorted map under inserts, updates, deletes, list and count (property)", () => {
    const keyArb = fc.string({ unit: fc.constantFrom("a", "b", "/", "\u00e9"), minLength: 1, maxLength: 4 });
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 8 }),
        fc.array(fc.tuple(fc.boolean(), keyArb), { maxLength: 300 }),
        fc.array(
          fc.tuple(
            fc.string({ unit: fc.constantFrom("a", "b", "/"), maxLength: 2 }),
            fc.option(fc.nat(20), { nil: undefined }),
            fc.option(keyArb, { nil: undefined }),
          ),
          { maxLength: 10 },
        ),
        (chunk, ops, queries) => {
          const s = new SortedKeyValues(chunk);
          const model = new Map<string, KeyValue>();
          ops.forEach(([del, key], rev) => {
            if (del) assert.equal(s.delete(key), model.delete(key));
            else {
              s.set(kv(key, rev));
              model.set(key, kv(key, rev));
            }
          });
          const sorted = [...model.keys()].sort();
          assert.equal(s.size, sorted.length);
          assert.deepEqual(
            s.toArray().map((x) => [x.key, x.value]),
            sorted.map((k) => [k, model.get(k)!.value]),
          );
          for (const [prefix, limit0, startAfter] of queries) {
            const limit = limit0 === undefined ? undefined : limit0 + 1;
            const all = sorted.filter((k) => k.startsWith(prefix));
            assert.equal(s.countPrefix(prefix), all.length);
            const after = startAfter === undefined ? all : all.filter((k) => k > startAfter);
            const want = limit === undefined ? after : after.slice(0, limit);
            const got = s.list(prefix, limit, startAfter);
            assert.deepEqual(
              got.items.map((x) => x.key),
              want,
            );
            assert.equal(got.more, want.length < after.length);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("bulk-loads with push and stays consistent with later inserts", () => {
    const s = new SortedKeyValues(4);
    for (let i = 0; i < 50; i++) s.push(kv(`k${String(i).padStart(3, "0")}`, i));
    s.set(kv("k0105", 99));
    assert.equal(s.size, 51);
    assert.equal(s.countPrefix("k01"), 11);
    assert.equal(s.last()?.key, "k049");
    assert.ok(s.delete("k0105"));
    assert.equal(s.countPrefix("k01"), 10);
  });
});
