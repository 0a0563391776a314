// Benchmark: the control plane on a simulated cluster (issue 3 "Benchmarks"). Three processes: the
// API server (support/apiserver-child.js, in-memory store by default), the controllers
// (support/controllers-child.js: runControllers, no leader election, reachability probing off) and
// this one, which loads the cluster over HTTPS (keep-alive, concurrent), watches EgressIPs and
// EgressServices, injects failures and pod churn and reads the controllers' CPU and memory.
//
// Cluster (full scale): 5,000 nodes (90 % egress-assignable, Ready, primary ifaddr in four /16s),
// 10,000 namespaces (half selected by an EgressIP), 150,000 pods (nodeName + podIP, Running, Ready;
// created directly, so the scheduler has nothing to bind), 1,000 EgressIPs of 1–4 IPs (2,500 IPs),
// 1,000 LoadBalancer Services + Endpoints + EgressServices, one IPAddressPool of 65,536 addresses.
//
// Per controller set ("focused" = EgressIP + LoadBalancer + EgressService; "all" = allControllers()):
//   converge   – controllers started on the loaded cluster with no status anywhere → every EgressIP
//                has a status item for each of its IPs and every EgressService a host
//   failover   – one node's Ready=False status write → its IPs (or its EgressService) re-placed, as
//                seen by a watch here; and the same with 10 % of the nodes failing at once
//   churn      – pods created (+ status) and deleted at a steady rate; controllers' CPU per pod
//                watch event (idle CPU subtracted)
//   memory     – RSS of the controllers' process (and its peak, VmHWM)
// Between sets the controllers' writes are undone (EgressIP/EgressService/Service status, node
// labels), so each set starts from empty status.
//
// Run: node .build/<you>/bench/controllers/cluster.bench.js [--scale 1] [--sets focused,all]
//   [--store memory|disk] [--load direct|https] [--https-pods 15000] [--concurrency 48]
//   [--failover-runs 5] [--churn-seconds 15] [--churn-rate 100] [--profile DIR]
// --load direct (default) writes namespaces, nodes and all but the last --https-pods pods inside
// the API server process (its storage layer: validation, admission, store, watch events; no TLS or
// HTTP), the rest over HTTPS, and extrapolates the HTTPS load time of all pods from that rate;
// --load https sends everything over HTTPS (2 requests per pod: create, then status).
// --profile DIR writes V8 CPU profiles of the controllers' process per phase (converge, failover10,
// churn) into DIR; summarise with bench/apiserver/cpuprofile.js.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Client as KubeClient } from "../../src/controllers/runtime/client.js";
import {
  BenchError,
  Client,
  procCpuMs,
  procMemory,
  runConcurrent,
  tempDataDir,
} from "../apiserver/support.js";
import {
  type ClusterSize,
  FULL_SIZE,
  nodeName,
  pod,
  podStatus,
  readyStatusPatch,
  scaled,
} from "./support/cluster-objects.js";
import { type Kind, loadBase, loadEgress, loadPods, type StepTime, type Writer } from "./support/load.js";
import type { ChildReady, ChildStats, ParentCommand } from "./support/protocol.js";
import { ClusterTracker } from "./support/tracker.js";

const { values: args } = parseArgs({
  options: {
    scale: { type: "string", default: "1" },
    sets: { type: "string", default: "focused,all" },
    store: { type: "string", default: "memory" },
    concurrency: { type: "string", default: "48" },
    "failover-runs": { type: "string", default: "5" },
    "churn-seconds": { type: "string", default: "15" },
    "churn-rate": { type: "string", default: "100" },
    "converge-timeout": { type: "string", default: "300" },
    "settle-timeout": { type: "string", default: "60" },
    profile: { type: "string" },
    load: { type: "string", default: "direct" },
    "https-pods": { type: "string", default: "15000" },
  },
});
const SCALE = Number(args.scale);
const SIZE: ClusterSize = SCALE === 1 ? FULL_SIZE : scaled(FULL_SIZE, SCALE);
const CONCURRENCY = Number(args.concurrency);
const FAILOVER_RUNS = Number(args["failover-runs"]);
const CHURN_SECONDS = Number(args["churn-seconds"]);
const CHURN_RATE = Number(args["churn-rate"]);
const PROFILE_DIR = args.profile;
if (PROFILE_DIR) mkdirSync(PROFILE_DIR, { recursive: true });

