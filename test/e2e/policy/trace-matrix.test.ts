// `egress trace` agrees with real packets (issue 7 point 6). One lab in networkpolicy mode: three
// namespaces (tx, ty, tz) with seven pods spread over the three nodes, an EgressIP for tx, and the
// lab's outside hosts (web 203.0.113.25, 1.2.3.4, 198.51.100.10 and ext1 192.168.126.200 with
// their echo ports, read from `lab status`, plus a DNS query to the lab resolver). Round 0 has no
// policy; each further round applies a set of NetworkPolicies and maybe one egress firewall
// generated from a fixed seed (printed; TRACE_MATRIX_SEED replays another, TRACE_MATRIX_ROUNDS
// changes the count). In every round each (source pod, target pod port | outside address port,
// TCP|UDP) is traced with one `egress trace --batch … -o json` call and tried with a real
// connection from inside the source pod; both must agree on allowed/denied, and for connections
// that went through, the source address the echo server saw must be one the trace names (pod
// address, EgressIP, node address). Rounds repeat only to wait for convergence: the round passes
// when two consecutive rounds agree completely and are identical; it fails once the deadline has
// passed and two consecutive rounds show the same disagreements (or at a hard deadline), printing
// every disagreement as a table. Root; `after` tears the lab down, also on failure.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { findByKind } from "../../../src/api/kinds/index.js";
import { isNotFound } from "../../../src/controllers/runtime/client.js";
import { labSkip, OUTSIDE, PolicyLab, waitFor } from "./support/cluster.js";
import { addrTarget, type MatrixPod, observe, podTarget, type Target } from "./support/matrix.js";
import {
  batchFile,
  type Cell,
  cellFor,
  compare,
  type Disagreement,
  fingerprint,
  parseTraceLines,
  renderDisagreements,
  type TraceAnswer,
} from "./support/trace-compare.js";
import { type GenWorld, generateSet, type KubeDoc } from "./support/trace-gen.js";

const SKIP = labSkip();
const SEED = Number(process.env.TRACE_MATRIX_SEED ?? 7_2024);
const ROUNDS = Number(process.env.TRACE_MATRIX_ROUNDS ?? 3);
if (!Number.isInteger(SEED) || !Number.isInteger(ROUNDS) || ROUNDS < 0)
  throw new Error(
    `TRACE_MATRIX_SEED/TRACE_MATRIX_ROUNDS must be integers, got ${process.env.TRACE_MATRIX_SEED}/${process.env.TRACE_MATRIX_ROUNDS}`,
  );

const L = new PolicyLab("t");
const EIP_NAME = "eip-trace";
const EIP = "192.168.126.120";
/** The outside addresses probed (each with every echo port its host serves). */
const WEB_ADDRS = [OUTSIDE.web25, OUTSIDE.foo4, OUTSIDE.bar];
const NAMESPACES: { name: string; labels: Record<string, string> }[] = [
  { name: "tx", labels: { ns: "tx", team: "red", eip: "on" } },
  { name: "ty", labels: { ns: "ty", team: "blue" } },
  { name: "tz", labels: { ns: "tz", team: "red" } },
];
/** Echo ports served in the nodes' namespaces (not used by anything else there). */
const NODE_PORTS = { tcp: 7100, udp: 7101 };
const POD_PORTS: [number, "TCP" | "UDP"][] = [
  [7000, "TCP"],
  [7001, "UDP"],
  [8080, "TCP"],
];

let pods: MatrixPod[] = [];
let targets: Target[] = [];
let cells: Cell[] = [];
let dnsServer: string = OUTSIDE.dns;
let world: GenWorld;
let eipHolder = "";
/** The objects of the previous round (deleted when not in the next one). */
let applied: KubeDoc[] = [];
/** Totals over all rounds, for the coverage check. */
/** Source kinds count allowed cells whose source was compared (not DNS). */
const totals = {
  allowed: 0,
  denied: 0,
  egressIPSource: 0,
  nodeSource: 0,
  podSource: 0,
  decidedBy: new Map<string, number>(),
};

