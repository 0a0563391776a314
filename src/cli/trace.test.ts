import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { KubeObject } from "../api/object.js";
import type { PolicyOrigin } from "../dataplane/compile/policy/ir.js";
import type { PolicyTracePacket, PolicyTraceResult } from "../dataplane/compile/policy/trace.js";
import { POLICY_TABLE, type PolicyProgram, type PolicyView } from "../dataplane/compile/policy/types.js";
import {
  parseFrom,
  parseOutput,
  parseTo,
  TraceArgError,
  TraceInputError,
  type TraceTarget,
} from "./trace/args.js";
import { formatBatch, parseBatch, traceBatch } from "./trace/batch.js";
import { type ClusterObjects, publishedInterfaces, TraceCache, traceFlow } from "./trace/flow.js";
import { describeDecidedBy, formatReport } from "./trace/format.js";

describe("parseTo", () => {
  const ok: [string, TraceTarget][] = [
    ["8.8.8.8", { dst: { kind: "ip", ip: "8.8.8.8" }, port: 80, protocol: "TCP" }],
    ["8.8.8.8:443", { dst: { kind: "ip", ip: "8.8.8.8" }, port: 443, protocol: "TCP" }],
    ["8.8.8.8/udp", { dst: { kind: "ip", ip: "8.8.8.8" }, port: 80, protocol: "UDP" }],
    ["8.8.8.8:53/UDP", { dst: { kind: "ip", ip: "8.8.8.8" }, port: 53, protocol: "UDP" }],
    ["ns/pod", { dst: { kind: "pod", namespace: "ns", name: "pod" }, port: 80, protocol: "TCP" }],
    [
      "ns/web-1.x:8080",
      { dst: { kind: "pod", namespace: "ns", name: "web-1.x" }, port: 8080, protocol: "TCP" },
    ],
    ["ns/db:5432/sctp", { dst: { kind: "pod", namespace: "ns", name: "db" }, port: 5432, protocol: "SCTP" }],
    ["ns/db/udp", { dst: { kind: "pod", namespace: "ns", name: "db" }, port: 80, protocol: "UDP" }],
    // A pod may be called "tcp": without a second slash it is the pod.
    ["ns/tcp", { dst: { kind: "pod", namespace: "ns", name: "tcp" }, port: 80, protocol: "TCP" }],
  ];
  for (const [arg, want] of ok) it(`accepts ${arg}`, () => assert.deepEqual(parseTo(arg), want));

  const bad: [string, RegExp][] = [
    ["8.8.8.8:0", /--to "8.8.8.8:0": port "0"/],
    ["8.8.8.8:65536", /port "65536"/],
    ["8.8.8.8:http", /port "http"/],
    ["8.8.8.8/icmp", /unknown protocol "icmp"/],
    ["2001:db8::1", /only IPv4/],
    ["example.com", /expected an IPv4 address or <namespace>\/<pod>/],
    ["a/b/c", /expected <namespace>\/<pod>/],
    ["NS/pod", /namespace "NS"/],
    ["ns/Pod_1", /pod name "Pod_1"/],
    ["ns/", /pod name ""/],
  ];
  for (const [arg, re] of bad)
    it(`rejects ${arg}`, () => {
      assert.throws(
        () => parseTo(arg),
        (e: unknown) => e instanceof TraceArgError && e.flag === "--to" && re.test(e.message),
      );
    });
});

describe("parseFrom / parseOutput", () => {
  it("parses ns/pod and names the flag on errors", () => {
    assert.deepEqual(parseFrom("a/web"), { kind: "pod", namespace: "a", name: "web" });
    for (const bad of ["web", "a/b/c", "a/", "/web", "a/web:80"])
      assert.throws(
        () => parseFrom(bad),
        (e: unknown) =>
          e instanceof TraceArgError && e.flag === "--from" && e.message.includes(JSON.stringify(bad)),
      );
  });
  it("text or json", () => {
    assert.equal(parseOutput("json"), "json");
    assert.equal(parseOutput("text"), "text");
    assert.throws(() => parseOutput("yaml"), /--output "yaml": expected text or json/);
  });
});

// ------------------------------------------------------------------------------------ composition

