import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { type AssignInput, assignEgressIPs, type EgressIPObject } from "./assign.js";
import { EGRESS_ASSIGNABLE_LABEL, type EgressNode, type Platform } from "./node.js";

const LBL = { [EGRESS_ASSIGNABLE_LABEL]: "" };

function node(name: string, ip: string, extra: Partial<EgressNode> = {}): EgressNode {
  return {
    name,
    labels: { ...LBL },
    ready: true,
    reachable: true,
    addresses: [ip],
    primaryIfAddr: { ipv4: `${ip}/24` },
    ...extra,
  };
}
function eip(
  name: string,
  ips: string[],
  status: { node: string; egressIP: string }[] = [],
  ts?: string,
): EgressIPObject {
  return { name, egressIPs: ips, status, ...(ts ? { creationTimestamp: ts } : {}) };
}
const run = (nodes: EgressNode[], eips: EgressIPObject[], platform: Platform = "BareMetal") =>
  assignEgressIPs({ nodes, egressIPs: eips, platform });
const nodesOf = (r: ReturnType<typeof run>, name: string) =>
  (r.status.get(name) ?? []).map((i) => `${i.egressIP}@${i.node}`);
const reasons = (r: ReturnType<typeof run>) => r.events.map((e) => e.reason);

describe("assignEgressIPs rules", () => {
  const n1 = node("n1", "10.0.0.1");
  const n2 = node("n2", "10.0.0.2");
  const n3 = node("n3", "10.0.0.3");

  const table: {
    name: string;
    nodes: EgressNode[];
    eips: EgressIPObject[];
    platform?: Platform;
    want: Record<string, string[]>;
    events?: string[];
  }[] = [
    {
      name: "least-assigned, ties by name",
      nodes: [n2, n1],
      eips: [eip("a", ["10.0.0.10"])],
      want: { a: ["10.0.0.10@n1"] },
    },
    {
      name: "one IP per node per EgressIP",
      nodes: [n1, n2],
      eips: [eip("a", ["10.0.0.10", "10.0.0.11"])],
      want: { a: ["10.0.0.10@n1", "10.0.0.11@n2"] },
    },
    {
      name: "spreads across EgressIPs: the next EgressIP starts on the least-loaded node",
      nodes: [n3, n2, n1],
      eips: [eip("a", ["10.0.0.10", "10.0.0.11"]), eip("b", ["10.0.0.20", "10.0.0.21"])],
      want: { a: ["10.0.0.10@n1", "10.0.0.11@n2"], b: ["10.0.0.20@n3", "10.0.0.21@n1"] },
    },
    {
      name: "more IPs than nodes → UnassignedRequest",
      nodes: [n1],
      eips: [eip("a", ["10.0.0.10", "10.0.0.11"])],
      want: { a: ["10.0.0.10@n1"] },
      events: ["UnassignedRequest"],
    },
    {
      name: "fewest total assignments across EgressIPs",
      nodes: [n1, n2],
      eips: [eip("a", ["10.0.0.10"], [{ node: "n1", egressIP: "10.0.0.10" }]), eip("b", ["10.0.0.20"])],
      want: { a: ["10.0.0.10@n1"], b: ["10.0.0.20@n2"] },
    },
    {
      name: "node without the label is not eligible",
      nodes: [node("n1", "10.0.0.1", { labels: {} }), n2],
      eips: [eip("a", ["10.0.0.10"])],
      want: { a: ["10.0.0.10@n2"] },
    },
    {
      name: "label value does not matter",
      nodes: [node("n1", "10.0.0.1", { labels: { [EGRESS_ASSIGNABLE_LABEL]: "false" } })],
      eips: [eip("a", ["10.0.0.10"])],
      want: { a: ["10.0.0.10@n1"] },
    },
    {
      name: "NotReady node is not eligible",
      nodes: [node("n1", "10.0.0.1", { ready: false }), n2],
      eips: [eip("a", ["10.0.0.10"])],
      want: { a: ["10.0.0.10@n2"] },
    },
    {
      name: "unreachable node is not eligible",
      nodes: [node("n1", "10.0.0.1", { reachable: false }), n2],
      eips: [eip("a", ["10.0.0.10"])],
      want: { a: ["10.0.0.10@n2"] },
    },
    {
      name: "hostNetwork-only node is not eligible",
      nodes: [node("n1", "10.0.0.1", { hostNetworkOnly: true }), n2],
      eips: [eip("a", ["10.0.0.10"])],
      want: { a: ["10.0.0.10@n2"] },
    },
    {
      name: "no labelled node → NoMatchingNodeFound",
      nodes: [node("n1", "10.0.0.1", { labels: {} })],
      eips: [eip("a", ["10.0.0.10"])],
      want: { a: [] },
      events: ["NoMatchingNodeFound"],
    },
    {
      name: "IP outside every node network → NoMatchingNodeFound",
      nodes: [n1],
      eips: [eip("a", ["192.168.9.9"])],
      want: { a: [] },
      events: ["NoMatchingNodeFound"],
    },
    {
      name: "node IP → EgressIPConflict (even of a non-eligible node)",
      nodes: [n1, node("n9", "10.0.0.9", { labels: {} })],
      eips: [eip("a", ["10.0.0.9"])],
      want: { a: [] },
      events: ["EgressIPConflict"],
    },
    {
      name: "invalid IP → InvalidEgressIP, others still assigned",
      nodes: [n1],
      eips: [eip("a", ["10.0.0.10/24", "10.0.0.11"])],
      want: { a: ["10.0.0.11@n1"] },
      events: ["InvalidEgressIP"],
    },
    {
      name: "IP claimed by two EgressIPs: older wins, newer UnsupportedRequest",
      nodes: [n1, n2],
      eips: [
        eip("z", ["10.0.0.10"], [], "2024-01-01T00:00:00Z"),
        eip("a", ["10.0.0.10"], [], "2024-02-01T00:00:00Z"),
      ],
      want: { z: ["10.0.0.10@n1"], a: [] },
      events: ["UnsupportedRequest"],
    },
    {
      name: "IP claimed by two EgressIPs: the current holder keeps it",
      nodes: [n1, n2],
      eips: [
        eip("old", ["10.0.0.10"], [], "2024-01-01T00:00:00Z"),
        eip("new", ["10.0.0.10"], [{ node: "n2", egressIP: "10.0.0.10" }], "2024-02-01T00:00:00Z"),
      ],
      want: { old: [], new: ["10.0.0.10@n2"] },
      events: ["UnsupportedRequest"],
    },
    {
      name: "same age: name decides",
      nodes: [n1],
      eips: [eip("b", ["10.0.0.10"]), eip("a", ["10.0.0.10"])],
      want: { a: ["10.0.0.10@n1"], b: [] },
      events: ["UnsupportedRequest"],
    },
    {
      name: "IPv6 via primary ifaddr; IPv6 text compared canonically",
      nodes: [node("n1", "10.0.0.1", { primaryIfAddr: { ipv4: "10.0.0.1/24", ipv6: "fd00::1/64" } })],
      eips: [eip("a", ["FD00:0::10"], [{ node: "n1", egressIP: "fd00::10" }])],
      want: { a: ["FD00:0::10@n1"] },
    },
    {
      name: "host-cidrs secondary network",
      nodes: [node("n1", "10.0.0.1", { hostCIDRs: ["10.0.0.1/24", "172.16.5.1/16"] }), n2],
      eips: [eip("a", ["172.16.9.9"])],
      want: { a: ["172.16.9.9@n1"] },
    },
  ];
  for (const t of table)
    it(t.name, () => {
      const r = run(t.nodes, t.eips, t.platform);
      for (const [k, v] of Object.entries(t.want)) assert.deepEqual(nodesOf(r, k), v, k);
      assert.deepEqual(reasons(r).sort(), [...(t.events ?? [])].sort());
    });

  it("sticky: a recovered node takes nothing back", () => {
    const eips = [eip("a", ["10.0.0.10"])];
    const r1 = run([n1, n2], eips);
    assert.deepEqual(nodesOf(r1, "a"), ["10.0.0.10@n1"]);
    const down = run(
      [node("n1", "10.0.0.1", { ready: false }), n2],
      [eip("a", ["10.0.0.10"], r1.status.get("a"))],
    );
    assert.deepEqual(nodesOf(down, "a"), ["10.0.0.10@n2"]);
    assert.deepEqual(down.moves, [{ egressIP: "a", ip: "10.0.0.10", from: "n1", to: "n2" }]);
    const back = run([n1, n2], [eip("a", ["10.0.0.10"], down.status.get("a"))]);
    assert.deepEqual(nodesOf(back, "a"), ["10.0.0.10@n2"]);
    assert.deepEqual(back.changed, []);
  });

  it("failover: losing the label moves the IP; no eligible node → status emptied", () => {
    const cur = [{ node: "n1", egressIP: "10.0.0.10" }];
    const r = run([node("n1", "10.0.0.1", { labels: {} }), n2], [eip("a", ["10.0.0.10"], cur)]);
    assert.deepEqual(nodesOf(r, "a"), ["10.0.0.10@n2"]);
    const r2 = run([node("n1", "10.0.0.1", { reachable: false })], [eip("a", ["10.0.0.10"], cur)]);
    assert.deepEqual(nodesOf(r2, "a"), []);
    assert.deepEqual(r2.changed, ["a"]);
    assert.deepEqual(reasons(r2), ["NoMatchingNodeFound"]);
  });

  it("removals before additions: an IP removed from spec frees its node for the new one", () => {
    const r = run([n1], [eip("a", ["10.0.0.11"], [{ node: "n1", egressIP: "10.0.0.10" }])]);
    assert.deepEqual(nodesOf(r, "a"), ["10.0.0.11@n1"]);
  });

  it("status item pointing at a node that no longer contains the IP is dropped and re-placed", () => {
    const r = run(
      [n1, node("n2", "10.0.1.2")],
      [eip("a", ["10.0.0.10"], [{ node: "n2", egressIP: "10.0.0.10" }])],
    );
    assert.deepEqual(nodesOf(r, "a"), ["10.0.0.10@n1"]);
  });

  it("pending IP is placed as soon as a node fits", () => {
    const r1 = run([n1], [eip("a", ["10.0.0.10", "10.0.0.11"])]);
    assert.equal(r1.status.get("a")!.length, 1);
    const r2 = run([n1, n2], [eip("a", ["10.0.0.10", "10.0.0.11"], r1.status.get("a"))]);
    assert.deepEqual(nodesOf(r2, "a"), ["10.0.0.10@n1", "10.0.0.11@n2"]);
    assert.deepEqual(r2.moves, [{ egressIP: "a", ip: "10.0.0.11", to: "n2" }]);
  });

  it("changed ignores status order", () => {
    const st = [
      { node: "n2", egressIP: "10.0.0.11" },
      { node: "n1", egressIP: "10.0.0.10" },
    ];
    const r = run([n1, n2], [eip("a", ["10.0.0.10", "10.0.0.11"], st)]);
    assert.deepEqual(r.changed, []);
  });
});