const HERE = new URL(".", import.meta.url).pathname;
const wall = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const loadavg = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
const mb = (b: number) => `${(b / 1024 / 1024).toFixed(0)} MB`;
const ms = (x: number) => (x < 10 ? `${x.toFixed(2)} ms` : `${x.toFixed(0)} ms`);
const q = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? Number.NaN;
};

interface Row {
  set: string;
  metric: string;
  value: string;
  target?: string;
  ok?: boolean;
}
const rows: Row[] = [];
function report(r: Row): void {
  rows.push(r);
  const mark = r.ok === undefined ? "" : r.ok ? "  [met]" : "  [MISSED]";
  console.log(`  ${r.set} | ${r.metric}: ${r.value}${r.target ? ` (target ${r.target})` : ""}${mark}`);
}

// ---- the API server child ---------------------------------------------------------------------

interface Server {
  child: ChildProcess;
  url: string;
  token: string;
  caPem: string;
  kubeconfig: string;
  /** Loads the base of the cluster and pods [0, podsTo) inside the server process. */
  load(size: ClusterSize, podsTo: number): Promise<{ times: StepTime[]; uids: [number, string][] }>;
  stop(): Promise<void>;
}

async function startServer(dataDir: string): Promise<Server> {
  const child = spawn(process.execPath, [join(HERE, "support", "apiserver-child.js"), dataDir, args.store], {
    stdio: ["ignore", "pipe", "pipe", "ipc"],
    env: { ...process.env, EGRESS_LOG_LEVEL: "warn" },
  });
  let err = "";
  child.stderr?.on("data", (d: Buffer) => {
    err = (err + d.toString()).slice(-4000);
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /listening on (\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once("exit", (code) => reject(new BenchError(`API server exited (${code}):\n${err}`)));
  });
  const token = (await readFile(join(dataDir, "token"), "utf8")).trim();
  const caPem = await readFile(join(dataDir, "pki", "ca.crt"), "utf8");
  return {
    child,
    url,
    token,
    caPem,
    kubeconfig: join(dataDir, "kubeconfig"),
    load(size, podsTo) {
      return new Promise((resolve, reject) => {
        const onMsg = (m: {
          type: string;
          times?: StepTime[];
          uids?: [number, string][];
          error?: string;
        }) => {
          if (m.type !== "loaded") return;
          child.off("message", onMsg);
          if (m.error) reject(new BenchError(`direct load failed: ${m.error}`));
          else resolve({ times: m.times ?? [], uids: m.uids ?? [] });
        };
        child.on("message", onMsg);
        child.send({ cmd: "load", id: 1, size, podsTo, concurrency: 16 });
      });
    },
    async stop() {
      if (child.exitCode !== null) return;
      const done = once(child, "exit");
      child.kill("SIGTERM");
      await done;
    },
  };
}

// ---- the controllers child --------------------------------------------------------------------

class Controllers {
  private nextId = 1;
  private readonly pending = new Map<number, (m: unknown) => void>();
  readonly ready: Promise<ChildReady>;
  readonly spawnedAt = wall();

  private constructor(readonly child: ChildProcess) {
    let onReady: (m: ChildReady) => void = () => {};
    this.ready = new Promise((r) => (onReady = r));
    child.on("message", (m: { type: string; id?: number }) => {
      if (m.type === "ready") onReady(m as ChildReady);
      else if (m.id !== undefined) {
        this.pending.get(m.id)?.(m);
        this.pending.delete(m.id);
      }
    });
  }

  static start(kubeconfig: string, set: string): Controllers {
    const options = {
      egressIPReachabilityTimeoutMs: 0,
      // 5,000 nodes need more than the default 10.128.0.0/14 with /23 node subnets.
      clusterNetworks: [{ cidr: "10.128.0.0/9", hostSubnetLength: 8 }],
    };
    const child = spawn(
      process.execPath,
      [
        "--expose-gc",
        join(HERE, "support", "controllers-child.js"),
        kubeconfig,
        set,
        JSON.stringify(options),
      ],
      { stdio: ["ignore", "inherit", "inherit", "ipc"], env: { ...process.env, EGRESS_LOG_LEVEL: "warn" } },
    );
    return new Controllers(child);
  }

  private ask<T>(cmd: ParentCommand): Promise<T> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve as (m: unknown) => void);
      this.child.send({ ...cmd, id });
    });
  }

  stats(): Promise<ChildStats> {
    return this.ask({ cmd: "stats", id: 0 });
  }

  async profile<T>(name: string, f: () => Promise<T>): Promise<T> {
    if (!PROFILE_DIR) return f();
    await this.ask({ cmd: "profile-start", id: 0 });
    try {
      return await f();
    } finally {
      const file = join(PROFILE_DIR, `${name}.cpuprofile`);
      await this.ask({ cmd: "profile-stop", id: 0, file });
      console.log(`    profile: ${file}`);
    }
  }

  async profileStart(): Promise<void> {
    await this.ask({ cmd: "profile-start", id: 0 });
  }

  async profileStop(name: string): Promise<void> {
    const file = join(PROFILE_DIR ?? ".", `${name}.cpuprofile`);
    await this.ask({ cmd: "profile-stop", id: 0, file });
    console.log(`    profile: ${file}`);
  }

  memory() {
    return procMemory(this.child.pid!);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const done = once(this.child, "exit");
    this.child.send({ cmd: "stop" });
    const t = setTimeout(() => this.child.kill("SIGKILL"), 20_000);
    await done;
    clearTimeout(t);
  }

  /** CPU rate (ms CPU per s) while nothing happens, over `windowMs`. */
  async idleRate(windowMs = 3000): Promise<number> {
    const a = await this.stats();
    await sleep(windowMs);
    const b = await this.stats();
    return ((b.cpuMs - a.cpuMs) / (b.at - a.at)) * 1000;
  }

  /** Waits until a 1 s window used no more CPU than `baseRate` allows (+25 ms); returns the stats
   *  at the start of that quiet window, or after `timeoutMs` the last stats with quiet = false and
   *  the CPU rate of the last window. */
  async quiet(
    baseRate: number,
    timeoutMs = 120_000,
  ): Promise<{ stats: ChildStats; quiet: boolean; rate: number }> {
    const t0 = wall();
    let prev = await this.stats();
    for (;;) {
      await sleep(1000);
      const cur = await this.stats();
      const used = cur.cpuMs - prev.cpuMs;
      const rate = (used / (cur.at - prev.at)) * 1000;
      if (used <= (baseRate * (cur.at - prev.at)) / 1000 + 25) return { stats: prev, quiet: true, rate };
      if (wall() - t0 > timeoutMs) {
        console.log(
          `    controllers still busy after ${(timeoutMs / 1000).toFixed(0)} s (${rate.toFixed(0)} ms CPU/s)`,
        );
        return { stats: cur, quiet: false, rate };
      }
      prev = cur;
    }
  }
}

