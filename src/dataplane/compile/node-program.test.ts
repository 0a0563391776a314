import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { countersFromJson } from "../nft/counters.js";
import { FakeNft } from "../nft/fake.js";
import { type TracePacket, type TraceVerdict, traceChain } from "../nft/trace.js";
import { compileNodeIncremental } from "./incremental.js";
import {
  CompileError,
  compileNodeProgram,
  MARK_MASK,
  NIC_MARK_MASK,
  NIC_TABLE_BASE,
  REMOTE_EGRESS_DROP_COUNTER,
  ROUTE_TABLE_BASE,
  secondaryNicIds,
  TABLE_NAME,
} from "./node-program.js";
import type { EgressIPView, NodeView, ProjectEgressView, ServiceView } from "./types.js";

// Three nodes on 192.168.126.0/18; this node is n1 (10.128.0.0/23). Holder ids are the low 12 bits of
// the node address: .12 → 0xe0c, .13 → 0xe0d.
const N2 = 0xe0c;
const N3 = 0xe0d;
function view(over: Partial<NodeView> = {}): NodeView {
  return {
    node: {
      name: "n1",
      nodeIP: "192.168.126.11",
      podSubnet: "10.128.0.0/23",
      bridge: "egbr0",
      interfaces: [
        { name: "eth0", address: "192.168.126.11/18" },
        { name: "eth1", address: "192.168.12.11/24" },
      ],
    },
    nodes: [
      { name: "n1", nodeIP: "192.168.126.11", podSubnet: "10.128.0.0/23" },
      { name: "n2", nodeIP: "192.168.126.12", podSubnet: "10.128.2.0/23" },
      { name: "n3", nodeIP: "192.168.126.13", podSubnet: "10.128.4.0/23" },
    ],
    clusterCIDRs: ["10.128.0.0/14"],
    serviceCIDR: "172.30.0.0/16",
    localPods: [{ namespace: "a", name: "p1", ip: "10.128.0.5" }],
    services: [],
    egressIPs: [],
    projectEgress: [],
    ...over,
  };
}

const h = (ip: string, node: string, nodeIP: string, iface?: string) => ({
  ip,
  node,
  nodeIP,
  ...(iface ? { interface: iface } : {}),
});
const H1 = (ip = "192.168.126.102") => h(ip, "n1", "192.168.126.11");
const H2 = (ip = "192.168.126.10") => h(ip, "n2", "192.168.126.12");
const H3 = (ip = "192.168.126.103") => h(ip, "n3", "192.168.126.13");
const hexMark = (id: number) => `0x${(id << 16).toString(16).padStart(8, "0")}`;

/** Compiles, applies to a FakeNft (which must accept the script) and returns handles for assertions. */
async function compile(v: NodeView) {
  const p = compileNodeProgram(v);
  const nft = new FakeNft();
  await nft.apply(p.nft);
  await nft.apply(p.nft); // re-applying the same script must work (table exists now)
  const el = (name: string) => nft.elements("inet", TABLE_NAME, name) ?? [];
  const rules = (chain: string) => nft.rules("inet", TABLE_NAME, chain);
  return { p, nft, el, rules };
}

describe("compileNodeProgram: pod network", () => {
  it("routes other nodes' pod subnets via their node IP and never its own", async () => {
    const { p } = await compile(view());
    assert.deepEqual(p.ip.routes, [
      { table: "main", dst: "10.128.2.0/23", via: "192.168.126.12", dev: "eth0" },
      { table: "main", dst: "10.128.4.0/23", via: "192.168.126.13", dev: "eth0" },
    ]);
  });

  it("reaches a node on a secondary network through that interface (longest prefix)", async () => {
    const v = view();
    v.nodes.push({ name: "n4", nodeIP: "192.168.12.14", podSubnet: "10.128.6.0/23" });
    const { p } = await compile(v);
    assert.deepEqual(
      p.ip.routes.find((r) => r.dst === "10.128.6.0/23"),
      { table: "main", dst: "10.128.6.0/23", via: "192.168.12.14", dev: "eth1" },
    );
  });

  it("keeps cluster destinations (pods, services, node IPs) out of NAT and masquerades the rest", async () => {
    const { el, rules } = await compile(view());
    assert.deepEqual(el("cluster_dsts"), [
      "10.128.0.0/14",
      "172.30.0.0/16",
      "192.168.126.11",
      "192.168.126.12",
      "192.168.126.13",
    ]);
    assert.deepEqual(rules("snat-postrouting"), [
      'ct status dnat ip saddr 10.128.0.0/23 ip daddr 10.128.0.0/23 oifname "egbr0" masquerade',
      "ip saddr != @cluster_cidrs return",
      "ip daddr @cluster_dsts return",
      "ct mark and 0x0fff0000 != 0 return",
      'ip saddr != 10.128.0.0/23 counter name "remote_pod_egress_dropped" drop',
      "meta nfproto != @live drop",
      'oifname != "egbr0" masquerade',
    ]);
  });

  it("emits forwarding and no-redirect sysctls for the node namespace", async () => {
    const { p } = await compile(view());
    const s = Object.fromEntries(p.sysctls.map((x) => [x.key, x.value]));
    assert.equal(s["net.ipv4.ip_forward"], "1");
    assert.equal(s["net.ipv4.conf.all.send_redirects"], "0");
    assert.equal(s["net.ipv4.conf.eth0.send_redirects"], "0");
    assert.equal(s["net.ipv4.conf.egbr0.send_redirects"], "0");
  });
});

