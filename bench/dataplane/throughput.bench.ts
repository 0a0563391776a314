// Throughput with the node programs vs. without: iperf3 pod → external host through the EgressIP
// holder (pod on n1, its EgressIP held by n2: rerouted, then SNATed) and pod → pod across nodes,
// each alternately with the compiled node programs of 10,000 pods / 1,000 EgressIPs applied on both
// nodes and with no nftables table at all (plain routing along the same path). Runs in network
// namespaces it creates and deletes (needs root and iperf3). A fourth setup adds the policy tables of
// issue 7 on both nodes: 1,000 NetworkPolicies over 10,000 pods (the two real pods isolated, allowed
// by policy) and an 8,000-rule EgressFirewall on the client's namespace. Prints JSON: per scenario
// the median bits/s of each setup and their ratios (targets: node programs ≥ 0.95 of no rules, policy
// ≥ 0.9 of none), and the TCP connection-setup rate per setup.
//   node dist/bench/dataplane/throughput.bench.js [--runs 5] [--seconds 2] [--pods 10000] [--connects 300]
import { execFileSync } from "node:child_process";
import { applyNodeProgram } from "../../src/dataplane/apply.js";
import { compileNodeProgram } from "../../src/dataplane/compile/node-program.js";
import { compilePolicyProgram } from "../../src/dataplane/compile/policy/compile.js";
import { firewallRules, manyPoliciesView } from "../../src/dataplane/compile/policy/fixtures.js";
import type { PolicyView } from "../../src/dataplane/compile/policy/types.js";
import type { EgressIPView, NodeView } from "../../src/dataplane/compile/types.js";
import { RealIp } from "../../src/dataplane/ip/execer.js";
import { reconcileIp } from "../../src/dataplane/ip/reconciler.js";
import { RealNft } from "../../src/dataplane/nft/execer.js";
import { type LabNode, NetLab } from "../../test/e2e/dataplane/netlab.js";
import { arg } from "../support/args.js";

const RUNS = arg("runs", 5);
const SECONDS = arg("seconds", 2);
const PODS = arg("pods", 10_000);
const EIPS = arg("egressips", 1_000);
const CONNECTS = arg("connects", 300);

const v4 = (n: number) => [24, 16, 8, 0].map((s) => (n >>> s) & 255).join(".");
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ipIn = (ns: string, ...args: string[]) => execFileSync("ip", ["-n", ns, ...args], { stdio: "pipe" });
/** For deletions of what may already be gone. */
function ipGone(ns: string, ...args: string[]): void {
  try {
    ipIn(ns, ...args);
  } catch {
    // not there
  }
}

const N1 = { name: "n1", nodeIP: "192.168.126.11", podSubnet: "10.128.0.0/18" };
const N2 = { name: "n2", nodeIP: "192.168.126.12", podSubnet: "10.128.64.0/18" };
const EXT = "192.168.126.200";
const P1 = "10.128.0.5";
const P2 = "10.128.64.5";
const EIP = "192.168.126.10";

/** The same cluster seen from `self`: PODS synthetic pods on n1 in EIPS EgressIPs (half held by n1,
 *  half by n2) plus the real pod P1 in an EgressIP held by n2. */
function view(self: typeof N1): NodeView {
  const base = (10 << 24) | (128 << 16);
  const synthetic = Array.from({ length: PODS }, (_, i) => v4(base + 10 + i));
  const per = Math.max(1, Math.floor(PODS / EIPS));
  const holder = (e: number) =>
    e % 2 === 0 ? { node: "n1", nodeIP: N1.nodeIP } : { node: "n2", nodeIP: N2.nodeIP };
  const egressIPs: EgressIPView[] = Array.from({ length: EIPS }, (_, e) => ({
    name: `e${e}`,
    ips: [{ ip: v4(((192 << 24) | (168 << 16) | (128 << 8)) + e), ...holder(e) }],
    podIPs: synthetic.slice(e * per, (e + 1) * per),
  }));
  egressIPs.unshift({ name: "real", ips: [{ ip: EIP, node: "n2", nodeIP: N2.nodeIP }], podIPs: [P1] });
  const localPods = (self === N1 ? [P1, ...synthetic] : [P2]).map((ip, i) => ({
    namespace: "bench",
    name: `p${i}`,
    ip,
  }));
  return {
    node: {
      ...self,
      bridge: "egbr0",
      interfaces: [{ name: "eth0", address: `${self.nodeIP}/18` }],
    },
    nodes: [N1, N2],
    clusterCIDRs: ["10.128.0.0/14"],
    serviceCIDR: "172.30.0.0/16",
    localPods,
    services: [],
    egressIPs,
    projectEgress: [],
  };
}

/** The policy rule sets seen from `self` (networkpolicy mode): the fixture's 1,000 NetworkPolicies
 *  over 10,000 pods in 100 namespaces on n1, plus namespace `client` (P1) whose egress is allowed
 *  to `server` and to EXT, `server` (P2) accepting ingress from `client` only, and an 8,000-rule
 *  EgressFirewall on `client` whose one Allow for EXT sits just before the final Deny. */
