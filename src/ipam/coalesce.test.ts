import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { formatIP } from "../api/ip.js";
import { type Assigned, planAdd, planDel } from "./allocator.js";
import { type BatchRunner, combine, PoolQueues, type TxFn } from "./coalesce.js";
import { parseConfig } from "./config.js";
import { MemoryStore } from "./memory-store.js";
import { scopeOf } from "./plugin.js";
import { StoreTimeoutError } from "./store.js";

const conf = parseConfig({
  cniVersion: "1.1.0",
  name: "t",
  ipam: { type: "whereabouts", range: "10.1.0.0/24", network_name: "n" },
});
const scope = scopeOf(conf);
const opts = { networkName: "n", overlapping: true };
const owner = (i: number) => ({ containerID: `c${i}`, podRef: `ns/p${i}`, ifName: "eth0" });
const add =
  (i: number): TxFn<string> =>
  (snap) => {
    const p = planAdd(conf.ranges, owner(i), snap, opts);
    return { result: p.assigned.map((a: Assigned) => formatIP(a.ip)).join(","), change: p.change };
  };
const del =
  (i: number): TxFn<number> =>
  (snap) => {
    const p = planDel(conf.ranges, `c${i}`, "eth0", snap, "n");
    return { result: p.released.length, change: p.change };
  };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A runner over a memory store that records how many batches of a key overlap (must stay 1). */
function runner(store: MemoryStore, delayMs = 2) {
  const seen = { running: 0, maxRunning: 0, calls: 0 };
  const run: BatchRunner = async (s, fn) => {
    seen.calls++;
    seen.running++;
    seen.maxRunning = Math.max(seen.maxRunning, seen.running);
    try {
      await sleep(delayMs);
      return await store.transact(s, fn);
    } finally {
      seen.running--;
    }
  };
  return { run, seen };
}

