// Benchmark of the whereabouts plugin with the kubernetes datastore against our API server (started
// in this process, in a temp dir), process start included (each call is a fresh
// `node <compiled>/src/cni/whereabouts.js`, as a runtime starts it):
//   1. latency: sequential ADDs (one caller), p50/p99;
//   2. throughput: 1,000 ADDs from 50 concurrent callers on one pool: total time, duplicates (must be
//      0), failures, per-ADD latency p50/p99 under contention, and the stored pool's allocation count.
// Run after building: node <out>/bench/ipam/kube.bench.js [--sequential N] [--total N] [--callers N]
// --daemon: each call is the compiled shim (<out>/bin/whereabouts, scripts/build-native.mjs) talking
// to a resident `egress ipam daemon` (its own process, restarted between the two phases so that its
// API request counter belongs to one phase).
// Profile the API server side with: BENCH_SERVER_PROF=/tmp/prof node <out>/bench/ipam/kube.bench.js
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ipPoolType, overlappingRangeIPReservationType } from "../../src/api/kinds/index.js";
import type { KubeObject } from "../../src/api/object.js";
import { Client } from "../../src/controllers/runtime/client.js";
import {
  type CniCall,
  type DaemonProcess,
  resultIPs,
  runCni,
  SHIM,
  startDaemon,
  wbConfig,
} from "../../test/e2e/ipam/helpers.js";
import { startTestServer } from "../../test/e2e/support/server.js";
import { arg } from "../support/args.js";

const SEQUENTIAL = arg("sequential", 50);
const TOTAL = arg("total", 1000);
const CALLERS = arg("callers", 50);
const DAEMON = process.argv.includes("--daemon");

const pct = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
const fmt = (v: number): string => v.toFixed(1);
/** CPU time (user + system, ms) of a process from /proc (clock ticks of 10 ms). */
function cpuMsOf(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return Number.NaN;
  }
}

/** The API server in its own process (`egress server --no-controllers`), as in a cluster: the
 *  benchmark's own process spawns 1,000 plugins (a fork blocks its event loop for tens of ms each),
 *  which must not be charged to the server. `--in-process` runs it here instead. With
 *  BENCH_SERVER_PROF=DIR the server writes a CPU profile there. */
