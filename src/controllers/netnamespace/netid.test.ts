import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  ChangeNetworkError,
  MAX_VNID,
  MIN_VNID,
  NetIDPool,
  parseChangeNetwork,
  reconcileNetNamespaces,
} from "./netid.js";

describe("parseChangeNetwork", () => {
  it("accepts global, isolate, join:<ns>", () => {
    assert.deepEqual(parseChangeNetwork("p", "global"), { action: "global" });
    assert.deepEqual(parseChangeNetwork("p", "isolate"), { action: "isolate" });
    assert.deepEqual(parseChangeNetwork("p", "join:p1"), { action: "join", namespace: "p1" });
  });
  for (const bad of ["join:", "Global", "join", ""])
    it(`rejects ${JSON.stringify(bad)}`, () =>
      assert.throws(
        () => parseChangeNetwork("p", bad),
        (e: unknown) => e instanceof ChangeNetworkError && e.value === bad && e.netns === "p",
      ));
});

describe("reconcileNetNamespaces", () => {
  it("default and global namespaces get 0, others a free id in range", () => {
    const r = reconcileNetNamespaces({
      namespaces: ["default", "infra", "p1", "p2"],
      netNamespaces: [],
      globalNamespaces: ["infra"],
    });
    assert.equal(r.netids.get("default"), 0);
    assert.equal(r.netids.get("infra"), 0);
    for (const p of ["p1", "p2"]) {
      const id = r.netids.get(p)!;
      assert.ok(id >= MIN_VNID && id <= MAX_VNID);
    }
    assert.notEqual(r.netids.get("p1"), r.netids.get("p2"));
    assert.equal(r.create.length, 4);
  });

  it("is deterministic and keeps existing ids", () => {
    const a = reconcileNetNamespaces({ namespaces: ["p1"], netNamespaces: [] });
    const b = reconcileNetNamespaces({ namespaces: ["p1"], netNamespaces: [] });
    assert.deepEqual(a.create, b.create);
    const c = reconcileNetNamespaces({ namespaces: ["p1"], netNamespaces: [{ name: "p1", netid: 42 }] });
    assert.deepEqual(c.create, []);
    assert.deepEqual(c.update, []);
    assert.equal(c.netids.get("p1"), 42);
  });

  it("probing skips used ids", () => {
    const pool = new NetIDPool();
    const first = pool.allocate("p1");
    pool.use(first);
    assert.notEqual(pool.allocate("p1"), first);
  });

  it("deleted namespace: NetNamespace deleted, id released only when unused", () => {
    const r = reconcileNetNamespaces({
      namespaces: ["p2", "p3"],
      netNamespaces: [
        { name: "p1", netid: 100 },
        { name: "p2", netid: 100 },
        { name: "p3", netid: 200, changeNetwork: "isolate" },
      ],
    });
    assert.deepEqual(r.delete, ["p1"]);
    // p3 is alone on 200 → isolate keeps it.
    assert.equal(r.netids.get("p3"), 200);
    const pool = new NetIDPool();
    pool.use(100);
    pool.use(100);
    pool.release(100);
    assert.equal(pool.users(100), 1);
    pool.release(100);
    assert.equal(pool.users(100), 0);
  });

  const base = [
    { name: "default", netid: 0 },
    { name: "p1", netid: 11 },
    { name: "p2", netid: 12 },
    { name: "p3", netid: 12 },
  ];
  const table: {
    name: string;
    ann: Record<string, string>;
    want: Record<string, number | "fresh">;
    events?: string[];
  }[] = [
    { name: "join", ann: { p2: "join:p1" }, want: { p1: 11, p2: 11, p3: 12 } },
    { name: "global", ann: { p1: "global" }, want: { p1: 0 } },
    { name: "isolate a shared id", ann: { p3: "isolate" }, want: { p2: 12, p3: "fresh" } },
    {
      name: "isolate default refused",
      ann: { default: "isolate" },
      want: { default: 0 },
      events: ["ChangeNetworkFailed"],
    },
    {
      name: "join unknown namespace",
      ann: { p1: "join:nope" },
      want: { p1: 11 },
      events: ["ChangeNetworkFailed"],
    },
    { name: "invalid value", ann: { p1: "bogus" }, want: { p1: 11 }, events: ["ChangeNetworkFailed"] },
    {
      name: "annotations applied in name order (p1 global, then p2 joins it)",
      ann: { p1: "global", p2: "join:p1" },
      want: { p1: 0, p2: 0 },
    },
  ];
  for (const t of table)
    it(`change-network: ${t.name}`, () => {
      const r = reconcileNetNamespaces({
        namespaces: base.map((b) => b.name),
        netNamespaces: base.map((b) => (t.ann[b.name] ? { ...b, changeNetwork: t.ann[b.name] } : b)),
      });
      for (const [k, v] of Object.entries(t.want)) {
        const got = r.netids.get(k)!;
        if (v === "fresh") assert.ok(![0, 11, 12].includes(got) && got >= MIN_VNID, `${k}=${got}`);
        else assert.equal(got, v, k);
      }
      assert.deepEqual(
        r.events.map((e) => e.reason),
        t.events ?? [],
      );
      assert.deepEqual(r.update.map((u) => u.name).sort(), Object.keys(t.ann).sort());
      assert.ok(r.update.every((u) => u.removeAnnotation));
    });

  it("property: joined netids equal, isolated unique, all in range", () => {
    const ops = fc.array(
      fc.tuple(
        fc.integer({ min: 0, max: 5 }),
        fc.constantFrom("isolate", "global", "join"),
        fc.integer({ min: 0, max: 5 }),
      ),
      { maxLength: 10 },
    );
    fc.assert(
      fc.property(ops, (steps) => {
        const names = ["p0", "p1", "p2", "p3", "p4", "p5"];
        let state = reconcileNetNamespaces({ namespaces: ["default", ...names], netNamespaces: [] }).netids;
        for (const [i, op, j] of steps) {
          const target = names[i]!;
          const value = op === "join" ? `join:${names[j]}` : op;
          const r = reconcileNetNamespaces({
            namespaces: ["default", ...names],
            netNamespaces: [...state].map(([name, netid]) => ({
              name,
              netid,
              ...(name === target ? { changeNetwork: value } : {}),
            })),
          });
          const before = state;
          state = r.netids;
          const mine = state.get(target)!;
          if (op === "join") assert.equal(mine, before.get(names[j]!));
          if (op === "global") assert.equal(mine, 0);
          if (op === "isolate") {
            assert.ok(mine >= MIN_VNID && mine <= MAX_VNID);
            for (const [n, id] of state) if (n !== target) assert.notEqual(id, mine);
          }
          // Nobody else changed.
          for (const [n, id] of state) if (n !== target) assert.equal(id, before.get(n));
        }
        for (const [n, id] of state) assert.ok(id === 0 || (id >= MIN_VNID && id <= MAX_VNID), `${n}=${id}`);
      }),
      { numRuns: 200 },
    );
  });
});
