// Benchmark of the whereabouts plugin's ADD with the file datastore, process start included (each call
// is a fresh `node <compiled>/src/cni/whereabouts.js` as a runtime would start it).
//   1. latency: sequential ADDs (one caller), p50/p99, next to the bare `node -e 0` start time;
//   2. throughput: 1,000 ADDs from 50 concurrent callers on one pool: total time and duplicates.
// Run after building: node <out>/bench/ipam/add.bench.js [--sequential N] [--total N] [--callers N]
// --daemon: each call is the compiled shim (<out>/bin/whereabouts) talking to a resident
// `egress ipam daemon` (its own process); next to the plugin's times it reports a bare shim start.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import {
  type CniCall,
  type DaemonProcess,
  resultIPs,
  runCni,
  SHIM,
  startDaemon,
  wbConfig,
} from "../../test/e2e/ipam/helpers.js";
import { arg } from "../support/args.js";

const SEQUENTIAL = arg("sequential", 100);
const TOTAL = arg("total", 1000);
const CALLERS = arg("callers", 50);
const DAEMON = process.argv.includes("--daemon");

const pct = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
const fmt = (v: number): string => v.toFixed(1);

const dir = mkdtempSync(join(tmpdir(), "wb-bench-"));
let daemon: DaemonProcess | undefined;
try {
  const socket = join(dir, "daemon.sock");
  if (DAEMON) daemon = await startDaemon(socket);
  const env = { WHEREABOUTS_DAEMON_SOCKET: socket };
  const call = (c: CniCall) => (DAEMON ? runCni({ ...c, env }, undefined, [SHIM]) : runCni(c));
  const bare: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    // Daemon mode: a call the daemon rejects at once (no CNI_COMMAND) = shim start + one round trip.
    if (DAEMON) spawnSync(SHIM, [], { env: { WHEREABOUTS_DAEMON_SOCKET: socket }, input: "" });
    else spawnSync(process.execPath, ["-e", "0"]);
    bare.push(performance.now() - t0);
  }
  bare.sort((a, b) => a - b);

  const seqConf = wbConfig({ range: "10.40.0.0/16", datastore: "file", data_dir: join(dir, "seq") });
  const lat: number[] = [];
  for (let i = 0; i < SEQUENTIAL; i++) {
    const out = await call({
      command: "ADD",
      containerID: `s${i}`,
      args: `K8S_POD_NAMESPACE=b;K8S_POD_NAME=s${i}`,
      stdin: seqConf,
    });
    if (out.code !== 0) throw new Error(`ADD failed: ${out.stdout}${out.stderr}`);
    lat.push(out.ms);
  }
  lat.sort((a, b) => a - b);

  const conf = wbConfig({
    range: "10.41.0.0/16",
    datastore: "file",
    data_dir: join(dir, "conc"),
    lock_timeout_ms: 60_000,
  });
  const seen = new Map<string, number>();
  let failures = 0;
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CALLERS }, async () => {
      for (let i = next++; i < TOTAL; i = next++) {
        const out = await call({
          command: "ADD",
          containerID: `c${i}`,
          args: `K8S_POD_NAMESPACE=b;K8S_POD_NAME=c${i}`,
          stdin: conf,
        });
        if (out.code !== 0) failures++;
        for (const ip of resultIPs(out.json)) seen.set(ip, (seen.get(ip) ?? 0) + 1);
      }
    }),
  );
  const total = performance.now() - t0;
  const duplicates = [...seen.values()].filter((n) => n > 1).length;

  const daemonStats = await daemon?.stop();
  daemon = undefined;
  const report = {
    node: process.version,
    mode: DAEMON ? "daemon + shim" : "plugin process per call",
    loadAverage: loadavg().map((l) => l.toFixed(1)),
    [DAEMON ? "bareShimCallMs" : "bareNodeStartMs"]: { p50: fmt(pct(bare, 50)), p99: fmt(pct(bare, 99)) },
    sequentialAdd: {
      n: SEQUENTIAL,
      p50Ms: fmt(pct(lat, 50)),
      p99Ms: fmt(pct(lat, 99)),
      maxMs: fmt(lat[lat.length - 1]!),
    },
    concurrentAdd: {
      total: TOTAL,
      callers: CALLERS,
      seconds: (total / 1000).toFixed(2),
      addsPerSecond: ((TOTAL / total) * 1000).toFixed(1),
      distinctAddresses: seen.size,
      duplicates,
      failures,
    },
    ...(daemonStats ? { daemon: daemonStats } : {}),
  };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  if (duplicates > 0 || failures > 0) process.exitCode = 1;
} finally {
  await daemon?.stop();
  rmSync(dir, { recursive: true, force: true });
}
