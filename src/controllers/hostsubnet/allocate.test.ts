import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { type CIDR, cidrLast, cidrsOverlap, formatCIDR, parseCIDR } from "../../api/ip.js";
import { allocateHostSubnets, type ClusterNetworkConfig, ClusterNetworkError } from "./allocate.js";

const cfg: ClusterNetworkConfig = {
  clusterNetworks: [{ cidr: "10.128.0.0/14", hostSubnetLength: 9 }],
  serviceNetwork: "172.30.0.0/16",
};

describe("allocateHostSubnets", () => {
  it("hostSubnetLength 9 in a /14 gives /23s, lowest first", () => {
    const r = allocateHostSubnets(cfg, ["b", "a"], []);
    assert.deepEqual(r.create, [
      { node: "a", subnet: "10.128.0.0/23" },
      { node: "b", subnet: "10.128.2.0/23" },
    ]);
  });
  it("keeps existing allocations and fills holes", () => {
    const r = allocateHostSubnets(
      cfg,
      ["a", "b", "c"],
      [
        { name: "b", subnet: "10.128.0.0/23" },
        { name: "old", subnet: "10.128.2.0/23" },
      ],
    );
    assert.deepEqual(r.delete, ["old"]);
    assert.deepEqual(r.create, [
      { node: "a", subnet: "10.128.2.0/23" },
      { node: "c", subnet: "10.128.4.0/23" },
    ]);
  });
  it("second cluster network when the first is full; exhaustion → event", () => {
    const small: ClusterNetworkConfig = {
      clusterNetworks: [
        { cidr: "10.0.0.0/24", hostSubnetLength: 7 },
        { cidr: "10.1.0.0/24", hostSubnetLength: 8 },
      ],
      serviceNetwork: "172.30.0.0/16",
    };
    const r = allocateHostSubnets(small, ["a", "b", "c", "d"], []);
    assert.deepEqual(
      r.create.map((c) => c.subnet),
      ["10.0.0.0/25", "10.0.0.128/25", "10.1.0.0/24"],
    );
    assert.deepEqual(
      r.events.map((e) => [e.reason, e.object.name]),
      [["SubnetAllocationFailed", "d"]],
    );
  });
  it("overlapping existing subnets: the later name is re-created", () => {
    const r = allocateHostSubnets(
      cfg,
      ["a", "b"],
      [
        { name: "a", subnet: "10.128.0.0/23" },
        { name: "b", subnet: "10.128.1.0/24" },
      ],
    );
    assert.deepEqual(r.delete, ["b"]);
    assert.deepEqual(r.create, [{ node: "b", subnet: "10.128.2.0/23" }]);
    assert.equal(r.events[0]?.reason, "SubnetReallocated");
  });
  it("jumps over a larger foreign allocation, aligned", () => {
    const r = allocateHostSubnets(cfg, ["a", "x"], [{ name: "x", subnet: "10.128.0.0/22" }]);
    assert.deepEqual(r.create, [{ node: "a", subnet: "10.128.4.0/23" }]);
  });
  const bad: [string, ClusterNetworkConfig, string][] = [
    [
      "hostSubnetLength too big",
      { ...cfg, clusterNetworks: [{ cidr: "10.128.0.0/14", hostSubnetLength: 19 }] },
      "clusterNetworks[0].hostSubnetLength",
    ],
    [
      "host bits set",
      { ...cfg, clusterNetworks: [{ cidr: "10.128.0.1/14", hostSubnetLength: 9 }] },
      "clusterNetworks[0].cidr",
    ],
    ["overlaps service network", { ...cfg, serviceNetwork: "10.129.0.0/16" }, "clusterNetworks[0].cidr"],
    ["bad service network", { ...cfg, serviceNetwork: "x" }, "serviceNetwork"],
  ];
  for (const [name, c, field] of bad)
    it(`config error: ${name}`, () =>
      assert.throws(
        () => allocateHostSubnets(c, ["a"], []),
        (e: unknown) => e instanceof ClusterNetworkError && e.field === field,
      ));

  it("property: no overlap, inside the cluster network, existing kept, stable when fed back", () => {
    const small: ClusterNetworkConfig = {
      clusterNetworks: [{ cidr: "10.0.0.0/22", hostSubnetLength: 7 }],
      serviceNetwork: "172.30.0.0/16",
    };
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.boolean()), { maxLength: 10 }),
        fc.array(fc.nat(9), { maxLength: 5 }),
        (ns, gone) => {
          const names = ns.map((_, i) => `n${i}`);
          const r1 = allocateHostSubnets(small, names, []);
          const existing = [...r1.subnets].map(([name, subnet]) => ({ name, subnet }));
          const nodes2 = names.filter((_, i) => !gone.includes(i)).concat(["new1", "new2"]);
          const r2 = allocateHostSubnets(small, nodes2, existing);
          const subs = [...r2.subnets.values()].map((s) => parseCIDR(s)!);
          for (let i = 0; i < subs.length; i++)
            for (let j = i + 1; j < subs.length; j++) assert.ok(!cidrsOverlap(subs[i]!, subs[j]!));
          for (const s of subs) assert.ok(cidrsOverlap(s, parseCIDR("10.0.0.0/22")!));
          for (const [n, s] of r1.subnets) if (nodes2.includes(n)) assert.equal(r2.subnets.get(n), s);
          const r3 = allocateHostSubnets(
            small,
            nodes2,
            [...r2.subnets].map(([name, subnet]) => ({ name, subnet })),
          );
          assert.deepEqual(r3.create, []);
          assert.deepEqual(r3.delete, []);
        },
      ),
      { numRuns: 200 },
    );
  });
  it("property: same result as a plain linear-scan allocator (binary search, resumed sweeps)", () => {
    const cfg: ClusterNetworkConfig = {
      clusterNetworks: [
        { cidr: "10.0.0.0/24", hostSubnetLength: 4 },
        { cidr: "10.0.2.0/26", hostSubnetLength: 3 },
      ],
      serviceNetwork: "10.0.3.0/28",
    };
    const v4 = (n: number) => `10.0.${(n >> 8) & 255}.${n & 255}`;
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(1023), fc.integer({ min: 24, max: 30 }), fc.boolean()), { maxLength: 12 }),
        fc.integer({ min: 0, max: 30 }),
        (subs, extra) => {
          const existing = subs.map(([off, prefix, bad], i) => {
            const size = 2 ** (32 - prefix);
            return {
              name: `e${i}`,
              subnet: bad && i % 3 === 0 ? "junk" : `${v4(off - (off % size))}/${prefix}`,
            };
          });
          const nodes = [...existing.map((e) => e.name), ...Array.from({ length: extra }, (_, i) => `m${i}`)];
          assert.deepEqual(
            allocateHostSubnets(cfg, nodes, existing),
            referenceAllocate(cfg, nodes, existing),
          );
        },
      ),
      { numRuns: 300 },
    );
  });
});