// ---- loading ----------------------------------------------------------------------------------

const PATHS = {
  namespaces: "/api/v1/namespaces",
  nodes: "/api/v1/nodes",
  node: (n: string) => `/api/v1/nodes/${n}`,
  pods: (ns: string) => `/api/v1/namespaces/${ns}/pods`,
  pod: (ns: string, n: string) => `/api/v1/namespaces/${ns}/pods/${n}`,
  services: (ns: string) => `/api/v1/namespaces/${ns}/services`,
  service: (ns: string, n: string) => `/api/v1/namespaces/${ns}/services/${n}`,
  endpoints: (ns: string) => `/api/v1/namespaces/${ns}/endpoints`,
  egressips: "/apis/k8s.ovn.org/v1/egressips",
  egressip: (n: string) => `/apis/k8s.ovn.org/v1/egressips/${n}`,
  egressservices: (ns: string) => `/apis/k8s.ovn.org/v1/namespaces/${ns}/egressservices`,
  egressservice: (ns: string, n: string) => `/apis/k8s.ovn.org/v1/namespaces/${ns}/egressservices/${n}`,
  pools: "/apis/metallb.io/v1beta1/namespaces/metallb-system/ipaddresspools",
};
const MERGE = { "Content-Type": "application/merge-patch+json" };

