import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatIP } from "../api/ip.js";
import { planAdd, planDel } from "./allocator.js";
import { parseConfig } from "./config.js";
import { type KubeIPAMClient, KubernetesStore } from "./kube-store.js";
import type { IPPool, OverlappingRangeIPReservation, Owner } from "./model.js";
import { StoreConflictError, StoreTimeoutError } from "./store.js";

/** An API server in miniature: resourceVersion preconditions, AlreadyExists on create, and a yield
 *  before every call so that concurrent transactions interleave and conflict. */
class FakeApi implements KubeIPAMClient {
  pools = new Map<string, IPPool>();
  reservations = new Map<string, OverlappingRangeIPReservation>();
  rv = 0;
  calls = 0;
  private async tick(): Promise<void> {
    this.calls++;
    await new Promise((r) => setImmediate(r));
  }
  async getPool(name: string) {
    await this.tick();
    const p = this.pools.get(name);
    return p ? structuredClone(p) : undefined;
  }
  async createPool(pool: IPPool) {
    await this.tick();
    if (this.pools.has(pool.name)) throw new StoreConflictError(`IPPool ${pool.name}`, "", "exists");
    this.pools.set(pool.name, { ...structuredClone(pool), resourceVersion: String(++this.rv) });
  }
  async replacePool(pool: IPPool) {
    await this.tick();
    const cur = this.pools.get(pool.name);
    if (!cur || cur.resourceVersion !== pool.resourceVersion) {
      throw new StoreConflictError(`IPPool ${pool.name}`, pool.resourceVersion, cur?.resourceVersion ?? "");
    }
    this.pools.set(pool.name, { ...structuredClone(pool), resourceVersion: String(++this.rv) });
  }
  async listReservations() {
    await this.tick();
    return [...this.reservations.values()].map((r) => ({ ...r }));
  }
  async createReservation(r: OverlappingRangeIPReservation) {
    await this.tick();
    if (this.reservations.has(r.name)) throw new StoreConflictError(r.name, "", "exists");
    this.reservations.set(r.name, { ...r });
  }
  async deleteReservation(name: string) {
    await this.tick();
    this.reservations.delete(name);
  }
}

const conf = (range: string) =>
  parseConfig({
    cniVersion: "1.0.0",
    name: "n",
    ipam: { type: "whereabouts", datastore: "kubernetes", range },
  });
const scopeOf = (c: ReturnType<typeof conf>) => ({
  network: "",
  pools: c.ranges.map((r) => ({ name: r.pool, range: r.cidr })),
  reservations: true,
});
const owner = (n: number): Owner => ({ containerID: `c${n}`, podRef: `ns/p${n}`, ifName: "eth0" });
const opts = { networkName: "", overlapping: true };

function add(store: KubernetesStore, c: ReturnType<typeof conf>, o: Owner): Promise<string> {
  return store.transact(scopeOf(c), (snap) => {
    const p = planAdd(c.ranges, o, snap, opts);
    return { result: formatIP(p.assigned[0]!.ip), change: p.change };
  });
}

describe("kubernetes datastore (fake API)", () => {
  it("concurrent ADDs on one pool conflict, retry and end with distinct addresses", async () => {
    const api = new FakeApi();
    const store = new KubernetesStore(api, {
      timeoutMs: 30_000,
      sleep: () => new Promise((r) => setImmediate(r)),
    });
    const c = conf("10.0.0.0/24");
    const ips = await Promise.all(Array.from({ length: 30 }, (_, i) => add(store, c, owner(i))));
    assert.equal(new Set(ips).size, 30);
    assert.ok(store.conflicts > 0, "the test must provoke conflicts");
    assert.equal(Object.keys(api.pools.get("10.0.0.0-24")!.allocations).length, 30);
    // No reservation left behind by a failed attempt: exactly one per allocation.
    assert.equal(api.reservations.size, 30);
  });

  it("overlapping pools in the API never share an address", async () => {
    const api = new FakeApi();
    const store = new KubernetesStore(api, {
      timeoutMs: 30_000,
      sleep: () => new Promise((r) => setImmediate(r)),
    });
    const a = conf("10.1.0.0/24");
    const b = conf("10.1.0.0/16");
    const ips = await Promise.all(Array.from({ length: 20 }, (_, i) => add(store, i % 2 ? a : b, owner(i))));
    assert.equal(new Set(ips).size, 20);
  });

  it("DEL writes the pool, then removes the reservation", async () => {
    const api = new FakeApi();
    const store = new KubernetesStore(api, { timeoutMs: 1000 });
    const c = conf("10.2.0.0/24");
    await add(store, c, owner(1));
    await store.transact(scopeOf(c), (snap) => {
      const p = planDel(c.ranges, "c1", "eth0", snap, "");
      return { result: undefined, change: p.change };
    });
    assert.deepEqual(
      [Object.keys(api.pools.get("10.2.0.0-24")!.allocations), api.reservations.size],
      [[], 0],
    );
  });

  it("conflicts past the deadline are StoreTimeoutError", async () => {
    const api = new FakeApi();
    let t = 0;
    const store = new KubernetesStore(api, {
      timeoutMs: 100,
      now: () => t,
      sleep: async () => {
        t += 60;
      },
    });
    const c = conf("10.3.0.0/24");
    await add(store, c, owner(1));
    api.replacePool = async (p) => {
      throw new StoreConflictError(`IPPool ${p.name}`, p.resourceVersion, "x");
    };
    await assert.rejects(add(store, c, owner(2)), StoreTimeoutError);
    assert.equal(api.reservations.size, 1, "the failed attempts' reservations were removed");
  });
});
