import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  compileMulticastProgram,
  MulticastCompileError,
  type MulticastLocal,
  type MulticastPlan,
  multicastKey,
} from "./multicast.js";
import type { PolicyNamespace, PolicyPod, PolicyView } from "./policy/types.js";

const ns = (name: string, netid: number | undefined, multicast: boolean): PolicyNamespace => ({
  name,
  labels: {},
  multicast,
  ...(netid === undefined ? {} : { netid }),
});
const pod = (namespace: string, name: string, ip: string, local: boolean): PolicyPod => ({
  namespace,
  name,
  ip,
  labels: {},
  ports: [],
  local,
});

function view(namespaces: PolicyNamespace[], pods: PolicyPod[]): PolicyView {
  return {
    mode: "multitenant",
    node: "node1",
    podSubnet: "10.128.0.0/23",
    clusterCIDRs: ["10.128.0.0/14"],
    serviceCIDR: "172.30.0.0/16",
    nodes: [
      { name: "node1", ips: ["192.168.126.11"], labels: {} },
      { name: "node2", ips: ["192.168.126.12"], labels: {} },
    ],
    dnsServers: [],
    pods,
    namespaces,
    networkPolicies: [],
    egressFirewalls: [],
  };
}

// Pods: a* alpha, b* beta, g* gamma, d* default, x* glob2; *1 on this node (10.128.0.x), *2 remote.
const PODS: PolicyPod[] = [
  pod("alpha", "a1", "10.128.0.11", true),
  pod("beta", "b1", "10.128.0.12", true),
  pod("gamma", "g1", "10.128.0.13", true),
  pod("default", "d1", "10.128.0.14", true),
  pod("glob2", "x1", "10.128.0.15", true),
  pod("alpha", "a2", "10.128.2.11", false),
  pod("beta", "b2", "10.128.2.12", false),
  pod("gamma", "g2", "10.128.2.13", false),
  pod("default", "d2", "10.128.2.14", false),
  pod("glob2", "x2", "10.128.2.15", false),
];
const LOCAL: MulticastLocal = {
  bridge: "cbr0",
  vxlan: "egmc0",
  ports: PODS.filter((p) => p.local).map((p) => ({ ip: p.ip, ifname: `veth${p.name}` })),
};

/**
 * What the rendered rules do with one copy (mirrors the chains: from-pod → local_src → netid chain;
 * to-vxlan → senders; from-vxlan → remote_src → netid chain). Remote receivers are judged by
 * compiling the same view as their node would see it.
 */
function deliveredHere(plan: MulticastPlan, from: PolicyPod, to: PolicyPod): boolean {
  const recv = (netid: number) => plan.receivers.find((r) => r.netid === netid)?.ports ?? [];
  const toPort = `veth${to.name}`;
  if (from.local) {
    const s = plan.localSenders.find((x) => x.ip === from.ip && x.ifname === `veth${from.name}`);
    return s !== undefined && recv(s.netid).includes(toPort);
  }
  const s = plan.remoteSenders.find((x) => x.ip === from.ip);
  return s !== undefined && recv(s.netid).includes(toPort);
}
function leavesNode(plan: MulticastPlan, from: PolicyPod): boolean {
  return plan.localSenders.some((x) => x.ip === from.ip && x.ifname === `veth${from.name}`);
}

/** node1's view and node2's view of the same cluster; a remote delivery needs both. */
function delivered(namespaces: PolicyNamespace[], fromName: string, toName: string): boolean {
  const from = PODS.find((p) => p.name === fromName)!;
  const to = PODS.find((p) => p.name === toName)!;
  const flip = (p: PolicyPod) => ({ ...p, local: !p.local });
  const here = compileMulticastProgram(view(namespaces, PODS), LOCAL).plan;
  const there = compileMulticastProgram(view(namespaces, PODS.map(flip)), {
    ...LOCAL,
    ports: PODS.filter((p) => !p.local).map((p) => ({ ip: p.ip, ifname: `veth${p.name}` })),
  }).plan;
  if (from.local && to.local) return deliveredHere(here, from, to);
  if (!from.local && !to.local) return deliveredHere(there, flip(from), flip(to));
  if (from.local) return leavesNode(here, from) && deliveredHere(there, flip(from), flip(to));
  return leavesNode(there, flip(from)) && deliveredHere(here, from, to);
}

