import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parseCIDR } from "../api/ip.js";
import { noChange } from "./allocator.js";
import { decodeState, FileStore, lockExclusive, networkFiles } from "./file-store.js";
import { emptyPool } from "./model.js";
import { StoreConflictError, StoreCorruptError, type StoreScope, StoreTimeoutError } from "./store.js";

const range = parseCIDR("10.0.0.0/24")!;
const scope: StoreScope = {
  network: "net-a",
  pools: [{ name: "net-a-10.0.0.0-24", range }],
  reservations: true,
};

describe("file datastore", () => {
  let dir = "";
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "wb-filestore-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("round-trips a transaction and bumps resourceVersion", async () => {
    const store = new FileStore(join(dir, "a"), 1000);
    const pool = {
      ...emptyPool("net-a-10.0.0.0-24", range),
      allocations: { "1": { id: "c1", podref: "ns/p", ifname: "eth0" } },
    };
    const res = { name: "net-a-10.0.0.1", ip: "10.0.0.1", containerid: "c1", podref: "ns/p", ifname: "eth0" };
    const out = await store.transact(scope, () => ({
      result: 42,
      change: { ...noChange(), pools: [pool], createReservations: [res] },
    }));
    assert.equal(out, 42);
    const snap = await store.read(scope);
    assert.equal(snap.pools.get(pool.name)?.resourceVersion, "1");
    assert.deepEqual(snap.reservations.get(res.name), res);
    const text = await readFile(networkFiles(join(dir, "a"), "net-a").state, "utf8");
    assert.match(text, /"kind":"IPPool"/);
    assert.match(text, /"kind":"OverlappingRangeIPReservation"/);
    // A stale version is a conflict, and nothing is written.
    await assert.rejects(
      store.transact(scope, () => ({ result: 0, change: { ...noChange(), pools: [pool] } })),
      StoreConflictError,
    );
    assert.equal((await store.read(scope)).pools.get(pool.name)?.resourceVersion, "1");
  });

  it("an error thrown by the transaction writes nothing and releases the lock", async () => {
    const store = new FileStore(join(dir, "b"), 500);
    await assert.rejects(
      store.transact(scope, () => {
        throw new Error("boom");
      }),
      /boom/,
    );
    assert.equal((await store.read(scope)).pools.size, 0);
    await store.transact(scope, () => ({ result: 1, change: noChange() }));
  });

  it("waits for the lock, then fails with StoreTimeoutError", async () => {
    const d = join(dir, "c");
    const store = new FileStore(d, 300);
    await store.read(scope);
    const held = await lockExclusive(networkFiles(d, "net-a").lock, 100);
    const t0 = Date.now();
    try {
      await assert.rejects(
        store.transact(scope, () => ({ result: 1, change: noChange() })),
        StoreTimeoutError,
      );
      assert.ok(Date.now() - t0 >= 250, "waited for the timeout");
    } finally {
      held.release();
    }
    assert.equal(await store.transact(scope, () => ({ result: 7, change: noChange() })), 7);
  });

  it("a lock held by a killed process is released by the kernel", async () => {
    const d = join(dir, "d");
    const store = new FileStore(d, 2000);
    await store.read(scope);
    const lock = networkFiles(d, "net-a").lock;
    // A plugin-like process takes the lock with our own code, says so, and is SIGKILLed while holding it.
    const self = new URL("./file-store.js", import.meta.url).href;
    const child = spawn(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `const m = await import(${JSON.stringify(self)}); await m.lockExclusive(${JSON.stringify(lock)}, 1000); console.log("locked"); setInterval(() => {}, 1000);`,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout?.on("data", () => resolve());
        child.on("exit", () => reject(new Error("lock holder exited early")));
      });
      await assert.rejects(lockExclusive(lock, 0), StoreTimeoutError);
      const t0 = Date.now();
      setTimeout(() => child.kill("SIGKILL"), 200);
      assert.equal(await store.transact(scope, () => ({ result: 3, change: noChange() })), 3);
      assert.ok(Date.now() - t0 < 1900);
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("removes temp files of killed writers and reports corrupt files by name", async () => {
    const d = join(dir, "e");
    const store = new FileStore(d, 500);
    await store.read(scope);
    const files = networkFiles(d, "net-a");
    await writeFile(`${files.state}.tmp-99999-abc`, "{partial");
    await store.transact(scope, () => ({ result: 0, change: noChange() }));
    assert.deepEqual(
      (await readdir(d)).filter((n) => n.includes(".tmp-")),
      [],
    );
    await writeFile(
      files.state,
      '{"kind":"WhereaboutsNetworkState","ipPools":{"x":{"metadata":{},"spec":{"allocations":{"1":{}}}}}}',
    );
    await assert.rejects(
      store.read(scope),
      (e: unknown) => e instanceof StoreCorruptError && e.message.includes(files.state),
    );
  });

  it("decodeState rejects non-numeric allocation keys", () => {
    const doc = {
      kind: "WhereaboutsNetworkState",
      ipPools: {
        p: {
          metadata: { resourceVersion: "1" },
          spec: { range: "10.0.0.0/24", allocations: { x: { id: "a", podref: "", ifname: "e" } } },
        },
      },
      overlappingRangeIPReservations: {},
    };
    assert.throws(() => decodeState(JSON.stringify(doc), "f"), /allocations\.x/);
  });

  it("network names become safe file names", () => {
    assert.equal(networkFiles("/d", "").state, "/d/network.json");
    assert.equal(networkFiles("/d", "../x").lock, "/d/network-..%2Fx.lock");
  });
});