const o = (x: Record<string, unknown> & { metadata: KubeObject["metadata"] }) =>
  ({ apiVersion: "v1", kind: "X", ...x }) as KubeObject;

const NODES = [
  { name: "n1", ip: "192.168.126.11", subnet: "10.128.0.0/23" },
  { name: "n2", ip: "192.168.126.12", subnet: "10.128.2.0/23" },
  { name: "n3", ip: "192.168.126.13", subnet: "10.128.4.0/23" },
];
const EXT = "93.184.216.34";
const EIP = "192.168.126.100";
const PROJECT_EIP = "192.168.126.101";

function cluster(over: Partial<ClusterObjects> = {}): ClusterObjects {
  const pod = (ns: string, name: string, node: string, ip: string, labels: Record<string, string> = {}) =>
    o({
      metadata: { namespace: ns, name, labels },
      spec: { nodeName: node, containers: [{ name: "c", image: "i" }] },
      status: { podIP: ip, phase: "Running" },
    });
  return {
    clusterNetworks: [
      o({
        metadata: { name: "default" },
        clusterNetworks: [{ CIDR: "10.128.0.0/14", hostSubnetLength: 9 }],
        serviceNetwork: "172.30.0.0/16",
        pluginName: "redhat/openshift-ovs-networkpolicy",
      }),
    ],
    hostSubnets: NODES.map((n) =>
      o({ metadata: { name: n.name }, host: n.name, hostIP: n.ip, subnet: n.subnet }),
    ),
    nodes: NODES.map((n) =>
      o({
        metadata: {
          name: n.name,
          annotations: {
            "k8s.ovn.org/node-primary-ifaddr": JSON.stringify({ ipv4: `${n.ip}/24` }),
            "k8s.ovn.org/host-cidrs": JSON.stringify([`${n.ip}/24`]),
          },
        },
        status: { addresses: [{ type: "InternalIP", address: n.ip }] },
      }),
    ),
    pods: [
      pod("a", "web", "n1", "10.128.0.5", { app: "web" }),
      pod("a", "peer", "n1", "10.128.0.6"),
      pod("b", "db", "n2", "10.128.2.7", { app: "db" }),
      pod("c", "job", "n1", "10.128.0.8"),
    ],
    namespaces: ["a", "b", "c"].map((n) => o({ metadata: { name: n, labels: { team: n } } })),
    netNamespaces: [],
    networkPolicies: [],
    egressFirewalls: [],
    egressNetworkPolicies: [],
    egressIPs: [],
    services: [],
    endpoints: [],
    ...over,
  };
}

const egressIP = (holders: { node: string; ip: string }[]) =>
  o({
    metadata: { name: "eip-a", creationTimestamp: "2024-01-01T00:00:00Z" },
    spec: { egressIPs: holders.map((h) => h.ip), namespaceSelector: { matchLabels: { team: "a" } } },
    status: { items: holders.map((h) => ({ node: h.node, egressIP: h.ip })) },
  });

const projectEgress = (state: Record<string, string>) =>
  o({
    metadata: { name: "c", annotations: { "network.openshift.io/egress-ip-state": JSON.stringify(state) } },
    netName: "c",
    netid: 12,
    egressIPs: [PROJECT_EIP],
  });

/** A compiler that only records which node it compiled for, and a tracer that answers from a table
 *  keyed by node: the composition is tested independently of the real compiler. */
function fakes(verdicts: Record<string, PolicyTraceResult["verdict"]>) {
  const calls: { node: string; packet: PolicyTracePacket }[] = [];
  const compile = (view: PolicyView): PolicyProgram => ({
    table: POLICY_TABLE,
    nft: view.node,
    ir: { family: "inet", table: POLICY_TABLE.name, sets: [], chains: [] },
    warnings: [],
    stats: {},
  });
  const tracer = (p: PolicyProgram, packet: PolicyTracePacket): PolicyTraceResult => {
    calls.push({ node: p.nft, packet });
    const verdict = verdicts[p.nft] ?? "accept";
    const decidedBy: PolicyOrigin =
      verdict === "drop"
        ? { kind: "networkpolicy-isolation", direction: p.nft === "n1" ? "egress" : "ingress" }
        : { kind: "default" };
    return { verdict, decidedBy, marked: false, steps: [decidedBy], chains: ["forward"] };
  };
  return { calls, opts: { dnsServers: [], compile, tracer } };
}