function httpsWriter(c: Client): Writer {
  const path = (kind: Kind, ns: string | undefined): string => {
    switch (kind) {
      case "namespaces":
        return PATHS.namespaces;
      case "nodes":
        return PATHS.nodes;
      case "egressips":
        return PATHS.egressips;
      case "ipaddresspools":
        return PATHS.pools;
      case "egressservices":
        return PATHS.egressservices(ns ?? "");
      default:
        return `/api/v1/namespaces/${ns}/${kind}`;
    }
  };
  return {
    async create(kind, obj) {
      const r = await c.expect(201, "POST", path(kind, obj.metadata.namespace), JSON.stringify(obj));
      return (JSON.parse(r.body.toString()) as { metadata: { uid: string } }).metadata.uid;
    },
    async podStatus(ns, name, patch) {
      await c.expect(200, "PATCH", `${PATHS.pod(ns, name)}/status`, JSON.stringify(patch), MERGE);
    },
  };
}

async function load(c: Client, srv: Server): Promise<void> {
  const w = httpsWriter(c);
  // --load direct: the pool, namespaces, nodes and all pods but the last --https-pods are written
  // inside the API server process; the rest goes over HTTPS and gives the HTTPS rate.
  const httpsPods = args.load === "https" ? SIZE.pods : Math.min(SIZE.pods, Number(args["https-pods"]));
  console.log(
    `load (${args.load === "https" ? "all over HTTPS" : `direct in the API server, last ${httpsPods} pods over HTTPS`}):`,
  );
  const cpu0 = procCpuMs(srv.child.pid!);
  const tAll = performance.now();
  const uids = new Map<number, string>();
  const show = (how: string, times: StepTime[]) => {
    for (const t of times)
      console.log(
        `  ${t.what} (${how}): ${t.count} in ${t.seconds.toFixed(1)} s (${(t.count / t.seconds).toFixed(0)}/s), load ${loadavg()}`,
      );
  };
  if (args.load === "https") show("HTTPS", await loadBase(w, SIZE, CONCURRENCY));
  else {
    const r = await srv.load(SIZE, SIZE.pods - httpsPods);
    show("direct", r.times);
    for (const [j, uid] of r.uids) uids.set(j, uid);
    const direct = r.times.find((t) => t.what.startsWith("pods"));
    if (direct)
      report({
        set: "load",
        metric: "pods written directly in the API server (create + status, no HTTPS)",
        value: `${direct.count} in ${direct.seconds.toFixed(1)} s (${(direct.count / direct.seconds).toFixed(0)}/s)`,
      });
  }
  const podTimes = await loadPods(w, SIZE, SIZE.pods - httpsPods, SIZE.pods, CONCURRENCY, uids);
  show("HTTPS", podTimes);
  const egressTimes = await loadEgress(w, SIZE, CONCURRENCY, uids);
  show("HTTPS", egressTimes);
  const total = (performance.now() - tAll) / 1000;
  const pt = podTimes[0]!;
  const rate = pt.count / pt.seconds;
  report({
    set: "load",
    metric: "pods over HTTPS (create + status = 2 requests each)",
    value: `${pt.count} in ${pt.seconds.toFixed(1)} s = ${rate.toFixed(0)} pods/s (${(2 * rate).toFixed(0)} req/s) → ${FULL_SIZE.pods} pods ≈ ${(FULL_SIZE.pods / rate).toFixed(0)} s, concurrency ${CONCURRENCY}`,
  });
  const mem = procMemory(srv.child.pid!);
  report({
    set: "load",
    metric: "whole load",
    value: `${total.toFixed(1)} s; API server CPU ${((procCpuMs(srv.child.pid!) - cpu0) / 1000).toFixed(1)} s, RSS ${mb(mem.rss)} (peak ${mb(mem.hwm)})`,
  });
}

