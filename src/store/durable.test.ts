// Durability: snapshot + replay equality, torn tails, corruption, locking, compaction on disk, and a
// property test comparing the reopened durable store with a plain model.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { appendFile, readdir, readFile, rm, stat, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import fc from "fast-check";
import { type DurableStore, openStore } from "./durable.js";
import { CorruptStoreError, StoreLockedError } from "./errors.js";
import { collector, tempDir } from "./testutil.js";
import type { KeyValue, Store } from "./types.js";

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups) await c();
});
async function dir(tag: string): Promise<string> {
  const t = await tempDir(tag);
  cleanups.push(t.cleanup);
  return t.dir;
}

async function dump(s: Store): Promise<{ revision: number; items: KeyValue[] }> {
  const { items, revision } = await s.list("");
  return { revision, items: items.map((kv) => ({ ...kv })) };
}

async function segments(d: string): Promise<string[]> {
  return (await readdir(d)).filter((n) => n.startsWith("wal-")).sort();
}

/** Writes some history: creates, updates, deletes. Returns the expected dump. */
async function workload(s: Store, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await s.put(`/registry/things/ns/obj-${i % 37}`, JSON.stringify({ i, pad: "x".repeat(i % 50) }));
    if (i % 5 === 4) await s.delete(`/registry/things/ns/obj-${(i * 7) % 37}`).catch(() => undefined);
  }
}

