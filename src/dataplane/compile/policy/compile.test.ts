import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FakeNft } from "../../nft/fake.js";
import {
  adminTableScript,
  BASE_CHAIN,
  CompileError,
  compilePolicyProgram,
  compileWithResolved,
  LIVE_SET,
  type PolicyCompileOptions,
} from "./compile.js";
import { baseView, bigFirewallView, num, pod } from "./fixtures.js";
import type { IrRule, PolicyOrigin } from "./ir.js";
import { referencePolicy } from "./reference.js";
import { PolicyTraceError, type PolicyTracePacket, tracePolicy } from "./trace.js";
import type { EgressFirewallView, LocalPodPolicy, PolicyView } from "./types.js";

type Expect = {
  verdict: "accept" | "drop";
  decidedBy: PolicyOrigin["kind"] | PolicyOrigin;
  marked?: boolean;
};
interface Case {
  name: string;
  pkt: Partial<PolicyTracePacket> & { src: string; dst: string };
  want: Expect;
}

function check(
  view: PolicyView,
  cases: Case[],
  np: LocalPodPolicy[] = [],
  opts: PolicyCompileOptions = {},
): void {
  const program =
    view.mode === "networkpolicy"
      ? compileWithResolved(view, { pods: np, warnings: [] }, opts)
      : compilePolicyProgram(view);
  for (const c of cases)
    it(c.name, () => {
      const pkt: PolicyTracePacket = { protocol: "TCP", dport: 80, state: "new", ...c.pkt };
      const got = tracePolicy(program, pkt);
      assert.equal(got.verdict, c.want.verdict, JSON.stringify(got));
      if (typeof c.want.decidedBy === "string")
        assert.equal(got.decidedBy.kind, c.want.decidedBy, JSON.stringify(got));
      else assert.deepEqual(got.decidedBy, c.want.decidedBy);
      if (c.want.marked !== undefined) assert.equal(got.marked, c.want.marked);
    });
}

// Local pods: a1 (ns a, netid 10), a2 (ns a), b1 (ns b, netid 11), d1 (default, 0), n1 (ns none, no
// netid). Remote: a3 (ns a), b3 (ns b), j3 (ns j joined to a: netid 10).
const mtView = (over: Partial<PolicyView> = {}) =>
  baseView({
    pods: [
      pod("a", "a1", "10.128.0.2"),
      pod("a", "a2", "10.128.0.3"),
      pod("b", "b1", "10.128.0.4"),
      pod("default", "d1", "10.128.0.5"),
      pod("none", "n1", "10.128.0.6"),
      pod("a", "a3", "10.128.2.2", false),
      pod("b", "b3", "10.128.2.3", false),
      pod("j", "j3", "10.128.2.4", false),
      pod("a", "hostnet", "192.168.126.11"),
    ],
    namespaces: [
      { name: "a", labels: {}, netid: 10, multicast: false },
      { name: "b", labels: {}, netid: 11, multicast: false },
      { name: "j", labels: {}, netid: 10, multicast: false },
      { name: "default", labels: {}, netid: 0, multicast: false },
      { name: "none", labels: {}, multicast: false },
    ],
    ...over,
  });