/** Undoes what the controllers wrote, so the next set starts from empty status. */
async function resetStatus(c: Client, tracker: ClusterTracker): Promise<void> {
  const t = performance.now();
  const eipNames = [...tracker.specIPs.keys()];
  await runConcurrent(CONCURRENCY, eipNames.length, async (i) => {
    await c.expect(200, "PATCH", PATHS.egressip(eipNames[i]!), JSON.stringify({ status: null }), MERGE);
  });
  const es = [...tracker.hosts.keys()];
  await runConcurrent(CONCURRENCY, es.length, async (i) => {
    const [ns, name] = es[i]!.split("/") as [string, string];
    await c.expect(
      200,
      "PATCH",
      `${PATHS.egressservice(ns, name)}/status`,
      JSON.stringify({ status: null }),
      MERGE,
    );
    await c.expect(
      200,
      "PATCH",
      `${PATHS.service(ns, name)}/status`,
      JSON.stringify({ status: { loadBalancer: null } }),
      MERGE,
    );
  });
  const nodes = JSON.parse((await c.expect(200, "GET", PATHS.nodes)).body.toString()) as {
    items: { metadata: { name: string; labels?: Record<string, string> } }[];
  };
  const labelled = nodes.items.filter((n) =>
    Object.keys(n.metadata.labels ?? {}).some((k) => k.startsWith("egress-service.k8s.ovn.org/")),
  );
  await runConcurrent(CONCURRENCY, labelled.length, async (i) => {
    const n = labelled[i]!;
    const labels: Record<string, null> = {};
    for (const k of Object.keys(n.metadata.labels ?? {}))
      if (k.startsWith("egress-service.k8s.ovn.org/")) labels[k] = null;
    await c.expect(
      200,
      "PATCH",
      PATHS.node(n.metadata.name),
      JSON.stringify({ metadata: { labels } }),
      MERGE,
    );
  });
  await sleep(500);
  const e = tracker.eipsComplete();
  const h = tracker.hostsComplete();
  console.log(
    `reset: ${eipNames.length} EgressIP, ${es.length} EgressService/Service statuses and ${labelled.length} nodes' labels cleared in ${((performance.now() - t) / 1000).toFixed(1)} s (complete now: ${e.done} EgressIPs, ${h.done} hosts)`,
  );
}

async function setReady(c: Client, names: string[], ready: boolean): Promise<void> {
  const body = JSON.stringify(readyStatusPatch(ready));
  await runConcurrent(CONCURRENCY, names.length, async (i) => {
    await c.expect(200, "PATCH", `${PATHS.node(names[i]!)}/status`, body, MERGE);
  });
}

// ---- one controller set -----------------------------------------------------------------------

