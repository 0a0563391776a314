// Semantics shared by every Store implementation, run against MemoryStore and the durable store.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { openStore } from "./durable.js";
import {
  CasFailedError,
  CompactedError,
  InvalidArgumentError,
  KeyNotFoundError,
  StoreClosedError,
  StoreFailedError,
} from "./errors.js";
import { KvStore, MemoryStore } from "./kv.js";
import { EventHistory, MvccState } from "./state.js";
import { collector, tempDir, tick } from "./testutil.js";
import type { Store, StoreOptions } from "./types.js";

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups) await c();
});

const impls: Array<{ name: string; open(opts?: StoreOptions): Promise<Store> }> = [
  { name: "MemoryStore", open: async (opts) => new MemoryStore(opts) },
  {
    name: "durable store",
    open: async (opts) => {
      const t = await tempDir("kv");
      const s = await openStore(t.dir, opts);
      cleanups.push(async () => {
        await s.close();
        await t.cleanup();
      });
      return s;
    },
  },
];

for (const impl of impls) {
  describe(`Store semantics: ${impl.name}`, () => {
    it("starts at revision 1 and counts revisions globally", async () => {
      const s = await impl.open();
      assert.equal(s.revision(), 1);
      const a = await s.put("/a", '{"n":1}');
      const b = await s.put("/b", '{"n":2}');
      assert.equal(a.modRevision, 2);
      assert.equal(b.modRevision, 3);
      assert.equal(s.revision(), 3);
      const a2 = await s.put("/a", '{"n":3}');
      assert.deepEqual(a2, { key: "/a", value: '{"n":3}', createRevision: 2, modRevision: 4, version: 2 });
      assert.deepEqual(await s.get("/a"), a2);
      assert.equal(await s.get("/missing"), undefined);
      assert.ok(Object.isFrozen(a2));
    });

    it("enforces compare-and-swap on create, update and delete", async () => {
      const s = await impl.open();
      const created = await s.put("k", "1", { expectModRevision: 0 });
      await assert.rejects(s.put("k", "x", { expectModRevision: 0 }), (e: unknown) => {
        assert.ok(e instanceof CasFailedError);
        assert.deepEqual(e.current, created);
        return true;
      });
      const updated = await s.put("k", "2", { expectModRevision: created.modRevision });
      await assert.rejects(s.put("k", "3", { expectModRevision: created.modRevision }), CasFailedError);
      await assert.rejects(s.delete("k", { expectModRevision: created.modRevision }), CasFailedError);
      await assert.rejects(s.put("nope", "1", { expectModRevision: 5 }), (e: unknown) => {
        assert.ok(e instanceof CasFailedError);
        assert.equal(e.current, undefined);
        return true;
      });
      const rev = s.revision();
      const deleted = await s.delete("k", { expectModRevision: updated.modRevision });
      assert.deepEqual(deleted, {
        key: "k",
        value: "2",
        createRevision: 2,
        modRevision: rev + 1,
        version: 0,
      });
      assert.equal(await s.get("k"), undefined);
      await assert.rejects(s.delete("k"), KeyNotFoundError);
      assert.equal(s.revision(), rev + 1, "failed writes do not consume revisions");
      const again = await s.put("k", "4", { expectModRevision: 0 });
      assert.equal(again.createRevision, rev + 2);
      assert.equal(again.version, 1);
    });

    it("orders concurrent CAS writers: exactly one of N racing creates wins", async () => {
      const s = await impl.open();
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) => s.put("race", String(i), { expectModRevision: 0 })),
      );
      assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
      for (const r of results) if (r.status === "rejected") assert.ok(r.reason instanceof CasFailedError);
    });

    it("group-commits concurrent writes with consecutive revisions in call order", async () => {
      const s = await impl.open();
      const kvs = await Promise.all(Array.from({ length: 200 }, (_, i) => s.put(`/c/${i}`, String(i))));
      assert.deepEqual(
        kvs.map((kv) => kv.modRevision),
        kvs.map((_, i) => 2 + i),
      );
      assert.equal(s.revision(), 201);
      assert.equal(await s.count("/c/"), 200);
    });

    it("does not show a write to readers before it is acknowledged", async () => {
      const s = await impl.open();
      const p = s.put("/pending", "1");
      const early = s.get("/pending");
      const rev = s.revision();
      const list = s.list("/");
      assert.equal(await early, undefined);
      assert.equal(rev, 1);
      assert.equal((await list).items.length, 0);
      await p;
      assert.equal((await s.get("/pending"))?.value, "1");
    });

    it("lists sorted by key with limit and startAfter paging", async () => {
      const s = await impl.open();
      const names = ["b", "a", "c", "aa", "e", "d"];
      for (const n of names) await s.put(`/p/${n}`, n);
      await s.put("/pz", "other");
      await s.put("/o", "other");
      const all = await s.list("/p/");
      assert.deepEqual(
        all.items.map((kv) => kv.value),
        ["a", "aa", "b", "c", "d", "e"],
      );
      assert.equal(all.more, false);
      assert.equal(all.revision, s.revision());
      const pages: string[][] = [];
      let startAfter: string | undefined;
      for (;;) {
        const page = await s.list("/p/", { limit: 4, ...(startAfter ? { startAfter } : {}) });
        pages.push(page.items.map((kv) => kv.value));
        if (!page.more) break;
        startAfter = page.items[page.items.length - 1]!.key;
      }
      assert.deepEqual(pages, [
        ["a", "aa", "b", "c"],
        ["d", "e"],
      ]);
      assert.equal(await s.count("/p/"), 6);
      assert.equal(await s.count(""), 8);
      assert.equal(await s.count("/q"), 0);
      await assert.rejects(s.list("/p/", { limit: 0 }), InvalidArgumentError);
    });

    it("rejects invalid keys and values with the offending field", async () => {
      const s = await impl.open();
      await assert.rejects(s.put("", "x"), /invalid key "": must not be empty/);
      await assert.rejects(s.put("k\ud800", "x"), InvalidArgumentError);
      await assert.rejects(s.put("k", "\udc00"), /invalid value/);
      await assert.rejects(s.put("k", "x", { expectModRevision: -1 }), /expectModRevision/);
    });

    it("watches history then live events in revision order, filtered by prefix", async () => {
      const s = await impl.open();
      await s.put("/w/a", "1"); // rev 2
      await s.put("/x/a", "1"); // rev 3
      await s.put("/w/b", "1"); // rev 4
      const c = collector();
      const h = s.watch("/w/", 2, c.onEvent);
      assert.equal(c.events.length, 0, "no callback inside watch()");
      const live = s.put("/w/a", "2"); // rev 5, may commit before or after the history is delivered
      await s.put("/x/b", "1"); // rev 6, filtered out
      await s.delete("/w/b"); // rev 7
      await live;
      await c.waitFor(3);
      assert.deepEqual(
        c.events.map((e) => [e.type, e.kv.key, e.revision]),
        [
          ["put", "/w/b", 4],
          ["put", "/w/a", 5],
          ["delete", "/w/b", 7],
        ],
      );
      const upd = c.events[1]!;
      assert.equal(upd.type === "put" && upd.prev?.value, "1");
      const del = c.events[2]!;
      assert.equal(del.type, "delete");
      assert.equal(del.kv.modRevision, 7);
      assert.equal(del.prev.modRevision, 4);
      h.cancel();
      await s.put("/w/c", "1");
      await tick();
      assert.equal(c.events.length, 3, "no events after cancel");
    });

    it("watches from the current and from a future revision", async () => {
      const s = await impl.open();
      await s.put("/f/a", "1");
      const now = collector();
      const future = collector();
      s.watch("/f/", s.revision(), now.onEvent);
      s.watch("/f/", s.revision() + 2, future.onEvent);
      for (let i = 0; i < 4; i++) await s.put("/f/a", String(i));
      await now.waitFor(4);
      await future.waitFor(2);
      assert.deepEqual(
        future.events.map((e) => e.revision),
        [5, 6],
      );
    });

    it("delivers each event once to a watch opened from inside a watch callback", async () => {
      const s = await impl.open();
      const inner = collector();
      let opened = false;
      s.watch("/n/", 1, (e) => {
        if (!opened) {
          opened = true;
          s.watch("/n/", e.revision - 1, inner.onEvent);
        }
      });
      await s.put("/n/a", "1");
      await s.put("/n/b", "1");
      await inner.waitFor(2);
      await tick();
      assert.deepEqual(
        inner.events.map((e) => e.revision),
        [2, 3],
      );
    });

    it("cancels a watch whose callback throws and reports it", async () => {
      const errors: string[] = [];
      const s = await impl.open({ onError: (_e, ctx) => errors.push(ctx) });
      const seen: number[] = [];
      s.watch("", 1, (e) => {
        seen.push(e.revision);
        throw new Error("consumer bug");
      });
      await s.put("a", "1");
      await s.put("a", "2");
      await tick();
      assert.deepEqual(seen, [2]);
      assert.equal(errors.length, 1);
      assert.match(errors[0]!, /watch callback/);
    });

    it("throws CompactedError for watches older than the retained history", async () => {
      const s = await impl.open({ watchHistory: 5 });
      for (let i = 0; i < 10; i++) await s.put("/h", String(i)); // revs 2..11
      assert.equal(s.compactedRevision(), 6);
      assert.throws(
        () => s.watch("/h", 5, () => undefined),
        (e: unknown) => {
          assert.ok(e instanceof CompactedError);
          assert.equal(e.compactedRevision, 6);
          return true;
        },
      );
      const c = collector();
      s.watch("/h", 6, c.onEvent);
      await c.waitFor(5);
      assert.deepEqual(
        c.events.map((e) => e.revision),
        [7, 8, 9, 10, 11],
      );
      await s.compact(9);
      assert.equal(s.compactedRevision(), 9);
      assert.throws(() => s.watch("/h", 8, () => undefined), CompactedError);
      await assert.rejects(s.compact(s.revision() + 1), InvalidArgumentError);
      assert.equal((await s.get("/h"))?.value, "9", "compaction keeps the current state");
    });

    it("waits for queued writes on close and refuses work afterwards", async () => {
      const s = await impl.open();
      const p = s.put("late", "1");
      const [first, second] = [s.close(), s.close()];
      assert.equal(first, second, "concurrent close() calls share one shutdown");
      await first;
      assert.equal((await p).value, "1");
      await assert.rejects(s.put("x", "1"), StoreClosedError);
      await assert.rejects(s.get("x"), StoreClosedError);
      assert.throws(() => s.watch("", 0, () => undefined), StoreClosedError);
      await s.close();
    });
  });
}

describe("Store engine: journal failure", () => {
  it("rejects the failed batch and everything after it, keeps serving reads", async () => {
    let appends = 0;
    const s = new KvStore(new MvccState(), new EventHistory(10, 0), {
      append: async () => {
        if (++appends > 1) throw new Error("EIO: fsync failed");
      },
      checkpoint: async () => undefined,
      close: async () => undefined,
    });
    const ok = await s.put("a", "1");
    const failing = [s.put("b", "1"), s.put("c", "1")];
    for (const p of failing) await assert.rejects(p, StoreFailedError);
    await assert.rejects(s.put("d", "1"), /EIO: fsync failed/);
    await assert.rejects(s.delete("a"), StoreFailedError);
    assert.equal(s.revision(), ok.modRevision);
    assert.deepEqual(await s.get("a"), ok);
    assert.equal(await s.get("b"), undefined);
    await s.close();
  });
});
