// Bare apply time of a small delta script through the two NftExecers: RealNft (spawns `nft -f -` per
// change) and PersistentNft (one long-lived nft-helper running libnftables). The node table of
// 10,000 pods / 1,000 EgressIPs / 200 services is loaded first, then the element delta of one pod
// joining an EgressIP and leaving it again is applied through each executor (interleaved, so both see
// the same load): each after an idle gap (separate pod events), and back to back (a burst: the kernel
// makes a transaction wait for the RCU grace period of the previous one's deleted elements, which a
// spawned nft partly hides behind its own start-up). Reports wall time per request and CPU per request (for RealNft the nft
// children this process waited for, for PersistentNft the helper's own CPU; both from /proc, 10 ms
// ticks summed over all requests). Also `nft --check` of the same delta, and the helper's RSS at
// start and end (libnftables leaking per request would show there).
// Runs itself inside a scratch network namespace it creates and deletes (needs root), as the agent
// runs inside its node's namespace. The helper must be built (node scripts/build-native.mjs --out <out>).
// Run after building: node <out>/bench/dataplane/nft-exec.bench.js [--pods N] [--egressips N] [--runs N]
//   [--gap MS]
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { compileNodeProgram } from "../../src/dataplane/compile/node-program.js";
import type { EgressIPView, NodeView } from "../../src/dataplane/compile/types.js";
import { type NftExecer, RealNft } from "../../src/dataplane/nft/execer.js";
import { elementDelta } from "../../src/dataplane/nft/incremental.js";
import { PersistentNft } from "../../src/dataplane/nft/persistent.js";
import { runInScratchNamespace } from "../scratch-netns.js";
import { arg } from "../support/args.js";

const PODS = arg("pods", 10_000);
const EIPS = arg("egressips", 1_000);
const RUNS = arg("runs", 200);
/** Idle time before a timed request (ms): pod events are apart, and the kernel finishes the previous
 *  transaction's deferred work (an RCU grace period after element deletions) in the background. */
const GAP = arg("gap", 30);

const v4 = (n: number) => [24, 16, 8, 0].map((s) => (n >>> s) & 255).join(".");
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};
const fmt = (n: number) => Number(n.toFixed(2));
const TICK_MS = 10; // sysconf(_SC_CLK_TCK) is 100 on Linux
const rssKb = (pid: number) =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]);

/** utime+stime (fields 14, 15) or cutime+cstime (16, 17) of a process, in ms. */
function cpuMs(pid: number | "self", children: boolean): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const [a, b] = children ? [f[13], f[14]] : [f[11], f[12]];
  return (Number(a) + Number(b)) * TICK_MS;
}

function view(pods: number): NodeView {
  const base = (10 << 24) | (128 << 16);
  const podIPs = Array.from({ length: pods }, (_, i) => v4(base + 2 + i));
  const per = Math.max(1, Math.floor(PODS / EIPS));
  const egressIPs: EgressIPView[] = Array.from({ length: EIPS }, (_, e) => {
    const eip = (k: number) => v4(((192 << 24) | (168 << 16) | (128 << 8)) + e * 2 + k);
    const n1 = { ip: eip(0), node: "n1", nodeIP: "192.168.126.11" };
    const n2 = { ip: eip(0), node: "n2", nodeIP: "192.168.126.12" };
    const n3 = { ip: eip(1), node: "n3", nodeIP: "192.168.126.13" };
    const end = e === EIPS - 1 ? pods : (e + 1) * per;
    return {
      name: `e${e}`,
      ips: e % 2 === 0 ? [n1] : e % 4 === 1 ? [n2] : [n2, n3],
      podIPs: podIPs.slice(e * per, end),
    };
  });
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
    services: Array.from({ length: 200 }, (_, s) => ({
      namespace: "bench",
      name: `svc${s}`,
      clusterIP: v4(((172 << 24) | (30 << 16)) + 10 + s),
      ports: [{ port: 80, protocol: "TCP" as const, targetPort: 8080 }],
      endpoints: [0, 1, 2].map((k) => ({ ip: podIPs[(s * 3 + k) % pods]! })),
    })),
    egressIPs,
    projectEgress: [],
  };
}

await runInScratchNamespace("egnx", inside);