describe("multitenant isolation", () => {
  check(mtView(), [
    {
      name: "same netid, same node",
      pkt: { src: "10.128.0.2", dst: "10.128.0.3" },
      want: {
        verdict: "accept",
        decidedBy: { kind: "multitenant", verdict: "allow", reason: "same-netid", netid: 10 },
      },
    },
    {
      name: "joined project on another node",
      pkt: { src: "10.128.0.2", dst: "10.128.2.4" },
      want: { verdict: "accept", decidedBy: "multitenant" },
    },
    {
      name: "other netid is dropped",
      pkt: { src: "10.128.0.2", dst: "10.128.0.4" },
      want: {
        verdict: "drop",
        decidedBy: { kind: "multitenant", verdict: "drop", reason: "other-netid", netid: 10 },
      },
    },
    {
      name: "other netid is dropped from a remote pod too",
      pkt: { src: "10.128.2.3", dst: "10.128.0.2" },
      want: { verdict: "drop", decidedBy: "multitenant" },
    },
    {
      name: "established flows are cut too (no conntrack shortcut)",
      pkt: { src: "10.128.0.4", dst: "10.128.0.2", state: "established" },
      want: { verdict: "drop", decidedBy: "multitenant" },
    },
    {
      name: "global source reaches everyone",
      pkt: { src: "10.128.0.5", dst: "10.128.0.4" },
      want: { verdict: "accept", decidedBy: { kind: "multitenant", verdict: "allow", reason: "global" } },
    },
    {
      name: "everyone reaches a global pod",
      pkt: { src: "10.128.0.4", dst: "10.128.0.5" },
      want: { verdict: "accept", decidedBy: "multitenant" },
    },
    {
      name: "namespace without netid: isolated",
      pkt: { src: "10.128.0.6", dst: "10.128.0.2" },
      want: { verdict: "drop", decidedBy: { kind: "multitenant", verdict: "drop", reason: "no-netid" } },
    },
    {
      name: "namespace without netid: nobody reaches it",
      pkt: { src: "10.128.0.2", dst: "10.128.0.6" },
      want: { verdict: "drop", decidedBy: "multitenant" },
    },
    {
      name: "namespace without netid still reaches global",
      pkt: { src: "10.128.0.6", dst: "10.128.0.5" },
      want: { verdict: "accept", decidedBy: "multitenant" },
    },
    {
      name: "unknown pod address is isolated",
      pkt: { src: "10.128.0.99", dst: "10.128.0.2" },
      want: { verdict: "drop", decidedBy: { kind: "multitenant", verdict: "drop", reason: "unknown-pod" } },
    },
    {
      name: "node address is not a pod",
      pkt: { src: "192.168.126.12", dst: "10.128.0.2" },
      want: { verdict: "accept", decidedBy: "default", marked: false },
    },
    {
      name: "pod to node is not checked",
      pkt: { src: "10.128.0.4", dst: "192.168.126.12" },
      want: { verdict: "accept", decidedBy: "default", marked: false },
    },
    {
      name: "pod to outside is marked",
      pkt: { src: "10.128.0.4", dst: "8.8.8.8" },
      want: { verdict: "accept", decidedBy: "default", marked: true },
    },
    {
      name: "remote pod to outside is not marked",
      pkt: { src: "10.128.2.3", dst: "8.8.8.8" },
      want: { verdict: "accept", decidedBy: "default", marked: false },
    },
    {
      name: "pod to service is not marked",
      pkt: { src: "10.128.0.4", dst: "172.30.0.1" },
      want: { verdict: "accept", decidedBy: "default", marked: false },
    },
    {
      name: "established outside flow",
      pkt: { src: "10.128.0.4", dst: "8.8.8.8", state: "established" },
      want: { verdict: "accept", decidedBy: "conntrack", marked: true },
    },
  ]);

  it("is not compiled in other modes", () => {
    for (const mode of ["subnet", "networkpolicy"] as const) {
      const p = compileWithResolved(mtView({ mode }), { pods: [], warnings: [] });
      assert.equal(
        tracePolicy(p, { src: "10.128.0.2", dst: "10.128.0.4", protocol: "TCP", dport: 1, state: "new" })
          .verdict,
        "accept",
      );
      assert.doesNotMatch(p.nft, /multitenant/);
    }
  });

  it("costs the same lookups whatever the number of projects", () => {
    const many = mtView({
      pods: Array.from({ length: 300 }, (_, i) =>
        pod(`p${i}`, "x", `10.128.${Math.floor(i / 250)}.${2 + (i % 250)}`),
      ),
      namespaces: Array.from({ length: 300 }, (_, i) => ({
        name: `p${i}`,
        labels: {},
        netid: 100 + i,
        multicast: false,
      })),
    });
    const p = compilePolicyProgram(many);
    const t = tracePolicy(p, {
      src: "10.128.0.2",
      dst: "10.128.0.3",
      protocol: "UDP",
      dport: 1,
      state: "new",
    });
    assert.equal(t.verdict, "drop");
    assert.deepEqual(t.chains, ["forward", "multitenant", "mt-100"]);
    const chain = p.ir.chains.find((c) => c.name === "mt-100")!;
    assert.equal(chain.rules.length, 2);
  });
});

const fw = (
  namespace: string,
  rules: EgressFirewallView["rules"],
  over: Partial<EgressFirewallView> = {},
): EgressFirewallView => ({
  namespace,
  kind: "EgressFirewall",
  name: "default",
  effect: "Enforced",
  rules,
  ...over,
});

