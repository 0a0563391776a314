import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { allocateProjectEgressIPs, type ProjectEgressSpec, type SDNEgressNode } from "./egress-cidrs.js";

const node = (name: string, hostIP: string, extra: Partial<SDNEgressNode> = {}): SDNEgressNode => ({
  name,
  hostIP,
  online: true,
  primarySubnet: "10.0.0.0/24",
  egressCIDRs: [],
  egressIPs: [],
  ...extra,
});
const proj = (name: string, ...egressIPs: string[]): ProjectEgressSpec => ({ name, netid: 100, egressIPs });
const placement = (r: ReturnType<typeof allocateProjectEgressIPs>) =>
  Object.fromEntries(r.hostSubnetEgressIPs);
const states = (r: ReturnType<typeof allocateProjectEgressIPs>) =>
  Object.fromEntries(
    [...r.projects].map(([k, v]) => [k, v.state === "normal" ? `normal@${v.node}` : v.state]),
  );

describe("allocateProjectEgressIPs: manual", () => {
  it("HostSubnet.egressIPs hosts the project's IP → normal; none without egressIPs", () => {
    const r = allocateProjectEgressIPs(
      [node("n1", "10.0.0.1", { egressIPs: ["10.0.0.100"] })],
      [proj("p1", "10.0.0.100"), proj("p2")],
    );
    assert.deepEqual(states(r), { p1: "normal@n1", p2: "none" });
    assert.deepEqual(r.projects.get("p1"), {
      state: "normal",
      egressIP: "10.0.0.100",
      node: "n1",
      nodeIP: "10.0.0.1",
    });
    assert.deepEqual(placement(r), {});
  });
  it("only the first IP is used; others ignored with an event", () => {
    const r = allocateProjectEgressIPs(
      [node("n1", "10.0.0.1", { egressIPs: ["10.0.0.101"] })],
      [proj("p1", "10.0.0.100", "10.0.0.101")],
    );
    assert.deepEqual(states(r), { p1: "dropped" });
    assert.deepEqual(
      r.events.map((e) => e.reason),
      ["EgressIPsIgnored", "EgressIPNotHosted"],
    );
  });
  it("not hosted anywhere → dropped", () => {
    const r = allocateProjectEgressIPs([node("n1", "10.0.0.1")], [proj("p1", "10.0.0.100")]);
    assert.deepEqual(states(r), { p1: "dropped" });
  });
  it("hosting node offline → dropped", () => {
    const r = allocateProjectEgressIPs(
      [node("n1", "10.0.0.1", { online: false, egressIPs: ["10.0.0.100"] })],
      [proj("p1", "10.0.0.100")],
    );
    assert.deepEqual(r.projects.get("p1"), {
      state: "dropped",
      egressIP: "10.0.0.100",
      reason: "hosting node n1 is offline",
    });
  });
  it("IP outside the node's subnet is not hosted", () => {
    const r = allocateProjectEgressIPs(
      [node("n1", "10.0.0.1", { egressIPs: ["10.9.0.100"] })],
      [proj("p1", "10.9.0.100")],
    );
    assert.deepEqual(states(r), { p1: "dropped" });
    assert.ok(r.events.some((e) => e.reason === "EgressIPNotInSubnet"));
  });
  it("IP listed on two nodes → not hosted", () => {
    const r = allocateProjectEgressIPs(
      [
        node("n1", "10.0.0.1", { egressIPs: ["10.0.0.100"] }),
        node("n2", "10.0.0.2", { egressIPs: ["10.0.0.100"] }),
      ],
      [proj("p1", "10.0.0.100")],
    );
    assert.deepEqual(states(r), { p1: "dropped" });
  });
  it("IP claimed by two projects → both dropped", () => {
    const r = allocateProjectEgressIPs(
      [node("n1", "10.0.0.1", { egressIPs: ["10.0.0.100"] })],
      [proj("p1", "10.0.0.100"), proj("p2", "10.0.0.100")],
    );
    assert.deepEqual(states(r), { p1: "dropped", p2: "dropped" });
    assert.deepEqual(
      r.events.map((e) => e.reason),
      ["EgressIPConflict", "EgressIPConflict"],
    );
  });
});