const target = (s: string) => parseTo(s);
const WEB = { kind: "pod" as const, namespace: "a", name: "web" };
const JOB = { kind: "pod" as const, namespace: "c", name: "job" };

describe("traceFlow", () => {
  it("pod → pod on another node: source node first, then the destination node decides ingress", async () => {
    const f = fakes({ n2: "drop" });
    const r = await traceFlow(cluster(), WEB, target("b/db:5432"), f.opts);
    assert.deepEqual(
      f.calls.map((c) => c.node),
      ["n1", "n2"],
    );
    assert.deepEqual(f.calls[0]!.packet, {
      src: "10.128.0.5",
      dst: "10.128.2.7",
      protocol: "TCP",
      dport: 5432,
      state: "new",
    });
    assert.equal(r.verdict, "denied");
    assert.deepEqual(r.decidedBy, { kind: "networkpolicy-isolation", direction: "ingress" });
    assert.deepEqual(
      r.hops.map((h) => [h.node, h.stage, h.verdict]),
      [
        ["n1", "policy-egress", "accept"],
        ["n2", "policy-ingress", "drop"],
      ],
    );
    assert.deepEqual(r.source, []);
    assert.equal(r.to.node, "n2");
    assert.equal(r.to.outside, false);
  });

  it("denied on the source node: the destination node is not consulted", async () => {
    const f = fakes({ n1: "drop" });
    const r = await traceFlow(cluster(), WEB, target("b/db"), f.opts);
    assert.deepEqual(
      f.calls.map((c) => c.node),
      ["n1"],
    );
    assert.equal(r.verdict, "denied");
    assert.deepEqual(r.decidedBy, { kind: "networkpolicy-isolation", direction: "egress" });
  });

  it("pod → pod on the same node: one pass through that node's forward hook", async () => {
    const f = fakes({});
    const r = await traceFlow(cluster(), WEB, target("a/peer"), f.opts);
    assert.deepEqual(
      r.hops.map((h) => [h.node, h.stage]),
      [["n1", "policy"]],
    );
    assert.equal(r.verdict, "allowed");
    assert.deepEqual(r.source, [{ kind: "pod", address: "10.128.0.5", node: "n1" }]);
  });

  it("an address that is a pod's is traced as that pod", async () => {
    const f = fakes({});
    const r = await traceFlow(cluster(), WEB, target("10.128.2.7:80"), f.opts);
    assert.equal(r.to.pod, "b/db");
    assert.deepEqual(
      f.calls.map((c) => c.node),
      ["n1", "n2"],
    );
  });

  it("a ClusterIP is traced to its endpoint (after DNAT), a port without endpoint is rejected", async () => {
    const svc = o({
      metadata: { namespace: "b", name: "db" },
      spec: { clusterIP: "172.30.0.10", ports: [{ port: 80, protocol: "TCP", targetPort: 5432 }] },
    });
    const eps = o({
      metadata: { namespace: "b", name: "db" },
      subsets: [{ addresses: [{ ip: "10.128.2.7" }], ports: [{ port: 5432, protocol: "TCP" }] }],
    });
    const f = fakes({});
    const r = await traceFlow(
      cluster({ services: [svc], endpoints: [eps] }),
      WEB,
      target("172.30.0.10:80"),
      f.opts,
    );
    assert.deepEqual(
      f.calls.map((c) => [c.node, c.packet.dst, c.packet.dport]),
      [
        ["n1", "10.128.2.7", 5432],
        ["n2", "10.128.2.7", 5432],
      ],
    );
    assert.equal(r.to.service, "b/db");
    assert.equal(r.to.endpoint, "10.128.2.7:5432");
    assert.equal(r.to.ip, "172.30.0.10");
    assert.equal(r.hops[0]?.stage, "service");
    assert.equal(r.verdict, "allowed");

    const none = await traceFlow(cluster({ services: [svc] }), WEB, target("172.30.0.10:80"), fakes({}).opts);
    assert.equal(none.verdict, "denied");
    assert.match(describeDecidedBy(none.decidedBy), /service b\/db has no endpoint for 80\/tcp: rejected/);
    const otherPort = await traceFlow(
      cluster({ services: [svc], endpoints: [eps] }),
      WEB,
      target("172.30.0.10:81"),
      fakes({}).opts,
    );
    assert.equal(otherPort.verdict, "denied");
  });

  it("a node address is inside the cluster: no NAT", async () => {
    const r = await traceFlow(cluster(), WEB, target("192.168.126.12:10250"), fakes({}).opts);
    assert.equal(r.to.outside, false);
    assert.deepEqual(r.source, [{ kind: "pod", address: "10.128.0.5", node: "n1" }]);
  });

  const outside: {
    name: string;
    objs: Partial<ClusterObjects>;
    from: typeof WEB;
    verdict: string;
    source: unknown[];
    path: [string, string][];
  }[] = [
    {
      name: "no egress IP: masquerade to the node's address",
      objs: {},
      from: WEB,
      verdict: "allowed",
      source: [{ kind: "node", address: "192.168.126.11", node: "n1" }],
      path: [["n1", "masquerade"]],
    },
    {
      name: "EgressIP held by another node: rerouted there and SNATed",
      objs: { egressIPs: [egressIP([{ node: "n2", ip: EIP }])] },
      from: WEB,
      verdict: "allowed",
      source: [{ kind: "egressIP", owner: "eip-a", address: EIP, node: "n2" }],
      path: [
        ["n1", "reroute"],
        ["n2", "snat"],
      ],
    },
    {
      name: "EgressIP held by the pod's own node: SNAT there",
      objs: { egressIPs: [egressIP([{ node: "n1", ip: EIP }])] },
      from: WEB,
      verdict: "allowed",
      source: [{ kind: "egressIP", owner: "eip-a", address: EIP, node: "n1" }],
      path: [["n1", "snat"]],
    },
    {
      name: "EgressIP with two holders: both possible sources listed",
      objs: {
        egressIPs: [
          egressIP([
            { node: "n2", ip: EIP },
            { node: "n3", ip: "192.168.126.102" },
          ]),
        ],
      },
      from: WEB,
      verdict: "allowed",
      source: [
        { kind: "egressIP", owner: "eip-a", address: EIP, node: "n2" },
        { kind: "egressIP", owner: "eip-a", address: "192.168.126.102", node: "n3" },
      ],
      path: [
        ["n1", "reroute"],
        ["n2", "snat"],
        ["n1", "reroute"],
        ["n3", "snat"],
      ],
    },
    {
      name: "project egress IP hosted on n3",
      objs: {
        netNamespaces: [
          projectEgress({ state: "normal", egressIP: PROJECT_EIP, node: "n3", nodeIP: "192.168.126.13" }),
        ],
      },
      from: JOB,
      verdict: "allowed",
      source: [{ kind: "projectEgressIP", owner: "c", address: PROJECT_EIP, node: "n3" }],
      path: [
        ["n1", "reroute"],
        ["n3", "snat"],
      ],
    },
    {
      name: "project egress dropped: denied by the egress path",
      objs: { netNamespaces: [projectEgress({ state: "dropped" })] },
      from: JOB,
      verdict: "denied",
      source: [{ kind: "dropped", node: "n1" }],
      path: [["n1", "drop"]],
    },
  ];
  for (const c of outside) {
    it(`pod → outside, ${c.name}`, async () => {
      const r = await traceFlow(cluster(c.objs), c.from, target(`${EXT}:443`), fakes({}).opts);
      assert.equal(r.to.outside, true);
      assert.equal(r.verdict, c.verdict);
      assert.deepEqual(r.source, c.source);
      assert.deepEqual(
        r.hops.filter((h) => h.stage === "egress-path").map((h) => [h.node, h.verdict]),
        c.path,
      );
      if (c.verdict === "denied") assert.equal(r.decidedBy.kind, "egress-path");
    });
  }

  it("pod → outside, EgressIP on the holder's secondary NIC: leaves through that NIC, SNATed", async () => {
    const base = cluster();
    const nodes = base.nodes.map((n) =>
      n.metadata.name !== "n2"
        ? n
        : o({
            ...n,
            metadata: {
              ...n.metadata,
              annotations: {
                ...n.metadata.annotations,
                "k8s.ovn.org/host-cidrs": JSON.stringify(["192.168.126.12/24", "172.16.5.12/24"]),
              },
            },
          }),
    );
    const objs = cluster({ nodes, egressIPs: [egressIP([{ node: "n2", ip: "172.16.5.100" }])] });
    const r = await traceFlow(objs, WEB, target(`${EXT}:443`), fakes({}).opts);
    assert.deepEqual(r.source, [{ kind: "egressIP", owner: "eip-a", address: "172.16.5.100", node: "n2" }]);
    const snat = r.hops.find((h) => h.node === "n2" && h.stage === "egress-path");
    assert.equal(snat?.verdict, "snat");
    assert.match(snat?.detail ?? "", /by secondary1/);
    // A pod the EgressIP does not serve still leaves by the main table, masqueraded to the primary address.
    const job = await traceFlow(objs, JOB, target(`${EXT}:443`), fakes({}).opts);
    assert.deepEqual(job.source, [{ kind: "node", address: "192.168.126.11", node: "n1" }]);
  });

  it("policy denies an outside flow: no egress path is traced", async () => {
    const r = await traceFlow(cluster(), WEB, target(EXT), fakes({ n1: "drop" }).opts);
    assert.equal(r.verdict, "denied");
    assert.deepEqual(r.source, []);
    assert.ok(r.hops.every((h) => h.stage !== "egress-path"));
  });

  it("input errors name the flag", async () => {
    const f = fakes({});
    const cases: [Parameters<typeof traceFlow>[1], string, RegExp][] = [
      [{ kind: "pod", namespace: "a", name: "nope" }, EXT, /--from: pod a\/nope not found/],
      [WEB, "b/nope", /--to: pod b\/nope not found/],
    ];
    for (const [from, to, re] of cases)
      await assert.rejects(
        traceFlow(cluster(), from, target(to), f.opts),
        (e: unknown) => e instanceof TraceInputError && re.test(e.message),
      );
    const pending = cluster();
    pending.pods.push(o({ metadata: { namespace: "a", name: "new" }, spec: { containers: [] }, status: {} }));
    await assert.rejects(
      traceFlow(pending, { kind: "pod", namespace: "a", name: "new" }, target(EXT), f.opts),
      /--from: pod a\/new has no address or node yet/,
    );
  });
});

