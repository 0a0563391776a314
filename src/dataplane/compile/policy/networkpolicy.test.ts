import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { parseV4 } from "../ipv4.js";
import { mergeRanges, resolveNetworkPolicies, subtractRanges } from "./networkpolicy.js";
import { caseView, NP_CASES, type NpCase, probeAddress } from "./np-cases.js";
import { type NpPacket, networkPolicyAllows } from "./np-reference.js";
import type {
  AllowEntry,
  LocalPodPolicy,
  NetworkPolicyView,
  PolicyPod,
  PolicyView,
  V4Range,
} from "./types.js";

// ------------------------------------------------------------------ evaluating resolved entries

const inRanges = (rs: V4Range[] | "any", ip: number): boolean =>
  rs === "any" || rs.some((r) => r.start <= ip && ip <= r.end);

function entryMatches(e: AllowEntry, peer: number, pkt: NpPacket): boolean {
  if (!inRanges(e.peers, peer)) return false;
  if (e.protocol === undefined) return true;
  if (pkt.protocol !== e.protocol) return false;
  if (!e.ports) return true;
  const d = pkt.dport ?? -1;
  return e.ports[0] <= d && d <= e.ports[1];
}

/** What the node program built from `pods` does with a new flow (the renderer's job, done naively). */
function evalResolved(pods: LocalPodPolicy[], pkt: NpPacket): boolean {
  const src = parseV4(pkt.src)!;
  const dst = parseV4(pkt.dst)!;
  const s = pods.find((p) => p.ip === src);
  if (s?.egressIsolated && !s.egress.some((e) => entryMatches(e, dst, pkt))) return false;
  const d = pods.find((p) => p.ip === dst);
  if (d?.ingressIsolated && !d.ingress.some((e) => entryMatches(e, src, pkt))) return false;
  return true;
}

const packetOf = (c: NpCase, p: NpCase["probes"][number]): NpPacket => ({
  src: probeAddress(c, p.from),
  dst: probeAddress(c, p.to),
  protocol: p.protocol,
  dport: p.port,
});

// ------------------------------------------------------------------ the case table

describe("resolveNetworkPolicies: case table (np-cases.ts)", () => {
  it("has at least 30 cases with unique names, each with probes", () => {
    assert.ok(NP_CASES.length >= 30, `${NP_CASES.length} cases`);
    assert.equal(new Set(NP_CASES.map((c) => c.name)).size, NP_CASES.length);
    for (const c of NP_CASES) assert.ok(c.probes.length > 0, c.name);
  });

  for (const c of NP_CASES) {
    it(`${c.name}: ${c.summary}`, () => {
      // One node holding every pod: the verdict of that node's program is the cluster's.
      const all = resolveNetworkPolicies(caseView(c));
      for (const p of c.probes) {
        const got = evalResolved(all.pods, packetOf(c, p)) ? "allow" : "deny";
        assert.equal(got, p.expect, `${p.from} -> ${p.to} ${p.protocol}/${p.port}`);
      }
      // Pods spread over two nodes: each node enforces its own pods; a flow passes both nodes.
      for (const split of [(i: number) => i % 2 === 0, (i: number) => i < c.pods.length / 2]) {
        const idx = new Map(c.pods.map((p, i) => [p, i]));
        const a = resolveNetworkPolicies(caseView(c, (p) => split(idx.get(p)!)));
        const b = resolveNetworkPolicies(caseView(c, (p) => !split(idx.get(p)!)));
        for (const p of c.probes) {
          const pkt = packetOf(c, p);
          const got = evalResolved(a.pods, pkt) && evalResolved(b.pods, pkt) ? "allow" : "deny";
          assert.equal(got, p.expect, `split: ${p.from} -> ${p.to} ${p.protocol}/${p.port}`);
        }
      }
      const fields = all.warnings.map((w) => w.field);
      if (c.warns === undefined) assert.deepEqual(all.warnings, []);
      else
        for (const w of c.warns)
          assert.ok(
            fields.some((f) => f.startsWith(w)),
            `warning ${w} in ${fields.join(", ")}`,
          );
    });
  }
});

// ------------------------------------------------------------------ structure of the output

const pod = (
  namespace: string,
  name: string,
  ip: string,
  labels: Record<string, string> = {},
  local = true,
): PolicyPod => ({
  namespace,
  name,
  ip,
  labels,
  ports: [],
  local,
});

