import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  type AssignInput,
  type AssignResult,
  assignEgressIPs,
  EgressIPAssigner,
  type EgressIPObject,
} from "./assign.js";
import { assignEgressIPsReference } from "./assign-reference.js";
import { CONTROL_PLANE_LABELS, EGRESS_ASSIGNABLE_LABEL, type EgressNode, type Platform } from "./node.js";

// EgressIPAssigner must return exactly what assignEgressIPs returns for the same input, whatever
// happened before, and both exactly what the frozen pre-incremental implementation returns. The sequences below change nodes (replaced objects, added, removed, same
// object kept), EgressIPs (spec, status, age) and feed results back as the controller does.

const LBL = { [EGRESS_ASSIGNABLE_LABEL]: "" };

const arbNode = fc.record({
  subnet: fc.integer({ min: 0, max: 2 }),
  prefix: fc.constantFrom(16, 24, 24, 24, 25),
  host: fc.integer({ min: 200, max: 254 }),
  labelled: fc.boolean(),
  ready: fc.boolean(),
  reachable: fc.boolean(),
  controlPlane: fc.boolean(),
  v6: fc.boolean(),
  hostCIDR: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
  extraAddress: fc.option(fc.integer({ min: 1, max: 12 }), { nil: undefined }),
  cloud: fc.option(
    fc.oneof(
      fc.record({ ip: fc.integer({ min: 0, max: 3 }) }),
      fc.record({ ipv4: fc.integer({ min: 0, max: 3 }), ipv6: fc.integer({ min: 0, max: 2 }) }),
    ),
    { nil: undefined },
  ),
});
type NodeFields = typeof arbNode extends fc.Arbitrary<infer T> ? T : never;

function makeNode(name: string, f: NodeFields): EgressNode {
  const ip = `10.${f.subnet}.0.${f.host}`;
  const labels: Record<string, string> = f.labelled ? { ...LBL } : {};
  if (f.controlPlane) labels[CONTROL_PLANE_LABELS[0]!] = "";
  const n: EgressNode = {
    name,
    labels,
    ready: f.ready,
    reachable: f.reachable,
    addresses: [ip, ...(f.extraAddress === undefined ? [] : [`10.${f.subnet}.0.${f.extraAddress}`])],
    primaryIfAddr: { ipv4: `${ip}/${f.prefix}`, ...(f.v6 ? { ipv6: `fd00:${f.subnet}::${f.host}/64` } : {}) },
  };
  if (f.hostCIDR !== undefined) n.hostCIDRs = [`10.${f.hostCIDR}.0.${f.host}/24`];
  if (f.cloud)
    n.cloudConfig = {
      ifaddr: { ipv4: `10.${f.subnet}.0.0/${f.prefix}`, ...(f.v6 ? { ipv6: `fd00:${f.subnet}::/64` } : {}) },
      capacity: f.cloud,
    };
  return n;
}

const arbIP = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 1, max: 14 }))
      .map(([s, h]) => `10.${s}.0.${h}`),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 1, max: 6 }))
      .map(([s, h]) => `fd00:${s}::${h}`),
  },
  { weight: 1, arbitrary: fc.constantFrom("10.0.0.200", "10.1.0.201", "not-an-ip", "10.0.0.01") },
);
const arbTimestamp = fc.oneof(
  fc.integer({ min: 1, max: 4 }).map((d) => `2024-01-0${d}T00:00:00Z`),
  fc.constant(undefined),
  fc.constant("garbage"),
);
const arbEIP = fc.record({
  ips: fc.array(arbIP, { maxLength: 4 }),
  ts: arbTimestamp,
});
const nodeNames = fc.integer({ min: 0, max: 9 }).map((i) => `node-${i}`);
const eipNames = fc.integer({ min: 0, max: 6 }).map((i) => `eip-${i}`);

type Cmd =
  | { k: "setNode"; name: string; f: NodeFields }
  | { k: "touchNode"; name: string } // same content, new object
  | { k: "delNode"; name: string }
  | { k: "setEIP"; name: string; ips: string[]; ts: string | undefined }
  | { k: "delEIP"; name: string }
  | { k: "status"; name: string; items: { node: string; egressIP: string }[] }
  | { k: "feedBack" }
  | { k: "platform"; p: Platform };

const arbCmd: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ k: fc.constant("setNode" as const), name: nodeNames, f: arbNode }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant("touchNode" as const), name: nodeNames }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant("delNode" as const), name: nodeNames }) },
  {
    weight: 4,
    arbitrary: fc.record({
      k: fc.constant("setEIP" as const),
      name: eipNames,
      ips: arbEIP.map((e) => e.ips),
      ts: arbTimestamp,
    }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("delEIP" as const), name: eipNames }) },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant("status" as const),
      name: eipNames,
      items: fc.array(fc.record({ node: nodeNames, egressIP: arbIP }), { maxLength: 3 }),
    }),
  },
  { weight: 6, arbitrary: fc.constant({ k: "feedBack" as const }) },
  {
    weight: 1,
    arbitrary: fc.record({
      k: fc.constant("platform" as const),
      p: fc.constantFrom<Platform>("BareMetal", "AWS", "GCP"),
    }),
  },
);

