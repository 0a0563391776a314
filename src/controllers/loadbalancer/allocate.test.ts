import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  type AddressPool,
  allocateLoadBalancerIPs,
  type LBService,
  PoolAddressError,
  parsePoolAddress,
} from "./allocate.js";

const svc = (name: string, extra: Partial<LBService> = {}): LBService => ({
  namespace: "ns",
  name,
  type: "LoadBalancer",
  currentIPs: [],
  ...extra,
});
const ips = (r: ReturnType<typeof allocateLoadBalancerIPs>) =>
  Object.fromEntries(r.allocations.map((a) => [a.name, a.ips.join(",")]));

describe("parsePoolAddress", () => {
  it("CIDRs and ranges", () => {
    assert.deepEqual(parsePoolAddress("p", 0, "192.168.10.0/30"), {
      family: 4,
      first: 0xc0a80a00n,
      last: 0xc0a80a03n,
    });
    assert.deepEqual(parsePoolAddress("p", 0, "192.168.10.5 - 192.168.10.6"), {
      family: 4,
      first: 0xc0a80a05n,
      last: 0xc0a80a06n,
    });
    assert.deepEqual(parsePoolAddress("p", 0, "10.0.0.1/32"), {
      family: 4,
      first: 0x0a000001n,
      last: 0x0a000001n,
    });
  });
  for (const bad of ["10.0.0.9-10.0.0.1", "10.0.0.1-fd00::1", "nope", "10.0.0.0/33", "1-2-3"])
    it(`rejects ${bad}`, () =>
      assert.throws(
        () => parsePoolAddress("p", 2, bad),
        (e: unknown) =>
          e instanceof PoolAddressError && e.message.includes("spec.addresses[2]") && e.value === bad,
      ));
});

