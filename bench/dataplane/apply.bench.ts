// Benchmark of the node program at scale: 10,000 pods on this node, 1,000 EgressIPs of 10 pods each
// (half held by this node, half by one or two other nodes), 200 services. Measures compile time,
// program size, `nft -f` apply time (first apply, identical re-apply, re-apply after one pod was added, element delta for that pod),
// the incremental compile of that pod (derived from the previous model) plus its delta applied,
// `nft --check` time and the `ip` reconcile (500 egress addresses, routes, rules; announcements off).
// Runs inside a network namespace it creates and deletes (needs root).
// Run after building: node <out>/bench/dataplane/apply.bench.js [--pods N] [--egressips N] [--runs N]
import { execFileSync } from "node:child_process";
import { compileNodeIncremental } from "../../src/dataplane/compile/incremental.js";
import { compileNodeProgram } from "../../src/dataplane/compile/node-program.js";
import type { EgressIPView, NodeView, ServiceView } from "../../src/dataplane/compile/types.js";
import { RealIp } from "../../src/dataplane/ip/execer.js";
import { applySysctls, reconcileIp } from "../../src/dataplane/ip/reconciler.js";
import { RealNft } from "../../src/dataplane/nft/execer.js";
import { elementDelta } from "../../src/dataplane/nft/incremental.js";
import { arg } from "../support/args.js";

const PODS = arg("pods", 10_000);
const EIPS = arg("egressips", 1_000);
const RUNS = arg("runs", 7);

const ns = `egdp-${Math.random().toString(36).slice(2, 7)}-bench`;
const ipn = (...args: string[]) => execFileSync("ip", ["-n", ns, ...args], { stdio: "pipe" });
/** CPU time (user+sys, ms) of one `nft -f -` run, from bash's `times`: wall time on a loaded shared
 *  machine says more about the neighbours than about nft. */