/** Applies commands to a cluster, replacing only the objects a command changes. */
function* inputs(initialPlatform: Platform, cmds: Cmd[]): Generator<AssignInput, void, AssignResult> {
  const nodes = new Map<string, EgressNode>();
  const eips = new Map<string, EgressIPObject>();
  let platform = initialPlatform;
  let last: AssignResult | undefined;
  for (const c of cmds) {
    switch (c.k) {
      case "setNode":
        nodes.set(c.name, makeNode(c.name, c.f));
        break;
      case "touchNode": {
        const n = nodes.get(c.name);
        if (n) nodes.set(c.name, { ...n });
        break;
      }
      case "delNode":
        nodes.delete(c.name);
        break;
      case "setEIP": {
        const old = eips.get(c.name);
        eips.set(c.name, {
          name: c.name,
          egressIPs: c.ips,
          status: old?.status ?? [],
          ...(c.ts === undefined ? {} : { creationTimestamp: c.ts }),
        });
        break;
      }
      case "delEIP":
        eips.delete(c.name);
        break;
      case "status": {
        const old = eips.get(c.name);
        if (old) eips.set(c.name, { ...old, status: c.items });
        break;
      }
      case "feedBack":
        if (last)
          for (const name of last.changed) {
            const old = eips.get(name);
            if (old) eips.set(name, { ...old, status: last.status.get(name) ?? [] });
          }
        break;
      case "platform":
        platform = c.p;
        break;
    }
    last = yield { platform, nodes: [...nodes.values()], egressIPs: [...eips.values()] };
  }
}

function comparable(r: AssignResult) {
  return { ...r, status: [...r.status] };
}

describe("EgressIPAssigner (incremental) equals assignEgressIPs (full)", () => {
  it("incremental == full over random event sequences", () => {
    fc.assert(
      fc.property(
        fc.constantFrom<Platform>("BareMetal", "BareMetal", "AWS", "GCP"),
        fc.array(arbCmd, { minLength: 1, maxLength: 40 }),
        (platform, cmds) => {
          const inc = new EgressIPAssigner();
          const gen = inputs(platform, cmds);
          let step = gen.next(undefined as unknown as AssignResult);
          while (!step.done) {
            const input = step.value;
            const full = assignEgressIPs(input);
            const got = inc.assign(input);
            assert.deepEqual(comparable(got), comparable(full));
            assert.deepEqual(comparable(full), comparable(assignEgressIPsReference(input)));
            step = gen.next(full);
          }
        },
      ),
      { numRuns: 400 },
    );
  });

  it("assignEgressIPs equals the reference on random clusters (first placement and settled)", () => {
    fc.assert(
      fc.property(
        fc.array(arbNode, { minLength: 1, maxLength: 10 }),
        fc.array(arbEIP, { maxLength: 7 }),
        fc.constantFrom<Platform>("BareMetal", "AWS", "GCP"),
        (ns, es, platform) => {
          const input: AssignInput = {
            platform,
            nodes: ns.map((f, i) => makeNode(`node-${i}`, f)),
            egressIPs: es.map((e, i) => ({
              name: `eip-${i}`,
              egressIPs: e.ips,
              status: [],
              ...(e.ts === undefined ? {} : { creationTimestamp: e.ts }),
            })),
          };
          const ref = assignEgressIPsReference(input);
          assert.deepEqual(comparable(assignEgressIPs(input)), comparable(ref));
          const settled: AssignInput = {
            ...input,
            egressIPs: input.egressIPs.map((e) => ({ ...e, status: ref.status.get(e.name) ?? [] })),
          };
          assert.deepEqual(
            comparable(assignEgressIPs(settled)),
            comparable(assignEgressIPsReference(settled)),
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it("a node failing in a settled cluster: same result, only that node's IPs move", () => {
    const nodes: EgressNode[] = [];
    for (let i = 0; i < 40; i++) {
      const ip = `10.${i % 4}.0.${10 + i}`;
      nodes.push({
        name: `n-${String(i).padStart(2, "0")}`,
        labels: { ...LBL },
        ready: true,
        reachable: true,
        addresses: [ip],
        primaryIfAddr: { ipv4: `${ip}/16` },
      });
    }
    const eips: EgressIPObject[] = [];
    for (let e = 0; e < 20; e++)
      eips.push({
        name: `e-${e}`,
        egressIPs: Array.from({ length: 1 + (e % 3) }, (_, j) => `10.${(e + j) % 4}.200.${e * 3 + j}`),
        status: [],
      });
    const inc = new EgressIPAssigner();
    let input: AssignInput = { platform: "BareMetal", nodes, egressIPs: eips };
    const first = inc.assign(input);
    assert.deepEqual(comparable(first), comparable(assignEgressIPs(input)));
    input = { ...input, egressIPs: eips.map((e) => ({ ...e, status: first.status.get(e.name) ?? [] })) };
    const steady = inc.assign(input);
    assert.deepEqual(steady.moves, []);
    const victim = first.status.get("e-0")![0]!.node;
    input = { ...input, nodes: nodes.map((n) => (n.name === victim ? { ...n, ready: false } : n)) };
    const failed = inc.assign(input);
    assert.deepEqual(comparable(failed), comparable(assignEgressIPs(input)));
    assert.ok(failed.moves.length > 0);
    assert.ok(failed.moves.every((m) => m.from === victim && m.to !== undefined && m.to !== victim));
  });

  it("duplicate node names: same result as the reference", () => {
    const a: EgressNode = {
      name: "n",
      labels: { ...LBL },
      ready: true,
      reachable: true,
      addresses: ["10.0.0.1"],
      primaryIfAddr: { ipv4: "10.0.0.1/24" },
    };
    const b: EgressNode = { ...a, ready: false };
    const inc = new EgressIPAssigner();
    for (const nodes of [[a], [a, b], [b, a], [a]]) {
      const input: AssignInput = {
        platform: "BareMetal",
        nodes,
        egressIPs: [{ name: "e", egressIPs: ["10.0.0.9"], status: [] }],
      };
      assert.deepEqual(comparable(inc.assign(input)), comparable(assignEgressIPs(input)));
    }
  });
});