/** The allocator as first written: a linear overlap scan and a block-by-block search from the
 *  start of each cluster network. Slow (O(N²)) but obviously right. */
function referenceAllocate(
  cfg: ClusterNetworkConfig,
  nodes: string[],
  existing: { name: string; subnet: string }[],
): ReturnType<typeof allocateHostSubnets> {
  const service = parseCIDR(cfg.serviceNetwork)!;
  const nets = cfg.clusterNetworks.map((n) => ({
    cidr: parseCIDR(n.cidr)!,
    prefix: 32 - n.hostSubnetLength,
  }));
  const taken: CIDR[] = [service];
  const events: ReturnType<typeof allocateHostSubnets>["events"] = [];
  const subnets = new Map<string, string>();
  const del: string[] = [];
  const nodeSet = new Set(nodes);
  for (const hs of [...existing].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (!nodeSet.has(hs.name)) {
      del.push(hs.name);
      continue;
    }
    const c = parseCIDR(hs.subnet);
    const clash = c ? taken.find((t) => cidrsOverlap(t, c)) : undefined;
    if (!c || clash) {
      events.push({
        type: "Warning",
        reason: "SubnetReallocated",
        message: !c
          ? `HostSubnet ${hs.name} has invalid subnet ${JSON.stringify(hs.subnet)}; allocating a new one`
          : `HostSubnet ${hs.name} subnet ${hs.subnet} overlaps ${formatCIDR(clash!)}; allocating a new one`,
        object: { kind: "HostSubnet", name: hs.name },
      });
      del.push(hs.name);
      continue;
    }
    if (!nets.some((n) => cidrsOverlap(n.cidr, c)))
      events.push({
        type: "Warning",
        reason: "SubnetOutsideClusterNetwork",
        message: `HostSubnet ${hs.name} subnet ${hs.subnet} is outside every clusterNetworks CIDR; kept`,
        object: { kind: "HostSubnet", name: hs.name },
      });
    taken.push(c);
    // Address order, so a clash names the lowest overlapping subnet.
    taken.sort((x, y) => (x.network < y.network ? -1 : x.network > y.network ? 1 : 0));
    subnets.set(hs.name, hs.subnet);
  }
  const create: { node: string; subnet: string }[] = [];
  for (const node of [...nodeSet].sort()) {
    if (subnets.has(node)) continue;
    let found: CIDR | undefined;
    for (const n of nets) {
      const size = 1n << BigInt(32 - n.prefix);
      for (let b = n.cidr.network; b + size - 1n <= cidrLast(n.cidr) && !found; b += size) {
        const cand: CIDR = { family: 4, network: b, prefix: n.prefix, address: b };
        if (!taken.some((t) => cidrsOverlap(t, cand))) found = cand;
      }
      if (found) break;
    }
    if (!found) {
      events.push({
        type: "Warning",
        reason: "SubnetAllocationFailed",
        message: `no free host subnet left in the cluster network for node ${node}`,
        object: { kind: "Node", name: node },
      });
      continue;
    }
    taken.push(found);
    subnets.set(node, formatCIDR(found));
    create.push({ node, subnet: formatCIDR(found) });
  }
  return { create, delete: del, subnets, events };
}