async function runSet(set: string, c: Client, srv: Server, tracker: ClusterTracker): Promise<void> {
  console.log(`\n## controllers: ${set}  (load ${loadavg()})`);
  const timeout = Number(args["converge-timeout"]) * 1000;
  const ctl = Controllers.start(srv.kubeconfig, set);
  // "egressip" runs the EgressIP controller alone: nothing elects EgressService hosts.
  const hosts = set !== "egressip";
  try {
    // 1. Convergence from empty status.
    await ctl.profile(`${set}-converge`, async () => {
      const ready = await ctl.ready;
      const prog = setInterval(() => {
        const e = tracker.eipsComplete();
        const h = tracker.hostsComplete();
        console.log(
          `    … ${((wall() - ctl.spawnedAt) / 1000).toFixed(0)} s: EgressIPs ${e.done}/${e.total}, hosts ${h.done}/${h.total}`,
        );
      }, 10_000);
      let converged: number;
      try {
        converged = await tracker.when(() => tracker.converged(hosts), timeout, "convergence");
      } finally {
        clearInterval(prog);
      }
      const total = (converged - ctl.spawnedAt) / 1000;
      const afterReady = (converged - ready.readyAt) / 1000;
      report({
        set,
        metric: "start → informers filled",
        value: `${((ready.readyAt - ctl.spawnedAt) / 1000).toFixed(1)} s`,
      });
      report({
        set,
        metric: `converge: informers filled → all EgressIPs${hosts ? " + EgressServices" : ""} done`,
        value: `${afterReady.toFixed(2)} s`,
        target: "< 10 s",
        ok: afterReady < 10,
      });
      report({
        set,
        metric: `converge: process start → done (incl. listing ${SIZE.pods} pods)`,
        value: `${total.toFixed(2)} s`,
        target: "< 10 s",
        ok: total < 10,
      });
    });
    const settleT0 = wall();
    const settled = await ctl.profile(`${set}-settle`, () =>
      ctl.quiet(20, Number(args["settle-timeout"]) * 1000),
    );
    report({
      set,
      metric: "start → controllers idle (all work done)",
      value: settled.quiet
        ? `${((settled.stats.at - ctl.spawnedAt) / 1000).toFixed(1)} s (waited ${((wall() - settleT0) / 1000).toFixed(0)} s after convergence)`
        : `not idle ${((wall() - settleT0) / 1000).toFixed(0)} s after convergence: ${settled.rate.toFixed(0)} ms CPU/s`,
    });
    if (set === "all") {
      // Full convergence also means a NetNamespace per Namespace and a HostSubnet per Node (the
      // quiet window above is when their creation ended); count them once.
      const count = async (path: string) =>
        (JSON.parse((await c.expect(200, "GET", path)).body.toString()) as { items: unknown[] }).items.length;
      const nns = await count("/apis/network.openshift.io/v1/netnamespaces");
      const hss = await count("/apis/network.openshift.io/v1/hostsubnets");
      // Every Event is one more request during convergence: how many, and why.
      const evs = JSON.parse((await c.expect(200, "GET", "/api/v1/events")).body.toString()) as {
        items: { reason?: string; involvedObject?: { kind?: string }; count?: number }[];
      };
      const byReason = new Map<string, number>();
      for (const e of evs.items) {
        const k = `${e.involvedObject?.kind ?? "?"}/${e.reason ?? "?"}`;
        byReason.set(k, (byReason.get(k) ?? 0) + 1);
      }
      report({
        set,
        metric: "Events stored after convergence (kind/reason: count)",
        value: `${evs.items.length}: ${[...byReason]
          .sort((a, b) => b[1] - a[1])
          .slice(0, 8)
          .map(([k, n]) => `${k} ${n}`)
          .join(", ")}`,
      });
      report({
        set,
        metric: "NetNamespaces / HostSubnets when idle",
        value: `${nns} / ${hss} (namespaces ${SIZE.namespaces}+, nodes ${SIZE.nodes})`,
      });
    }
    const idle = await ctl.idleRate(3000);
    const m1 = ctl.memory();
    const st = await ctl.stats();
    report({
      set,
      metric: "memory after convergence",
      value: `RSS ${mb(m1.rss)}, peak ${mb(m1.hwm)}, heap used ${mb(st.heapUsed)}`,
      target: "< 1 GB",
      ok: m1.hwm < 1024 ** 3,
    });
    report({ set, metric: "idle CPU", value: `${idle.toFixed(1)} ms/s` });

    // 2. Single-node failover (NotReady): an IP holder, then an EgressService host.
    const e2e: number[] = [];
    const ctlSide: number[] = [];
    const esE2e: number[] = [];
    const used = new Set<string>();
    for (let r = 0; r < FAILOVER_RUNS + 1; r++) {
      const byNode = new Map<string, number>();
      for (const v of tracker.ipPlacements().values()) byNode.set(v.node, (byNode.get(v.node) ?? 0) + 1);
      const victim = [...byNode.keys()].sort().find((n) => !used.has(n));
      if (!victim) break;
      used.add(victim);
      const avoid = new Set([victim]);
      const ips = tracker.ipsOn(avoid);
      if (r === 1 && PROFILE_DIR) await ctl.profileStart();
      const h0 = (await ctl.stats()).assignLatency;
      const t0 = wall();
      await setReady(c, [victim], false);
      const t1 = await tracker.when(() => tracker.movedOff(ips, avoid), 30_000, `IPs off ${victim}`);
      await sleep(200);
      const h1 = (await ctl.stats()).assignLatency;
      if (r > 0) {
        // run 0 warms up
        e2e.push(t1 - t0);
        if (h1.count > h0.count) ctlSide.push(((h1.sum - h0.sum) / (h1.count - h0.count)) * 1000);
      }
      if (r === 1 && PROFILE_DIR) await ctl.profileStop(`${set}-failover1`);
      await setReady(c, [victim], true);
      await ctl.quiet(idle, 30_000);
    }
    for (let r = 0; hosts && r < FAILOVER_RUNS + 1; r++) {
      const victim = [...new Set(tracker.hosts.values())]
        .filter((h) => h !== "")
        .sort()
        .find((n) => !used.has(n));
      if (!victim) break;
      used.add(victim);
      const avoid = new Set([victim]);
      const svcs = tracker.servicesOn(avoid);
      const t0 = wall();
      await setReady(c, [victim], false);
      const t1 = await tracker.when(() => tracker.hostsMovedOff(svcs, avoid), 30_000, `hosts off ${victim}`);
      if (r > 0) esE2e.push(t1 - t0);
      await setReady(c, [victim], true);
      await ctl.quiet(idle, 30_000);
    }
    const fmt = (xs: number[]) =>
      xs.length === 0 ? "n/a" : `p50 ${ms(q(xs, 50))}, max ${ms(Math.max(...xs))} (n=${xs.length})`;
    report({
      set,
      metric: "1 node NotReady → its EgressIP statuses re-written (end-to-end, seen by a watch)",
      value: fmt(e2e),
      target: "< 100 ms",
      ok: q(e2e, 50) < 100,
    });
    report({
      set,
      metric: "  same, controller-side (egress_ips_assign_latency_seconds)",
      value: fmt(ctlSide),
      target: "< 100 ms",
      ok: q(ctlSide, 50) < 100,
    });
    report({ set, metric: "1 node NotReady → its EgressService re-hosted (end-to-end)", value: fmt(esE2e) });

    // 3. 10 % of the nodes fail at once.
    await ctl.profile(`${set}-failover10`, async () => {
      const failed: string[] = [];
      for (let i = 3; i < SIZE.nodes; i += 10) failed.push(nodeName(i));
      const avoid = new Set(failed);
      const ips = tracker.ipsOn(avoid);
      const svcs = tracker.servicesOn(avoid);
      const h0 = (await ctl.stats()).assignLatency;
      const cpu0 = (await ctl.stats()).cpuMs;
      const t0 = wall();
      await setReady(c, failed, false);
      const tw = wall();
      let t1 = Number.NaN;
      let t2 = Number.NaN;
      try {
        t1 = await tracker.when(() => tracker.movedOff(ips, avoid), 60_000, "IPs off the failed nodes");
        t2 = await tracker.when(
          () => tracker.hostsMovedOff(svcs, avoid),
          60_000,
          "hosts off the failed nodes",
        );
      } catch (e) {
        console.log(`    ${(e as Error).message}`);
      }
      await sleep(300);
      const s1 = await ctl.stats();
      const h1 = s1.assignLatency;
      const eipSecs = (t1 - t0) / 1000;
      report({
        set,
        metric: `${failed.length} nodes (10 %) NotReady → ${ips.length} IPs re-placed (end-to-end)`,
        value: `${eipSecs.toFixed(2)} s (the ${failed.length} status writes alone took ${((tw - t0) / 1000).toFixed(2)} s)`,
      });
      report({
        set,
        metric: "  same, controller-side (mean of assign runs)",
        value:
          h1.count > h0.count
            ? `${ms(((h1.sum - h0.sum) / (h1.count - h0.count)) * 1000)} over ${h1.count - h0.count} runs`
            : "n/a",
      });
      report({
        set,
        metric: `  ${svcs.length} EgressServices re-hosted (end-to-end)`,
        value: `${((t2 - t0) / 1000).toFixed(2)} s`,
      });
      report({
        set,
        metric: "  controllers' CPU for it",
        value: `${((s1.cpuMs - cpu0) / 1000).toFixed(2)} s`,
      });
      await setReady(c, failed, true);
      await ctl.quiet(idle, 60_000);
    });

    // 4. Pod churn at a steady rate.
    await ctl.profile(`${set}-churn`, async () => {
      const base = await ctl.idleRate(3000);
      const s0 = await ctl.stats();
      const live: { ns: string; name: string }[] = [];
      const interval = 1000 / CHURN_RATE;
      const n = Math.round(CHURN_SECONDS * CHURN_RATE);
      const window = Math.max(1, Math.round(CHURN_RATE)); // a churn pod lives ~1 s
      const tStart = performance.now();
      let ops = 0;
      const inflight = new Set<Promise<void>>();
      for (let k = 0; k < n; k++) {
        const due = tStart + k * interval;
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
        const j = SIZE.pods + k; // distinct IPs after the loaded pods
        const p = pod(j, SIZE, `churn-${set}-${String(k).padStart(6, "0")}`);
        const ns = p.metadata.namespace!;
        const op = (async () => {
          await c.expect(201, "POST", PATHS.pods(ns), JSON.stringify(p));
          await c.expect(
            200,
            "PATCH",
            `${PATHS.pod(ns, p.metadata.name)}/status`,
            JSON.stringify(podStatus(j)),
            MERGE,
          );
          live.push({ ns, name: p.metadata.name });
          ops += 2;
          if (live.length > window) {
            const old = live.shift()!;
            await c.expect(200, "DELETE", PATHS.pod(old.ns, old.name));
            ops++;
          }
        })();
        inflight.add(op);
        void op.finally(() => inflight.delete(op));
      }
      await Promise.all(inflight);
      const genSecs = (performance.now() - tStart) / 1000;
      const s1 = (await ctl.quiet(base, 60_000)).stats;
      const events = s1.podEvents - s0.podEvents;
      const cpu = s1.cpuMs - s0.cpuMs;
      const dt = (s1.at - s0.at) / 1000;
      const net = cpu - base * dt;
      const perEvent = net / Math.max(1, events);
      report({
        set,
        metric: "pod churn",
        value: `${ops} writes in ${genSecs.toFixed(1)} s (${(ops / genSecs).toFixed(0)}/s asked ${(3 * CHURN_RATE).toFixed(0)}/s), ${events} pod watch events, controllers busy ${dt.toFixed(1)} s, CPU ${(cpu / 1000).toFixed(2)} s (idle share ${((base * dt) / 1000).toFixed(2)} s)`,
      });
      report({
        set,
        metric: "pod event: controllers' CPU per pod watch event (idle subtracted)",
        value: ms(perEvent),
        target: "< 1 ms",
        ok: perEvent < 1,
      });
      // Clean up the survivors (not measured).
      await runConcurrent(CONCURRENCY, live.length, async (i) => {
        await c.expect(200, "DELETE", PATHS.pod(live[i]!.ns, live[i]!.name));
      });
      await ctl.quiet(base, 60_000);
    });
    const m2 = ctl.memory();
    report({
      set,
      metric: "memory at the end",
      value: `RSS ${mb(m2.rss)}, peak ${mb(m2.hwm)}`,
      target: "< 1 GB",
      ok: m2.hwm < 1024 ** 3,
    });
  } finally {
    await ctl.stop();
  }
}