describe("compileNodeProgram: services", () => {
  const svc = (over: Partial<ServiceView> = {}): ServiceView => ({
    namespace: "ns1",
    name: "web",
    clusterIP: "172.30.0.10",
    ports: [{ port: 80, protocol: "TCP", targetPort: 8080 }],
    endpoints: [{ ip: "10.128.2.5" }, { ip: "10.128.0.7" }],
    ...over,
  });

  it("maps ClusterIP . proto . port to a chain that picks one endpoint per flow", async () => {
    const { el, rules } = await compile(view({ services: [svc()] }));
    assert.deepEqual(el("service_ips"), ["172.30.0.10 . tcp . 80 : goto svc/ns1/web/tcp/80"]);
    assert.deepEqual(rules("svc/ns1/web/tcp/80"), [
      "numgen random mod 2 vmap { 0 : goto svc/ns1/web/tcp/80/ep0, 1 : goto svc/ns1/web/tcp/80/ep1 }",
    ]);
    // endpoints sorted by address, port = targetPort
    assert.deepEqual(rules("svc/ns1/web/tcp/80/ep0"), ["meta l4proto tcp dnat ip to 10.128.0.7:8080"]);
    assert.deepEqual(rules("svc/ns1/web/tcp/80/ep1"), ["meta l4proto tcp dnat ip to 10.128.2.5:8080"]);
    assert.deepEqual(rules("services"), ["ip daddr . meta l4proto . th dport vmap @service_ips"]);
    assert.ok(rules("dnat-output")?.includes("jump services"));
  });

  it("uses per-port endpoints and ports, a single endpoint without numgen, none = reject in forward", async () => {
    const s = svc({
      name: "dns",
      clusterIP: "172.30.0.11",
      ports: [
        { port: 53, protocol: "UDP", targetPort: 53, endpoints: [{ ip: "10.128.4.2", port: 5353 }] },
        { port: 54, protocol: "UDP", targetPort: 54, endpoints: [] },
      ],
    });
    const { el, rules } = await compile(view({ services: [s] }));
    assert.deepEqual(rules("svc/ns1/dns/udp/53"), ["meta l4proto udp dnat ip to 10.128.4.2:5353"]);
    assert.deepEqual(rules("svc/ns1/dns/udp/54"), []);
    assert.equal(el("service_ips").length, 2);
    assert.ok(rules("forward")?.includes("ip daddr 172.30.0.0/16 reject"));
  });

  it("skips bad ports and duplicate keys with warnings", async () => {
    const bad = svc({ ports: [{ port: 0, protocol: "TCP", targetPort: 1 }] });
    const { p, el } = await compile(view({ services: [svc(), svc({ name: "dup" }), bad] }));
    assert.equal(el("service_ips").length, 1);
    assert.deepEqual(
      p.warnings.map((w) => w.field),
      ["services[1].ports[0]", "services[2].ports[0]"],
    );
  });
});