describe("assignEgressIPs on clouds", () => {
  const cloudNode = (
    name: string,
    ip: string,
    capacity: { ipv4?: number; ipv6?: number; ip?: number },
    extra: Partial<EgressNode> = {},
  ) =>
    node(name, ip, {
      cloudConfig: { interface: "eni-1", ifaddr: { ipv4: "10.0.128.0/18", ipv6: "fd00:1::/64" }, capacity },
      ...extra,
    });

  it("AWS per-family capacity and capacity left = capacity − current", () => {
    const nodes = [
      cloudNode("a1", "10.0.128.1", { ipv4: 1, ipv6: 1 }),
      cloudNode("a2", "10.0.128.2", { ipv4: 1, ipv6: 0 }),
    ];
    const r = run(
      nodes,
      [eip("x", ["10.0.128.10", "fd00:1::10"]), eip("y", ["10.0.128.11", "10.0.128.12"])],
      "AWS",
    );
    // x's IPv6 cannot go to a1 (already holds x) nor a2 (no IPv6 capacity).
    assert.deepEqual(nodesOf(r, "x"), ["10.0.128.10@a1"]);
    assert.deepEqual(nodesOf(r, "y"), ["10.0.128.11@a2"]);
    assert.ok(reasons(r).includes("UnassignedRequest"));
  });

  it("GCP/Azure shared capacity counts both families", () => {
    const nodes = [cloudNode("g1", "10.0.128.1", { ip: 1 })];
    const r = run(nodes, [eip("x", ["10.0.128.10"]), eip("y", ["fd00:1::10"])], "GCP");
    assert.deepEqual(nodesOf(r, "x"), ["10.0.128.10@g1"]);
    assert.deepEqual(nodesOf(r, "y"), []);
  });

  it("existing assignments over capacity are kept (sticky), nothing new is added", () => {
    const nodes = [cloudNode("g1", "10.0.128.1", { ip: 0 })];
    const r = run(nodes, [eip("x", ["10.0.128.10"], [{ node: "g1", egressIP: "10.0.128.10" }])], "Azure");
    assert.deepEqual(nodesOf(r, "x"), ["10.0.128.10@g1"]);
  });

  it("AWS control-plane nodes are excluded; node without egress-ipconfig is excluded on cloud", () => {
    const cp = cloudNode(
      "cp",
      "10.0.128.1",
      { ipv4: 5 },
      { labels: { ...LBL, "node-role.kubernetes.io/control-plane": "" } },
    );
    const bare = node("w0", "10.0.128.3");
    const w = cloudNode("w1", "10.0.128.2", { ipv4: 5 });
    const r = run([cp, bare, w], [eip("x", ["10.0.128.10"])], "AWS");
    assert.deepEqual(nodesOf(r, "x"), ["10.0.128.10@w1"]);
    const g = run([cp], [eip("x", ["10.0.128.10"])], "GCP");
    assert.deepEqual(nodesOf(g, "x"), ["10.0.128.10@cp"]);
  });

  it("CloudPrivateIPConfig names: IPv4 as is, IPv6 expanded with dots", () => {
    const nodes = [cloudNode("a1", "10.0.128.1", { ip: 5 }), cloudNode("a2", "10.0.128.2", { ip: 5 })];
    const r = run(nodes, [eip("x", ["10.0.128.10", "fd00:1::54"])], "Azure");
    assert.deepEqual(
      r.cloudPrivateIPConfigs.map((c) => [c.name, c.node]),
      [
        ["10.0.128.10", "a1"],
        ["fd00.0001.0000.0000.0000.0000.0000.0054", "a2"],
      ],
    );
    assert.deepEqual(run(nodes, [eip("x", ["10.0.0.5"])], "BareMetal").cloudPrivateIPConfigs, []);
  });
});