async function startServerProcess(): Promise<{
  kubeconfigPath: string;
  dataDir: string;
  pid?: number;
  stop(): Promise<void>;
}> {
  const dataDir = mkdtempSync(join(tmpdir(), "wb-kube-bench-"));
  const main = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
  const prof = process.env.BENCH_SERVER_PROF;
  const child: ChildProcess = spawn(
    process.execPath,
    [
      ...(prof ? ["--cpu-prof", `--cpu-prof-dir=${prof}`] : []),
      main,
      "server",
      "--no-controllers",
      "--data-dir",
      dataDir,
      "--listen",
      "127.0.0.1:0",
    ],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, EGRESS_LOG_LEVEL: "warn" } },
  );
  let out = "";
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      if (/listening on https:\/\//.test(out)) resolve();
    });
    child.on("exit", (code) => reject(new Error(`server exited (${code}) before listening`)));
  });
  return {
    kubeconfigPath: join(dataDir, "kubeconfig"),
    dataDir,
    ...(child.pid ? { pid: child.pid } : {}),
    async stop() {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGINT");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null) child.kill("SIGKILL");
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

const srv = process.argv.includes("--in-process") ? await startTestServer() : await startServerProcess();
let daemon: DaemonProcess | undefined;
try {
  const flat = join(srv.dataDir, "whereabouts.conf");
  writeFileSync(
    flat,
    JSON.stringify({ datastore: "kubernetes", kubernetes: { kubeconfig: srv.kubeconfigPath } }),
  );
  const socket = join(srv.dataDir, "wb", "daemon.sock");
  const env = {
    WHEREABOUTS_FLATFILE: flat,
    WHEREABOUTS_STATS: "1",
    WHEREABOUTS_LOCK_DIR: join(srv.dataDir, "locks"),
    WHEREABOUTS_DAEMON_SOCKET: socket,
  };
  const daemonStats: Record<string, Record<string, number> | undefined> = {};
  const call = (c: CniCall) => (DAEMON ? runCni(c, undefined, [SHIM]) : runCni(c));
  if (DAEMON) daemon = await startDaemon(socket);
  interface Stats {
    requests: number;
    conflicts: number;
    uptimeMs: number;
    lockWaitMs: number;
    lockHoldMs: number;
  }
  const stats = (stderr: string): Stats => {
    try {
      return JSON.parse(stderr.trim().split("\n").pop() ?? "") as Stats;
    } catch {
      return { requests: 0, conflicts: 0, uptimeMs: 0, lockWaitMs: 0, lockHoldMs: 0 };
    }
  };
  const hold: number[] = [];
  const wait: number[] = [];
  const up: number[] = [];
  const client = Client.fromFile(srv.kubeconfigPath);

  const seqConf = wbConfig({ range: "10.40.0.0/16", network_name: "seq" });
  const lat: number[] = [];
  for (let i = 0; i < SEQUENTIAL; i++) {
    const out = await call({
      command: "ADD",
      containerID: `s${i}`,
      args: `K8S_POD_NAMESPACE=b;K8S_POD_NAME=s${i}`,
      stdin: seqConf,
      env,
    });
    if (out.code !== 0) throw new Error(`ADD failed: ${out.stdout}${out.stderr}`);
    lat.push(out.ms);
  }
  lat.sort((a, b) => a - b);
  if (daemon) {
    daemonStats.sequential = await daemon.stop();
    daemon = await startDaemon(socket);
  }

  const conf = wbConfig({ range: "10.41.0.0/16", network_name: "conc", lock_timeout_ms: 120_000 });
  const seen = new Map<string, number>();
  const clat: number[] = [];
  let requests = 0;
  let conflicts = 0;
  const errors: string[] = [];
  let next = 0;
  const serverCpu0 = cpuMsOf("pid" in srv ? srv.pid : undefined);
  const benchCpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CALLERS }, async () => {
      for (let i = next++; i < TOTAL; i = next++) {
        const out = await call({
          command: "ADD",
          containerID: `c${i}`,
          args: `K8S_POD_NAMESPACE=b;K8S_POD_NAME=c${i}`,
          stdin: conf,
          env,
        });
        clat.push(out.ms);
        const s = stats(out.stderr);
        requests += s.requests;
        conflicts += s.conflicts;
        hold.push(s.lockHoldMs);
        wait.push(s.lockWaitMs);
        up.push(s.uptimeMs);
        if (out.code !== 0) errors.push(out.stdout || out.stderr);
        for (const ip of resultIPs(out.json)) seen.set(ip, (seen.get(ip) ?? 0) + 1);
      }
    }),
  );
  const total = performance.now() - t0;
  const serverCpuMs = cpuMsOf("pid" in srv ? srv.pid : undefined) - serverCpu0;
  const benchCpu = process.cpuUsage(benchCpu0);
  if (daemon) {
    daemonStats.concurrent = await daemon.stop();
    daemon = undefined;
    requests = daemonStats.concurrent?.apiRequests ?? Number.NaN;
  }
  clat.sort((a, b) => a - b);
  for (const l of [hold, wait, up]) l.sort((a, b) => a - b);
  const duplicates = [...seen.values()].filter((n) => n > 1).length;
  const pool = await client.get<KubeObject>(ipPoolType, "kube-system", "conc-10.41.0.0-16");
  const stored = Object.keys((pool.spec as { allocations: Record<string, unknown> }).allocations).length;
  const reservations = (await client.list(overlappingRangeIPReservationType, "kube-system")).items.filter(
    (r) => r.metadata.name?.startsWith("conc-"),
  ).length;

  const report = {
    node: process.version,
    mode: DAEMON ? "daemon + shim" : "plugin process per call",
    loadAverage: (await import("node:os")).loadavg().map((l) => l.toFixed(1)),
    sequentialAdd: { n: SEQUENTIAL, p50Ms: fmt(pct(lat, 50)), p99Ms: fmt(pct(lat, 99)) },
    concurrentAdd: {
      total: TOTAL,
      callers: CALLERS,
      seconds: (total / 1000).toFixed(2),
      addsPerSecond: ((TOTAL / total) * 1000).toFixed(1),
      latencyP50Ms: fmt(pct(clat, 50)),
      latencyP99Ms: fmt(pct(clat, 99)),
      apiRequestsPerAdd: (requests / TOTAL).toFixed(2),
      // CPU per ADD: API server process; the daemon (start-up included); the benchmark's own process
      // (spawning the callers, as a runtime would).
      cpuMsPerAdd: {
        apiServer: (serverCpuMs / TOTAL).toFixed(2),
        ...(DAEMON ? { daemon: ((daemonStats.concurrent?.cpuMs ?? Number.NaN) / TOTAL).toFixed(2) } : {}),
        spawningProcess: ((benchCpu.user + benchCpu.system) / 1000 / TOTAL).toFixed(2),
      },
      conflictsPerAdd: (conflicts / TOTAL).toFixed(2),
      hostLockHoldMs: { p50: pct(hold, 50), p99: pct(hold, 99) },
      hostLockWaitMs: { p50: pct(wait, 50), p99: pct(wait, 99) },
      pluginProcessMs: { p50: pct(up, 50), p99: pct(up, 99) },
      distinctAddresses: seen.size,
      duplicates,
      failures: errors.length,
      firstError: errors[0],
      storedAllocations: stored,
      storedReservations: reservations,
    },
    ...(DAEMON ? { daemon: daemonStats } : {}),
  };
  process.stdout.write(
    `${JSON.stringify({ server: process.argv.includes("--in-process") ? "in-process" : "separate process", ...report }, null, 2)}\n`,
  );
  if (duplicates > 0 || errors.length > 0) process.exitCode = 1;
} finally {
  await daemon?.stop();
  await srv.stop();
}