describe("compileNodeProgram: EgressIP", () => {
  const eip = (ips: EgressIPView["ips"], podIPs = ["10.128.0.5", "10.128.2.7"]): EgressIPView => ({
    name: "egressip-1",
    ips,
    podIPs,
  });

  const cases: {
    name: string;
    ips: EgressIPView["ips"];
    egressPods: string[];
    chainRules?: [string, string[]];
    snat: string[];
    addresses: string[];
    tables: number[];
  }[] = [
    {
      name: "local holder: SNAT here for local and remote pods, no reroute",
      ips: [H1()],
      egressPods: [],
      snat: ["10.128.0.5 : 192.168.126.102", "10.128.2.7 : 192.168.126.102"],
      addresses: ["eth0 192.168.126.102/32 eth0:eg"],
      tables: [],
    },
    {
      name: "remote holder: local pod rerouted to n2, nothing SNATed here",
      ips: [H2()],
      egressPods: ["10.128.0.5 : goto egress-via-e0c"],
      chainRules: ["egress-via-e0c", [`ct mark set ${hexMark(N2)}`, "meta mark set ct mark"]],
      snat: [],
      addresses: [],
      tables: [ROUTE_TABLE_BASE + N2],
    },
    {
      name: "two remote holders: flows spread by numgen",
      ips: [H2(), H3()],
      egressPods: ["10.128.0.5 : goto egress-via-e0c-e0d"],
      chainRules: [
        "egress-via-e0c-e0d",
        [
          `ct mark set numgen random mod 2 map { 0 : ${hexMark(N2)}, 1 : ${hexMark(N3)} }`,
          "meta mark set ct mark",
          "meta nfproto != @live drop",
        ],
      ],
      snat: [],
      addresses: [],
      tables: [ROUTE_TABLE_BASE + N2, ROUTE_TABLE_BASE + N3],
    },
    {
      name: "local and remote holder: half the flows stay (mark 0) and are SNATed here",
      ips: [H2(), H1()],
      egressPods: ["10.128.0.5 : goto egress-via-0-e0c"],
      chainRules: [
        "egress-via-0-e0c",
        [
          `ct state new ct mark set numgen random mod 2 map { 0 : 0x00000000, 1 : ${hexMark(N2)} }`,
          `ct state != new ct mark set ${hexMark(N2)}`,
          "meta mark set ct mark",
          "meta nfproto != @live drop",
        ],
      ],
      snat: ["10.128.0.5 : 192.168.126.102", "10.128.2.7 : 192.168.126.102"],
      addresses: ["eth0 192.168.126.102/32 eth0:eg"],
      tables: [ROUTE_TABLE_BASE + N2],
    },
    {
      name: "no holder: pods leave with their node IP (masquerade only)",
      ips: [],
      egressPods: [],
      snat: [],
      addresses: [],
      tables: [],
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const { p, el, rules } = await compile(view({ egressIPs: [eip(c.ips)] }));
      assert.deepEqual(el("egress_pods"), c.egressPods);
      assert.deepEqual(el("egressip_snat_eth0"), c.snat);
      assert.equal(
        rules("snat-postrouting")?.includes('oifname "eth0" snat ip to ip saddr map @egressip_snat_eth0'),
        c.snat.length > 0,
      );
      if (c.chainRules) assert.deepEqual(rules(c.chainRules[0]), c.chainRules[1]);
      assert.deepEqual(
        p.ip.addresses.map((a) => `${a.dev} ${a.address} ${a.label}`),
        c.addresses,
      );
      assert.deepEqual(
        p.ip.routes.filter((r) => r.table !== "main").map((r) => r.table),
        c.tables,
      );
      assert.deepEqual(
        p.ip.rules.map((r) => [r.priority, r.table, r.fwmask]),
        c.tables.map((t) => [t, t, MARK_MASK]),
      );
      for (const r of p.ip.routes.filter((x) => x.table !== "main"))
        assert.equal(r.via, r.table === ROUTE_TABLE_BASE + N2 ? "192.168.126.12" : "192.168.126.13");
      assert.deepEqual(p.warnings, []);
    });
  }

  it("puts the egress IP on the interface whose network contains it, or the one named", async () => {
    const { p, el, nft } = await compile(
      view({
        egressIPs: [
          eip([h("192.168.12.50", "n1", "192.168.126.11")], ["10.128.0.5"]),
          { name: "b", ips: [h("192.168.126.60", "n1", "192.168.126.11", "eth1")], podIPs: ["10.128.0.6"] },
        ],
      }),
    );
    assert.deepEqual(
      p.ip.addresses.map((a) => `${a.dev} ${a.address}`),
      ["eth1 192.168.12.50/32", "eth1 192.168.126.60/32"],
    );
    assert.deepEqual(el("egressip_snat_eth1"), ["10.128.0.5 : 192.168.12.50", "10.128.0.6 : 192.168.126.60"]);
    assert.equal(nft.elements("inet", TABLE_NAME, "egressip_snat_eth0"), undefined);
  });

  it("serves a pod selected by two EgressIPs by the first only", async () => {
    const first = { name: "first", ips: [H2()], podIPs: ["10.128.0.5"] };
    const second = { name: "second", ips: [H1()], podIPs: ["10.128.0.5", "10.128.0.8"] };
    const { el } = await compile(view({ egressIPs: [first, second] }));
    assert.deepEqual(el("egress_pods"), ["10.128.0.5 : goto egress-via-e0c"]);
    assert.deepEqual(el("egressip_snat_eth0"), ["10.128.0.8 : 192.168.126.102"]);
  });

  it("only marks flows that leave the cluster, and restores the mark only in the original direction", async () => {
    const { rules } = await compile(view({ egressIPs: [eip([H2()])] }));
    assert.deepEqual(rules("egress-mark"), [
      "ct direction original ct mark and 0x0fff0000 != 0 ct mark and 0x0fff0000 @live_marks meta mark set ct mark return",
      "ct direction original ct mark and 0x0fff0000 != 0 jump egress-repath",
      "ct direction original ct mark and 0x0fff0000 != 0 meta nfproto != @live drop",
      "ct state new ip daddr != @cluster_dsts ip saddr vmap @egress_pods",
      "ct state new meta nfproto != @live drop",
    ]);
  });

  it("re-paths flows whose holder no chain uses any more; live_marks = the remote holders in use", async () => {
    const two = await compile(view({ egressIPs: [eip([H2(), H3()])] }));
    assert.deepEqual(two.el("live_marks"), [hexMark(N2), hexMark(N3)].sort());
    // The old holder n2 failed: the EgressIP now sits on n3 alone, n2's mark is no longer live, so a
    // flow still carrying it is looked up again (→ n3's chain), or dropped.
    const moved = await compile(view({ egressIPs: [eip([H3()])] }));
    assert.deepEqual(moved.el("live_marks"), [hexMark(N3)]);
    // The dead mark is not cleared first: on a miss it stays, so the flow's later packets come back
    // here and are dropped too instead of leaving unmarked (and un-NATed) as established.
    assert.deepEqual(moved.rules("egress-repath"), [
      "ip daddr != @cluster_dsts ip saddr vmap @egress_pods",
      "drop",
    ]);
    // Held here now: no remote path is live, an old flow marked for n2 is dropped (it cannot be
    // NATed mid-stream here), never sent out un-NATed.
    const local = await compile(view({ egressIPs: [eip([H1()])] }));
    assert.deepEqual(local.el("live_marks"), []);
    assert.deepEqual(local.el("egress_pods"), []);
    // Held here and on n3: a new flow may stay here (mark 0, SNATed here); an old flow re-pathed
    // from n2 may not (nothing here NATs it mid-stream), it goes to n3.
    const mixed = await compile(view({ egressIPs: [eip([H1(), H3()])] }));
    const [chain] = mixed.el("egress_pods").map((e) => e.split("goto ")[1]!);
    assert.deepEqual(mixed.rules(chain!), [
      `ct state new ct mark set numgen random mod 2 map { 0 : 0x00000000, 1 : ${hexMark(N3)} }`,
      `ct state != new ct mark set ${hexMark(N3)}`,
      "meta mark set ct mark",
      "meta nfproto != @live drop",
    ]);
  });

  it("warns about and skips bad addresses instead of failing the node", async () => {
    const { p, el } = await compile(
      view({ egressIPs: [{ name: "x", ips: [H2()], podIPs: ["10.128.0.5", "not-an-ip", "fd00::1"] }] }),
    );
    assert.equal(el("egress_pods").length, 1);
    assert.deepEqual(
      p.warnings.map((w) => w.field),
      ["egressIPs[0].podIPs[1]", "egressIPs[0].podIPs[2]"],
    );
  });
});