function view(pods: PolicyPod[], policies: NetworkPolicyView[], extra: Partial<PolicyView> = {}): PolicyView {
  return {
    mode: "networkpolicy",
    node: "n1",
    podSubnet: "10.128.0.0/23",
    clusterCIDRs: ["10.128.0.0/14"],
    serviceCIDR: "172.30.0.0/16",
    nodes: [],
    dnsServers: [],
    pods,
    namespaces: [
      { name: "a", labels: { team: "a" }, multicast: false },
      { name: "b", labels: { team: "b" }, multicast: false },
    ],
    networkPolicies: policies,
    egressFirewalls: [],
    ...extra,
  };
}
const policy = (namespace: string, name: string, spec: Record<string, unknown>): NetworkPolicyView => ({
  namespace,
  name,
  spec: spec as NetworkPolicyView["spec"],
});
const R = (a: string, b = a): V4Range => ({ start: parseV4(a)!, end: parseV4(b)! });

describe("resolveNetworkPolicies: output", () => {
  it("returns nothing in other modes", () => {
    const v = view([pod("a", "x", "10.128.0.2")], [policy("a", "p", { ingress: [] })]);
    for (const mode of ["multitenant", "subnet"] as const)
      assert.deepEqual(resolveNetworkPolicies({ ...v, mode }), { pods: [], warnings: [] });
  });

  it("resolves peers, ipBlocks and ports into entries", () => {
    const v = view(
      [
        pod("a", "x", "10.128.0.2", { app: "x" }),
        pod("a", "y", "10.128.0.3", { app: "y" }),
        pod("b", "z", "10.128.1.4", {}, false),
        pod("b", "w", "10.128.1.5", {}, false),
      ],
      [
        policy("a", "p", {
          podSelector: { matchLabels: { app: "x" } },
          ingress: [
            {
              from: [
                { podSelector: { matchLabels: { app: "y" } } },
                { namespaceSelector: { matchLabels: { team: "b" } } },
                { ipBlock: { cidr: "192.168.0.0/24", except: ["192.168.0.128/25", "192.168.0.7/32"] } },
              ],
              ports: [{ port: 80 }, { protocol: "UDP", port: 1000, endPort: 1010 }, { protocol: "SCTP" }],
            },
          ],
        }),
      ],
    );
    const { pods, warnings } = resolveNetworkPolicies(v);
    assert.deepEqual(warnings, []);
    assert.deepEqual(
      pods.map((p) => [p.name, p.ingressIsolated, p.egressIsolated]),
      [
        ["x", true, false],
        ["y", false, false],
      ],
    );
    const peers = [
      R("10.128.0.3"),
      R("10.128.1.4", "10.128.1.5"),
      R("192.168.0.0", "192.168.0.6"),
      R("192.168.0.8", "192.168.0.127"),
    ];
    // Each peer stays a component of its own (a selector's pods as single addresses, the ipBlocks
    // merged): the compiler renders each as one set shared by every rule using it.
    const components = [
      [R("10.128.0.3")],
      [R("10.128.1.4"), R("10.128.1.5")],
      [R("192.168.0.0", "192.168.0.6"), R("192.168.0.8", "192.168.0.127")],
    ];
    const origin = { policy: "a/p", direction: "ingress" as const, rule: 0 };
    assert.deepEqual(pods[0]!.ingress, [
      { peers, components, protocol: "SCTP", origin },
      { peers, components, protocol: "TCP", ports: [80, 80], origin },
      { peers, components, protocol: "UDP", ports: [1000, 1010], origin },
    ]);
    assert.deepEqual(pods[0]!.egress, []);
  });

  it("egress named ports become one entry per port number, with the peers that use it", () => {
    const web = (name: string, ip: string, port: number): PolicyPod => ({
      ...pod("b", name, ip, { app: "web" }, false),
      ports: [{ name: "http", port, protocol: "TCP" }],
    });
    const v = view(
      [
        pod("a", "c", "10.128.0.2"),
        web("w1", "10.128.1.1", 8080),
        web("w2", "10.128.1.2", 9090),
        web("w3", "10.128.1.3", 8080),
      ],
      [
        policy("a", "e", {
          policyTypes: ["Egress"],
          egress: [
            {
              to: [{ namespaceSelector: {} }, { ipBlock: { cidr: "0.0.0.0/0" } }],
              ports: [{ port: "http" }],
            },
          ],
        }),
      ],
    );
    const [c] = resolveNetworkPolicies(v).pods;
    const origin = { policy: "a/e", direction: "egress" as const, rule: 0 };
    assert.deepEqual(c!.egress, [
      {
        peers: [R("10.128.1.1"), R("10.128.1.3")],
        components: [[R("10.128.1.1"), R("10.128.1.3")]],
        protocol: "TCP",
        ports: [8080, 8080],
        origin,
      },
      {
        peers: [R("10.128.1.2")],
        components: [[R("10.128.1.2")]],
        protocol: "TCP",
        ports: [9090, 9090],
        origin,
      },
    ]);
    assert.equal(c!.ingressIsolated, false);
  });

  it("is deterministic: input order does not change the output", () => {
    const c = NP_CASES.find((x) => x.name === "seed-additive")!;
    const v = caseView(c);
    const want = JSON.stringify(resolveNetworkPolicies(v));
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        const shuffle = <T>(xs: T[]): T[] => {
          const out = [...xs];
          let s = seed;
          for (let i = out.length - 1; i > 0; i--) {
            s = (s * 1103515245 + 12345) & 0x7fffffff;
            const j = s % (i + 1);
            [out[i], out[j]] = [out[j]!, out[i]!];
          }
          return out;
        };
        const w = {
          ...v,
          pods: shuffle(v.pods),
          networkPolicies: shuffle(v.networkPolicies),
          namespaces: shuffle(v.namespaces),
        };
        assert.equal(JSON.stringify(resolveNetworkPolicies(w)), want);
      }),
      { numRuns: 50 },
    );
  });

  it("warns with the policy and field path and the value", () => {
    const v = view(
      [pod("a", "x", "10.128.0.2"), pod("a", "v6", "fd00::1")],
      [
        policy("a", "deny-all", {
          ingress: [{ from: [{ podSelector: {} }, { ipBlock: { cidr: "10.0.0.0/40" } }] }],
          egress: [
            { ports: [{ port: 0 }, { port: 10, endPort: 5 }, { port: "Bad_Name" }, { protocol: "ICMP" }] },
          ],
          policyTypes: ["Ingress", "Egress", "Sideways"],
        }),
      ],
    );
    const { warnings, pods } = resolveNetworkPolicies(v);
    const got = warnings.map((w) => [w.field, w.value]);
    assert.deepEqual(got, [
      ["pods[1] a/v6: ip", "fd00::1"],
      ["networkpolicies/a/deny-all: spec.policyTypes[2]", "Sideways"],
      ["networkpolicies/a/deny-all: spec.ingress[0].from[1].ipBlock.cidr", "10.0.0.0/40"],
      ["networkpolicies/a/deny-all: spec.egress[0].ports[0].port", 0],
      ["networkpolicies/a/deny-all: spec.egress[0].ports[1].endPort", 5],
      ["networkpolicies/a/deny-all: spec.egress[0].ports[2].port", "Bad_Name"],
      ["networkpolicies/a/deny-all: spec.egress[0].ports[3].protocol", "ICMP"],
    ]);
    // Every port entry was bad: the rule allows nothing (not "all ports").
    assert.deepEqual(pods[0]!.egress, []);
    assert.equal(pods[0]!.egressIsolated, true);
    // The good peer of the ingress rule still allows the namespace.
    assert.deepEqual(
      pods[0]!.ingress.map((e) => e.peers),
      [[R("10.128.0.2")]],
    );
  });

  it("rejects peers mixing ipBlock with selectors and empty peers, fail closed", () => {
    const v = view(
      [pod("a", "x", "10.128.0.2")],
      [
        policy("a", "p", {
          ingress: [{ from: [{ ipBlock: { cidr: "0.0.0.0/0" }, podSelector: {} }, {}] }],
        }),
      ],
    );
    const { warnings, pods } = resolveNetworkPolicies(v);
    assert.deepEqual(
      warnings.map((w) => w.field),
      ["networkpolicies/a/p: spec.ingress[0].from[0]", "networkpolicies/a/p: spec.ingress[0].from[1]"],
    );
    assert.deepEqual(pods[0]!.ingress, []);
    assert.equal(pods[0]!.ingressIsolated, true);
  });
});