describe("compileMulticastProgram: who receives whose multicast", () => {
  const base = (on: string[]) => [
    ns("alpha", 10, on.includes("alpha")),
    ns("beta", 10, on.includes("beta")), // joined with alpha
    ns("gamma", 20, on.includes("gamma")),
    ns("default", 0, on.includes("default")),
    ns("glob2", 0, on.includes("glob2")), // made global
  ];
  const cases: { name: string; on: string[]; from: string; yes: string[] }[] = [
    { name: "off by default", on: [], from: "a1", yes: [] },
    {
      name: "on for one project: its own pods, same node and across",
      on: ["alpha"],
      from: "a1",
      yes: ["a2"],
    },
    { name: "on for one of two joined projects: the other gets nothing", on: ["alpha"], from: "b1", yes: [] },
    { name: "joined projects, both on", on: ["alpha", "beta"], from: "a1", yes: ["b1", "a2", "b2"] },
    {
      name: "joined projects, both on, from the remote node",
      on: ["alpha", "beta"],
      from: "b2",
      yes: ["a1", "b1", "a2"],
    },
    { name: "different netids", on: ["alpha", "gamma"], from: "g1", yes: ["g2"] },
    { name: "global ↔ global", on: ["default", "glob2"], from: "d1", yes: ["x1", "d2", "x2"] },
    { name: "global → non-global", on: ["default", "alpha"], from: "d1", yes: ["d2"] },
    { name: "non-global → global", on: ["default", "alpha"], from: "a2", yes: ["a1"] },
    { name: "one global project on only", on: ["default"], from: "x1", yes: [] },
  ];
  for (const c of cases)
    it(c.name, () => {
      const got = PODS.map((p) => p.name)
        .filter((to) => to !== c.from && delivered(base(c.on), c.from, to))
        .sort();
      assert.deepEqual(got, [...c.yes].sort());
    });

  it("networkpolicy mode: the same rule per netid (each namespace has its own)", () => {
    const v = {
      ...view([ns("alpha", 10, true), ns("beta", 11, true)], PODS),
      mode: "networkpolicy" as const,
    };
    const plan = compileMulticastProgram(v, LOCAL).plan;
    assert.deepEqual(plan.receivers, [
      { netid: 10, ports: ["vetha1"] },
      { netid: 11, ports: ["vethb1"] },
    ]);
  });
});