describe("compileNodeProgram: project egress (openshift-sdn)", () => {
  const project = (state: ProjectEgressView["state"]): ProjectEgressView => ({
    namespace: "p",
    podIPs: ["10.128.0.9", "10.128.2.9"],
    state,
  });

  it("normal, hosted here: SNAT for all the project's pods and the address", async () => {
    const { p, el } = await compile(
      view({
        projectEgress: [
          project({ kind: "normal", egressIP: "192.168.126.99", node: "n1", nodeIP: "192.168.126.11" }),
        ],
      }),
    );
    assert.deepEqual(el("egressip_snat_eth0"), [
      "10.128.0.9 : 192.168.126.99",
      "10.128.2.9 : 192.168.126.99",
    ]);
    assert.deepEqual(el("dropped_pods"), []);
    assert.deepEqual(
      p.ip.addresses.map((a) => a.address),
      ["192.168.126.99/32"],
    );
  });

  it("normal, hosted elsewhere: local pods rerouted to the host", async () => {
    const { el } = await compile(
      view({
        projectEgress: [
          project({ kind: "normal", egressIP: "192.168.126.99", node: "n3", nodeIP: "192.168.126.13" }),
        ],
      }),
    );
    assert.deepEqual(el("egress_pods"), ["10.128.0.9 : goto egress-via-e0d"]);
    assert.deepEqual(el("egressip_snat_eth0"), []);
  });

  it("dropped: local pods' external traffic is dropped in forward", async () => {
    const { el, rules } = await compile(view({ projectEgress: [project({ kind: "dropped" })] }));
    assert.deepEqual(el("dropped_pods"), ["10.128.0.9"]);
    assert.ok(rules("forward")?.includes("ip saddr @dropped_pods ip daddr != @cluster_dsts drop"));
    assert.deepEqual(el("egress_pods"), []);
  });

  it("fails closed for packets of a deleted generation: egress-mark, egress-nic and forward end in the guard, snat-postrouting masquerades after it", async () => {
    const guard = "ct state new meta nfproto != @live drop";
    const { nft, el, rules } = await compile(
      view({
        egressIPs: [{ name: "e", ips: [H1("192.168.12.50")], podIPs: ["10.128.0.5"] }],
        projectEgress: [project({ kind: "dropped" })],
      }),
    );
    // A hash map: the kernel deactivates a deleted map's elements, not a deleted set's (see renderTable).
    assert.ok(nft.rules("inet", TABLE_NAME, "egress-nic"), "the secondary NIC's chain exists");
    assert.deepEqual(el("live"), ["ipv4 : 0x00000001", "ipv6 : 0x00000001"]);
    for (const chain of ["egress-mark", "egress-nic", "forward"])
      assert.equal(rules(chain)?.at(-1), guard, chain);
    const pkt = (saddr: string, established = false, oifname = "eth0"): TracePacket => ({
      saddr,
      daddr: "192.168.126.200",
      oifname,
      established,
    });
    const fwd = (p: TracePacket) => traceChain(nft, "inet", TABLE_NAME, "forward", p);
    const snat = (p: TracePacket) => traceChain(nft, "inet", TABLE_NAME, "snat-postrouting", p);
    assert.deepEqual(fwd(pkt("10.128.0.9")), { verdict: "drop", counters: [] }, "the dropped project");
    assert.deepEqual(fwd(pkt("10.128.0.5")), { verdict: "accept" }, "any other pod: the guard passes it");
    assert.deepEqual(snat(pkt("10.128.0.5", false, "eth1")), {
      verdict: "snat",
      to: "192.168.12.50",
      counters: [],
    });
    assert.deepEqual(snat(pkt("10.128.0.6")), { verdict: "masquerade", counters: [] }, "the guard passes it");
    // What a packet still running a deleted generation's rules sees: its maps (and, on a kernel that
    // deactivated set elements, its sets) without elements. Only the guards stop its new flow.
    await nft.apply(
      [
        "flush set inet TABLE dropped_pods",
        "flush map inet TABLE egressip_snat_eth1",
        "flush map inet TABLE live",
        "",
      ]
        .join("\n")
        .replaceAll("TABLE", TABLE_NAME),
    );
    assert.deepEqual(
      fwd(pkt("10.128.0.9")),
      { verdict: "drop", counters: [] },
      "stale: dropped by the guard",
    );
    assert.deepEqual(fwd(pkt("10.128.0.5")), { verdict: "drop", counters: [] }, "stale new flow: dropped");
    assert.deepEqual(
      fwd(pkt("10.128.0.5", true)),
      { verdict: "accept" },
      "established flows are not checked",
    );
    const stale = { verdict: "drop", counters: [] };
    assert.deepEqual(snat(pkt("10.128.0.5", false, "eth1")), stale, "EgressIP pod: not masqueraded");
    assert.deepEqual(snat(pkt("10.128.0.6")), stale, "stale new flow: dropped");
  });
});