// ---- main -------------------------------------------------------------------------------------

const sets = String(args.sets)
  .split(",")
  .filter((s) => s !== "");
console.log(
  `# cluster benchmark, ${new Date().toISOString()}, node ${process.version}, scale ${SCALE} (${SIZE.nodes} nodes, ${SIZE.namespaces} namespaces, ${SIZE.pods} pods, ${SIZE.egressIPs} EgressIPs, ${SIZE.egressServices} EgressServices), store ${args.store}`,
);
console.log(`# load before: ${loadavg()}`);
const tmp = await tempDataDir();
const srv = await startServer(tmp.dir);
const http = new Client(srv, CONCURRENCY);
const tracker = new ClusterTracker(KubeClient.fromFile(srv.kubeconfig));
// Interrupted: the children leave with their IPC channel; the data directory is removed here.
for (const sig of ["SIGINT", "SIGTERM"] as const)
  process.once(sig, () => {
    srv.child.kill("SIGTERM");
    void tmp.cleanup().finally(() => process.exit(130));
  });
try {
  await load(http, srv);
  await tracker.start();
  for (let i = 0; i < sets.length; i++) {
    if (i > 0) await resetStatus(http, tracker);
    await runSet(sets[i]!, http, srv, tracker);
  }
} finally {
  await tracker.stop().catch(() => {});
  http.close();
  await srv.stop();
  await tmp.cleanup();
}
console.log(`\n# load after: ${loadavg()}`);
console.log("\n| set | metric | value | target |\n|---|---|---|---|");
for (const r of rows)
  console.log(
    `| ${r.set} | ${r.metric.trim()} | ${r.value} | ${r.target ? `${r.target} ${r.ok ? "met" : "**missed**"}` : ""} |`,
  );