console.log(
  `trace-matrix: seed ${SEED}, ${ROUNDS} generated rounds (replay with TRACE_MATRIX_SEED=${SEED} TRACE_MATRIX_ROUNDS=${ROUNDS})`,
);

before(async () => {
  if (SKIP) return;
  await L.up("networkpolicy");
  const st = L.lab.status();
  if (st.dns?.server) dnsServer = st.dns.server;
  const api = await L.api();
  for (const ns of NAMESPACES) await L.namespace(ns.name, ns.labels);
  pods = await L.pods([
    { namespace: "tx", name: "a", node: "node1", labels: { pod: "a", role: "web", tier: "front" } },
    { namespace: "tx", name: "b", node: "node2", labels: { pod: "b", role: "db" } },
    { namespace: "tx", name: "c", node: "node3", labels: { pod: "c", role: "web" } },
    { namespace: "ty", name: "a", node: "node2", labels: { pod: "a", role: "web" } },
    { namespace: "ty", name: "b", node: "node3", labels: { pod: "b", role: "db", tier: "front" } },
    { namespace: "tz", name: "a", node: "node3", labels: { pod: "a", role: "db" } },
    { namespace: "tz", name: "b", node: "node1", labels: { pod: "b", role: "web", tier: "front" } },
  ]);
  await L.apply([
    {
      apiVersion: "k8s.ovn.org/v1",
      kind: "EgressIP",
      metadata: { name: EIP_NAME },
      spec: { egressIPs: [EIP], namespaceSelector: { matchLabels: { eip: "on" } } },
    },
  ]);
  eipHolder = await waitFor(
    `EgressIP ${EIP} assigned and on its holder`,
    async () => {
      const items = await L.lab.egressIPStatus(EIP_NAME);
      const node = items.find((i) => i.egressIP === EIP)?.node;
      return node && L.lab.addressHolders(EIP).join() === node ? node : undefined;
    },
    30_000,
    250,
  );

  // Outside targets from the lab topology as `lab status` reports it: every echo port of the web
  // host's chosen addresses and of ext1, and a DNS query to the lab resolver.
  const plain = (a: string) => a.split("/")[0] ?? a;
  const ext = (name: string) => st.externals.find((x) => x.name === name);
  const web = ext("web");
  const ext1 = ext("ext1");
  assert.ok(web?.echo && ext1?.echo, "lab status lists the web and ext1 echo servers");
  const webAddrs = web.addresses
    .map((a) => plain(a.address))
    .filter((a) => (WEB_ADDRS as readonly string[]).includes(a));
  assert.deepEqual(webAddrs.sort(), [...WEB_ADDRS].sort(), "web host addresses");
  const outside: Target[] = [];
  for (const [host, echo] of [
    ...webAddrs.map((a) => [a, web.echo!] as const),
    [plain(ext1.addresses[0]!.address), ext1.echo] as const,
  ]) {
    for (const p of [...echo.tcp, ...echo.http]) outside.push(addrTarget(host, p, "TCP"));
    for (const p of echo.udp) outside.push(addrTarget(host, p, "UDP"));
  }
  const dns = addrTarget("www.foo.com", 53, "DNS", dnsServer);
  dns.key = `dns www.foo.com@${dnsServer}`;
  outside.push(dns);

  // The nodes' own addresses (an echo server in each node's namespace, killed by pid in L.down):
  // inside the cluster for the trace, filtered by egress firewalls (nodeSelector rules), reachable
  // from a pod's own node through the input hook.
  const nodeTargets: Target[] = [];
  for (const n of st.nodes) {
    const ip = n.addresses.find((a) => a.network === "host")?.address;
    if (!ip) continue;
    await L.listen(
      { namespace: "", name: n.name, node: n.name, ip: plain(ip), netns: n.netns, labels: {} },
      [NODE_PORTS.tcp],
      [NODE_PORTS.udp],
    );
    nodeTargets.push(
      addrTarget(plain(ip), NODE_PORTS.tcp, "TCP"),
      addrTarget(plain(ip), NODE_PORTS.udp, "UDP"),
    );
  }
  assert.equal(nodeTargets.length, 6, "three nodes with a host address");

  // A ClusterIP service with one endpoint (ty/a): the trace follows the DNAT to that endpoint.
  const svc = await api.request<{ spec: { clusterIP: string } }>("POST", "/api/v1/namespaces/ty/services", {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "echo", namespace: "ty" },
    spec: {
      selector: { pod: "a" },
      ports: [
        { name: "tcp", port: 80, targetPort: 7000, protocol: "TCP" },
        { name: "udp", port: 81, targetPort: 7001, protocol: "UDP" },
      ],
    },
  });
  const svcTargets: Target[] = [
    { key: `svc ty/echo:t80`, host: svc.spec.clusterIP, port: 80, protocol: "TCP" },
    { key: `svc ty/echo:u81`, host: svc.spec.clusterIP, port: 81, protocol: "UDP" },
  ];
  targets = [
    ...pods.flatMap((p) => POD_PORTS.map(([port, proto]) => podTarget(p, port, proto))),
    ...svcTargets,
    ...nodeTargets,
    ...outside,
  ];
  cells = pods.flatMap((from) => targets.filter((t) => t.pod !== from).map((t) => cellFor(from, t)));

  const hs = await api.request<{ items: { subnet: string }[] }>(
    "GET",
    "/apis/network.openshift.io/v1/hostsubnets",
  );
  const cn = await api.request<{ clusterNetworks?: { CIDR: string }[] }>(
    "GET",
    "/apis/network.openshift.io/v1/clusternetworks/default",
  );
  world = {
    namespaces: NAMESPACES,
    podLabels: { pod: ["a", "b", "c"], role: ["web", "db"], tier: ["front"] },
    podSubnets: hs.items.map((h) => h.subnet).sort(),
    clusterNetwork: cn.clusterNetworks?.[0]?.CIDR ?? "10.128.0.0/14",
    outsideCidrs: [
      "203.0.113.0/24",
      "203.0.113.25/32",
      "1.2.3.0/24",
      "198.51.100.10/32",
      `${OUTSIDE.ext1}/32`,
      "192.168.126.0/24",
    ],
    dnsNames: ["www.foo.com", "www.bar.com"],
    nodeSelectors: [
      {},
      { matchLabels: { site: "springfield-1" } },
      { matchLabels: { "k8s.ovn.org/egress-assignable": "" } },
    ],
  };
  console.log(
    `trace-matrix: ${pods.length} pods, ${targets.length} targets, ${cells.length} cells per round; EgressIP ${EIP} on ${eipHolder}`,
  );
});