// ---- properties ----------------------------------------------------------------------------------

const arbInput = fc
  .record({
    nodes: fc.array(
      fc.record({
        subnet: fc.integer({ min: 0, max: 2 }),
        labelled: fc.boolean(),
        ready: fc.boolean(),
        reachable: fc.boolean(),
      }),
      { minLength: 0, maxLength: 8 },
    ),
    eips: fc.array(
      fc.record({
        ips: fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 1, max: 12 })), {
          maxLength: 4,
        }),
        age: fc.integer({ min: 0, max: 3 }),
      }),
      { maxLength: 6 },
    ),
  })
  .map(
    ({ nodes, eips }): AssignInput => ({
      platform: "BareMetal",
      nodes: nodes.map((n, i) => ({
        name: `node-${String(i).padStart(2, "0")}`,
        labels: n.labelled ? { ...LBL } : {},
        ready: n.ready,
        reachable: n.reachable,
        addresses: [`10.${n.subnet}.0.${200 + i}`],
        primaryIfAddr: { ipv4: `10.${n.subnet}.0.${200 + i}/24` },
      })),
      egressIPs: eips.map((e, i) => ({
        name: `eip-${i}`,
        creationTimestamp: `2024-01-0${e.age + 1}T00:00:00Z`,
        egressIPs: [...new Set(e.ips.map(([s, h]) => `10.${s}.0.${h}`))],
        status: [],
      })),
    }),
  );