describe("egress firewall", () => {
  const view = mtView({
    egressFirewalls: [
      fw("a", [
        { type: "Allow", cidrSelector: "1.2.3.0/24", ports: [{ protocol: "TCP", port: 443 }] },
        { type: "Deny", cidrSelector: "1.2.3.0/24" },
        { type: "Allow", dnsName: "example.com", dnsAddresses: ["93.184.216.34"] },
        { type: "Allow", dnsName: "unresolved.example" },
        { type: "Allow", nodeSelector: { matchLabels: { zone: "b" } } },
        {
          type: "Allow",
          cidrSelector: "9.0.0.0/8",
          ports: [
            { protocol: "UDP", port: 123 },
            { protocol: "SCTP", port: 9 },
          ],
        },
        { type: "Deny", cidrSelector: "0.0.0.0/0" },
      ]),
      fw("b", [{ type: "Deny", cidrSelector: "8.8.8.8/32" }], { kind: "EgressNetworkPolicy", name: "enp" }),
      fw("default", [{ type: "Deny", cidrSelector: "0.0.0.0/0" }], { effect: "Ignored" }),
      fw("none", [{ type: "Allow", cidrSelector: "0.0.0.0/0" }], { effect: "DropAll" }),
      fw("j", [{ type: "Deny", cidrSelector: "0.0.0.0/0" }]),
    ],
  });
  const rule = (
    ns: string,
    i: number,
    type: "Allow" | "Deny",
    kind: "EgressFirewall" | "EgressNetworkPolicy" = "EgressFirewall",
    name = "default",
  ): PolicyOrigin => ({
    kind: "egressfirewall",
    namespace: ns,
    firewallKind: kind,
    name,
    rule: i,
    type,
  });
  check(view, [
    {
      name: "first match: allow with port",
      pkt: { src: "10.128.0.2", dst: "1.2.3.9", dport: 443 },
      want: { verdict: "accept", decidedBy: rule("a", 0, "Allow"), marked: true },
    },
    {
      name: "first match: other port falls to deny",
      pkt: { src: "10.128.0.2", dst: "1.2.3.9", dport: 80 },
      want: { verdict: "drop", decidedBy: rule("a", 1, "Deny") },
    },
    {
      name: "same port, other protocol",
      pkt: { src: "10.128.0.2", dst: "1.2.3.9", protocol: "UDP", dport: 443 },
      want: { verdict: "drop", decidedBy: rule("a", 1, "Deny") },
    },
    {
      name: "dnsName resolved address",
      pkt: { src: "10.128.0.2", dst: "93.184.216.34", protocol: "ICMP", dport: undefined },
      want: { verdict: "accept", decidedBy: rule("a", 2, "Allow") },
    },
    {
      name: "unresolved dnsName matches nothing",
      pkt: { src: "10.128.0.2", dst: "5.6.7.8" },
      want: { verdict: "drop", decidedBy: rule("a", 6, "Deny") },
    },
    {
      name: "port list: UDP 123",
      pkt: { src: "10.128.0.2", dst: "9.9.9.9", protocol: "UDP", dport: 123 },
      want: { verdict: "accept", decidedBy: rule("a", 5, "Allow") },
    },
    {
      name: "port list: SCTP 9",
      pkt: { src: "10.128.0.2", dst: "9.9.9.9", protocol: "SCTP", dport: 9 },
      want: { verdict: "accept", decidedBy: rule("a", 5, "Allow") },
    },
    {
      name: "port list: TCP 123 not listed",
      pkt: { src: "10.128.0.2", dst: "9.9.9.9", protocol: "TCP", dport: 123 },
      want: { verdict: "drop", decidedBy: rule("a", 6, "Deny") },
    },
    {
      name: "DNS to the resolver always passes (UDP)",
      pkt: { src: "10.128.0.2", dst: "192.168.126.1", protocol: "UDP", dport: 53 },
      want: { verdict: "accept", decidedBy: "dns" },
    },
    {
      name: "DNS to the resolver always passes (TCP)",
      pkt: { src: "10.128.0.2", dst: "192.168.126.1", protocol: "TCP", dport: 53 },
      want: { verdict: "accept", decidedBy: "dns" },
    },
    {
      name: "other ports to the resolver are filtered",
      pkt: { src: "10.128.0.2", dst: "192.168.126.1", protocol: "UDP", dport: 54 },
      want: { verdict: "drop", decidedBy: rule("a", 6, "Deny") },
    },
    {
      name: "DNS to another server is filtered",
      pkt: { src: "10.128.0.2", dst: "8.8.8.8", protocol: "UDP", dport: 53 },
      want: { verdict: "drop", decidedBy: rule("a", 6, "Deny") },
    },
    {
      name: "cluster destinations are not filtered",
      pkt: { src: "10.128.0.2", dst: "10.128.0.3" },
      want: { verdict: "accept", decidedBy: "multitenant" },
    },
    {
      // Node addresses are filtered (as OVN-Kubernetes), but are inside the cluster for the admin mark.
      name: "a node address matched by to.nodeSelector is allowed",
      pkt: { src: "10.128.0.2", dst: "192.168.126.12" },
      want: { verdict: "accept", decidedBy: rule("a", 4, "Allow"), marked: false },
    },
    {
      name: "a node address no nodeSelector rule matches falls to the catch-all Deny",
      pkt: { src: "10.128.0.2", dst: "192.168.126.11" },
      want: { verdict: "drop", decidedBy: rule("a", 6, "Deny"), marked: false },
    },
    {
      name: "multicast is left to the multicast table",
      pkt: { src: "10.128.0.2", dst: "239.1.2.3", protocol: "UDP", dport: 5000 },
      want: { verdict: "accept", decidedBy: "multicast", marked: false },
    },
    {
      name: "services are not filtered",
      pkt: { src: "10.128.0.2", dst: "172.30.5.5" },
      want: { verdict: "accept", decidedBy: "default" },
    },
    {
      name: "established flows pass",
      pkt: { src: "10.128.0.2", dst: "1.2.3.9", state: "established" },
      want: { verdict: "accept", decidedBy: "conntrack", marked: true },
    },
    {
      name: "EgressNetworkPolicy deny",
      pkt: { src: "10.128.0.4", dst: "8.8.8.8" },
      want: { verdict: "drop", decidedBy: rule("b", 0, "Deny", "EgressNetworkPolicy", "enp") },
    },
    {
      name: "no match = accept",
      pkt: { src: "10.128.0.4", dst: "8.8.4.4" },
      want: {
        verdict: "accept",
        decidedBy: {
          kind: "egressfirewall-nomatch",
          namespace: "b",
          firewallKind: "EgressNetworkPolicy",
          name: "enp",
        },
      },
    },
    {
      name: "Ignored does nothing",
      pkt: { src: "10.128.0.5", dst: "8.8.8.8" },
      want: { verdict: "accept", decidedBy: "default" },
    },
    {
      name: "DropAll drops everything outside",
      pkt: { src: "10.128.0.6", dst: "8.8.8.8" },
      want: { verdict: "drop", decidedBy: "egressfirewall-dropall" },
    },
    {
      name: "DropAll still lets DNS through",
      pkt: { src: "10.128.0.6", dst: "192.168.126.1", protocol: "UDP", dport: 53 },
      want: { verdict: "accept", decidedBy: "dns" },
    },
    {
      name: "remote pods are filtered at their own node",
      pkt: { src: "10.128.2.4", dst: "8.8.8.8" },
      want: { verdict: "accept", decidedBy: "default" },
    },
  ]);

  it("several enforced firewalls in one namespace drop all and warn", () => {
    const v = mtView({
      egressFirewalls: [
        fw("a", [{ type: "Allow", cidrSelector: "0.0.0.0/0" }]),
        fw("a", [], { kind: "EgressNetworkPolicy", name: "x" }),
      ],
    });
    const p = compilePolicyProgram(v);
    const t = tracePolicy(p, { src: "10.128.0.2", dst: "8.8.8.8", protocol: "TCP", dport: 80, state: "new" });
    assert.equal(t.verdict, "drop");
    assert.deepEqual(t.decidedBy, {
      kind: "egressfirewall-dropall",
      namespace: "a",
      firewalls: ["EgressFirewall/default", "EgressNetworkPolicy/x"],
    });
    assert.equal(p.warnings.length, 1);
  });

  it("bad rules are skipped with a warning, the rest stands", () => {
    const v = mtView({
      egressFirewalls: [
        fw("a", [
          { type: "Deny", cidrSelector: "1.2.3.0/33" },
          { type: "Deny", cidrSelector: "fd00::/64" },
          { type: "Deny", dnsName: "x", dnsAddresses: ["1.2.3.x", "1.2.3.5"] },
          { type: "Deny", cidrSelector: "1.0.0.0/8", ports: [{ protocol: "TCP", port: 0 }] },
          { type: "Deny", nodeSelector: { matchExpressions: [{ key: "zone", operator: "Bogus" }] } },
          { type: "Deny" },
          { type: "Deny", cidrSelector: "1.2.3.6/32" },
        ]),
      ],
    });
    const p = compilePolicyProgram(v);
    assert.deepEqual(
      p.warnings.map((w) => w.field),
      [
        "egressFirewalls[a/default].rules[0].to.cidrSelector",
        "egressFirewalls[a/default].rules[1].to.cidrSelector",
        "egressFirewalls[a/default].rules[2].dnsAddresses[0]",
        "egressFirewalls[a/default].rules[3].ports[0]",
        "egressFirewalls[a/default].rules[3].ports",
        "egressFirewalls[a/default].rules[4].to.nodeSelector",
        "egressFirewalls[a/default].rules[5].to",
      ],
    );
    const tr = (dst: string) =>
      tracePolicy(p, { src: "10.128.0.2", dst, protocol: "TCP", dport: 80, state: "new" });
    assert.equal(tr("1.2.3.4").verdict, "accept");
    assert.equal(tr("1.2.3.5").verdict, "drop");
    assert.equal(tr("1.2.3.6").verdict, "drop");
  });

  it("8,000 rules cost the same few lookups per new flow", () => {
    const p = compilePolicyProgram(bigFirewallView(8000));
    assert.deepEqual(p.warnings, []);
    const chain = p.ir.chains.find((c) => c.name === "fw/big")!;
    assert.deepEqual(
      chain.rules.map((r) => r.action.kind),
      ["vmap", "vmap", "verdict"],
    );
    const t = tracePolicy(p, {
      src: "10.128.0.10",
      dst: "10.0.0.1",
      protocol: "TCP",
      dport: 80,
      state: "new",
    });
    assert.deepEqual(t.decidedBy, {
      kind: "egressfirewall",
      namespace: "big",
      firewallKind: "EgressFirewall",
      name: "default",
      rule: 7999,
      type: "Deny",
    });
  });

  describe("renders only the minority-verdict segments; the chain ends in the majority verdict", () => {
    // a: ends in Deny 0.0.0.0/0. Unreduced: 7 address elements (4 drop ranges around 3 allowed
    // islands) and 4 port boxes. Rules 3 and 5 give the verdict the address rules after them give
    // anyway: left out of the port map (kept for attribution).
    // b: no catch-all. Unreduced: 2 drop elements (no rule = accept is not in the map anyway), 2 boxes.
    const view = mtView({
      egressFirewalls: [
        fw("a", [
          { type: "Allow", cidrSelector: "1.1.1.0/24" },
          { type: "Deny", cidrSelector: "2.2.2.0/24", ports: [{ protocol: "TCP", port: 443 }] },
          { type: "Allow", cidrSelector: "2.2.2.0/24" },
          { type: "Deny", cidrSelector: "9.0.0.0/8", ports: [{ protocol: "TCP", port: 443 }] },
          { type: "Allow", cidrSelector: "5.0.0.0/8", ports: [{ protocol: "TCP", port: 80 }] },
          { type: "Allow", cidrSelector: "3.3.3.3/32", ports: [{ protocol: "TCP", port: 80 }] },
          { type: "Allow", cidrSelector: "3.3.3.3/32" },
          { type: "Deny", cidrSelector: "0.0.0.0/0" },
        ]),
        fw("b", [
          { type: "Deny", cidrSelector: "8.8.8.8/32" },
          { type: "Allow", cidrSelector: "8.8.4.0/24", ports: [{ protocol: "TCP", port: 80 }] },
          { type: "Deny", cidrSelector: "9.9.9.0/24" },
          { type: "Deny", cidrSelector: "7.0.0.0/8", ports: [{ protocol: "TCP", port: 22 }] },
        ]),
      ],
    });
    const p = compilePolicyProgram(view);
    const elements = (name: string) => p.ir.sets.find((s) => s.name === name)?.elements.length ?? 0;
    const last = (ns: string) => p.ir.chains.find((c) => c.name === `fw/${ns}`)!.rules.at(-1)!;

    it("element counts drop: a 11 → 3 + 2 (final drop), b 4 → 2 + 1 (final accept)", () => {
      assert.deepEqual([elements("fw_a_addr"), elements("fw_a_ports")], [3, 2]);
      assert.deepEqual(last("a").action, { kind: "verdict", verdict: { kind: "drop" } });
      assert.deepEqual([elements("fw_b_addr"), elements("fw_b_ports")], [2, 1]);
      assert.deepEqual(last("b").action, { kind: "verdict", verdict: { kind: "accept" } });
      assert.match(p.nft, /\t\tip daddr vmap @fw_a_addr\n\t\tdrop\n/);
      // The final accept is what a map miss reaches: guarded (LIVE_SET); the final drop is not.
      assert.match(p.nft, /\t\tip daddr vmap @fw_b_addr\n\t\tmeta nfproto != @live drop\n\t\taccept\n/);
      assert.doesNotMatch(p.nft, /9\.0\.0\.0\/8 \. tcp \. 443/);
    });

    it("fail-closed guards: before every accept a lookup miss reaches, nowhere else", () => {
      const guard = {
        match: [{ kind: "lookup", key: "nfproto", set: LIVE_SET, neg: true }],
        action: { kind: "verdict", verdict: { kind: "drop" } },
      };
      // A hash map (no `flags interval`): a deleted map's elements are deactivated, a deleted set's
      // are not (docs/policy.md, "Packets that outlive their generation").
      const live = p.ir.sets.find((x) => x.name === LIVE_SET)!;
      assert.equal(live.map, "mark");
      assert.equal(live.interval, false);
      assert.deepEqual(
        live.elements.map((e) => [e.nfproto, e.mark]),
        [
          ["ipv4", 1],
          ["ipv6", 1],
        ],
      );
      assert.match(
        p.nft,
        /\n\tmap live \{\n\t\ttype nf_proto : mark\n\t\telements = \{\n\t\t\tipv4 : 0x00000001,\n\t\t\tipv6 : 0x00000001\n\t\t\}\n\t\}\n/,
      );
      assert.match(p.nft, /\n\t\tmeta nfproto != @live drop\n\t\}\n/, "the base chain's last rule");
      assert.doesNotMatch(p.nft, /ip saddr != @live/);
      const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
      const isGuard = (r: IrRule) => same({ ...r, match: r.match.slice(-1) }, guard);
      const isAccept = (r: IrRule) => r.action.kind === "verdict" && r.action.verdict.kind === "accept";
      const base = p.ir.chains.find((c) => c.name === BASE_CHAIN)!;
      assert.deepEqual(base.rules.at(-1), guard, "the base chain ends with the guard (its policy is accept)");
      // Multitenant: right after the jump, with the jump's matches (an empty chain returns at once).
      const jump = base.rules.findIndex((r) =>
        same(r.action, { kind: "verdict", verdict: { kind: "jump", chain: "multitenant" } }),
      );
      assert.deepEqual(base.rules[jump + 1], {
        ...guard,
        match: [...base.rules[jump]!.match, ...guard.match],
      });
      assert.deepEqual(
        base.rules.flatMap((r, i) => (isGuard(r) ? [i] : [])),
        [jump + 1, base.rules.length - 1],
        "no other guard in the base chain",
      );
      const fwChain = p.ir.chains.find((c) => c.name === "egress-firewall")!;
      assert.deepEqual(fwChain.rules[0], guard, "egress-firewall starts with the guard (DNS accept)");
      for (const c of p.ir.chains) {
        if (c === base) continue;
        c.rules.forEach((r, i) => {
          const next = c.rules[i + 1];
          if (isGuard(r))
            assert.ok(
              next && isAccept(next) && r.match.length === 1,
              `${c.name}: a guard precedes an accept`,
            );
          // Every accept in a chain other than the base chain comes after a guard; an unconditional
          // one right after it.
          if (isAccept(r)) {
            assert.ok(c.rules.slice(0, i).some(isGuard), `${c.name}: unguarded accept`);
            if (r.match.length === 0)
              assert.deepEqual(c.rules[i - 1], guard, `${c.name}: unguarded final accept`);
          }
        });
      }
      assert.deepEqual(last("a").action, { kind: "verdict", verdict: { kind: "drop" } });
      const a = p.ir.chains.find((c) => c.name === "fw/a")!;
      assert.ok(!a.rules.some(isGuard), "a final drop needs no guard");
      assert.match(
        p.nft,
        /\t\tip saddr @cluster_cidrs ip daddr @cluster_cidrs jump multitenant\n\t\tip saddr @cluster_cidrs ip daddr @cluster_cidrs meta nfproto != @live drop\n/,
      );
      assert.match(
        p.nft,
        /\tchain egress-firewall \{\n\t\tmeta nfproto != @live drop\n\t\tip daddr @dns_servers /,
      );
    });

    it("verdicts and deciding rules equal the reference at every rule boundary", () => {
      const edges = ["1.1.1.0", "2.2.2.0", "9.0.0.0", "5.0.0.0", "3.3.3.3", "8.8.8.8", "8.8.4.0", "9.9.9.0"]
        .flatMap((a) => [num(a) - 1, num(a), num(a) + 1, num(a) + 255, num(a) + 256])
        .concat([num("7.0.0.0"), num("7.255.255.255"), num("8.0.0.0"), 1, 0xfffffffe]);
      const probes: [PolicyTracePacket["protocol"], number | undefined][] = [
        ["TCP", 80],
        ["TCP", 443],
        ["TCP", 22],
        ["UDP", 80],
        ["ICMP", undefined],
      ];
      let n = 0;
      for (const src of ["10.128.0.2", "10.128.0.4"])
        for (const d of edges)
          for (const [protocol, dport] of probes) {
            const dst = [24, 16, 8, 0].map((s) => (d >>> s) & 255).join(".");
            const pkt: PolicyTracePacket = { src, dst, protocol, ...(dport ? { dport } : {}), state: "new" };
            const got = tracePolicy(p, pkt);
            const want = referencePolicy(view, [], pkt);
            assert.deepEqual(
              { verdict: got.verdict, decidedBy: got.decidedBy, marked: got.marked },
              want,
              dst,
            );
            if (got.decidedBy.kind === "egressfirewall") n++;
          }
      assert.ok(n > 100, `${n} packets decided by a firewall rule`);
      // Left-out segments are attributed to their rule, not to "no match".
      const t = (dst: string, dport: number) =>
        tracePolicy(p, { src: "10.128.0.2", dst, protocol: "TCP", dport, state: "new" }).decidedBy;
      assert.deepEqual(t("9.1.2.3", 443), rule("a", 3, "Deny"));
      assert.deepEqual(t("9.1.2.3", 80), rule("a", 7, "Deny"));
      assert.deepEqual(t("3.3.3.3", 80), rule("a", 5, "Allow"));
      assert.deepEqual(t("3.3.3.3", 81), rule("a", 6, "Allow"));
    });
  });

  it("namespaces without local pods get no chain", () => {
    const p = compilePolicyProgram(
      mtView({ egressFirewalls: [fw("j", [{ type: "Deny", cidrSelector: "0.0.0.0/0" }])] }),
    );
    assert.equal(
      p.ir.chains.find((c) => c.name === "fw/j"),
      undefined,
    );
  });
});