after(() => {
  if (SKIP) return;
  L.down();
});

// ------------------------------------------------------------------------------------ one round

async function trace(): Promise<TraceAnswer[]> {
  const file = join(L.lab.base, "trace-batch.txt");
  writeFileSync(file, batchFile(cells));
  const r = await L.egress(
    ["trace", "--batch", file, "--kubeconfig", L.kubeconfig, "--cluster-dns", dnsServer, "-o", "json"],
    60_000,
  );
  if (r.code !== 0) throw new Error(`egress trace --batch exited ${r.code}: ${r.stderr.trim()}`);
  return parseTraceLines(r.stdout, cells);
}

async function replace(docs: KubeDoc[]): Promise<void> {
  const api = await L.api();
  const id = (d: KubeDoc) => `${d.apiVersion}/${d.kind}/${d.metadata.namespace}/${d.metadata.name}`;
  const keep = new Set(docs.map(id));
  // Old objects first: a firewall of the other kind next to a new one would be "MultiplePolicies".
  for (const d of applied) {
    if (keep.has(id(d))) continue;
    const rt = findByKind(d.apiVersion, d.kind);
    if (!rt) throw new Error(`unknown kind ${d.apiVersion} ${d.kind}`);
    await api.delete(rt, d.metadata.namespace, d.metadata.name).catch((e: unknown) => {
      if (!isNotFound(e)) throw e;
    });
  }
  // Merge-patching an existing firewall would keep nothing stale (spec.egress is replaced whole).
  await L.apply(docs);
  applied = docs;
}