describe("compileNodeProgram: remote pods never leave with this node's IP", () => {
  // This node is n1 (pods 10.128.0.0/23). LOCAL is its pod, REMOTE a pod of n2 whose flow reached n1
  // (rerouted by n2 for an egress IP n2 believes n1 holds), OTHER a pod of n3 nobody selects.
  const LOCAL = "10.128.0.5";
  const REMOTE = "10.128.2.7";
  const OTHER = "10.128.4.9";
  const EXT = "192.168.126.200";
  const EIP = "192.168.126.102";
  const sel = (ips: EgressIPView["ips"]): EgressIPView => ({ name: "e", ips, podIPs: [LOCAL, REMOTE] });
  const proj = (state: ProjectEgressView["state"]): ProjectEgressView => ({
    namespace: "p",
    podIPs: [LOCAL, REMOTE],
    state,
  });
  const out = (saddr: string, extra: Partial<TracePacket> = {}): TracePacket => ({
    saddr,
    daddr: EXT,
    oifname: "eth0",
    ...extra,
  });
  const dropped: TraceVerdict = { verdict: "drop", counters: [REMOTE_EGRESS_DROP_COUNTER] };
  const cases: {
    name: string;
    view: Partial<NodeView>;
    pkt: TracePacket;
    want: ReturnType<typeof traceChain>;
  }[] = [
    {
      name: "selected remote pod, this node holds the egress IP: SNAT",
      view: { egressIPs: [sel([H1(EIP)])] },
      pkt: out(REMOTE),
      want: { verdict: "snat", to: EIP, counters: [] },
    },
    {
      name: "selected remote pod, holder elsewhere here (the lab race: SNAT entry not yet here): drop",
      view: { egressIPs: [sel([H3()])] },
      pkt: out(REMOTE),
      want: dropped,
    },
    {
      name: "selected remote pod, no holder in this node's view (stale sender): drop",
      view: { egressIPs: [sel([])] },
      pkt: out(REMOTE),
      want: dropped,
    },
    {
      name: "remote pod this node does not know as selected (its node saw the pod first): drop",
      view: { egressIPs: [sel([H1(EIP)])] },
      pkt: out(OTHER),
      want: dropped,
    },
    {
      name: "selected remote pod, held here, but leaving by an interface without the egress IP: drop",
      view: { egressIPs: [sel([H1(EIP)])] },
      pkt: out(REMOTE, { oifname: "eth1" }),
      want: dropped,
    },
    {
      name: "project egress hosted here: remote project pod SNATed",
      view: {
        projectEgress: [proj({ kind: "normal", egressIP: EIP, node: "n1", nodeIP: "192.168.126.11" })],
      },
      pkt: out(REMOTE),
      want: { verdict: "snat", to: EIP, counters: [] },
    },
    {
      name: "project egress hosted elsewhere: remote project pod dropped, not masqueraded",
      view: {
        projectEgress: [proj({ kind: "normal", egressIP: EIP, node: "n3", nodeIP: "192.168.126.13" })],
      },
      pkt: out(REMOTE),
      want: dropped,
    },
    {
      name: "project egress dropped: remote project pod dropped",
      view: { projectEgress: [proj({ kind: "dropped" })] },
      pkt: out(REMOTE),
      want: dropped,
    },
    {
      name: "EgressIP with no holder: the local pod leaves with this node's IP",
      view: { egressIPs: [sel([])] },
      pkt: out(LOCAL),
      want: { verdict: "masquerade", counters: [] },
    },
    {
      name: "unselected local pod: masquerade",
      view: {},
      pkt: out(LOCAL),
      want: { verdict: "masquerade", counters: [] },
    },
    {
      name: "selected local pod, held here: SNAT",
      view: { egressIPs: [sel([H1(EIP)])] },
      pkt: out(LOCAL),
      want: { verdict: "snat", to: EIP, counters: [] },
    },
    {
      name: "local pod rerouted to its holder (ct mark set): left alone",
      view: { egressIPs: [sel([H3()])] },
      pkt: out(LOCAL, { ctMark: N3 << 16 }),
      want: { verdict: "accept" },
    },
    {
      name: "remote pod to a node IP (cluster destination): left alone",
      view: { egressIPs: [sel([H3()])] },
      pkt: out(REMOTE, { daddr: "192.168.126.11" }),
      want: { verdict: "accept" },
    },
    {
      name: "remote pod to a local pod: left alone",
      view: { egressIPs: [sel([])] },
      pkt: out(REMOTE, { daddr: LOCAL, oifname: "egbr0" }),
      want: { verdict: "accept" },
    },
    {
      name: "traffic not from a pod (a host behind this node): left alone",
      view: { egressIPs: [sel([H3()])] },
      pkt: out("192.168.126.50"),
      want: { verdict: "accept" },
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const { nft } = await compile(view(c.view));
      assert.deepEqual(traceChain(nft, "inet", TABLE_NAME, "snat-postrouting", c.pkt), c.want);
    });
  }

  it("renders the drop after every SNAT map and before the masquerade, with its counter declared", async () => {
    const v = view({
      egressIPs: [
        { name: "a", ips: [H1(EIP)], podIPs: [REMOTE] },
        { name: "b", ips: [h("192.168.12.50", "n1", "192.168.126.11")], podIPs: ["10.128.2.8"] },
      ],
    });
    const { p, rules } = await compile(v);
    assert.deepEqual(rules("snat-postrouting")?.slice(-5), [
      'oifname "eth0" snat ip to ip saddr map @egressip_snat_eth0',
      'oifname "eth1" snat ip to ip saddr map @egressip_snat_eth1',
      'ip saddr != 10.128.0.0/23 counter name "remote_pod_egress_dropped" drop',
      "meta nfproto != @live drop",
      'oifname != "egbr0" masquerade',
    ]);
    assert.match(p.nft, /\n\tcounter remote_pod_egress_dropped \{\n\t\tpackets 0 bytes 0\n\t\}\n/);
  });

  it("uses this node's own pod subnet in the rule", async () => {
    const v = view();
    v.node = { ...v.node, name: "n2", nodeIP: "192.168.126.12", podSubnet: "10.128.2.0/23" };
    const { nft, rules } = await compile(v);
    assert.ok(
      rules("snat-postrouting")?.includes(
        'ip saddr != 10.128.2.0/23 counter name "remote_pod_egress_dropped" drop',
      ),
    );
    // n1's pod is remote for n2 now
    assert.deepEqual(traceChain(nft, "inet", TABLE_NAME, "snat-postrouting", out(LOCAL)), dropped);
    assert.deepEqual(traceChain(nft, "inet", TABLE_NAME, "snat-postrouting", out(REMOTE)), {
      verdict: "masquerade",
      counters: [],
    });
  });

  it("starts the counter from the values passed in, ignoring unusable ones", async () => {
    const p = compileNodeProgram(view(), {
      counters: { [REMOTE_EGRESS_DROP_COUNTER]: { packets: 7, bytes: 420 } },
    });
    assert.match(p.nft, /counter remote_pod_egress_dropped \{\n\t\tpackets 7 bytes 420\n/);
    const bad = compileNodeProgram(view(), {
      counters: { [REMOTE_EGRESS_DROP_COUNTER]: { packets: -1, bytes: Number.NaN } },
    });
    assert.match(bad.nft, /packets 0 bytes 0/);
    const nft = new FakeNft();
    await nft.apply(p.nft);
    assert.deepEqual(
      countersFromJson(await nft.listJson("inet", TABLE_NAME)).get(REMOTE_EGRESS_DROP_COUNTER),
      {
        packets: 7,
        bytes: 420,
      },
    );
  });
});