function nftCpuMs(script: string): number {
  const out = execFileSync("ip", ["netns", "exec", ns, "bash", "-c", "nft -f - && times"], {
    input: script,
    encoding: "utf8",
  });
  const kids = out.trim().split("\n")[1] ?? "";
  const secs = [...kids.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
  return (secs.reduce((a, b) => a + b, 0) || Number.NaN) * 1000;
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const v4 = (n: number) => [24, 16, 8, 0].map((s) => (n >>> s) & 255).join(".");

function view(pods: number): NodeView {
  const base = (10 << 24) | (128 << 16); // 10.128.0.0
  const podIPs = Array.from({ length: pods }, (_, i) => v4(base + 2 + i));
  const egressIPs: EgressIPView[] = [];
  const per = Math.max(1, Math.floor(PODS / EIPS));
  for (let e = 0; e < EIPS; e++) {
    const eip = (k: number) => v4(((192 << 24) | (168 << 16) | (128 << 8)) + e * 2 + k);
    const n1 = { ip: eip(0), node: "n1", nodeIP: "192.168.126.11" };
    const n2 = { ip: eip(0), node: "n2", nodeIP: "192.168.126.12" };
    const n3 = { ip: eip(1), node: "n3", nodeIP: "192.168.126.13" };
    const ips = e % 2 === 0 ? [n1] : e % 4 === 1 ? [n2] : [n2, n3];
    // Pods beyond PODS (the "one pod added" case) join the last EgressIP.
    const end = e === EIPS - 1 ? pods : (e + 1) * per;
    egressIPs.push({ name: `e${e}`, ips, podIPs: podIPs.slice(e * per, end) });
  }
  const services: ServiceView[] = Array.from({ length: 200 }, (_, s) => ({
    namespace: "bench",
    name: `svc${s}`,
    clusterIP: v4(((172 << 24) | (30 << 16)) + 10 + s),
    ports: [{ port: 80, protocol: "TCP", targetPort: 8080 }],
    endpoints: [0, 1, 2].map((k) => ({ ip: podIPs[(s * 3 + k) % pods]! })),
  }));
  return {
    node: {
      name: "n1",
      nodeIP: "192.168.126.11",
      podSubnet: "10.128.0.0/18",
      bridge: "egbr0",
      interfaces: [{ name: "eth0", address: "192.168.126.11/18" }],
    },
    nodes: Array.from({ length: 10 }, (_, i) => ({
      name: `n${i + 1}`,
      nodeIP: `192.168.126.${11 + i}`,
      podSubnet: `10.${128 + Math.floor(i / 4)}.${(i % 4) * 64}.0/18`,
    })),
    clusterCIDRs: ["10.128.0.0/14"],
    serviceCIDR: "172.30.0.0/16",
    localPods: podIPs.map((ip, i) => ({ namespace: "bench", name: `p${i}`, ip })),
    services,
    egressIPs,
    projectEgress: [],
  };
}

execFileSync("ip", ["netns", "add", ns]);
try {
  ipn("link", "set", "lo", "up");
  ipn("link", "add", "eth0", "type", "veth", "peer", "name", "eth0p");
  ipn("link", "add", "egbr0", "type", "bridge");
  ipn("addr", "add", "192.168.126.11/18", "dev", "eth0");
  for (const l of ["eth0", "eth0p", "egbr0"]) ipn("link", "set", l, "up");
  const nft = new RealNft({ netns: ns });
  const ip = new RealIp({ netns: ns });

  let t0 = performance.now();
  const program = compileNodeProgram(view(PODS));
  const compileMs = performance.now() - t0;
  const program2 = compileNodeProgram(view(PODS)); // same input
  if (program2.nft !== program.nft) throw new Error("render is not deterministic");
  const grown = compileNodeProgram(view(PODS + 1));

  await applySysctls(ip, program.sysctls);
  t0 = performance.now();
  await nft.apply(program.nft);
  const firstMs = performance.now() - t0;
  const reapply: number[] = [];
  const change: number[] = [];
  const check: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    t0 = performance.now();
    await nft.apply(program.nft);
    reapply.push(performance.now() - t0);
    t0 = performance.now();
    await nft.apply(i % 2 === 0 ? grown.nft : program.nft);
    change.push(performance.now() - t0);
    t0 = performance.now();
    await nft.check(program.nft);
    check.push(performance.now() - t0);
  }
  // Incremental: the element delta to the grown program and back (what the agent applies when only
  // set/map elements changed), including the time to compute the delta.
  const delta: number[] = [];
  let deltaLines = 0;
  await nft.apply(program.nft);
  for (let i = 0; i < RUNS; i++) {
    const [from, to] = i % 2 === 0 ? [program.nft, grown.nft] : [grown.nft, program.nft];
    t0 = performance.now();
    const d = elementDelta(from, to);
    if (d === undefined) throw new Error("one more pod changed the table's structure");
    await nft.apply(d);
    delta.push(performance.now() - t0);
    deltaLines = Math.max(deltaLines, d.split("\n").length - 1);
  }
  // Incremental compile: the pod added is derived from the previous model (only that pod is
  // recomputed) and the element delta comes out directly; then applied. Timed from the new view to
  // the end of `nft -f` (what "visible in the dataplane" means here), alternating add and remove.
  const incr: number[] = [];
  const incrCompile: number[] = [];
  await nft.apply(program.nft);
  const small = view(PODS);
  const big = view(PODS + 1);
  let prev = compileNodeIncremental(small);
  let incrMode = "";
  for (let i = 0; i < RUNS * 2; i++) {
    const v = i % 2 === 0 ? big : small;
    t0 = performance.now();
    const next = compileNodeIncremental(v, prev);
    const c = performance.now() - t0;
    if (next.delta === undefined) throw new Error(`incremental compile fell back (${next.mode})`);
    if (next.delta !== "") await nft.apply(next.delta);
    incr.push(performance.now() - t0);
    incrCompile.push(c);
    incrMode = next.mode;
    prev = next;
  }
  // nft's own CPU time for the one-pod delta (add, then remove again): what the apply costs without
  // the neighbours' load.
  const deltaCpu: number[] = [];
  {
    const add = compileNodeIncremental(big, compileNodeIncremental(small));
    const back = compileNodeIncremental(small, add);
    await nft.apply(program.nft);
    for (let i = 0; i < RUNS; i++) {
      deltaCpu.push(nftCpuMs(add.delta!));
      deltaCpu.push(nftCpuMs(back.delta!));
    }
  }
  const cpu: number[] = [];
  for (let i = 0; i < RUNS; i++) cpu.push(nftCpuMs(program.nft));
  t0 = performance.now();
  const first = await reconcileIp(ip, program.ip, { announce: false });
  const ipFirstMs = performance.now() - t0;
  t0 = performance.now();
  const again = await reconcileIp(ip, program.ip, { announce: false });
  const ipNoopMs = performance.now() - t0;

  const fmt = (n: number) => n.toFixed(1);
  console.log(
    JSON.stringify(
      {
        pods: PODS,
        egressIPs: EIPS,
        services: 200,
        stats: program.stats,
        script: { bytes: program.nft.length, lines: program.nft.split("\n").length },
        ip: {
          addresses: program.ip.addresses.length,
          routes: program.ip.routes.length,
          rules: program.ip.rules.length,
          firstActions: first.actions.length,
          noopActions: again.actions.length,
        },
        ms: {
          compile: fmt(compileMs),
          nftFirstApply: fmt(firstMs),
          nftReapplyMedian: fmt(median(reapply)),
          nftReapplyMax: fmt(Math.max(...reapply)),
          nftApplyAfterPodAddMedian: fmt(median(change)),
          deltaAfterPodAddMedian: fmt(median(delta)),
          deltaAfterPodAddMax: fmt(Math.max(...delta)),
          deltaLines,
          incrementalCompileMedian: fmt(median(incrCompile)),
          incrementalCompileMax: fmt(Math.max(...incrCompile)),
          incrementalPodAddVisibleMedian: fmt(median(incr)),
          incrementalPodAddVisibleMax: fmt(Math.max(...incr)),
          incrementalMode: incrMode,
          incrementalDeltaNftCpuMedian: fmt(median(deltaCpu)),
          nftCheckMedian: fmt(median(check)),
          nftReapplyCpuMedian: fmt(median(cpu)),
          ipReconcileFirst: fmt(ipFirstMs),
          ipReconcileNoop: fmt(ipNoopMs),
        },
        runs: RUNS,
        loadAverage: (await import("node:os")).loadavg().map((x) => x.toFixed(1)),
      },
      null,
      2,
    ),
  );
} finally {
  execFileSync("ip", ["netns", "del", ns]);
}
