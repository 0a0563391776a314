import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { cidrsOverlap, parseCIDR } from "../../api/ip.js";
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
});