describe("compileNodeProgram: determinism, errors, size", () => {
  it("renders identical text for the same input, whatever the order of lists", () => {
    const base = view({
      services: [
        {
          namespace: "a",
          name: "s",
          clusterIP: "172.30.0.1",
          ports: [{ port: 80, protocol: "TCP", targetPort: 80 }],
        },
        {
          namespace: "a",
          name: "t",
          clusterIP: "172.30.0.2",
          ports: [{ port: 81, protocol: "TCP", targetPort: 80 }],
        },
      ],
      egressIPs: [{ name: "e", ips: [H2(), H3(), H1()], podIPs: ["10.128.0.5", "10.128.0.6", "10.128.2.2"] }],
    });
    const text = compileNodeProgram(base).nft;
    assert.equal(compileNodeProgram(structuredClone(base)).nft, text);
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        const v = structuredClone(base);
        const shuffle = <T>(a: T[]) => {
          let s = seed;
          for (let i = a.length - 1; i > 0; i--) {
            s = (s * 1103515245 + 12345) & 0x7fffffff;
            const j = s % (i + 1);
            [a[i], a[j]] = [a[j]!, a[i]!];
          }
        };
        shuffle(v.nodes);
        shuffle(v.services);
        shuffle(v.egressIPs[0]!.ips);
        shuffle(v.egressIPs[0]!.podIPs);
        const p = compileNodeProgram(v);
        assert.equal(p.nft, text);
      }),
      { numRuns: 50 },
    );
  });

  it("keeps a holder's mark when other nodes come and go", () => {
    const e = [{ name: "e", ips: [H3()], podIPs: ["10.128.0.5"] }];
    const a = compileNodeProgram(view({ egressIPs: e }));
    const v = view({ egressIPs: e });
    v.nodes.push({ name: "n0", nodeIP: "192.168.126.9", podSubnet: "10.128.8.0/23" });
    const b = compileNodeProgram(v);
    assert.deepEqual(a.ip.rules, b.ip.rules);
  });

  it("refuses a view without a usable node subnet or address", () => {
    assert.throws(
      () => compileNodeProgram(view({ node: { ...view().node, podSubnet: "10.128.0.0" } })),
      (e: unknown) => e instanceof CompileError && e.field === "node.podSubnet",
    );
    assert.throws(
      () => compileNodeProgram(view({ node: { ...view().node, nodeIP: "x" } })),
      (e: unknown) => e instanceof CompileError && e.field === "node.nodeIP",
    );
  });

  it("compiles 10,000 pods / 1,000 EgressIPs into constant-size chains with map entries", async () => {
    // 1,000 EgressIPs of 10 pods each; pods spread over 5 nodes' subnets; IPs held by n1, n2, n3.
    const nodes = [0, 1, 2, 3, 4].map((i) => ({
      name: `n${i + 1}`,
      nodeIP: `192.168.126.${11 + i}`,
      podSubnet: `10.128.${i * 8}.0/21`,
    }));
    const egressIPs: EgressIPView[] = [];
    for (let e = 0; e < 1000; e++) {
      const holders = [H1, H2, H3];
      const holder = holders[e % 3]!(`192.168.${130 + Math.floor(e / 250)}.${(e % 250) + 1}`);
      const podIPs: string[] = [];
      for (let k = 0; k < 10; k++) {
        const n = (e * 10 + k) % 5;
        const idx = Math.floor((e * 10 + k) / 5);
        podIPs.push(`10.128.${n * 8 + Math.floor(idx / 250)}.${(idx % 250) + 2}`);
      }
      egressIPs.push({ name: `e${e}`, ips: [holder], podIPs });
    }
    const v = view({ egressIPs, nodes });
    v.node.podSubnet = "10.128.0.0/21";
    const t0 = performance.now();
    const p = compileNodeProgram(v);
    const ms = performance.now() - t0;
    assert.ok(ms < 2000, `compile took ${ms} ms`);
    // local pods: 2,000 (n1's subnet); those whose IP is held by n2/n3 are rerouted (about 2/3)
    assert.ok(p.stats.egressPods > 1200 && p.stats.egressPods < 1500, String(p.stats.egressPods));
    // SNAT: all pods of the EgressIPs held here (334 × 10)
    assert.equal(p.stats.snatEntries, 3340);
    const chains = p.nft.split("\n").filter((l) => l.startsWith("\tchain "));
    assert.ok(chains.length < 15, `chain count ${chains.length}`);
    const nft = new FakeNft();
    await nft.apply(p.nft);
    assert.equal(nft.elements("inet", TABLE_NAME, "egressip_snat_eth0")?.length, 3340);
    assert.ok(
      nft
        .rules("inet", TABLE_NAME, "snat-postrouting")
        ?.includes('oifname "eth0" snat ip to ip saddr map @egressip_snat_eth0'),
    );
  });
});