describe("NetworkPolicy rendering", () => {
  const view = baseView({
    mode: "networkpolicy",
    pods: [
      pod("a", "a1", "10.128.0.2"),
      pod("a", "a2", "10.128.0.3"),
      pod("b", "b1", "10.128.0.4"),
      pod("b", "r", "10.128.2.2", false),
    ],
  });
  const o = (policy: string, direction: "ingress" | "egress", rule: number) => ({ policy, direction, rule });
  const np: LocalPodPolicy[] = [
    {
      namespace: "a",
      name: "a1",
      ip: num("10.128.0.2"),
      ingressIsolated: true,
      egressIsolated: true,
      ingress: [
        {
          peers: [{ start: num("10.128.0.3"), end: num("10.128.0.3") }],
          protocol: "TCP",
          ports: [80, 90],
          origin: o("a/web", "ingress", 0),
        },
        { peers: [{ start: num("10.128.2.0"), end: num("10.128.2.255") }], origin: o("a/web", "ingress", 1) },
      ],
      egress: [{ peers: "any", protocol: "UDP", ports: [53, 53], origin: o("a/dns", "egress", 0) }],
    },
    {
      namespace: "a",
      name: "a2",
      ip: num("10.128.0.3"),
      ingressIsolated: true,
      egressIsolated: false,
      ingress: [
        {
          peers: [{ start: num("10.128.0.3"), end: num("10.128.0.3") }],
          protocol: "TCP",
          ports: [80, 90],
          origin: o("a/web", "ingress", 0),
        },
        { peers: [{ start: num("10.128.2.0"), end: num("10.128.2.255") }], origin: o("a/web", "ingress", 1) },
      ],
      egress: [],
    },
    {
      namespace: "b",
      name: "b1",
      ip: num("10.128.0.4"),
      ingressIsolated: true,
      egressIsolated: false,
      ingress: [],
      egress: [],
    },
  ];
  for (const [rendering, opts] of [
    ["one rule per entry", {}],
    ["classified lookups", { npInlineMax: 0 }],
  ] as const)
    describe(rendering, () =>
      check(
        view,
        [
          {
            name: "ingress allowed by peer and port range",
            pkt: { src: "10.128.0.3", dst: "10.128.0.2", dport: 85 },
            want: {
              verdict: "accept",
              decidedBy: { kind: "networkpolicy", policy: "a/web", direction: "ingress", rule: 0 },
            },
          },
          {
            name: "isolated for egress: only what an egress rule allows",
            pkt: { src: "10.128.0.2", dst: "10.128.0.3", dport: 85 },
            want: { verdict: "drop", decidedBy: { kind: "networkpolicy-isolation", direction: "egress" } },
          },
          {
            name: "ingress from a non-isolated source",
            pkt: { src: "10.128.2.2", dst: "10.128.0.2", protocol: "ICMP", dport: undefined },
            want: {
              verdict: "accept",
              decidedBy: { kind: "networkpolicy", policy: "a/web", direction: "ingress", rule: 1 },
            },
          },
          {
            name: "ingress port outside the range",
            pkt: { src: "10.128.0.4", dst: "10.128.0.3", dport: 91 },
            want: { verdict: "drop", decidedBy: { kind: "networkpolicy-isolation", direction: "ingress" } },
          },
          {
            name: "a2 → a2's group shares the chain: port in range from a2",
            pkt: { src: "10.128.0.3", dst: "10.128.0.3", dport: 90 },
            want: {
              verdict: "accept",
              decidedBy: { kind: "networkpolicy", policy: "a/web", direction: "ingress", rule: 0 },
            },
          },
          {
            name: "egress DNS allowed to anywhere",
            pkt: { src: "10.128.0.2", dst: "8.8.8.8", protocol: "UDP", dport: 53 },
            want: {
              verdict: "accept",
              decidedBy: { kind: "networkpolicy", policy: "a/dns", direction: "egress", rule: 0 },
              marked: true,
            },
          },
          {
            name: "egress then ingress: both must allow",
            pkt: { src: "10.128.0.2", dst: "10.128.0.4", protocol: "UDP", dport: 53 },
            want: { verdict: "drop", decidedBy: { kind: "networkpolicy-isolation", direction: "ingress" } },
          },
          {
            name: "isolated with empty allow list",
            pkt: { src: "10.128.0.3", dst: "10.128.0.4" },
            want: { verdict: "drop", decidedBy: "networkpolicy-isolation" },
          },
          {
            name: "replies of allowed flows pass",
            pkt: { src: "10.128.0.4", dst: "10.128.0.2", state: "established" },
            want: { verdict: "accept", decidedBy: "conntrack" },
          },
          {
            name: "non-isolated pods are open",
            pkt: { src: "10.128.0.4", dst: "10.128.2.2" },
            want: { verdict: "accept", decidedBy: "default" },
          },
        ],
        np,
        opts,
      ),
    );

  it("pods with equal allow lists share one chain", () => {
    const inline = compileWithResolved(view, { pods: np, warnings: [] });
    assert.match(inline.nft, /ip saddr @np_peers_\d+ meta l4proto tcp th dport 80-90 return/);
    const p = compileWithResolved(view, { pods: np, warnings: [] }, { npInlineMax: 0 });
    const ingress = p.ir.sets.find((s) => s.name === "np_ingress_pods")!;
    const chains = ingress.elements.map((e) => (e.verdict?.kind === "jump" ? e.verdict.chain : ""));
    assert.equal(chains[0], chains[1]);
    assert.notEqual(chains[0], chains[2]);
    assert.match(p.nft, /ip saddr \. meta l4proto \. th dport @np_in_0_ports return/);
    assert.match(p.nft, /10\.128\.0\.3 \. tcp \. 80-90/);
  });

  it("renders each peer component once: a namespace's pods one hash set for every rule using it", () => {
    const ns = (name: string) => ({
      name,
      labels: { "kubernetes.io/metadata.name": name },
      multicast: false,
    });
    const fromB = (name: string, cidr: string, port: number) => ({
      namespace: "a",
      name,
      spec: {
        podSelector: { matchLabels: { app: name } },
        ingress: [
          {
            from: [
              { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "b" } } },
              { ipBlock: { cidr } },
            ],
            ports: [{ protocol: "TCP" as const, port }],
          },
        ],
      },
    });
    const v = baseView({
      mode: "networkpolicy",
      pods: [
        pod("a", "x", "10.128.0.2", true, { app: "x" }),
        pod("a", "y", "10.128.0.3", true, { app: "y" }),
        pod("b", "b1", "10.128.0.4"),
        pod("b", "b2", "10.128.0.5"),
        pod("b", "b3", "10.128.2.9", false),
      ],
      namespaces: [ns("a"), ns("b")],
      networkPolicies: [fromB("x", "1.2.3.0/24", 80), fromB("y", "5.6.0.0/16", 81)],
    });
    const p = compilePolicyProgram(v);
    assert.deepEqual(p.warnings, []);
    const peerSets = p.ir.sets.filter((s) => s.name.startsWith("np_peers_"));
    const text = (s: (typeof peerSets)[number]) =>
      s.elements.map((e) => `${e.addr.start === e.addr.end ? "" : "range "}${e.addr.start}`).join(",");
    // Namespace b's pods once (single addresses: a hash set), each ipBlock its own interval set.
    assert.deepEqual(peerSets.map((s) => [s.interval, s.elements.length]).sort(), [
      [false, 3],
      [true, 1],
      [true, 1],
    ]);
    assert.equal(new Set(peerSets.map(text)).size, 3);
    const bSet = peerSets.find((s) => !s.interval)!.name;
    assert.match(p.nft, new RegExp(`set ${bSet} \\{\n\t\ttype ipv4_addr\n\t\telements = \\{`));
    assert.equal(p.nft.split(`ip saddr @${bSet} meta l4proto tcp`).length - 1, 2);
    const t = (src: string, dst: string, dport: number) =>
      tracePolicy(p, { src, dst, protocol: "TCP", dport, state: "new" });
    for (const [src, dst, dport, verdict, policy] of [
      ["10.128.2.9", "10.128.0.2", 80, "accept", "a/x"],
      ["1.2.3.4", "10.128.0.2", 80, "accept", "a/x"],
      ["5.6.7.8", "10.128.0.2", 80, "drop", undefined],
      ["5.6.7.8", "10.128.0.3", 81, "accept", "a/y"],
      ["10.128.0.4", "10.128.0.3", 80, "drop", undefined],
    ] as const) {
      const r = t(src, dst, dport);
      assert.equal(r.verdict, verdict, `${src} → ${dst}:${dport}`);
      if (policy)
        assert.deepEqual(r.decidedBy, { kind: "networkpolicy", policy, direction: "ingress", rule: 0 });
    }
  });

  it("renders a rule's several ports as one shared port set per peer component", () => {
    const ns = (name: string) => ({
      name,
      labels: { "kubernetes.io/metadata.name": name },
      multicast: false,
    });
    const v = baseView({
      mode: "networkpolicy",
      pods: [pod("a", "x", "10.128.0.2"), pod("b", "b1", "10.128.0.4")],
      namespaces: [ns("a"), ns("b")],
      networkPolicies: [
        {
          namespace: "a",
          name: "p",
          spec: {
            podSelector: {},
            ingress: [
              {
                from: [
                  { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "b" } } },
                  { ipBlock: { cidr: "1.2.3.0/24" } },
                ],
                ports: [
                  { protocol: "TCP", port: 80 },
                  { protocol: "UDP", port: 53, endPort: 60 },
                  { protocol: "TCP", port: 81 },
                ],
              },
            ],
          },
        },
      ],
    });
    const p = compilePolicyProgram(v);
    const ports = p.ir.sets.filter((s) => s.key === "l4.dport");
    assert.equal(ports.length, 1);
    assert.match(
      p.nft,
      /set np_ports_0 \{\n\t\ttype inet_proto \. inet_service\n\t\tflags interval\n\t\telements = \{\n\t\t\ttcp \. 80-81,\n\t\t\tudp \. 53-60\n/,
    );
    const chain = p.ir.chains.find((c) => c.name === "np-in-0")!;
    assert.deepEqual(
      chain.rules.map((r) => r.match.map((m) => (m.kind === "lookup" ? m.key : m.kind))),
      [["saddr", "l4.dport"], ["saddr", "l4.dport"], []],
    );
    for (const [src, protocol, dport, verdict] of [
      ["10.128.0.4", "TCP", 81, "accept"],
      ["1.2.3.4", "UDP", 60, "accept"],
      ["1.2.3.4", "UDP", 61, "drop"],
      ["1.2.3.4", "SCTP", 80, "drop"],
      ["1.2.4.4", "TCP", 80, "drop"],
    ] as const) {
      const r = tracePolicy(p, { src, dst: "10.128.0.2", protocol, dport, state: "new" });
      assert.equal(r.verdict, verdict, `${src} ${protocol}/${dport}`);
      if (verdict === "accept")
        assert.deepEqual(r.decidedBy, {
          kind: "networkpolicy",
          policy: "a/p",
          direction: "ingress",
          rule: 0,
        });
    }
  });

  it("warns once when NetworkPolicies exist in another mode", () => {
    const p = compilePolicyProgram(
      baseView({
        mode: "multitenant",
        networkPolicies: [
          { namespace: "a", name: "x", spec: { podSelector: {} } },
          { namespace: "a", name: "y", spec: { podSelector: {} } },
        ],
      }),
    );
    assert.equal(p.warnings.length, 1);
    assert.match(p.warnings[0]!.detail, /not enforced/);
  });
});