describe("range arithmetic", () => {
  const arb = fc.array(
    fc.tuple(fc.integer({ min: 0, max: 63 }), fc.integer({ min: 0, max: 63 })).map(([a, b]) => ({
      start: Math.min(a, b),
      end: Math.max(a, b),
    })),
    { maxLength: 6 },
  );
  const members = (rs: V4Range[]): number[] =>
    Array.from({ length: 64 }, (_, i) => i).filter((i) => rs.some((r) => r.start <= i && i <= r.end));
  it("mergeRanges keeps the members and yields sorted, disjoint, non-adjacent ranges", () => {
    fc.assert(
      fc.property(arb, (rs) => {
        const m = mergeRanges(rs);
        assert.deepEqual(members(m), members(rs));
        for (let i = 1; i < m.length; i++) assert.ok(m[i]!.start > m[i - 1]!.end + 1);
      }),
    );
  });
  it("subtractRanges is set difference", () => {
    fc.assert(
      fc.property(arb, arb, (a, b) => {
        const cut = new Set(members(b));
        assert.deepEqual(
          members(subtractRanges(a, b)),
          members(a).filter((i) => !cut.has(i)),
        );
      }),
    );
  });
  it("handles the ends of the address space", () => {
    assert.deepEqual(subtractRanges([{ start: 0, end: 0xffffffff }], [R("0.0.0.0"), R("255.255.255.255")]), [
      R("0.0.0.1", "255.255.255.254"),
    ]);
  });
});