describe("durable store", () => {
  it("replays the log to the same state after reopen", async () => {
    const d = await dir("replay");
    const s = await openStore(d);
    await workload(s, 300);
    const before = await dump(s);
    await s.close();
    const r = await openStore(d);
    assert.deepEqual(await dump(r), before);
    assert.equal(r.recovery.snapshotRevision, 0);
    assert.equal(r.recovery.replayed, before.revision - 1);
    assert.equal(r.recovery.truncatedBytes, 0);
    // History survives in the log too: a watch can resume from before the restart.
    const c = collector();
    r.watch("/registry/", before.revision - 3, c.onEvent);
    await c.waitFor(3);
    await r.close();
  });

  it("loads snapshot + later log to the same state, and prunes superseded files", async () => {
    const d = await dir("snap");
    const s = await openStore(d);
    await workload(s, 200);
    const snapAt = s.revision();
    await s.compact(snapAt);
    assert.deepEqual(await segments(d), [`wal-${String(snapAt).padStart(16, "0")}.log`]);
    assert.ok((await readdir(d)).includes(`snap-${String(snapAt).padStart(16, "0")}.snap`));
    await workload(s, 50);
    const before = await dump(s);
    await s.close();
    const r = await openStore(d);
    assert.deepEqual(await dump(r), before);
    assert.equal(r.recovery.snapshotRevision, snapAt);
    assert.equal(r.compactedRevision(), snapAt);
    await r.close();
  });

  it("rotates segments and snapshots automatically past the size threshold", async () => {
    const d = await dir("auto");
    const s = await openStore(d, { segmentBytes: 4096 });
    await workload(s, 400);
    // Let the background snapshot finish (close waits for it).
    const before = await dump(s);
    await s.close();
    const files = await readdir(d);
    assert.ok(files.filter((n) => n.startsWith("snap-")).length === 1, files.join(","));
    assert.ok((await segments(d)).length <= 2, files.join(","));
    const r = await openStore(d, { segmentBytes: 4096 });
    assert.ok(r.recovery.snapshotRevision > 1);
    assert.deepEqual(await dump(r), before);
    await r.close();
  });

  const tails: Array<{ name: string; damage(path: string, size: number, lastLen: number): Promise<void> }> = [
    { name: "last record cut short", damage: (p, size) => truncate(p, size - 3) },
    { name: "only half a header", damage: (p, size, last) => truncate(p, size - last + 4) },
    {
      name: "last record's payload corrupted",
      damage: async (p) => {
        const b = await readFile(p);
        b[b.length - 2] = (b[b.length - 2]! + 1) & 0xff;
        await writeFile(p, b);
      },
    },
    { name: "zero-filled tail", damage: (p) => appendFile(p, Buffer.alloc(4096)) },
    { name: "garbage tail", damage: (p) => appendFile(p, Buffer.from("\x10\x00\x00\x00garbage-garbage")) },
  ];
  for (const t of tails) {
    it(`drops a torn tail (${t.name}) and keeps earlier records`, async () => {
      const d = await dir("torn");
      const s = await openStore(d);
      for (let i = 0; i < 20; i++) await s.put(`/k/${i}`, `{"i":${i}}`);
      const keep = await dump(s);
      const seg = join(d, (await segments(d))[0]!);
      const sizeBefore = (await stat(seg)).size;
      await s.put("/k/last", '{"last":true}');
      await s.close();
      const size = (await stat(seg)).size;
      const wasTorn = t.name === "zero-filled tail" || t.name === "garbage tail";
      await t.damage(seg, size, size - sizeBefore);
      const r = await openStore(d);
      assert.ok(r.recovery.truncatedBytes > 0, "tail detected");
      assert.ok(r.recovery.tornTail);
      const got = await dump(r);
      if (wasTorn) {
        assert.equal(got.revision, keep.revision + 1, "an intact last record survives appended garbage");
        assert.deepEqual(got.items.slice(0, 20), keep.items);
      } else {
        assert.deepEqual(got, keep);
      }
      // The store is writable and the cut was durable: new records append after the valid ones.
      const next = await r.put("/k/after", "1");
      assert.equal(next.modRevision, got.revision + 1);
      await r.close();
      const again = await openStore(d);
      assert.equal(again.recovery.truncatedBytes, 0);
      assert.equal((await again.get("/k/after"))?.modRevision, next.modRevision);
      await again.close();
    });
  }

  it("refuses damage in a segment that is not the last one", async () => {
    const d = await dir("corrupt");
    const s = await openStore(d);
    for (let i = 0; i < 5; i++) await s.put(`/k/${i}`, "v");
    const rev = s.revision();
    await s.close();
    const first = join(d, (await segments(d))[0]!);
    const b = await readFile(first);
    b[b.length - 2] = (b[b.length - 2]! + 1) & 0xff;
    await writeFile(first, b);
    // As the last segment this damage is a torn tail; with a later segment present it is corruption.
    await writeFile(join(d, `wal-${String(rev).padStart(16, "0")}.log`), Buffer.alloc(0));
    await assert.rejects(openStore(d), (e: unknown) => {
      assert.ok(e instanceof CorruptStoreError);
      assert.match(
        e.message,
        /wal-0000000000000001\.log at offset \d+: crc mismatch.*not in the last segment/,
      );
      return true;
    });
    // The failed open released the lock.
    await rm(join(d, `wal-${String(rev).padStart(16, "0")}.log`));
    const r = await openStore(d);
    assert.equal(r.revision(), rev - 1);
    await r.close();
  });

  it("locks the directory against a second open, and takes over a stale lock", async () => {
    const d = await dir("lock");
    const s = await openStore(d);
    await assert.rejects(openStore(d), StoreLockedError);
    await s.close();
    // A dead process's lock (as left by SIGKILL) is stale.
    const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]);
    await writeFile(join(d, "LOCK"), `${dead.stdout.toString()} 1\n`);
    const r = await openStore(d);
    await r.close();
    // A live process whose start time matches holds the lock.
    const start = (await readFile("/proc/self/stat", "utf8")).split(") ")[1]!.split(" ")[19];
    await writeFile(join(d, "LOCK"), `${process.pid} ${start}\n`);
    await assert.rejects(openStore(d), StoreLockedError);
    // Same pid but another start time: the pid was reused after a crash, the lock is stale.
    await writeFile(join(d, "LOCK"), `${process.pid} 12345\n`);
    const t = await openStore(d);
    await t.close();
  });

  it("equals a simple model after any sequence of writes, compactions and reopens (property)", async () => {
    const d0 = await dir("prop");
    let run = 0;
    type Op =
      | { t: "put"; k: number; v: number; cas: "none" | "create" | "match" | "stale" }
      | { t: "del"; k: number; cas: boolean }
      | { t: "reopen" }
      | { t: "compact" };
    const opArb: fc.Arbitrary<Op> = fc.oneof(
      {
        weight: 6,
        arbitrary: fc.record({
          t: fc.constant("put" as const),
          k: fc.nat(7),
          v: fc.nat(1000),
          cas: fc.constantFrom("none" as const, "create" as const, "match" as const, "stale" as const),
        }),
      },
      {
        weight: 3,
        arbitrary: fc.record({ t: fc.constant("del" as const), k: fc.nat(7), cas: fc.boolean() }),
      },
      { weight: 1, arbitrary: fc.constant({ t: "reopen" as const }) },
      { weight: 1, arbitrary: fc.constant({ t: "compact" as const }) },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { maxLength: 40 }), fc.boolean(), async (ops, smallSegments) => {
        const d = join(d0, String(run++));
        const opts = smallSegments ? { segmentBytes: 64 } : {};
        let s: DurableStore = await openStore(d, opts);
        const model = new Map<string, KeyValue>();
        let rev = 1;
        try {
          for (const op of ops) {
            if (op.t === "reopen") {
              await s.close();
              s = await openStore(d, opts);
            } else if (op.t === "compact") {
              await s.compact(s.revision());
            } else if (op.t === "put") {
              const key = `/k${op.k}`;
              const cur = model.get(key);
              const expect =
                op.cas === "none"
                  ? undefined
                  : op.cas === "create"
                    ? 0
                    : op.cas === "match"
                      ? (cur?.modRevision ?? 0)
                      : 1;
              const ok = expect === undefined || (expect === 0 ? !cur : cur?.modRevision === expect);
              const res = await s
                .put(key, String(op.v), expect === undefined ? {} : { expectModRevision: expect })
                .then(
                  (kv) => kv,
                  () => undefined,
                );
              assert.equal(res !== undefined, ok);
              if (ok) {
                rev++;
                model.set(key, {
                  key,
                  value: String(op.v),
                  createRevision: cur?.createRevision ?? rev,
                  modRevision: rev,
                  version: (cur?.version ?? 0) + 1,
                });
              }
            } else {
              const key = `/k${op.k}`;
              const cur = model.get(key);
              const res = await s
                .delete(key, op.cas && cur ? { expectModRevision: cur.modRevision } : {})
                .then(
                  () => true,
                  () => false,
                );
              assert.equal(res, cur !== undefined);
              if (cur) {
                rev++;
                model.delete(key);
              }
            }
          }
          await s.close();
          s = await openStore(d, opts);
          const want = [...model.values()].sort((a, b) => (a.key < b.key ? -1 : 1));
          assert.deepEqual(await dump(s), { revision: rev, items: want });
        } finally {
          await s.close();
        }
      }),
      { numRuns: 40 },
    );
  });
});