function feedBack(input: AssignInput, r: ReturnType<typeof assignEgressIPs>): AssignInput {
  return { ...input, egressIPs: input.egressIPs.map((e) => ({ ...e, status: r.status.get(e.name) ?? [] })) };
}

function checkInvariants(input: AssignInput, r: ReturnType<typeof assignEgressIPs>): void {
  const eligible = new Set(
    input.nodes
      .filter((n) => Object.hasOwn(n.labels, EGRESS_ASSIGNABLE_LABEL) && n.ready && n.reachable)
      .map((n) => n.name),
  );
  const ipOwner = new Map<string, string>();
  for (const [name, items] of r.status) {
    const perNode = new Set<string>();
    for (const it of items) {
      assert.ok(eligible.has(it.node), `${it.node} not eligible`);
      assert.ok(!perNode.has(it.node), `two IPs of ${name} on ${it.node}`);
      perNode.add(it.node);
      assert.ok(!ipOwner.has(it.egressIP), `${it.egressIP} assigned twice`);
      ipOwner.set(it.egressIP, it.node);
      const n = input.nodes.find((x) => x.name === it.node)!;
      const subnet = n.primaryIfAddr!.ipv4!.split(".").slice(0, 2).join(".");
      assert.ok(it.egressIP.startsWith(`${subnet}.`), "IP outside node network");
    }
  }
}