describe("allocateLoadBalancerIPs", () => {
  const pool: AddressPool = { name: "p", addresses: ["172.18.0.0/30"] };
  const table: {
    name: string;
    pools: AddressPool[];
    svcs: LBService[];
    want: Record<string, string>;
    events?: string[];
  }[] = [
    {
      name: "lowest first, .0 included by default",
      pools: [pool],
      svcs: [svc("a"), svc("b")],
      want: { a: "172.18.0.0", b: "172.18.0.1" },
    },
    {
      name: "avoidBuggyIPs skips .0 and .255",
      pools: [{ name: "p", addresses: ["10.0.0.255-10.0.1.1"], avoidBuggyIPs: true }],
      svcs: [svc("a")],
      want: { a: "10.0.1.1" },
    },
    {
      name: "a /32 pool has one address",
      pools: [{ name: "p", addresses: ["10.9.9.9/32"] }],
      svcs: [svc("a"), svc("b")],
      want: { a: "10.9.9.9", b: "" },
      events: ["AllocationFailed"],
    },
    {
      name: "keeps existing",
      pools: [pool],
      svcs: [svc("a", { currentIPs: ["172.18.0.2"] }), svc("b")],
      want: { a: "172.18.0.2", b: "172.18.0.0" },
    },
    {
      name: "requested loadBalancerIP",
      pools: [pool],
      svcs: [svc("a", { requestedIPs: ["172.18.0.3"] })],
      want: { a: "172.18.0.3" },
    },
    {
      name: "requested IP outside pools",
      pools: [pool],
      svcs: [svc("a", { requestedIPs: ["1.1.1.1"] })],
      want: { a: "" },
      events: ["AllocationFailed"],
    },
    {
      name: "requested IP already used",
      pools: [pool],
      svcs: [svc("a", { currentIPs: ["172.18.0.3"] }), svc("b", { requestedIPs: ["172.18.0.3"] })],
      want: { a: "172.18.0.3", b: "" },
      events: ["AllocationFailed"],
    },
    {
      name: "pool annotation",
      pools: [pool, { name: "q", addresses: ["10.1.0.0/24"], autoAssign: false }],
      svcs: [svc("a", { pool: "q" }), svc("b")],
      want: { a: "10.1.0.0", b: "172.18.0.0" },
    },
    {
      name: "unknown pool",
      pools: [pool],
      svcs: [svc("a", { pool: "nope" })],
      want: { a: "" },
      events: ["AllocationFailed"],
    },
    {
      name: "autoAssign false pools are not used automatically",
      pools: [{ ...pool, autoAssign: false }],
      svcs: [svc("a")],
      want: { a: "" },
      events: ["AllocationFailed"],
    },
    {
      name: "not a LoadBalancer → released",
      pools: [pool],
      svcs: [svc("a", { type: "ClusterIP", currentIPs: ["172.18.0.0"] })],
      want: { a: "" },
    },
    {
      name: "current IP no longer in any pool → reallocated",
      pools: [pool],
      svcs: [svc("a", { currentIPs: ["10.0.0.1"] })],
      want: { a: "172.18.0.0" },
    },
    {
      name: "duplicate current IP stays with the older service",
      pools: [pool],
      svcs: [
        svc("b", { creationTimestamp: "2024-01-01T00:00:00Z", currentIPs: ["172.18.0.1"] }),
        svc("a", { creationTimestamp: "2024-02-01T00:00:00Z", currentIPs: ["172.18.0.1"] }),
      ],
      want: { b: "172.18.0.1", a: "172.18.0.0" },
    },
    {
      name: "dual stack from one pool",
      pools: [
        { name: "d", addresses: ["10.0.0.0/31", "fd00::/127"] },
        { name: "c", addresses: ["10.5.0.0/24"] },
      ],
      svcs: [svc("a", { ipFamilies: ["IPv4", "IPv6"] })],
      want: { a: "10.0.0.0,fd00::" },
    },
    {
      name: "invalid pool skipped with event",
      pools: [{ name: "bad", addresses: ["x"] }, pool],
      svcs: [svc("a")],
      want: { a: "172.18.0.0" },
      events: ["InvalidPool"],
    },
  ];
  for (const t of table)
    it(t.name, () => {
      const r = allocateLoadBalancerIPs(t.pools, t.svcs);
      assert.deepEqual(ips(r), t.want);
      assert.deepEqual(
        r.events.filter((e) => e.type === "Warning").map((e) => e.reason),
        t.events ?? [],
      );
    });

  it("release on delete: the freed address is reused", () => {
    const r1 = allocateLoadBalancerIPs([pool], [svc("a"), svc("b")]);
    const r2 = allocateLoadBalancerIPs([pool], [svc("b", { currentIPs: ["172.18.0.1"] }), svc("c")]);
    assert.deepEqual(ips(r1), { a: "172.18.0.0", b: "172.18.0.1" });
    assert.deepEqual(ips(r2), { b: "172.18.0.1", c: "172.18.0.0" });
    assert.deepEqual(r2.changed, ["ns/c"]);
  });

  it("property: addresses unique, inside their pool, stable when fed back", () => {
    const arb = fc.array(
      fc.record({
        req: fc.option(fc.integer({ min: 0, max: 9 }), { nil: undefined }),
        pool: fc.constantFrom(undefined, "p", "q"),
        lb: fc.boolean(),
      }),
      { maxLength: 12 },
    );
    const pools: AddressPool[] = [
      { name: "p", addresses: ["10.0.0.0/30"] },
      { name: "q", addresses: ["10.0.0.4-10.0.0.6"], autoAssign: false },
    ];
    fc.assert(
      fc.property(arb, (xs) => {
        const svcs = xs.map((x, i) =>
          svc(`s${i}`, {
            type: x.lb ? "LoadBalancer" : "ClusterIP",
            ...(x.req !== undefined ? { requestedIPs: [`10.0.0.${x.req}`] } : {}),
            ...(x.pool ? { pool: x.pool } : {}),
          }),
        );
        const r1 = allocateLoadBalancerIPs(pools, svcs);
        const all = r1.allocations.flatMap((a) => a.ips);
        assert.equal(new Set(all).size, all.length);
        for (const a of r1.allocations) for (const ip of a.ips) assert.ok(Number(ip.split(".")[3]) <= 6);
        const fed = svcs.map((s, i) => ({ ...s, currentIPs: r1.allocations[i]!.ips }));
        const r2 = allocateLoadBalancerIPs(pools, fed);
        assert.deepEqual(r2.allocations, r1.allocations);
        assert.deepEqual(r2.changed, []);
      }),
      { numRuns: 300 },
    );
  });
});