describe("compileNodeProgram: egress IPs on a secondary NIC leave through it", () => {
  // 192.168.12.50 is in eth1's network (192.168.12.0/24): held by n1 it goes on eth1.
  const onEth1 = (over: Partial<EgressIPView> = {}): EgressIPView => ({
    name: "sec",
    ips: [H1("192.168.12.50")],
    podIPs: ["10.128.0.5", "10.128.2.7"],
    ...over,
  });
  const withGateway = (v: NodeView): NodeView => ({
    ...v,
    node: {
      ...v.node,
      interfaces: [
        { name: "eth0", address: "192.168.126.11/18", gateway: "192.168.126.1" },
        {
          name: "eth1",
          address: "192.168.12.11/24",
          gateway: "192.168.12.1",
          routes: [{ dst: "10.99.0.0/16", via: "192.168.12.254" }],
        },
      ],
    },
  });
  const T1 = NIC_TABLE_BASE + 1;

  it("marks new flows of pods in eth1's SNAT map (local and remote) and restores the mark", async () => {
    const { p, el, rules } = await compile(view({ egressIPs: [onEth1()] }));
    assert.deepEqual(el("egressip_snat_eth1"), ["10.128.0.5 : 192.168.12.50", "10.128.2.7 : 192.168.12.50"]);
    assert.ok(
      p.nft.includes("chain egress-nic {\n\t\ttype filter hook prerouting priority -149; policy accept;"),
    );
    assert.deepEqual(rules("egress-nic"), [
      "ct direction original ct mark and 0xf0000000 == 0x10000000 meta mark set meta mark or 0x10000000 return",
      "ct state new ct mark and 0x0fff0000 == 0 ip daddr != @cluster_dsts ip saddr @egressip_snat_eth1 ct mark set ct mark or 0x10000000 meta mark set meta mark or 0x10000000",
      "ct state new meta nfproto != @live drop",
    ]);
    assert.ok(p.nft.includes('oifname "eth1" snat ip to ip saddr map @egressip_snat_eth1'));
    assert.deepEqual(p.ip.addresses, [{ dev: "eth1", address: "192.168.12.50/32", label: "eth1:eg" }]);
  });

  it("routes NIC-marked flows by eth1's own table: connected network, unreachable default without a gateway", async () => {
    const { p } = await compile(view({ egressIPs: [onEth1()] }));
    assert.deepEqual(p.ip.rules, [{ priority: T1, fwmark: 0x10000000, fwmask: NIC_MARK_MASK, table: T1 }]);
    assert.deepEqual(
      p.ip.routes.filter((r) => r.table === T1),
      [
        { table: T1, dst: "192.168.12.0/24", dev: "eth1" },
        { table: T1, dst: "default", type: "unreachable" },
      ],
    );
  });

  it("uses the NIC's gateway and next-hop routes when the node has them", async () => {
    const { p } = await compile(withGateway(view({ egressIPs: [onEth1()] })));
    assert.deepEqual(
      p.ip.routes.filter((r) => r.table === T1),
      [
        { table: T1, dst: "10.99.0.0/16", via: "192.168.12.254", dev: "eth1" },
        { table: T1, dst: "192.168.12.0/24", dev: "eth1" },
        { table: T1, dst: "default", via: "192.168.12.1", dev: "eth1" },
      ],
    );
    // The primary interface's gateway is never copied anywhere (the main table has it).
    assert.ok(!p.ip.routes.some((r) => r.via === "192.168.126.1"));
  });

  it("adds nothing for egress IPs on the primary interface or held by other nodes", async () => {
    for (const e of [
      onEth1({ ips: [H1()] }),
      onEth1({ ips: [h("192.168.12.50", "n2", "192.168.126.12")] }),
    ]) {
      const { p, rules } = await compile(withGateway(view({ egressIPs: [e] })));
      assert.equal(rules("egress-nic"), undefined);
      assert.ok(!p.nft.includes("0xf0000000"));
      assert.ok(p.ip.rules.every((r) => r.fwmask === MARK_MASK));
      assert.ok(p.ip.routes.every((r) => r.table === "main" || r.table < NIC_TABLE_BASE));
    }
  });

  it("marks only flows whose path is local when the EgressIP also has a remote holder; holder rules come first", async () => {
    const { p, rules } = await compile(view({ egressIPs: [onEth1({ ips: [H1("192.168.12.50"), H2()] })] }));
    assert.deepEqual(rules(`egress-via-0-${N2.toString(16)}`), [
      `ct state new ct mark set numgen random mod 2 map { 0 : 0x00000000, 1 : ${hexMark(N2)} }`,
      `ct state != new ct mark set ${hexMark(N2)}`,
      "meta mark set ct mark",
      "meta nfproto != @live drop",
    ]);
    assert.ok(rules("egress-nic")!.some((r) => r.startsWith("ct state new ct mark and 0x0fff0000 == 0 ")));
    const prios = p.ip.rules.map((r) => [r.priority, r.fwmask]);
    assert.deepEqual(prios, [
      [ROUTE_TABLE_BASE + N2, MARK_MASK],
      [T1, NIC_MARK_MASK],
    ]);
    // Marks never overlap: the holder field and the NIC field are disjoint.
    assert.equal(MARK_MASK & NIC_MARK_MASK, 0);
  });

  it("sets loose reverse-path filtering on secondary interfaces only", async () => {
    const { p } = await compile(view());
    const s = Object.fromEntries(p.sysctls.map((x) => [x.key, x.value]));
    assert.equal(s["net.ipv4.conf.eth1.rp_filter"], "2");
    assert.equal(s["net.ipv4.conf.eth0.rp_filter"], undefined);
  });

  it("numbers NICs by sorted name, so a NIC's mark does not change when others gain or lose egress IPs", async () => {
    const ifaces = [
      { name: "eth0", address: "192.168.126.11/18" },
      { name: "eth2", address: "192.168.13.11/24" },
      { name: "eth1", address: "192.168.12.11/24" },
      { name: "eth1", address: "192.168.14.11/24" },
    ];
    assert.deepEqual(
      [...secondaryNicIds(ifaces)],
      [
        ["eth1", 1],
        ["eth2", 2],
      ],
    );
    const v = (eips: EgressIPView[]) =>
      view({ node: { ...view().node, interfaces: ifaces }, egressIPs: eips });
    const on2 = onEth1({ name: "two", ips: [H1("192.168.13.50")], podIPs: ["10.128.0.9"] });
    const { p: both } = await compile(v([onEth1(), on2]));
    const { p: only2 } = await compile(v([on2]));
    const rule2 = {
      priority: NIC_TABLE_BASE + 2,
      fwmark: 0x20000000,
      fwmask: NIC_MARK_MASK,
      table: NIC_TABLE_BASE + 2,
    };
    assert.deepEqual(both.ip.rules, [
      { priority: T1, fwmark: 0x10000000, fwmask: NIC_MARK_MASK, table: T1 },
      rule2,
    ]);
    assert.deepEqual(only2.ip.rules, [rule2]);
    assert.ok(only2.nft.includes("ip saddr @egressip_snat_eth2 ct mark set ct mark or 0x20000000"));
    // eth1 has two networks: both are connected routes of its table.
    assert.deepEqual(
      both.ip.routes.filter((r) => r.table === T1 && r.dev).map((r) => r.dst),
      ["192.168.12.0/24", "192.168.14.0/24"],
    );
  });

  it("renders the same program whatever the order of the secondary interfaces", () => {
    const base = withGateway(view({ egressIPs: [onEth1()] }));
    const [eth0, eth1] = base.node.interfaces;
    const extra = { name: "eth1", address: "192.168.14.11/24" };
    const a = compileNodeProgram({ ...base, node: { ...base.node, interfaces: [eth0!, eth1!, extra] } });
    const b = compileNodeProgram({ ...base, node: { ...base.node, interfaces: [eth0!, extra, eth1!] } });
    assert.equal(a.nft, b.nft);
    assert.deepEqual(a.ip, b.ip);
  });

  it("warns and leaves the main table in charge for an interface that is not the node's", () => {
    const p = compileNodeProgram(
      view({ egressIPs: [onEth1({ ips: [h("192.168.12.50", "n1", "192.168.126.11", "eth9")] })] }),
    );
    assert.ok(p.warnings.some((w) => w.value === "eth9" && /not an underlay interface/.test(w.detail)));
    assert.deepEqual(p.ip.rules, []);
    assert.ok(!p.nft.includes("egress-nic"));
  });

  it("keeps the incremental compiler's result equal to a full compile when a pod joins", () => {
    const before = view({ egressIPs: [onEth1()] });
    const after = view({ egressIPs: [onEth1({ podIPs: ["10.128.0.5", "10.128.2.7", "10.128.0.6"] })] });
    const prev = compileNodeIncremental(before);
    const next = compileNodeIncremental(after, prev);
    const full = compileNodeProgram(after);
    assert.equal(next.program.nft, full.nft);
    assert.deepEqual(next.program.ip, full.ip);
    if (next.mode === "incremental")
      assert.match(
        next.delta ?? "",
        /add element inet egress-node egressip_snat_eth1 \{ 10\.128\.0\.6 : 192\.168\.12\.50 \}/,
      );
  });
});