describe("program", () => {
  it("is byte-identical for equal input in any order", () => {
    const v = mtView({
      egressFirewalls: [
        fw("a", [{ type: "Deny", cidrSelector: "1.0.0.0/8" }]),
        fw("b", [{ type: "Deny", cidrSelector: "2.0.0.0/8" }]),
      ],
    });
    const shuffled: PolicyView = {
      ...v,
      pods: [...v.pods].reverse(),
      namespaces: [...v.namespaces].reverse(),
      egressFirewalls: [...v.egressFirewalls].reverse(),
      nodes: [...v.nodes].reverse(),
    };
    assert.equal(compilePolicyProgram(shuffled).nft, compilePolicyProgram(v).nft);
  });

  it("is one whole-table transaction", () => {
    const lines = compilePolicyProgram(mtView()).nft.split("\n");
    assert.deepEqual(lines.slice(0, 3), [
      "table inet egress-policy {}",
      "delete table inet egress-policy",
      "table inet egress-policy {",
    ]);
  });

  it("orders the base chain: multitenant, mark, conntrack, NetworkPolicy, firewall", () => {
    const p = compileWithResolved(mtView(), { pods: [], warnings: [] });
    const fwd = p.nft.slice(p.nft.indexOf("chain forward"));
    const order = [
      "jump multitenant",
      "meta mark set meta mark | 0x00008000",
      "ct state established,related accept",
      "jump egress-firewall",
    ];
    const at = order.map((s) => fwd.indexOf(s));
    assert.ok(
      at.every((x, i) => x > 0 && (i === 0 || x > at[i - 1]!)),
      JSON.stringify(at),
    );
    const np = compileWithResolved(mtView({ mode: "networkpolicy" }), { pods: [], warnings: [] }).nft;
    const f2 = np.slice(np.indexOf("chain forward"));
    assert.ok(f2.indexOf("established,related") < f2.indexOf("vmap @np_egress_pods"));
    assert.ok(f2.indexOf("vmap @np_ingress_pods") < f2.indexOf("jump egress-firewall"));
  });

  it("is accepted by the fake nft (structure and references)", async () => {
    const nft = new FakeNft();
    await nft.apply(compilePolicyProgram(bigFirewallView(50)).nft);
  });

  it("throws CompileError only for node-level fields, warns for items", () => {
    assert.throws(() => compilePolicyProgram(baseView({ podSubnet: "nope" })), CompileError);
    const p = compilePolicyProgram(
      baseView({
        pods: [pod("a", "x", "bad"), pod("a", "y", "10.128.0.2"), pod("b", "z", "10.128.0.2")],
        dnsServers: ["x", "fd00::1"],
      }),
    );
    assert.deepEqual(
      p.warnings.map((w) => w.field),
      ["pods[a/x].ip", "pods[b/z].ip", "dnsServers[0]"],
    );
  });

  it("tracePolicy rejects bad packets", () => {
    const p = compilePolicyProgram(baseView());
    assert.throws(
      () => tracePolicy(p, { src: "x", dst: "1.1.1.1", protocol: "ICMP", state: "new" }),
      PolicyTraceError,
    );
    assert.throws(
      () => tracePolicy(p, { src: "1.1.1.1", dst: "1.1.1.1", protocol: "TCP", state: "new" }),
      PolicyTraceError,
    );
  });
});

describe("admin table", () => {
  it("creates the admin chain without flushing it and refills the hook", () => {
    const s = adminTableScript();
    assert.equal(
      s,
      [
        "add table inet egress-admin",
        "add chain inet egress-admin admin-output",
        "add chain inet egress-admin admin-hook { type filter hook forward priority filter + 10; policy accept; }",
        "flush chain inet egress-admin admin-hook",
        "add rule inet egress-admin admin-hook meta mark & 0x00008000 != 0 jump admin-output",
        "",
      ].join("\n"),
    );
    assert.doesNotMatch(s, /flush chain inet egress-admin admin-output|delete/);
  });
});