describe("allocateProjectEgressIPs: egressCIDRs", () => {
  const auto = (name: string, ip: string, cidrs: string[], extra: Partial<SDNEgressNode> = {}) =>
    node(name, ip, { egressCIDRs: cidrs, ...extra });

  it("fewest IPs first, ties by name", () => {
    const r = allocateProjectEgressIPs(
      [auto("n2", "10.0.0.2", ["10.0.0.0/24"]), auto("n1", "10.0.0.1", ["10.0.0.0/24"])],
      [proj("a", "10.0.0.100"), proj("b", "10.0.0.101"), proj("c", "10.0.0.102")],
    );
    assert.deepEqual(placement(r), { n1: ["10.0.0.100", "10.0.0.102"], n2: ["10.0.0.101"] });
    assert.deepEqual(states(r), { a: "normal@n1", b: "normal@n2", c: "normal@n1" });
    assert.deepEqual(r.changed, ["n1", "n2"]);
  });
  it("IPs that fit only one node are placed first", () => {
    // .100 fits n1 and n2; .200 fits only n1 (10.0.0.192/26). Without the single-node pass .100
    // would take n1 and .200 would still go to n1; with it, .200 goes first and .100 goes to n2.
    const r = allocateProjectEgressIPs(
      [auto("n1", "10.0.0.1", ["10.0.0.0/24"]), auto("n2", "10.0.0.2", ["10.0.0.64/26"])],
      [proj("a", "10.0.0.100"), proj("b", "10.0.0.200")],
    );
    assert.deepEqual(placement(r), { n1: ["10.0.0.200"], n2: ["10.0.0.100"] });
  });
  it("sticky: an online node keeps its IPs; an offline node's IPs move", () => {
    const nodes = [
      auto("n1", "10.0.0.1", ["10.0.0.0/24"], { egressIPs: ["10.0.0.100"] }),
      auto("n2", "10.0.0.2", ["10.0.0.0/24"]),
    ];
    const r = allocateProjectEgressIPs(nodes, [proj("a", "10.0.0.100")]);
    assert.deepEqual(placement(r), { n1: ["10.0.0.100"], n2: [] });
    assert.deepEqual(r.changed, []);
    const r2 = allocateProjectEgressIPs(
      [{ ...nodes[0]!, online: false }, nodes[1]!],
      [proj("a", "10.0.0.100")],
    );
    assert.deepEqual(placement(r2), { n1: [], n2: ["10.0.0.100"] });
  });
  it("rebalance when a node holds fewer than half its fair share", () => {
    const four = ["10.0.0.100", "10.0.0.101", "10.0.0.102", "10.0.0.103"];
    const nodes = [
      auto("n1", "10.0.0.1", ["10.0.0.0/24"], { egressIPs: four }),
      auto("n2", "10.0.0.2", ["10.0.0.0/24"]),
    ];
    const r = allocateProjectEgressIPs(
      nodes,
      four.map((ip, i) => proj(`p${i}`, ip)),
    );
    assert.deepEqual(placement(r), { n1: ["10.0.0.100", "10.0.0.101"], n2: ["10.0.0.102", "10.0.0.103"] });
    // 3 vs 1 with fair share 2: n2 holds 1 ≥ 2/2 → no rebalance.
    const r2 = allocateProjectEgressIPs(
      [
        auto("n1", "10.0.0.1", ["10.0.0.0/24"], { egressIPs: four.slice(0, 3) }),
        auto("n2", "10.0.0.2", ["10.0.0.0/24"], { egressIPs: four.slice(3) }),
      ],
      four.map((ip, i) => proj(`p${i}`, ip)),
    );
    assert.deepEqual(r2.changed, []);
  });
  it("manual IPs are not auto-placed", () => {
    const r = allocateProjectEgressIPs(
      [node("m", "10.0.0.9", { egressIPs: ["10.0.0.100"] }), auto("n1", "10.0.0.1", ["10.0.0.0/24"])],
      [proj("a", "10.0.0.100")],
    );
    assert.deepEqual(placement(r), { n1: [] });
    assert.deepEqual(states(r), { a: "normal@m" });
  });

  it("property: an IP on at most one node, inside its egressCIDRs; fed back nothing moves", () => {
    const arb = fc.record({
      nodes: fc.array(
        fc.record({
          cidr: fc.constantFrom("10.0.0.0/24", "10.0.0.0/25", "10.0.0.128/25"),
          online: fc.boolean(),
        }),
        { maxLength: 5 },
      ),
      ips: fc.uniqueArray(fc.integer({ min: 2, max: 254 }), { maxLength: 12 }),
    });
    fc.assert(
      fc.property(arb, ({ nodes: ns, ips }) => {
        const nodes = ns.map((n, i) => auto(`n${i}`, `10.1.0.${i + 1}`, [n.cidr], { online: n.online }));
        const projects = ips.map((h, i) => proj(`p${i}`, `10.0.0.${h}`));
        const r1 = allocateProjectEgressIPs(nodes, projects);
        const seen = new Set<string>();
        for (const [name, list] of r1.hostSubnetEgressIPs) {
          const n = ns[Number(name.slice(1))]!;
          if (!n.online) assert.deepEqual(list, []);
          for (const ip of list) {
            assert.ok(!seen.has(ip));
            seen.add(ip);
            const h = Number(ip.split(".")[3]);
            if (n.cidr === "10.0.0.0/25") assert.ok(h < 128);
            if (n.cidr === "10.0.0.128/25") assert.ok(h >= 128);
          }
        }
        const fed = nodes.map((n) => ({ ...n, egressIPs: r1.hostSubnetEgressIPs.get(n.name) ?? [] }));
        const r2 = allocateProjectEgressIPs(fed, projects);
        assert.deepEqual(r2.changed, []);
        assert.deepEqual([...r2.projects], [...r1.projects]);
      }),
      { numRuns: 300 },
    );
  });
});