function policyView(self: typeof N1): PolicyView {
  const base = manyPoliciesView(1000, PODS, 100);
  const taken = new Set([P1, P2]);
  const rules = firewallRules(8000);
  rules.splice(rules.length - 1, 0, { type: "Allow", cidrSelector: `${EXT}/32` });
  const ns = (name: string) => ({ name, labels: { "kubernetes.io/metadata.name": name }, multicast: false });
  return {
    ...base,
    node: self.name,
    podSubnet: self.podSubnet,
    nodes: [
      { name: "n1", ips: [N1.nodeIP], labels: {} },
      { name: "n2", ips: [N2.nodeIP], labels: {} },
    ],
    dnsServers: [],
    pods: [
      ...base.pods.filter((p) => !taken.has(p.ip)).map((p) => ({ ...p, local: self === N1 })),
      { namespace: "client", name: "p1", ip: P1, labels: {}, ports: [], local: self === N1 },
      { namespace: "server", name: "p2", ip: P2, labels: {}, ports: [], local: self === N2 },
    ],
    namespaces: [...base.namespaces, ns("client"), ns("server")],
    networkPolicies: [
      ...base.networkPolicies,
      {
        namespace: "client",
        name: "egress",
        spec: {
          podSelector: {},
          policyTypes: ["Egress"],
          egress: [
            { to: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "server" } } }] },
            { to: [{ ipBlock: { cidr: `${EXT}/32` } }] },
          ],
        },
      },
      {
        namespace: "server",
        name: "ingress",
        spec: {
          podSelector: {},
          ingress: [
            { from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "client" } } }] },
          ],
        },
      },
    ],
    egressFirewalls: [
      { namespace: "client", kind: "EgressFirewall", name: "default", effect: "Enforced", rules },
    ],
  };
}

/** TCP connections per second from `ns` to the echo server at `host:port` (sequential connects). */
function connectRate(lab: NetLab, ns: string, host: string, port: number, count: number): number {
  const t0 = performance.now();
  const r = lab.probe(ns, host, port, count, 2000);
  const s = (performance.now() - t0) / 1000;
  if (r.failures > 0) throw new Error(`${r.failures} of ${count} connections from ${ns} to ${host} failed`);
  return count / s;
}