describe("compileMulticastProgram: script and inputs", () => {
  const nss = [ns("alpha", 10, true), ns("beta", 10, true), ns("gamma", 20, true), ns("default", 0, false)];

  it("renders a whole-table swap with keyed maps and per-netid chains", () => {
    const p = compileMulticastProgram(view(nss, PODS), LOCAL);
    assert.equal(p.warnings.length, 0);
    assert.match(
      p.nft,
      /^table bridge egress-mcast \{\}\ndelete table bridge egress-mcast\ntable bridge egress-mcast \{/,
    );
    assert.match(p.nft, /"vetha1" \. 10\.128\.0\.11 : jump netid-10/);
    assert.match(p.nft, /10\.128\.2\.11 : jump netid-10/);
    assert.match(p.nft, /chain netid-10 \{\n\t\toifname \{ "vetha1", "vethb1" \} accept\n\t\tdrop/);
    assert.match(p.nft, /chain netid-20 \{\n\t\toifname \{ "vethg1" \} accept/);
    assert.doesNotMatch(p.nft, /netid-0/);
    assert.match(p.nft, /iifname "egmc0" jump from-vxlan/);
    // Every jump from the base chain is followed by a drop of the same packets: a stale packet that
    // finds the jumped-to chain flushed returns and must not reach the policy accept.
    const forward =
      /chain forward \{\n([^}]*)\}/
        .exec(p.nft)?.[1]
        ?.split("\n")
        .map((l) => l.trim()) ?? [];
    const jumps = forward.filter((l) => / jump /.test(l));
    assert.equal(jumps.length, 3);
    for (const j of jumps) {
      const drop = j.replace(/ jump \S+$/, " drop");
      assert.ok(forward.indexOf(drop) > forward.indexOf(j), `${j} is followed by "${drop}"`);
    }
    // Balanced braces: the real kernel's acceptance is checked by test/e2e/policy/multicast.test.ts.
    assert.equal((p.nft.match(/\{/g) ?? []).length, (p.nft.match(/\}/g) ?? []).length);
  });

  it("remote senders of a netid without local receivers are left out", () => {
    const onlyRemote = PODS.map((p) => (p.namespace === "gamma" ? { ...p, local: false } : p));
    const plan = compileMulticastProgram(view(nss, onlyRemote), LOCAL).plan;
    assert.ok(!plan.remoteSenders.some((s) => s.netid === 20));
    assert.ok(!plan.receivers.some((r) => r.netid === 20));
  });

  it("a local pod without a known port neither sends nor receives, with a warning", () => {
    const p = compileMulticastProgram(view(nss, PODS), {
      ...LOCAL,
      ports: LOCAL.ports.filter((x) => x.ifname !== "vetha1"),
    });
    assert.ok(!p.plan.localSenders.some((s) => s.ip === "10.128.0.11"));
    assert.deepEqual(p.plan.receivers.find((r) => r.netid === 10)?.ports, ["vethb1"]);
    assert.ok(p.warnings.some((w) => w.field === "pods[0]" && /no known bridge port/.test(w.detail)));
  });

  it("multicast on without a netid is off, with a warning", () => {
    const p = compileMulticastProgram(view([ns("alpha", undefined, true)], PODS), LOCAL);
    assert.deepEqual(p.plan.localSenders, []);
    assert.equal(p.warnings[0]?.field, "namespaces[0].netid");
  });

  it("skips bad addresses, port names that could break the script, and duplicates", () => {
    const pods = [pod("alpha", "bad", "fd00::1", true), ...PODS, pod("alpha", "dup", "10.128.0.11", false)];
    const ports = [
      { ip: "10.128.0.99", ifname: 'x" drop' },
      { ip: "nope", ifname: "vethz" },
      ...LOCAL.ports,
      { ip: "10.128.0.11", ifname: "vethdup" },
    ];
    const p = compileMulticastProgram(view(nss, pods), { ...LOCAL, ports });
    const fields = p.warnings.map((w) => w.field).sort();
    assert.deepEqual(
      fields,
      ["pods[0].ip", "pods[11].ip", "ports[0].ifname", "ports[1].ip", "ports[7]"].sort(),
    );
    assert.doesNotMatch(p.nft, /drop"|vethdup/);
  });

  it("refuses bridge or VXLAN names that are not interface names", () => {
    assert.throws(
      () => compileMulticastProgram(view(nss, PODS), { ...LOCAL, bridge: "a b" }),
      MulticastCompileError,
    );
    assert.throws(
      () => compileMulticastProgram(view(nss, PODS), { ...LOCAL, vxlan: "cbr0" }),
      (e: unknown) => e instanceof MulticastCompileError && /vxlan/.test(e.message),
    );
  });

  it("multicastKey: exactly multicast && netid", () => {
    assert.equal(multicastKey(ns("a", 0, true)), 0);
    assert.equal(multicastKey(ns("a", 7, false)), undefined);
    assert.equal(multicastKey(undefined), undefined);
  });

  it("input order does not change the script (property)", () => {
    fc.assert(
      fc.property(
        fc.shuffledSubarray(PODS, { minLength: PODS.length }),
        fc.shuffledSubarray(nss, { minLength: nss.length }),
        fc.shuffledSubarray(LOCAL.ports, { minLength: LOCAL.ports.length }),
        (pods, namespaces, ports) => {
          const a = compileMulticastProgram(view(namespaces, pods), { ...LOCAL, ports }).nft;
          assert.equal(a, compileMulticastProgram(view(nss, PODS), LOCAL).nft);
        },
      ),
      { numRuns: 50 },
    );
  });
});