interface RoundResult {
  iterations: number;
  ms: number;
  answers: TraceAnswer[];
}

async function converge(what: string, deadlineMs: number): Promise<RoundResult> {
  const t0 = Date.now();
  const deadline = t0 + deadlineMs;
  const hard = deadline + 20_000;
  let prev = "";
  let last: Disagreement[] = [];
  for (let i = 1; ; i++) {
    const answers = await trace();
    const seen = await observe(L.probers, pods, targets, 1000);
    const wrong = compare(cells, answers, seen);
    const fp = fingerprint(cells, answers, seen);
    const stable = fp === prev;
    prev = fp;
    last = wrong;
    if (wrong.length === 0 && stable) return { iterations: i, ms: Date.now() - t0, answers };
    const now = Date.now();
    if (wrong.length > 0 && ((stable && now > deadline) || now > hard))
      throw new Error(
        `${what}: egress trace and real packets disagree on ${wrong.length} of ${cells.length} cells ` +
          `(${stable ? "stable over the last two rounds" : "NOT stable at the hard deadline"}, ${i} rounds, ${now - t0} ms)\n` +
          `${renderDisagreements(last)}\n` +
          `objects of this round:\n${applied.map((d) => `  ${JSON.stringify(d)}`).join("\n") || "  (none)"}\n` +
          `seed ${SEED}`,
      );
  }
}

function tally(r: RoundResult): string {
  let allowed = 0;
  r.answers.forEach((a, i) => {
    const c = cells[i]!;
    if (a.verdict === "allowed" && c.checkSource) {
      if (a.sourceKinds.includes("egressIP")) totals.egressIPSource++;
      else if (a.sourceKinds.includes("node")) totals.nodeSource++;
      else if (a.sourceKinds.includes("pod")) totals.podSource++;
    }
    if (a.verdict === "allowed") allowed++;
    totals.decidedBy.set(a.decidedByKind, (totals.decidedBy.get(a.decidedByKind) ?? 0) + 1);
  });
  totals.allowed += allowed;
  totals.denied += r.answers.length - allowed;
  return `${cells.length} cells (${allowed} allowed, ${r.answers.length - allowed} denied) agreed in ${r.iterations} rounds, ${r.ms} ms`;
}

describe(`egress trace agrees with real packets (seed ${SEED})`, { skip: SKIP }, () => {
  test("round 0: no policy, EgressIP for tx", { timeout: 120_000 }, async (t) => {
    await replace([]);
    const r = await converge("round 0 (no policy)", 40_000);
    t.diagnostic(tally(r));
  });

  for (let round = 1; round <= ROUNDS; round++) {
    test(`round ${round}: generated policy set`, { timeout: 120_000 }, async (t) => {
      const set = generateSet(SEED, round, world);
      t.diagnostic(
        `objects: ${set.docs.map((d) => `${d.kind} ${d.metadata.namespace}/${d.metadata.name}`).join(", ")}`,
      );
      await replace(set.docs);
      const r = await converge(`round ${round} (seed ${SEED})`, 20_000);
      t.diagnostic(tally(r));
    });
  }

  test("the rounds covered allowed and denied cells and every kind of source address", () => {
    const kinds = [...totals.decidedBy].map(([k, n]) => `${k}=${n}`).join(" ");
    console.log(
      `trace-matrix totals: allowed ${totals.allowed}, denied ${totals.denied}, sources: EgressIP ${totals.egressIPSource}, node ${totals.nodeSource}, pod ${totals.podSource}; decided by: ${kinds}`,
    );
    assert.ok(totals.allowed > 0, "some allowed cells");
    if (ROUNDS > 0) assert.ok(totals.denied > 0, "some denied cells");
    assert.ok(totals.egressIPSource > 0, "some flow left with the EgressIP");
    assert.ok(totals.nodeSource > 0, "some flow left with a node address");
    assert.ok(totals.podSource > 0, "some pod-to-pod flow");
  });
});