describe("compileNodeProgram: packets of a deleted generation (egress-mark, traced)", () => {
  // What a packet still running a deleted generation's rules sees (docs/dataplane.md, "Packets that
  // outlive their generation"): lookups into the generation's hash maps miss (the kernel deactivates
  // a deleted map's elements), its sets still answer, and a chain it jumps to after the deletion may
  // have been flushed. Each such packet must be dropped or get what the whole program gives it.
  const LOCAL = ["10.128.0.5", "10.128.0.6", "10.128.0.7"];
  const REMOTE = ["10.128.2.7", "10.128.4.9"];
  const holderArb = fc.constantFrom(
    (ip: string) => H1(ip),
    (ip: string) => h(ip, "n1", "192.168.126.11", "eth1"),
    (ip: string) => H2(ip),
    (ip: string) => H3(ip),
  );
  const viewArb = fc
    .array(
      fc.record({
        holders: fc.uniqueArray(holderArb, { minLength: 1, maxLength: 3 }),
        pods: fc.subarray([...LOCAL, ...REMOTE], { minLength: 1 }),
      }),
      { minLength: 1, maxLength: 3 },
    )
    .map((eips) =>
      view({
        localPods: LOCAL.map((ip, i) => ({ namespace: "a", name: `p${i}`, ip })),
        egressIPs: eips.map((e, k) => ({
          name: `e${k}`,
          ips: e.holders.map((mk, j) => mk(`192.168.${j === 1 ? 12 : 126}.${120 + k * 4 + j}`)),
          podIPs: e.pods,
        })),
      }),
    );

  /** Hash maps (no `flags interval`) and regular chains of a whole-table script. */
  function objects(script: string): { hashMaps: string[]; chains: string[] } {
    const hashMaps: string[] = [];
    const chains: string[] = [];
    for (const m of script.matchAll(/^\t(map|chain) (\S+) \{\n((?:\t\t.*\n)*?)\t\}$/gm)) {
      if (m[1] === "map" && !m[3]!.includes("flags interval")) hashMaps.push(m[2]!);
      if (m[1] === "chain" && !m[3]!.includes(" hook ")) chains.push(m[2]!);
    }
    return { hashMaps, chains };
  }

  it("a stale packet in egress-mark or egress-nic is dropped or marked as the whole program marks it", async () => {
    let checked = 0;
    let dropped = 0;
    let nic = 0;
    await fc.assert(
      fc.asyncProperty(viewArb, async (v) => {
        const script = compileNodeProgram(v).nft;
        const full = new FakeNft();
        await full.apply(script);
        const { hashMaps, chains } = objects(script);
        const stale = async (flushChains: boolean) => {
          const n = new FakeNft();
          await n.apply(script);
          const lines = hashMaps.map((m) => `flush map inet ${TABLE_NAME} ${m}`);
          if (flushChains) lines.push(...chains.map((c) => `flush chain inet ${TABLE_NAME} ${c}`));
          await n.apply(`${lines.join("\n")}\n`);
          return n;
        };
        const views = { mapsMissing: await stale(false), mapsMissingChainsEmpty: await stale(true) };
        const marks = [
          ...new Set([...script.matchAll(/ct mark set (0x[0-9a-f]+)/g)].map((m) => Number(m[1]))),
        ];
        const dead = 0x0abc0000;
        // egress-nic exists when an egress IP is on a secondary interface (it ORs in the NIC's bit).
        const baseChains = [
          "egress-mark",
          ...(full.rules("inet", TABLE_NAME, "egress-nic") ? ["egress-nic"] : []),
        ];
        const nicMarks = [
          ...new Set([...script.matchAll(/ct mark set ct mark or (0x[0-9a-f]+)/g)].map((m) => Number(m[1]))),
        ];
        for (const saddr of [...LOCAL, ...REMOTE])
          for (const ctMark of [
            0,
            dead,
            ...marks,
            ...marks.flatMap((m) => nicMarks.map((b) => (m | b) >>> 0)),
          ])
            for (const established of [false, true])
              for (const numgen of [0, 1, 2]) {
                const pkt: TracePacket = {
                  saddr,
                  daddr: "192.168.126.200",
                  oifname: "eth0",
                  ctMark,
                  established,
                  numgen,
                };
                for (const chain of baseChains) {
                  const want = traceChain(full, "inet", TABLE_NAME, chain, pkt);
                  for (const [name, n] of Object.entries(views)) {
                    const got = traceChain(n, "inet", TABLE_NAME, chain, pkt);
                    checked++;
                    if (chain === "egress-nic") nic++;
                    if (got.verdict === "drop") {
                      dropped++;
                      continue;
                    }
                    assert.deepEqual(got, want, `${chain}, ${name}: ${JSON.stringify(pkt)}\n${script}`);
                  }
                }
              }
      }),
      { numRuns: 60 },
    );
    // The property is not vacuous: stale packets were both dropped and passed through unchanged.
    assert.ok(dropped > 0 && dropped < checked, `${dropped} of ${checked} dropped`);
    assert.ok(nic > 0, "egress-nic was traced");
  });
});