describe("traceFlow with the real policy compiler", () => {
  it("a NetworkPolicy isolating b/db denies a/web, naming the isolation; an allow rule names the policy", async () => {
    const deny = o({
      metadata: { namespace: "b", name: "db-only-b" },
      spec: {
        podSelector: { matchLabels: { app: "db" } },
        policyTypes: ["Ingress"],
        ingress: [{ from: [{ podSelector: {} }] }],
      },
    });
    const r = await traceFlow(cluster({ networkPolicies: [deny] }), WEB, target("b/db:5432"), {
      dnsServers: [],
    });
    assert.equal(r.verdict, "denied");
    assert.equal(r.hops.at(-1)?.node, "n2");
    assert.deepEqual(r.decidedBy, { kind: "networkpolicy-isolation", direction: "ingress" });

    const allow = o({
      metadata: { namespace: "b", name: "db-from-a" },
      spec: {
        podSelector: { matchLabels: { app: "db" } },
        policyTypes: ["Ingress"],
        ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: "a" } } }], ports: [{ port: 5432 }] }],
      },
    });
    const ok = await traceFlow(cluster({ networkPolicies: [deny, allow] }), WEB, target("b/db:5432"), {
      dnsServers: [],
    });
    assert.equal(ok.verdict, "allowed");
    assert.deepEqual(ok.decidedBy, {
      kind: "networkpolicy",
      policy: "b/db-from-a",
      direction: "ingress",
      rule: 0,
    });
    const wrongPort = await traceFlow(cluster({ networkPolicies: [deny, allow] }), WEB, target("b/db:80"), {
      dnsServers: [],
    });
    assert.equal(wrongPort.verdict, "denied");
  });

  it("an EgressFirewall Deny rule names the firewall and rule index; DNS to the resolver passes", async () => {
    const ef = o({
      metadata: { namespace: "a", name: "default" },
      spec: {
        egress: [
          { type: "Allow", to: { cidrSelector: "198.51.100.0/24" } },
          { type: "Deny", to: { cidrSelector: "0.0.0.0/0" } },
        ],
      },
    });
    const objs = cluster({ egressFirewalls: [ef] });
    const denied = await traceFlow(objs, WEB, target(`${EXT}:443`), { dnsServers: ["192.0.2.53"] });
    assert.equal(denied.verdict, "denied");
    assert.deepEqual(denied.decidedBy, {
      kind: "egressfirewall",
      namespace: "a",
      firewallKind: "EgressFirewall",
      name: "default",
      rule: 1,
      type: "Deny",
    });
    const allowed = await traceFlow(objs, WEB, target("198.51.100.9:443"), { dnsServers: ["192.0.2.53"] });
    assert.equal(allowed.verdict, "allowed");
    assert.deepEqual(allowed.source, [{ kind: "node", address: "192.168.126.11", node: "n1" }]);
    const dns = await traceFlow(objs, WEB, target("192.0.2.53:53/udp"), { dnsServers: ["192.0.2.53"] });
    assert.equal(dns.verdict, "allowed");
    assert.equal(dns.decidedBy.kind, "dns");
  });
});