async function inside(): Promise<void> {
  const ipn = (...args: string[]) => execFileSync("ip", args, { stdio: "pipe" });
  ipn("link", "set", "lo", "up");
  ipn("link", "add", "eth0", "type", "veth", "peer", "name", "eth0p");
  ipn("link", "add", "egbr0", "type", "bridge");
  ipn("addr", "add", "192.168.126.11/18", "dev", "eth0");
  const spawnNft = new RealNft({});
  const helper = new PersistentNft({});
  try {
    const program = compileNodeProgram(view(PODS)).nft;
    const grown = compileNodeProgram(view(PODS + 1)).nft;
    const add = elementDelta(program, grown);
    const del = elementDelta(grown, program);
    if (!add || !del) throw new Error("one more pod changed the table's structure");
    await spawnNft.apply(program);
    await helper.listJson("inet", "egress-node"); // starts the helper
    if (helper.mode !== "helper") throw new Error(`nft-helper not running: ${helper.fallbackReason}`);
    const helperPid = helper.pid!;
    const rss0 = rssKb(helperPid);

    const execs: [string, NftExecer][] = [
      ["spawn (RealNft)", spawnNft],
      ["helper (PersistentNft)", helper],
    ];
    // Series per executor: a pod's add and its removal each after an idle GAP ms (separate pod events),
    // the same back to back (a burst), and `nft --check` of the add after a gap.
    const series = ["applyAfterGap", "applyBackToBack", "checkAfterGap"] as const;
    const ms = new Map<string, number[]>();
    const rec = (name: string, s: string, v: number) => {
      const k = `${name}/${s}`;
      ms.set(k, [...(ms.get(k) ?? []), v]);
    };
    const cpu = new Map<string, number>(execs.map(([n]) => [n, 0]));
    const timed = async (ex: NftExecer, f: (ex: NftExecer) => Promise<void>) => {
      const t0 = performance.now();
      await f(ex);
      return performance.now() - t0;
    };
    const pause = () => new Promise((r) => setTimeout(r, GAP));
    // Warm-up: one add/remove pair through each.
    for (const [, ex] of execs) {
      await ex.apply(add);
      await ex.apply(del);
    }
    for (let i = 0; i < RUNS; i++) {
      // Alternate which executor goes first, so neither always follows the other's work.
      const order = i % 2 === 0 ? execs : [...execs].reverse();
      for (const [name, ex] of order) {
        const c0 = ex === helper ? cpuMs(helperPid, false) : cpuMs("self", true);
        for (const script of [add, del]) {
          await pause();
          rec(name, "applyAfterGap", await timed(ex, (e) => e.apply(script)));
        }
        await pause();
        for (const script of [add, del, add, del])
          rec(name, "applyBackToBack", await timed(ex, (e) => e.apply(script)));
        await pause();
        rec(name, "checkAfterGap", await timed(ex, (e) => e.check(add)));
        const c1 = ex === helper ? cpuMs(helperPid, false) : cpuMs("self", true);
        cpu.set(name, cpu.get(name)! + (c1 - c0));
      }
    }
    if (helper.pid !== helperPid) throw new Error("the helper was restarted during the run");
    const stats = (xs: number[]) => ({
      p50: fmt(pct(xs, 50)),
      p90: fmt(pct(xs, 90)),
      p99: fmt(pct(xs, 99)),
      max: fmt(Math.max(...xs)),
    });
    console.log(
      JSON.stringify(
        {
          pods: PODS,
          egressIPs: EIPS,
          deltaScript: add,
          gapMs: GAP,
          runs: RUNS,
          wallMs: Object.fromEntries(
            series.map((se) => [
              se,
              Object.fromEntries(execs.map(([n]) => [n, stats(ms.get(`${n}/${se}`)!)])),
            ]),
          ),
          helperRssKb: { afterStart: rss0, atEnd: rssKb(helperPid) },
          nftCpuMsPerRequest: Object.fromEntries(execs.map(([n]) => [n, fmt(cpu.get(n)! / (RUNS * 7))])),
          loadAverage: loadavg().map((x) => x.toFixed(1)),
        },
        null,
        2,
      ),
    );
  } finally {
    await helper.close();
  }
}