describe("combine: members of a batch see each other's changes", () => {
  it("ADDs get distinct lowest addresses; one pool write; every reservation created", async () => {
    const store = new MemoryStore();
    const out = await store.transact(scope, combine([add(1), add(2), add(1), add(3)]));
    assert.deepEqual(
      out.map((o) => (o.ok ? o.value : o.error)),
      ["10.1.0.1", "10.1.0.2", "10.1.0.1", "10.1.0.3"], // the repeated ADD is idempotent
    );
    assert.equal(store.writes, 1);
    const state = store.networks.get("n")!;
    assert.deepEqual(Object.keys(state.pools["n-10.1.0.0-24"]!.allocations).sort(), ["1", "2", "3"]);
    assert.deepEqual(Object.keys(state.reservations).sort(), ["n-10.1.0.1", "n-10.1.0.2", "n-10.1.0.3"]);
  });

  it("ADD then DEL of one attachment in a batch leaves no trace; DEL then ADD re-uses the address", async () => {
    const store = new MemoryStore();
    await store.transact(scope, combine([add(1), add(2)]));
    const out = await store.transact(scope, combine([add(3), del(3), del(1), add(4)]));
    assert.deepEqual(
      out.map((o) => (o.ok ? o.value : "error")),
      ["10.1.0.3", 1, 1, "10.1.0.1"],
    );
    const state = store.networks.get("n")!;
    assert.deepEqual(state.pools["n-10.1.0.0-24"]!.allocations, {
      "1": { id: "c4", podref: "ns/p4", ifname: "eth0" },
      "2": { id: "c2", podref: "ns/p2", ifname: "eth0" },
    });
    assert.deepEqual(Object.keys(state.reservations).sort(), ["n-10.1.0.1", "n-10.1.0.2"]);
    assert.equal(state.reservations["n-10.1.0.1"]?.containerid, "c4");
  });

  it("a member that throws fails alone", async () => {
    const small = parseConfig({
      cniVersion: "1.1.0",
      name: "t",
      ipam: { type: "whereabouts", range: "10.2.0.0/30", network_name: "s" },
    });
    const addS =
      (i: number): TxFn<string> =>
      (snap) => {
        const p = planAdd(small.ranges, owner(i), snap, { networkName: "s", overlapping: true });
        return { result: formatIP(p.assigned[0]!.ip), change: p.change };
      };
    const store = new MemoryStore();
    const out = await store.transact(scopeOf(small), combine([addS(1), addS(2), addS(3)]));
    assert.deepEqual(
      out.map((o) => o.ok),
      [true, true, false],
    );
    assert.match(String((out[2] as { error: Error }).error.message), /no free address/);
  });

  it("property: any sequence of ADDs/DELs as one batch ends in the state of running them one by one", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 6 })), { minLength: 1, maxLength: 15 }),
        fc.array(fc.integer({ min: 0, max: 6 }), { maxLength: 4 }),
        async (ops, pre) => {
          const one = new MemoryStore();
          const batched = new MemoryStore();
          for (const i of pre) {
            await one.transact(scope, add(i));
            await batched.transact(scope, add(i));
          }
          const fns = ops.map(([isAdd, i]) => (isAdd ? add(i) : del(i))) as TxFn<unknown>[];
          const serial: unknown[] = [];
          for (const fn of fns) serial.push(await one.transact(scope, fn));
          const out = await batched.transact(scope, combine(fns));
          assert.deepEqual(
            out.map((o) => (o.ok ? o.value : o.error)),
            serial,
          );
          const a = one.networks.get("n");
          const b = batched.networks.get("n");
          assert.deepEqual(b?.pools["n-10.1.0.0-24"]?.allocations, a?.pools["n-10.1.0.0-24"]?.allocations);
          assert.deepEqual(b?.reservations, a?.reservations);
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe("PoolQueues: serialised per pool, coalesced", () => {
  it("50 concurrent ADDs: distinct addresses, never two batches of one pool at once, few store writes", async () => {
    const store = new MemoryStore();
    const { run, seen } = runner(store);
    const q = new PoolQueues();
    const ips = await Promise.all(
      Array.from({ length: 50 }, (_, i) => q.transact("k", scope, add(i), 5000, run)),
    );
    assert.equal(new Set(ips).size, 50);
    assert.equal(seen.maxRunning, 1);
    assert.ok(seen.calls <= 3, `expected the ADDs to coalesce, got ${seen.calls} batches`);
    assert.equal(q.stats.transactions, 50);
    assert.equal(q.pending, 0);
  });

  it("different pools run side by side; maxBatch bounds a batch", async () => {
    const store = new MemoryStore();
    const { run, seen } = runner(store, 20);
    const q = new PoolQueues({ maxBatch: 4 });
    const other = parseConfig({
      cniVersion: "1.1.0",
      name: "t",
      ipam: { type: "whereabouts", range: "10.3.0.0/24", network_name: "o" },
    });
    const addO: TxFn<string> = (snap) => {
      const p = planAdd(other.ranges, owner(1), snap, { networkName: "o", overlapping: true });
      return { result: formatIP(p.assigned[0]!.ip), change: p.change };
    };
    await Promise.all([
      ...Array.from({ length: 10 }, (_, i) => q.transact("k", scope, add(i), 5000, run)),
      q.transact("other", scopeOf(other), addO, 5000, run),
    ]);
    assert.equal(seen.maxRunning, 2);
    assert.ok(q.stats.largestBatch <= 4);
  });

  it("a member waiting past its timeout fails with StoreTimeoutError; a failed batch fails all its members", async () => {
    const q = new PoolQueues();
    let release!: () => void;
    const blocked = new Promise<void>((r) => {
      release = r;
    });
    const slow: BatchRunner = async (s, fn) => {
      await blocked;
      return new MemoryStore().transact(s, fn);
    };
    const first = q.transact("k", scope, add(1), 5000, slow);
    const late = q.transact("k", scope, add(2), 30, slow);
    await assert.rejects(late, StoreTimeoutError);
    release();
    assert.equal(await first, "10.1.0.1");
    const boom: BatchRunner = async () => {
      throw new Error("API down");
    };
    const r = await Promise.allSettled([1, 2, 3].map((i) => q.transact("k", scope, add(i), 5000, boom)));
    assert.deepEqual(
      r.map((x) => x.status),
      ["rejected", "rejected", "rejected"],
    );
    assert.equal(q.stats.queueTimeouts, 1);
  });
});