describe("formatReport", () => {
  it("json has verdict, decidedBy, source and hops; text names the deciding rule", async () => {
    const r = await traceFlow(
      cluster({ egressIPs: [egressIP([{ node: "n2", ip: EIP }])] }),
      WEB,
      target(EXT),
      fakes({}).opts,
    );
    const j = JSON.parse(formatReport(r, "json")) as Record<string, unknown>;
    assert.equal(j.verdict, "allowed");
    assert.deepEqual(j.decidedBy, { kind: "default" });
    assert.deepEqual(j.source, { kind: "egressIP", owner: "eip-a", address: EIP, node: "n2" });
    assert.ok(Array.isArray(j.hops) && j.hops.length === 3);
    const text = formatReport(r, "text");
    assert.match(text, /verdict: {4}allowed/);
    assert.match(
      text,
      new RegExp(`source out: ${EIP.replaceAll(".", "\\.")} \\(EgressIP eip-a, leaves n2\\)`),
    );
  });

  it("describes each kind of decision", () => {
    assert.equal(
      describeDecidedBy({ kind: "networkpolicy", policy: "b/x", direction: "ingress", rule: 2 }),
      "NetworkPolicy b/x spec.ingress[2]",
    );
    assert.equal(
      describeDecidedBy({
        kind: "egressfirewall",
        namespace: "a",
        firewallKind: "EgressNetworkPolicy",
        name: "default",
        rule: 0,
        type: "Deny",
      }),
      "EgressNetworkPolicy a/default spec.egress[0] (Deny)",
    );
    assert.match(
      describeDecidedBy({ kind: "multitenant", verdict: "drop", reason: "other-netid", netid: 5 }),
      /multitenant isolation: drop \(other-netid, netid 5\)/,
    );
  });
});

