import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { EventHistory, MvccState, StateMismatchError } from "./state.js";

describe("MvccState", () => {
  it("assigns createRevision, modRevision and version like etcd", () => {
    const s = new MvccState();
    assert.equal(s.revision, 1);
    const e1 = s.apply({ op: "put", revision: 2, key: "a", value: "1" });
    assert.deepEqual(e1.kv, { key: "a", value: "1", createRevision: 2, modRevision: 2, version: 1 });
    assert.equal(e1.type === "put" && e1.prev, undefined);
    const e2 = s.apply({ op: "put", revision: 3, key: "a", value: "2" });
    assert.deepEqual(e2.kv, { key: "a", value: "2", createRevision: 2, modRevision: 3, version: 2 });
    const e3 = s.apply({ op: "delete", revision: 4, key: "a" });
    assert.deepEqual(e3.kv, { key: "a", value: "2", createRevision: 2, modRevision: 4, version: 0 });
    assert.deepEqual(e3.prev, e2.kv);
    const e4 = s.apply({ op: "put", revision: 5, key: "a", value: "3" });
    assert.deepEqual(e4.kv, { key: "a", value: "3", createRevision: 5, modRevision: 5, version: 1 });
  });

  it("refuses out-of-order revisions and deletes of absent keys", () => {
    const s = new MvccState();
    assert.throws(() => s.apply({ op: "put", revision: 3, key: "a", value: "" }), StateMismatchError);
    assert.throws(() => s.apply({ op: "delete", revision: 2, key: "a" }), StateMismatchError);
    assert.equal(s.revision, 1);
  });

  it("lists and counts prefixes like a filtered sort (property)", () => {
    const keyArb = fc.string({
      unit: fc.constantFrom("a", "b", "/", "z", "\u00e9", "\uffff"),
      minLength: 1,
      maxLength: 5,
    });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), keyArb), { maxLength: 60 }),
        fc.string({ unit: fc.constantFrom("a", "b", "/", "\uffff"), maxLength: 3 }),
        fc.option(fc.integer({ min: 1, max: 10 }), { nil: undefined }),
        fc.option(keyArb, { nil: undefined }),
        (ops, prefix, limit, startAfter) => {
          const s = new MvccState();
          const model = new Map<string, string>();
          let rev = 1;
          for (const [del, key] of ops) {
            if (del && model.has(key)) {
              s.apply({ op: "delete", revision: ++rev, key });
              model.delete(key);
            } else if (!del) {
              s.apply({ op: "put", revision: ++rev, key, value: String(rev) });
              model.set(key, String(rev));
            }
          }
          const all = [...model.keys()].filter((k) => k.startsWith(prefix)).sort();
          assert.equal(s.count(prefix), all.length);
          const after = startAfter === undefined ? all : all.filter((k) => k > startAfter);
          const want = limit === undefined ? after : after.slice(0, limit);
          const got = s.list(prefix, limit, startAfter);
          assert.deepEqual(
            got.items.map((kv) => kv.key),
            want,
          );
          assert.equal(got.more, want.length < after.length);
          for (const kv of got.items) assert.equal(kv.value, model.get(kv.key));
        },
      ),
    );
  });
});

describe("EventHistory", () => {
  const ev = (revision: number) =>
    ({
      type: "put",
      kv: { key: "k", value: "", createRevision: revision, modRevision: revision, version: 1 },
      revision,
    }) as const;

  it("keeps the last N events and advances compactedRevision", () => {
    const h = new EventHistory(3, 1);
    for (let r = 2; r <= 6; r++) h.push(ev(r));
    assert.equal(h.length, 3);
    assert.equal(h.compactedRevision, 3);
    assert.deepEqual(
      h.since(3).map((e) => e.revision),
      [4, 5, 6],
    );
    assert.deepEqual(
      h.since(5).map((e) => e.revision),
      [6],
    );
    assert.deepEqual(h.since(6), []);
  });

  it("compacts up to a revision", () => {
    const h = new EventHistory(10_000, 0);
    for (let r = 2; r <= 3000; r++) h.push(ev(r));
    h.compact(2500);
    assert.equal(h.compactedRevision, 2500);
    assert.equal(h.length, 500);
    assert.equal(h.since(2500)[0]?.revision, 2501);
    h.compact(10);
    assert.equal(h.compactedRevision, 2500);
  });
});