// ------------------------------------------------------------------ property: resolver == reference

const LABEL = fc.constantFrom("a", "b");
const labels = fc.dictionary(fc.constantFrom("role", "tier"), LABEL, { maxKeys: 2 });
// Weighted towards valid input that matches something; bad values stay in at a low rate.
const selector = fc.oneof(
  { arbitrary: fc.constant({}), weight: 3 },
  {
    arbitrary: fc
      .dictionary(fc.constantFrom("role", "tier"), LABEL, { maxKeys: 1 })
      .map((l) => ({ matchLabels: l })),
    weight: 3,
  },
  {
    arbitrary: fc
      .record({
        key: fc.constantFrom("role", "tier", "team"),
        operator: fc.constantFrom("In", "NotIn", "Exists", "DoesNotExist", "In", "NotIn", "Exists", "Bogus"),
        values: fc.array(LABEL, { maxLength: 2 }),
      })
      .map((e) => ({
        matchExpressions: [
          e.operator === "Exists" || e.operator === "DoesNotExist" ? { key: e.key, operator: e.operator } : e,
        ],
      })),
    weight: 2,
  },
);
const CIDRS = ["10.0.0.0/29", "10.0.0.4/30", "10.0.0.1/32", "0.0.0.0/0", "10.0.0.9/31"];
const BAD_CIDRS = ["10.0.0.300/24", "fd00::/64", "junk"];
const peer = fc.oneof(
  { arbitrary: fc.record({ podSelector: selector }), weight: 3 },
  { arbitrary: fc.record({ namespaceSelector: selector }), weight: 3 },
  { arbitrary: fc.record({ podSelector: selector, namespaceSelector: selector }), weight: 2 },
  {
    arbitrary: fc.record({
      ipBlock: fc.record(
        {
          cidr: fc.oneof(
            { arbitrary: fc.constantFrom(...CIDRS), weight: 5 },
            { arbitrary: fc.constantFrom(...BAD_CIDRS), weight: 1 },
          ),
          except: fc.array(
            fc.oneof(
              { arbitrary: fc.constantFrom("10.0.0.2/32", "10.0.0.4/31", "10.0.0.8/29"), weight: 5 },
              { arbitrary: fc.constantFrom(...BAD_CIDRS), weight: 1 },
            ),
            { maxLength: 2 },
          ),
        },
        { requiredKeys: ["cidr"] },
      ),
    }),
    weight: 3,
  },
  { arbitrary: fc.constant({}), weight: 1 },
);
const port = fc.oneof(
  {
    arbitrary: fc.record(
      {
        protocol: fc.constantFrom("TCP", "UDP"),
        port: fc.constantFrom(80, 81, "http", "dns"),
        endPort: fc.constantFrom(80, 82),
      },
      { requiredKeys: ["port"] },
    ),
    weight: 8,
  },
  {
    arbitrary: fc.record(
      {
        protocol: fc.constantFrom("TCP", "UDP", "SCTP", "ICMP"),
        port: fc.constantFrom(53, 0, "BAD", 70000),
        endPort: fc.constantFrom(80, 50),
      },
      { requiredKeys: [] },
    ),
    weight: 2,
  },
);
const rule = (peerKey: "from" | "to") =>
  fc.record(
    { [peerKey]: fc.array(peer, { maxLength: 3 }), ports: fc.array(port, { maxLength: 3 }) },
    { requiredKeys: [] },
  );
