// The incremental compiler against the whole compiler: for random views and random pod changes the
// program is byte-identical to compileNodeProgram's, and the element delta it derives directly has
// the same elements as the delta computed from the two whole scripts. Plus the cases that must
// compile afresh (a new chain, the last pod of an address, a holder change).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { elementDelta } from "../nft/incremental.js";
import { compileNodeIncremental } from "./incremental.js";
import { compileNodeProgram } from "./node-program.js";
import type { EgressIPHolder, NodeView } from "./types.js";

const H = {
  n1: { ip: "192.168.126.101", node: "n1", nodeIP: "192.168.126.11" },
  n2: { ip: "192.168.126.102", node: "n2", nodeIP: "192.168.126.12" },
  n3: { ip: "192.168.126.103", node: "n3", nodeIP: "192.168.126.13" },
} satisfies Record<string, EgressIPHolder>;

function view(
  eips: { ips: EgressIPHolder[]; pods: string[] }[],
  projects: { pods: string[]; dropped: boolean }[] = [],
): NodeView {
  return {
    node: {
      name: "n1",
      nodeIP: "192.168.126.11",
      podSubnet: "10.128.0.0/23",
      bridge: "cbr0",
      interfaces: [{ name: "eth0", address: "192.168.126.11/18" }],
    },
    nodes: [
      { name: "n1", nodeIP: "192.168.126.11", podSubnet: "10.128.0.0/23" },
      { name: "n2", nodeIP: "192.168.126.12", podSubnet: "10.128.2.0/23" },
      { name: "n3", nodeIP: "192.168.126.13", podSubnet: "10.128.4.0/23" },
    ],
    clusterCIDRs: ["10.128.0.0/14"],
    serviceCIDR: "172.30.0.0/16",
    localPods: [],
    services: [],
    egressIPs: eips.map((e, i) => ({ name: `e${i}`, ips: e.ips, podIPs: e.pods })),
    projectEgress: projects.map((p, i) => ({
      namespace: `p${i}`,
      podIPs: p.pods,
      state: p.dropped
        ? { kind: "dropped" as const }
        : { kind: "normal" as const, egressIP: "192.168.126.104", node: "n1", nodeIP: "192.168.126.11" },
    })),
  };
}

/** "add|delete <map> <element>" per element, to compare deltas whatever their grouping. */
function elements(delta: string): string[] {
  const out: string[] = [];
  for (const line of delta.split("\n").filter(Boolean)) {
    const m = /^(add|delete) element inet egress-node (\S+) \{ (.*) \}$/.exec(line);
    assert.ok(m, line);
    for (const e of m[3]!.split(", ")) out.push(`${m[1]} ${m[2]} ${e}`);
  }
  return out.sort();
}

// Pods on this node (10.128.0.x) and on n2 (10.128.2.x).
const podArb = fc
  .tuple(fc.constantFrom("10.128.0.", "10.128.2."), fc.integer({ min: 2, max: 40 }))
  .map(([p, n]) => `${p}${n}`);
const holdersArb = fc.constantFrom<EgressIPHolder[]>([H.n1], [H.n2], [H.n2, H.n3], [H.n1, H.n3], []);

describe("compileNodeIncremental", () => {
  it("equals compileNodeProgram, and its delta equals the scripts' delta (random pod changes)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ ips: holdersArb, pods: fc.uniqueArray(podArb, { maxLength: 8 }) }), {
          minLength: 1,
          maxLength: 4,
        }),
        fc.array(fc.record({ pods: fc.uniqueArray(podArb, { maxLength: 4 }), dropped: fc.boolean() }), {
          maxLength: 2,
        }),
        fc.array(fc.tuple(fc.nat(), podArb, fc.boolean()), { minLength: 1, maxLength: 4 }),
        (eips, projects, changes) => {
          const before = view(eips, projects);
          const lists = [...eips.map((e) => [...e.pods]), ...projects.map((p) => [...p.pods])];
          for (const [i, pod, add] of changes) {
            const l = lists[i % lists.length]!;
            if (add && !l.includes(pod)) l.push(pod);
            if (!add && l.includes(pod)) l.splice(l.indexOf(pod), 1);
          }
          const after = view(
            eips.map((e, i) => ({ ips: e.ips, pods: lists[i]! })),
            projects.map((p, i) => ({ dropped: p.dropped, pods: lists[eips.length + i]! })),
          );
          const c0 = compileNodeIncremental(before);
          const c1 = compileNodeIncremental(after, c0);
          const whole0 = compileNodeProgram(before);
          const whole1 = compileNodeProgram(after);
          assert.equal(c0.program.nft, whole0.nft);
          assert.equal(c1.program.nft, whole1.nft);
          assert.deepEqual(c1.program.ip, whole1.ip);
          assert.deepEqual(c1.program.stats, whole1.stats);
          if (c1.delta !== undefined) {
            const textual = elementDelta(whole0.nft, whole1.nft);
            assert.ok(textual !== undefined, "incremental delta where the structure changed");
            assert.deepEqual(elements(c1.delta), elements(textual));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("one pod joining an EgressIP is an incremental one-line delta", () => {
    const pods = ["10.128.0.5", "10.128.0.6"];
    const c0 = compileNodeIncremental(
      view([
        { ips: [H.n2], pods },
        { ips: [H.n1], pods: ["10.128.2.9"] },
      ]),
    );
    const c1 = compileNodeIncremental(
      view([
        { ips: [H.n2], pods: [...pods, "10.128.0.7"] },
        { ips: [H.n1], pods: ["10.128.2.9"] },
      ]),
      c0,
    );
    assert.equal(c1.mode, "incremental");
    assert.equal(c1.delta, "add element inet egress-node egress_pods { 10.128.0.7 : goto egress-via-e0c }\n");
    // The previous program is untouched (models are copied, not changed).
    assert.equal(c0.program.stats.egressPods, 2);
    assert.equal(c1.program.stats.egressPods, 3);
  });

  it("compiles afresh when a chain, an address or a SNAT map appears or goes, or anything else changes", () => {
    const base = view([
      { ips: [H.n2], pods: ["10.128.0.5"] },
      { ips: [H.n1], pods: [] },
    ]);
    const c0 = compileNodeIncremental(base);
    const cases: [string, NodeView][] = [
      [
        "last pod of a chain leaves",
        view([
          { ips: [H.n2], pods: [] },
          { ips: [H.n1], pods: [] },
        ]),
      ],
      [
        "holder changes",
        view([
          { ips: [H.n3], pods: ["10.128.0.5"] },
          { ips: [H.n1], pods: [] },
        ]),
      ],
      [
        "first pod of an EgressIP held here (address and SNAT map appear)",
        view([
          { ips: [H.n2], pods: ["10.128.0.5"] },
          { ips: [H.n1], pods: ["10.128.0.9"] },
        ]),
      ],
      [
        "an EgressIP more",
        view([
          { ips: [H.n2], pods: ["10.128.0.5"] },
          { ips: [H.n1], pods: [] },
          { ips: [], pods: [] },
        ]),
      ],
    ];
    for (const [name, v] of cases) {
      const c = compileNodeIncremental(v, c0);
      assert.equal(c.mode, "full", name);
      assert.equal(c.delta, undefined, name);
      assert.equal(c.program.nft, compileNodeProgram(v).nft, name);
    }
    const same = compileNodeIncremental(base, c0);
    assert.equal(same.mode, "incremental");
    assert.equal(same.delta, "");
  });
});