describe("publishedInterfaces", () => {
  it("primary address first, then the other host CIDRs; InternalIP/32 when nothing is published", () => {
    const n = o({
      metadata: {
        name: "n1",
        annotations: {
          "k8s.ovn.org/node-primary-ifaddr": '{"ipv4":"192.168.126.11/24"}',
          "k8s.ovn.org/host-cidrs": '["192.168.126.11/24","10.10.0.11/16","fd00::11/64"]',
        },
      },
    });
    assert.deepEqual(publishedInterfaces(n, undefined), [
      { name: "primary", address: "192.168.126.11/24" },
      { name: "secondary1", address: "10.10.0.11/16" },
    ]);
    assert.deepEqual(publishedInterfaces(o({ metadata: { name: "x" } }), "192.168.126.20"), [
      { name: "primary", address: "192.168.126.20/32" },
    ]);
  });
});

describe("batch", () => {
  it("parseBatch: one query per line, blanks and comments skipped, line numbers kept", () => {
    const q = parseBatch("# header\n\na/web b/db:5432/udp\n  c/job\t93.184.216.34:443  # outside\n", "q.txt");
    assert.deepEqual(
      q.map((x) => [x.line, x.text.from, x.text.to, x.to.port, x.to.protocol]),
      [
        [3, "a/web", "b/db:5432/udp", 5432, "UDP"],
        [4, "c/job", "93.184.216.34:443", 443, "TCP"],
      ],
    );
    assert.deepEqual(q[1]!.from, { kind: "pod", namespace: "c", name: "job" });
  });

  it("parseBatch: a bad line fails the file, naming file:line and the word's own error", () => {
    const cases: [string, RegExp][] = [
      ["a/web b/db\na/web b/db:0\n", /--batch "q.txt:2": --to "b\/db:0": port "0"/],
      ["a/web\n", /--batch "q.txt:1": expected "<namespace>\/<pod> .*got "a\/web"/],
      ["a/web b/db c/x\n", /--batch "q.txt:1": expected/],
      ["web b/db\n", /--batch "q.txt:1": --from "web"/],
    ];
    for (const [text, re] of cases)
      assert.throws(
        () => parseBatch(text, "q.txt"),
        (e: unknown) => e instanceof TraceArgError && e.flag === "--batch" && re.test(e.message),
        text,
      );
  });

  it("traceBatch compiles each node's policy program once and answers like single traces", async () => {
    const f = fakes({ n2: "drop" });
    let compiled = 0;
    const compile = (v: PolicyView) => {
      compiled++;
      return f.opts.compile(v);
    };
    const c = cluster();
    const queries = parseBatch(
      ["a/web b/db:5432", "a/web a/peer", "c/job b/db/udp", `a/web ${EXT}:443`, "a/nope b/db"].join("\n"),
      "q",
    );
    const results = await traceBatch(c, queries, { ...f.opts, compile });
    assert.equal(compiled, 2, "n1 and n2 once each");
    assert.equal(results.length, 5);
    for (const r of results.slice(0, 4)) {
      assert.ok("report" in r.result);
      const single = await traceFlow(c, r.query.from, r.query.to, fakes({ n2: "drop" }).opts);
      assert.deepEqual(r.result.report, single, r.query.text.to);
    }
    assert.deepEqual(results[4]!.result, { error: "--from: pod a/nope not found" });

    const lines = formatBatch(results, "json").trimEnd().split("\n");
    assert.equal(lines.length, 5);
    const first = JSON.parse(lines[0]!) as { query: unknown; verdict: string; source: unknown };
    assert.deepEqual(first.query, { line: 1, from: "a/web", to: "b/db:5432" });
    assert.equal(first.verdict, "denied");
    assert.equal(first.source, null);
    assert.deepEqual(JSON.parse(lines[4]!), {
      query: { line: 5, from: "a/nope", to: "b/db" },
      error: "--from: pod a/nope not found",
    });
    const text = formatBatch(results, "text");
    assert.match(text, /^# line 1: a\/web -> b\/db:5432\nfrom: +a\/web/);
    assert.match(text, /# line 5: a\/nope -> b\/db\nerror: --from: pod a\/nope not found/);
  });

  it("a cache made for other objects is not used", async () => {
    const f = fakes({});
    let compiled = 0;
    const compile = (v: PolicyView) => {
      compiled++;
      return f.opts.compile(v);
    };
    const stale = new TraceCache(cluster());
    await traceFlow(cluster(), WEB, target("a/peer"), { ...f.opts, compile, cache: stale });
    await traceFlow(cluster(), WEB, target("a/peer"), { ...f.opts, compile, cache: stale });
    assert.equal(compiled, 2);
  });

  it("the real compiler over a batch gives the same reports as single traces (EgressIP, firewall)", async () => {
    const fw = o({
      metadata: {
        namespace: "a",
        name: "default",
        annotations: { "egress.openshift.io/firewall-effect": "Enforced" },
      },
      spec: { egress: [{ type: "Deny", to: { cidrSelector: "93.184.216.0/24" } }] },
    });
    const c = cluster({ egressIPs: [egressIP([{ node: "n2", ip: EIP }])], egressFirewalls: [fw] });
    const queries = parseBatch(
      [`a/web ${EXT}`, "a/web 8.8.8.8:53/udp", "a/web 1.1.1.1", "c/job 1.1.1.1", "a/web b/db"].join("\n"),
      "q",
    );
    const results = await traceBatch(c, queries, { dnsServers: [] });
    for (const r of results) {
      assert.ok("report" in r.result);
      assert.deepEqual(r.result.report, await traceFlow(c, r.query.from, r.query.to, { dnsServers: [] }));
    }
    const verdicts = results.map((r) => ("report" in r.result ? r.result.report.verdict : "error"));
    assert.deepEqual(verdicts, ["denied", "allowed", "allowed", "allowed", "allowed"]);
    const src = (i: number) => {
      const r = results[i]!.result;
      return "report" in r ? r.report.source[0]?.address : undefined;
    };
    assert.equal(src(2), EIP);
    assert.equal(src(3), "192.168.126.11");
  });
});

describe("traceFlow: paths the lab matrix found missing", () => {
  const denyAllEgress = o({
    metadata: { namespace: "a", name: "deny-out" },
    spec: { podSelector: {}, policyTypes: ["Egress"] },
  });
  const denyAllFw = o({
    metadata: {
      namespace: "a",
      name: "default",
      annotations: { "egress.openshift.io/firewall-effect": "Enforced" },
    },
    spec: { egress: [{ type: "Deny", to: { cidrSelector: "0.0.0.0/0" } }] },
  });

  it("to the pod's own node (its address, bridge gateway, an egress IP it holds): input hook, never filtered", async () => {
    const c = cluster({
      networkPolicies: [denyAllEgress],
      egressFirewalls: [denyAllFw],
      egressIPs: [egressIP([{ node: "n1", ip: EIP }])],
    });
    for (const dst of ["192.168.126.11:7100", "10.128.0.1:22/udp", `${EIP}:7000`]) {
      const r = await traceFlow(c, WEB, target(dst), { dnsServers: [] });
      assert.equal(r.verdict, "allowed", dst);
      assert.equal(r.decidedBy.kind, "node-local", dst);
      assert.deepEqual(r.source, [{ kind: "pod", address: "10.128.0.5", node: "n1" }]);
      assert.deepEqual(
        r.hops.map((h) => h.stage),
        ["node-local"],
      );
    }
    // Another node's address passes the source node's forward hook: the policy decides.
    const other = await traceFlow(c, WEB, target("192.168.126.12:7100"), { dnsServers: [] });
    assert.equal(other.verdict, "denied");
    assert.deepEqual(other.decidedBy, { kind: "networkpolicy-isolation", direction: "egress" });
    assert.match(describeDecidedBy({ kind: "node-local", node: "n1", detail: "x" }), /own node n1/);
  });

  it("a service flow to an endpoint on the same bridge leaves masqueraded to the bridge gateway", async () => {
    const svc = (name: string) =>
      o({
        metadata: { namespace: "a", name },
        spec: {
          clusterIP: name === "peer" ? "172.30.0.20" : "172.30.0.21",
          ports: [{ port: 80, protocol: "TCP", targetPort: 7000 }],
        },
      });
    const eps = (name: string, ip: string) =>
      o({
        metadata: { namespace: "a", name },
        subsets: [{ addresses: [{ ip }], ports: [{ port: 7000, protocol: "TCP" }] }],
      });
    const c = cluster({
      services: [svc("peer"), svc("db")],
      endpoints: [eps("peer", "10.128.0.6"), eps("db", "10.128.2.7")],
    });
    const local = await traceFlow(c, WEB, target("172.30.0.20:80"), { dnsServers: [] });
    assert.equal(local.verdict, "allowed");
    assert.equal(local.to.endpoint, "10.128.0.6:7000");
    assert.deepEqual(local.source, [{ kind: "node", address: "10.128.0.1", node: "n1" }]);
    assert.equal(local.hops.at(-1)?.stage, "service-nat");
    // The endpoint itself through its own service (hairpin): the same.
    const hairpin = await traceFlow(
      c,
      { kind: "pod", namespace: "a", name: "peer" },
      target("172.30.0.20:80"),
      {
        dnsServers: [],
      },
    );
    assert.deepEqual(hairpin.source, [{ kind: "node", address: "10.128.0.1", node: "n1" }]);
    // An endpoint on another node: routed, no NAT.
    const remote = await traceFlow(c, WEB, target("172.30.0.21:80"), { dnsServers: [] });
    assert.equal(remote.verdict, "allowed");
    assert.deepEqual(remote.source, [{ kind: "pod", address: "10.128.0.5", node: "n1" }]);
  });
});