/** iperf3 client in `ns` → `server`; returns received bits/s. */
function iperf(ns: string, server: string): number {
  const out = execFileSync(
    "ip",
    ["netns", "exec", ns, "iperf3", "-c", server, "-t", String(SECONDS), "-J", "--connect-timeout", "2000"],
    { encoding: "utf8" },
  );
  const j = JSON.parse(out) as { end?: { sum_received?: { bits_per_second?: number } }; error?: string };
  if (j.error || !j.end?.sum_received?.bits_per_second) throw new Error(`iperf3 in ${ns}: ${j.error ?? out}`);
  return j.end.sum_received.bits_per_second;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("needs root (network namespaces)");
  const lab = new NetLab();
  try {
    lab.up();
    const n1: LabNode = lab.node("n1", N1.nodeIP, N1.podSubnet, "10.128.0.1");
    const n2: LabNode = lab.node("n2", N2.nodeIP, N2.podSubnet, "10.128.64.1");
    const ext = lab.host("ext", `${EXT}/18`);
    const p1 = lab.pod(n1, "p1", P1);
    const p2 = lab.pod(n2, "p2", P2);
    for (const n of [n1, n2])
      for (const k of ["net.ipv4.ip_forward=1", "net.ipv4.conf.all.send_redirects=0"])
        execFileSync("ip", ["netns", "exec", n.ns, "sysctl", "-qw", k]);
    // Plain routing along the same path as the rules: pod subnets between the nodes, the external
    // host answering pods through n2 (the EgressIP holder), and P1's traffic to EXT sent via n2.
    // (The node programs install the pod-subnet routes themselves, so the plain ones come and go.)
    ipIn(ext, "route", "add", "10.128.0.0/14", "via", N2.nodeIP);
    const plainRoutes = (op: "replace" | "del") => {
      const route = op === "replace" ? ipIn : ipGone;
      route(n1.ns, "route", op, N2.podSubnet, "via", N2.nodeIP);
      route(n2.ns, "route", op, N1.podSubnet, "via", N1.nodeIP);
      if (op === "replace") {
        ipIn(n1.ns, "route", "replace", "default", "via", N2.nodeIP, "table", "100");
        ipGone(n1.ns, "rule", "del", "priority", "100");
        ipIn(n1.ns, "rule", "add", "priority", "100", "from", P1, "to", EXT, "lookup", "100");
      } else {
        ipGone(n1.ns, "rule", "del", "priority", "100");
      }
    };
    for (const ns of [ext, p2.ns]) lab.spawnIn(ns, ["iperf3", "-s"]);
    const extEcho = await lab.echoServer(ext);
    const podEcho = await lab.echoServer(p2.ns);
    await new Promise((r) => setTimeout(r, 300));

    const exec = (n: LabNode) => ({ nft: new RealNft({ netns: n.ns }), ip: new RealIp({ netns: n.ns }) });
    const programs = [
      { node: n1, program: compileNodeProgram(view(N1)) },
      { node: n2, program: compileNodeProgram(view(N2)) },
    ];
    const rulesOn = async () => {
      plainRoutes("del");
      for (const { node, program } of programs)
        await applyNodeProgram(exec(node), program, { announce: false });
    };
    const rulesOff = async () => {
      for (const { node } of programs) {
        execFileSync("ip", ["netns", "exec", node.ns, "nft", "-f", "-"], {
          input: "table inet egress-node {}\ndelete table inet egress-node\n",
        });
        await reconcileIp(exec(node).ip, { routes: [], rules: [], addresses: [] }, { announce: false });
      }
      plainRoutes("replace");
    };
    plainRoutes("replace"); // the state rulesOn() starts from

    // Conntrack alone (plain routing, one table whose only rule makes every packet tracked): shows
    // how much of the difference is the kernel's connection tracking, which any stateful ruleset
    // (NAT, established-flow shortcuts) brings, rather than the rules' lookups.
    const CT = "inet egress-bench-ct";
    const ctTable = (on: boolean) => {
      for (const n of [n1, n2])
        execFileSync("ip", ["netns", "exec", n.ns, "nft", "-f", "-"], {
          input: `table ${CT} {}\ndelete table ${CT}\n${
            on
              ? `table ${CT} {\n\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n\t\tct state established accept\n\t}\n}\n`
              : ""
          }`,
        });
    };
    const POLICY = "inet egress-policy";
    const policies = [
      { node: n1, script: compilePolicyProgram(policyView(N1)).nft },
      { node: n2, script: compilePolicyProgram(policyView(N2)).nft },
    ];
    const policyTables = (on: boolean) => {
      for (const { node, script } of policies)
        execFileSync("ip", ["netns", "exec", node.ns, "nft", "-f", "-"], {
          input: on ? script : `table ${POLICY} {}\ndelete table ${POLICY}\n`,
        });
    };
    const sides: Record<string, () => Promise<void>> = {
      without: async () => {
        ctTable(false);
        policyTables(false);
        await rulesOff();
      },
      conntrackOnly: async () => {
        policyTables(false);
        await rulesOff();
        ctTable(true);
      },
      with: async () => {
        ctTable(false);
        policyTables(false);
        await rulesOn();
      },
      withPolicy: async () => {
        ctTable(false);
        await rulesOn();
        policyTables(true);
      },
    };
    const scenarios = [
      { name: "pod → external via the EgressIP holder", ns: p1.ns, server: EXT },
      { name: "pod → pod across nodes", ns: p1.ns, server: P2 },
    ];
    const rates: Record<string, Record<string, number[]>> = { "pod → external": {}, "pod → pod": {} };
    const results: Record<string, Record<string, number[]>> = {};
    for (const s of scenarios) results[s.name] = Object.fromEntries(Object.keys(sides).map((k) => [k, []]));
    for (let r = 0; r < RUNS; r++) {
      // Rotate the order so a drift in machine load does not favour one side.
      const names = Object.keys(sides);
      const order = names.map((_, i) => names[(i + r) % names.length]!);
      for (const side of order) {
        await sides[side]!();
        for (const s of scenarios) results[s.name]![side]!.push(iperf(s.ns, s.server));
        for (const [name, host, port] of [
          ["pod → external", EXT, extEcho],
          ["pod → pod", P2, podEcho],
        ] as const) {
          const list = rates[name]![side] ?? [];
          list.push(connectRate(lab, p1.ns, host, port, CONNECTS));
          rates[name]![side] = list;
        }
      }
    }
    const gbit = (b: number) => Number((b / 1e9).toFixed(2));
    const ratio = (a: number[], b: number[]) => Number((median(a) / median(b)).toFixed(3));
    console.log(
      JSON.stringify(
        {
          pods: PODS,
          egressIPs: EIPS,
          runs: RUNS,
          seconds: SECONDS,
          scenarios: Object.fromEntries(
            Object.entries(results).map(([name, r]) => [
              name,
              {
                gbitMedian: Object.fromEntries(Object.entries(r).map(([k, v]) => [k, gbit(median(v))])),
                ratioWithVsWithout: ratio(r.with!, r.without!),
                ratioWithVsConntrackOnly: ratio(r.with!, r.conntrackOnly!),
                ratioWithPolicyVsWith: ratio(r.withPolicy!, r.with!),
                ratioWithPolicyVsWithout: ratio(r.withPolicy!, r.without!),
                runs: Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.map(gbit)])),
              },
            ]),
          ),
          connectionsPerSecondMedian: Object.fromEntries(
            Object.entries(rates).map(([name, r]) => [
              name,
              Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Math.round(median(v))])),
            ]),
          ),
          loadAverage: (await import("node:os")).loadavg().map((x) => x.toFixed(1)),
        },
        null,
        2,
      ),
    );
  } finally {
    lab.destroy();
  }
}

await main();