describe("assignEgressIPs properties", () => {
  it("an IP on at most one node, one IP per EgressIP per node, only eligible nodes", () => {
    fc.assert(
      fc.property(arbInput, (input) => {
        const r = assignEgressIPs(input);
        checkInvariants(input, r);
        checkInvariants(feedBack(input, r), assignEgressIPs(feedBack(input, r)));
      }),
      { numRuns: 300 },
    );
  });

  it("idempotent: feeding the result back moves nothing", () => {
    fc.assert(
      fc.property(arbInput, (input) => {
        const r1 = assignEgressIPs(input);
        const r2 = assignEgressIPs(feedBack(input, r1));
        assert.deepEqual(r2.moves, []);
        assert.deepEqual(r2.changed, []);
        assert.deepEqual([...r2.status], [...r1.status]);
      }),
      { numRuns: 300 },
    );
  });

  it("no move without a cause: an unrelated new EgressIP or new node moves no existing assignment", () => {
    fc.assert(
      fc.property(arbInput, fc.boolean(), (input, addNode) => {
        const settled = feedBack(input, assignEgressIPs(input));
        const changed: AssignInput = addNode
          ? {
              ...settled,
              nodes: [
                ...settled.nodes,
                {
                  name: "aaa-new",
                  labels: { ...LBL },
                  ready: true,
                  reachable: true,
                  addresses: ["10.0.0.250"],
                  primaryIfAddr: { ipv4: "10.0.0.250/24" },
                },
              ],
            }
          : {
              ...settled,
              egressIPs: [...settled.egressIPs, { name: "zzz-new", egressIPs: ["10.1.0.77"], status: [] }],
            };
        const r = assignEgressIPs(changed);
        assert.ok(
          r.moves.every((m) => m.from === undefined),
          JSON.stringify(r.moves),
        );
      }),
      { numRuns: 300 },
    );
  });

  it("a failing node: only its IPs move", () => {
    fc.assert(
      fc.property(arbInput, fc.nat(), (input, pick) => {
        const settled = feedBack(input, assignEgressIPs(input));
        if (settled.nodes.length === 0) return;
        const victim = settled.nodes[pick % settled.nodes.length]!;
        const after = assignEgressIPs({
          ...settled,
          nodes: settled.nodes.map((n) => (n === victim ? { ...n, ready: false } : n)),
        });
        for (const m of after.moves) if (m.from !== undefined) assert.equal(m.from, victim.name);
      }),
      { numRuns: 300 },
    );
  });
});