const spec = fc.record(
  {
    podSelector: fc.oneof(selector, fc.constant(null)),
    policyTypes: fc.subarray(["Ingress", "Egress", "Other"]),
    ingress: fc.array(rule("from"), { maxLength: 3 }),
    egress: fc.array(rule("to"), { maxLength: 3 }),
  },
  { requiredKeys: [] },
);
const containerPort = fc.record({
  name: fc.constantFrom("http", "dns"),
  port: fc.constantFrom(53, 80, 81, 82),
  protocol: fc.constantFrom("TCP" as const, "UDP" as const),
});
const NS = ["a", "b", "c"];
const randomView = fc
  .record({
    pods: fc.uniqueArray(
      fc.record({
        host: fc.integer({ min: 1, max: 10 }),
        namespace: fc.constantFrom(...NS),
        labels,
        ports: fc.uniqueArray(containerPort, { maxLength: 2, selector: (p) => p.name }),
        local: fc.boolean(),
      }),
      { minLength: 1, maxLength: 6, selector: (p) => p.host },
    ),
    nsLabels: fc.array(fc.dictionary(fc.constantFrom("team", "role"), LABEL, { maxKeys: 2 }), {
      minLength: 3,
      maxLength: 3,
    }),
    policies: fc.array(fc.record({ namespace: fc.constantFrom(...NS), spec }), {
      minLength: 1,
      maxLength: 4,
    }),
  })
  .map(
    (r): PolicyView =>
      view(
        r.pods.map((p, i) => ({
          ...pod(p.namespace, `p${i}`, `10.0.0.${p.host}`, p.labels, p.local),
          ports: p.ports,
        })),
        r.policies.map((p, i) => policy(p.namespace, `np${i}`, p.spec)),
        // Namespace c is missing from the view on purpose (matched as unlabeled).
        { namespaces: NS.slice(0, 2).map((name, i) => ({ name, labels: r.nsLabels[i]!, multicast: false })) },
      ),
  );
// Mostly the view's own pods (hosts 1-10), sometimes a free address or one outside.
const address = fc.oneof(
  { arbitrary: fc.integer({ min: 1, max: 10 }).map((h) => `10.0.0.${h}`), weight: 1 },
  { arbitrary: fc.constantFrom("10.0.0.11", "192.168.1.1"), weight: 1 },
);
const packetIn = (v: PolicyView) => {
  const podAddr = fc.constantFrom(...v.pods.map((p) => p.ip));
  const addr = fc.oneof({ arbitrary: podAddr, weight: 4 }, { arbitrary: address, weight: 1 });
  return fc.record({ src: addr, dst: addr, protocol, dport });
};
const protocol = fc.constantFrom(
  "TCP" as const,
  "TCP" as const,
  "UDP" as const,
  "SCTP" as const,
  "ICMP" as const,
);
const dport = fc.constantFrom(53, 80, 80, 81, 82);
const packet = fc.record({ src: address, dst: address, protocol, dport });

describe("resolveNetworkPolicies agrees with the reference evaluator (np-reference.ts)", () => {
  it("for random views and packets", () => {
    // Count the kinds of verdicts so a generator that only makes open pods fails the test.
    const seen = { open: 0, allowedByRule: 0, denied: 0 };
    fc.assert(
      fc.property(
        randomView.chain((v) =>
          fc.tuple(fc.constant(v), fc.array(fc.oneof(packetIn(v), packet), { minLength: 1, maxLength: 20 })),
        ),
        ([v, pkts]) => {
          const { pods } = resolveNetworkPolicies(v);
          for (const pkt of pkts) {
            const want = networkPolicyAllows(v, pkt);
            if (!want.allowed) seen.denied++;
            else if (want.by && want.by.length > 0) seen.allowedByRule++;
            else seen.open++;
            assert.equal(evalResolved(pods, pkt), want.allowed, JSON.stringify(pkt));
          }
        },
      ),
      { numRuns: 400 },
    );
    const total = seen.open + seen.allowedByRule + seen.denied;
    // Typically ~80% open, ~5% allowed by a rule, ~12% denied.
    for (const [k, n] of Object.entries(seen)) assert.ok(n > total / 50, `${k}: ${n} of ${total}`);
  });
});
