// Benchmark: the egress router's HTTP proxy vs. Debian's squid configured as upstream's
// egress-http-proxy image generates it, side by side in one run, on loopback only.
//   1. small GETs (absolute-form) through the proxy, load from wrk: requests/s and p99 latency
//   2. CONNECT tunnels that each transfer 1 MiB (this driver): tunnels/s, MiB/s, p99
// Both proxies get the seed's EGRESS_HTTP_PROXY_DESTINATION. Run as root (squid drops to user
// "proxy"); see run.sh. Everything it starts is stopped by pid at the end, also on failure.
//
// Usage: node <build>/bench/router/http-proxy.bench.js [--duration 10] [--connections 32]
//        [--tunnels 200] [--tunnel-concurrency 8] [--rounds 1]
// --rounds N measures both proxies N times, alternating which goes first; every round is printed
// with the load average and the CPU time each proxy used per GET and per tunneled MiB.
// --baseline DIR adds a third proxy: another build's egress router (DIR/src/router/cli-entry.js),
// measured in the same rounds, for A/B tests of a change on a shared machine.
// --skip get|tunnels leaves one of the two loads out. --node-args "ARGS" passes node options
// (space-separated, e.g. --cpu-prof) to the first egress router only.
// Tunnels are also split into phases (setup, first byte, body, close) with the driver's own
// event-loop delay and each proxy's run-queue wait, and pooled over all rounds per proxy: on a
// shared machine many short rounds (--tunnels 500 --rounds 20) give the steadiest p99.
// --warmup N sends N tunnels through each proxy before the first round (default 1000).
// --dump FILE writes every tunnel (start time on the monotonic clock, the client's port, phases)
// as JSON, to be matched with timestamps taken inside a proxy.
// --pin (experiments, needs two CPUs): every proxy runs on CPU 1, the driver, wrk and the origin on
// CPU 0 (taskset), so the load generator does not compete with the proxy measured.

import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { parseHttpProxyDestination } from "../../src/router/config/proxy.js";
import { arg, textArg } from "../support/args.js";

const here = dirname(fileURLToPath(import.meta.url));
const cliEntry = join(here, "..", "..", "src", "router", "cli-entry.js");
const POLICY = "!*.example.com\n!192.168.1.0/24\n*\n";
const HOST = "127.0.0.1";

/** The squid.conf upstream's egress-http-proxy image writes for a policy, plus the private
 *  paths and loopback-only DNS a benchmark on a shared machine needs. */
export function squidConfig(policy: string, port: number, dir: string): string {
  const out = [
    `http_port ${HOST}:${port}`,
    "cache deny all",
    "access_log none all",
    "debug_options ALL,0",
    "shutdown_lifetime 0",
    // Private to this run (not upstream's):
    `pid_filename ${dir}/squid.pid`,
    `cache_log ${dir}/cache.log`,
    `coredump_dir ${dir}`,
    "dns_nameservers 127.0.0.1",
    "pinger_enable off",
    "logfile_rotate 0",
  ];
  parseHttpProxyDestination(policy).rules.forEach((r, i) => {
    const name = `dest${i + 1}`;
    if (r.kind === "all") {
      out.push("http_access allow all");
      return;
    }
    let acl: string;
    if (r.kind === "host") acl = `dstdomain ${r.name}`;
    else if (r.kind === "domain") acl = `dstdomain .${r.name}`;
    else acl = `dst ${r.value}`;
    out.push(`acl ${name} ${acl}`, `http_access ${r.action} ${name}`);
  });
  out.push("http_access deny all");
  return `${out.join("\n")}\n`;
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, HOST, () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

async function waitForPort(port: number, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const ok = await new Promise<boolean>((r) => {
      const s = net.connect({ host: HOST, port }, () => {
        s.destroy();
        r(true);
      });
      s.on("error", () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listens on ${HOST}:${port}`);
}

// The origin runs in its own process so its CPU is not the driver's.
async function runOrigin(port: number): Promise<void> {
  const small = Buffer.from("hello from the origin\n");
  const mib = Buffer.alloc(1 << 20, 0x61);
  const server = http.createServer((req, res) => {
    const body = req.url === "/mib" ? mib : small;
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": body.length });
    res.end(body);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(port, HOST, r));
}

interface WrkResult {
  rps: number;
  p50ms: number;
  p99ms: number;
  non2xx: number;
  errors: string;
}

function parseLatency(s: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(s.trim());
  if (!m) return Number.NaN;
  const v = Number(m[1]);
  return m[2] === "us" ? v / 1000 : m[2] === "s" ? v * 1000 : v;
}

function wrk(
  proxyPort: number,
  originPort: number,
  seconds: number,
  connections: number,
  dir: string,
): WrkResult {
  const script = join(dir, `proxy-${proxyPort}.lua`);
  // Absolute-form request line and a Host header naming the origin, as a proxy client sends.
  writeFileSync(
    script,
    `wrk.path = "http://${HOST}:${originPort}/small"\nwrk.headers["Host"] = "${HOST}:${originPort}"\n`,
  );
  const out = execFileSync(
    "wrk",
    [
      "-t",
      "1",
      "-c",
      String(connections),
      "-d",
      `${seconds}s`,
      "--latency",
      "-s",
      script,
      `http://${HOST}:${proxyPort}`,
    ],
    { encoding: "utf8" },
  );
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? Number.NaN);
  const p50 = parseLatency(/\s50%\s+(\S+)/.exec(out)?.[1] ?? "");
  const p99 = parseLatency(/\s99%\s+(\S+)/.exec(out)?.[1] ?? "");
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const errors = /Socket errors:.*/.exec(out)?.[0] ?? "";
  return { rps, p50ms: p50, p99ms: p99, non2xx, errors };
}

interface TunnelResult {
  tunnels: number;
  failed: number;
  perSecond: number;
  mibPerSecond: number;
  p50ms: number;
  p99ms: number;
  /** From connecting to the proxy until its 200 arrived (the part of a tunnel the proxy's
   *  CONNECT handling decides). */
  setupP99ms: number;
  /** p50/p99 of each phase of a tunnel, as the client sees it (ms): setup (connect until the
   *  200), first (GET written until the first response byte), body (first until last byte),
   *  close (last byte until the connection is closed). */
  phases: Record<"setup" | "first" | "body" | "close", { p50: number; p99: number }>;
  /** p99 of this driver's own event-loop delay during the tunnels (ms, 1 ms resolution): how
   *  late the client itself noticed what arrived. */
  driverLoopP99ms: number;
  /** Every tunnel's time (ms), for percentiles pooled over rounds (not printed). */
  times: number[];
  /** Every tunnel: start (process.hrtime, ns), the client's local port, total and phases (ms);
   *  for the tail breakdown and --dump (not printed). */
  records: TunnelRecord[];
}

interface TunnelRecord {
  t0: string;
  port: number;
  ms: number;
  phases: Phases;
}

type Phases = { setup: number; first: number; body: number; close: number };

/** One CONNECT tunnel: CONNECT, GET /mib through it, read the whole response, close. */
function oneTunnel(
  proxyPort: number,
  originPort: number,
): Promise<{ ms: number; setupMs: number; bytes: number; phases: Phases; t0: bigint; port: number }> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const since = (): number => Number(process.hrtime.bigint() - t0) / 1e6;
    let tFirst = 0;
    let tLast = 0;
    const s = net.connect({ host: HOST, port: proxyPort });
    let port = 0;
    s.once("connect", () => {
      port = s.localPort ?? 0;
    });
    let established = false;
    let pending = Buffer.alloc(0);
    let bytes = 0;
    let setupMs = 0;
    s.on("error", reject);
    s.on("data", (c: Buffer) => {
      if (!established) {
        pending = Buffer.concat([pending, c]);
        const end = pending.indexOf("\r\n\r\n");
        if (end < 0) return;
        if (!/^HTTP\/1\.[01] 200/.test(pending.toString("latin1", 0, 16))) {
          s.destroy();
          reject(new Error(pending.toString("latin1", 0, end)));
          return;
        }
        established = true;
        setupMs = since();
        bytes += pending.length - end - 4;
        s.write(`GET /mib HTTP/1.1\r\nHost: ${HOST}:${originPort}\r\nConnection: close\r\n\r\n`);
        return;
      }
      if (tFirst === 0) tFirst = since();
      tLast = since();
      bytes += c.length;
    });
    s.on("close", () => {
      const ms = since();
      const phases = { setup: setupMs, first: tFirst - setupMs, body: tLast - tFirst, close: ms - tLast };
      if (established) resolve({ ms, setupMs, bytes, phases, t0, port });
    });
    s.write(`CONNECT ${HOST}:${originPort} HTTP/1.1\r\nHost: ${HOST}:${originPort}\r\n\r\n`);
  });
}

async function tunnels(
  proxyPort: number,
  originPort: number,
  total: number,
  concurrency: number,
): Promise<TunnelResult> {
  const times: number[] = [];
  const records: TunnelRecord[] = [];
  const setups: number[] = [];
  const phaseTimes: Record<keyof Phases, number[]> = { setup: [], first: [], body: [], close: [] };
  let bytes = 0;
  let failed = 0;
  let next = 0;
  const eld = monitorEventLoopDelay({ resolution: 1 });
  eld.enable();
  const t0 = Date.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        next++;
        try {
          const r = await oneTunnel(proxyPort, originPort);
          if (r.bytes < 1 << 20) failed++;
          times.push(r.ms);
          records.push({ t0: r.t0.toString(), port: r.port, ms: r.ms, phases: r.phases });
          setups.push(r.setupMs);
          for (const k of Object.keys(phaseTimes) as (keyof Phases)[]) phaseTimes[k].push(r.phases[k]);
          bytes += r.bytes;
        } catch {
          failed++;
        }
      }
    }),
  );
  const secs = (Date.now() - t0) / 1000;
  eld.disable();
  times.sort((a, b) => a - b);
  setups.sort((a, b) => a - b);
  const pct = (p: number, of = times): number =>
    of[Math.min(of.length - 1, Math.floor((p / 100) * of.length))] ?? Number.NaN;
  const phases = {} as TunnelResult["phases"];
  for (const k of Object.keys(phaseTimes) as (keyof Phases)[]) {
    const v = phaseTimes[k].sort((a, b) => a - b);
    phases[k] = { p50: pct(50, v), p99: pct(99, v) };
  }
  return {
    tunnels: times.length,
    failed,
    perSecond: times.length / secs,
    mibPerSecond: bytes / (1 << 20) / secs,
    p50ms: pct(50),
    p99ms: pct(99),
    setupP99ms: pct(99, setups),
    phases,
    driverLoopP99ms: eld.percentile(99) / 1e6 - 1,
    times,
    records,
  };
}

function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.pid === undefined) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      child.kill("SIGKILL");
    }, 5000);
    child.once("exit", () => {
      clearTimeout(t);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

/** Summed over the threads of `pid`: the time (ms) they spent runnable but waiting for a CPU
 *  (schedstat's second field: delay that comes from the machine's load, not from the proxy's own
 *  work), and how often they blocked (voluntary context switches: each is a later wake-up that
 *  may wait in the run queue). */
function threadStats(pid: number): { runQueueMs: number; blocks: number } {
  let ns = 0;
  let blocks = 0;
  try {
    for (const t of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, "utf8").split(" ")[1]);
        const status = readFileSync(`/proc/${pid}/task/${t}/status`, "utf8");
        blocks += Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0);
      } catch {
        // thread gone
      }
    }
  } catch {
    // process gone
  }
  return { runQueueMs: ns / 1e6, blocks };
}

/** CPU time (user + system, ms) used so far by `pid` and its live descendants. On a shared, loaded
 *  machine wall-clock rates swing with other tenants; CPU spent per request or per MiB does not. */
function cpuMs(pid: number): { total: number; sys: number } {
  const hz = 100; // USER_HZ on Linux
  let total = 0;
  let sys = 0;
  const visit = (p: number): void => {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      total += ((Number(f[11]) + Number(f[12])) * 1000) / hz;
      sys += (Number(f[12]) * 1000) / hz;
      for (const t of readdirSync(`/proc/${p}/task`))
        for (const c of readFileSync(`/proc/${p}/task/${t}/children`, "utf8").trim().split(/\s+/))
          if (c !== "") visit(Number(c));
    } catch {
      // gone
    }
  };
  visit(pid);
  return { total, sys };
}

async function main(): Promise<void> {
  if (process.argv[2] === "--role-origin") {
    await runOrigin(Number(process.argv[3]));
    return;
  }
  const seconds = arg("duration", 10);
  const connections = arg("connections", 32);
  const total = arg("tunnels", 200);
  const concurrency = arg("tunnel-concurrency", 8);
  const roundsWanted = arg("rounds", 1);
  const baseline = textArg("baseline");
  const skip = textArg("skip");
  const dump = textArg("dump");
  const warmup = arg("warmup", 1000);
  const nodeArgs = (textArg("node-args") ?? "").split(" ").filter((a) => a !== "");
  const dir = mkdtempSync(join(tmpdir(), "router-bench-"));
  chmodSync(dir, 0o777); // squid writes its pid and log after dropping to user "proxy"
  const children: ChildProcess[] = [];
  try {
    const [originPort, oursPort, squidPort, basePort] = [
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
    ];
    const origin = spawn(
      process.execPath,
      [fileURLToPath(import.meta.url), "--role-origin", String(originPort)],
      {
        stdio: "inherit",
      },
    );
    children.push(origin);
    const ours = spawn(
      process.execPath,
      [...nodeArgs, cliEntry, "router", "http-proxy", "--port", String(oursPort), "--listen", HOST],
      {
        env: { ...process.env, EGRESS_HTTP_PROXY_DESTINATION: POLICY, EGRESS_LOG_LEVEL: "warn" },
        stdio: "inherit",
      },
    );
    children.push(ours);
    const base =
      baseline === undefined
        ? undefined
        : spawn(
            process.execPath,
            [
              join(baseline, "src", "router", "cli-entry.js"),
              "router",
              "http-proxy",
              "--port",
              String(basePort),
              "--listen",
              HOST,
            ],
            {
              env: { ...process.env, EGRESS_HTTP_PROXY_DESTINATION: POLICY, EGRESS_LOG_LEVEL: "warn" },
              stdio: "inherit",
            },
          );
    if (base) children.push(base);
    const conf = join(dir, "squid.conf");
    writeFileSync(conf, squidConfig(POLICY, squidPort, dir));
    const squid = spawn("squid", ["-N", "-f", conf], { stdio: "inherit" });
    children.push(squid);
    await Promise.all([
      waitForPort(originPort),
      waitForPort(oursPort),
      waitForPort(squidPort),
      ...(base ? [waitForPort(basePort)] : []),
    ]);

    if (process.argv.includes("--pin")) {
      // Every proxy on CPU 1, the load (this driver, wrk, the origin) on CPU 0: the proxies then
      // compete with each other's idle time only, not with the load generator (experiments; all
      // threads of each process, `taskset -a`).
      const pin = (cpu: string, pid: number | undefined) =>
        execFileSync("taskset", ["-a", "-p", "-c", cpu, String(pid)], { stdio: "ignore" });
      for (const c of [ours, squid, ...(base ? [base] : [])]) pin("1", c.pid);
      for (const pid of [origin.pid, process.pid]) pin("0", pid);
    }
    const squidVersion =
      /Version (\S+)/.exec(execFileSync("squid", ["-v"], { encoding: "utf8" }))?.[1] ?? "?";
    type Result = {
      get: WrkResult;
      connect: TunnelResult;
      cpuUsPerGet: number;
      cpuMsPerMiB: number;
      /** Share of the CPU time spent in the kernel (system time), per load. */
      sysShareGet: number;
      sysShareTunnel: number;
      /** Run-queue wait of the proxy's threads per tunnel (µs). */
      runQueueUsPerTunnel: number;
      /** Times the proxy's threads blocked (voluntary context switches), per tunnel. */
      blocksPerTunnel: number;
    };
    const results: Record<string, Result> = {};
    const rounds: { round: number; name: string; loadavg: string; result: Result }[] = [];
    const sides: (readonly [string, number, number])[] = [
      ["egress-router (node)", oursPort, ours.pid!],
      [`squid ${squidVersion}`, squidPort, squid.pid!],
    ];
    if (base) sides.push(["egress-router (baseline)", basePort, base.pid!]);
    const noGet: WrkResult = { rps: Number.NaN, p50ms: Number.NaN, p99ms: Number.NaN, non2xx: 0, errors: "" };
    const noTunnels: TunnelResult = {
      tunnels: 0,
      failed: 0,
      perSecond: Number.NaN,
      mibPerSecond: Number.NaN,
      p50ms: Number.NaN,
      p99ms: Number.NaN,
      setupP99ms: Number.NaN,
      phases: {
        setup: { p50: Number.NaN, p99: Number.NaN },
        first: { p50: Number.NaN, p99: Number.NaN },
        body: { p50: Number.NaN, p99: Number.NaN },
        close: { p50: Number.NaN, p99: Number.NaN },
      },
      driverLoopP99ms: Number.NaN,
      times: [],
      records: [],
    };
    // Warm up all, then measure them in turn, alternating which goes first each round. The
    // tunnel warm-up must be long: the driver, the origin and our proxies are Node processes
    // whose JIT and young generation are still growing after a few tunnels. With 10 warm-up
    // tunnels, whichever proxy came first in round 1 (always ours) paid for that: two copies of
    // the same build measured 10–30 % apart in pooled p99, the first-listed one always worse.
    for (const [, port] of sides) {
      if (skip !== "get") wrk(port, originPort, 2, connections, dir);
      if (skip !== "tunnels") await tunnels(port, originPort, warmup, concurrency);
    }
    for (let round = 0; round < roundsWanted; round++) {
      for (const [name, port, pid] of round % 2 === 0 ? sides : [...sides].reverse()) {
        const c0 = cpuMs(pid);
        const get = skip === "get" ? noGet : wrk(port, originPort, seconds, connections, dir);
        const c1 = cpuMs(pid);
        const q1 = threadStats(pid);
        const connect = skip === "tunnels" ? noTunnels : await tunnels(port, originPort, total, concurrency);
        const c2 = cpuMs(pid);
        const q2 = threadStats(pid);
        const result: Result = {
          get,
          connect,
          cpuUsPerGet: ((c1.total - c0.total) * 1000) / (get.rps * seconds),
          cpuMsPerMiB: skip === "tunnels" ? Number.NaN : (c2.total - c1.total) / (total - connect.failed),
          sysShareGet: (c1.sys - c0.sys) / (c1.total - c0.total),
          sysShareTunnel: (c2.sys - c1.sys) / (c2.total - c1.total),
          runQueueUsPerTunnel: ((q2.runQueueMs - q1.runQueueMs) * 1000) / Math.max(1, connect.tunnels),
          blocksPerTunnel: (q2.blocks - q1.blocks) / Math.max(1, connect.tunnels),
        };
        rounds.push({
          round,
          name,
          loadavg: loadavg()
            .map((l) => l.toFixed(1))
            .join(" "),
          result,
        });
      }
    }
    // Per proxy, the round with the median GET rate.
    for (const [name] of sides) {
      const mine = rounds.filter((r) => r.name === name).sort((a, b) => a.result.get.rps - b.result.get.rps);
      results[name] = mine[Math.floor(mine.length / 2)]!.result;
    }
    const direct = (() => {
      if (skip === "get") return Number.NaN;
      const script = join(dir, "direct.lua");
      writeFileSync(script, 'wrk.path = "/small"\n');
      const out = execFileSync(
        "wrk",
        [
          "-t",
          "1",
          "-c",
          String(connections),
          "-d",
          `${seconds}s`,
          "--latency",
          "-s",
          script,
          `http://${HOST}:${originPort}`,
        ],
        { encoding: "utf8" },
      );
      return Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? Number.NaN);
    })();

    const f = (n: number, d = 0): string => (Number.isFinite(n) ? n.toFixed(d) : "n/a");
    const lines = [
      `HTTP proxy benchmark: ${new Date().toISOString()}, node ${process.version}, wrk -t1 -c${connections} -d${seconds}s,`,
      `CONNECT: ${total} tunnels x 1 MiB, ${concurrency} concurrent; policy ${JSON.stringify(POLICY)}`,
      "",
      "| round | proxy | load 1/5/15 | GET req/s | GET p50 ms | GET p99 ms | CPU µs/GET | sys % | non-2xx | MiB/s | tunnel p50 ms | tunnel p99 ms | setup p99 ms | CPU ms/MiB | sys % | failed |",
      "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
      ...rounds.map(
        ({ round, name, loadavg: l, result: r }) =>
          `| ${round + 1} | ${name} | ${l} | ${f(r.get.rps)} | ${f(r.get.p50ms, 2)} | ${f(r.get.p99ms, 2)} | ${f(r.cpuUsPerGet)} | ${f(100 * r.sysShareGet)} | ${r.get.non2xx} | ${f(r.connect.mibPerSecond)} | ${f(r.connect.p50ms, 1)} | ${f(r.connect.p99ms, 1)} | ${f(r.connect.setupP99ms, 1)} | ${f(r.cpuMsPerMiB, 2)} | ${f(100 * r.sysShareTunnel)} | ${r.connect.failed} |`,
      ),
      "",
      "Tunnel phases as the client sees them, p50 / p99 ms: setup (connect until the 200), first (GET sent until the first byte), body (first until last byte), close (last byte until closed). Driver loop: p99 event-loop delay of this client during the tunnels. Run queue: time the proxy's threads waited for a CPU, per tunnel. Blocks: times the proxy's threads blocked (voluntary context switches), per tunnel; each is a wake-up that can wait in the run queue.",
      "",
      "| round | proxy | setup | first | body | close | driver loop p99 ms | run queue µs/tunnel | blocks/tunnel |",
      "|---|---|---:|---:|---:|---:|---:|---:|---:|",
      ...rounds.map(({ round, name, result: r }) => {
        const p = r.connect.phases;
        const c = (k: keyof Phases): string => `${f(p[k].p50, 2)} / ${f(p[k].p99, 2)}`;
        return `| ${round + 1} | ${name} | ${c("setup")} | ${c("first")} | ${c("body")} | ${c("close")} | ${f(r.connect.driverLoopP99ms, 1)} | ${f(r.runQueueUsPerTunnel)} | ${f(r.blocksPerTunnel, 1)} |`;
      }),
      "",
      ...(skip === "tunnels"
        ? []
        : [
            "Tunnel times pooled over all rounds (every tunnel of every round; on a shared machine this",
            "is steadier than one round's p99, because each proxy meets the same mix of load):",
            "",
            "| proxy | tunnels | p50 ms | p90 ms | p99 ms | p99.9 ms |",
            "|---|---:|---:|---:|---:|---:|",
            ...sides.map(([name]) => {
              const all = rounds
                .filter((r) => r.name === name)
                .flatMap((r) => r.result.connect.times)
                .sort((a, b) => a - b);
              const q = (p: number): string =>
                f(all[Math.min(all.length - 1, Math.floor(p * all.length))] ?? Number.NaN, 1);
              return `| ${name} | ${all.length} | ${q(0.5)} | ${q(0.9)} | ${q(0.99)} | ${q(0.999)} |`;
            }),
            "",
            "Where the tail comes from: the mean of each phase (ms) over all tunnels and over the pooled",
            "slowest 1 % (at or above the pooled p99), per proxy:",
            "",
            "| proxy | tunnels | setup | first | body | close | total |",
            "|---|---|---:|---:|---:|---:|---:|",
            ...sides.flatMap(([name]) => {
              const all = rounds
                .filter((r) => r.name === name)
                .flatMap((r) => r.result.connect.records)
                .sort((a, b) => a.ms - b.ms);
              const tail = all.slice(Math.min(all.length - 1, Math.floor(0.99 * all.length)));
              const row = (label: string, of: TunnelRecord[]): string => {
                const mean = (g: (r: TunnelRecord) => number): string =>
                  f(of.reduce((a, r) => a + g(r), 0) / of.length, 2);
                return `| ${name} | ${label} (${of.length}) | ${mean((r) => r.phases.setup)} | ${mean((r) => r.phases.first)} | ${mean((r) => r.phases.body)} | ${mean((r) => r.phases.close)} | ${mean((r) => r.ms)} |`;
              };
              return [row("all", all), row("slowest 1 %", tail)];
            }),
            "",
          ]),
      `Origin directly (no proxy), same wrk settings: ${f(direct)} req/s`,
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
    if (dump !== undefined)
      writeFileSync(
        dump,
        `${JSON.stringify(rounds.map((r) => ({ round: r.round, name: r.name, records: r.result.connect.records })))}\n`,
      );
    for (const r of [...rounds, ...Object.values(results).map((result) => ({ result }))])
      r.result.connect = { ...r.result.connect, times: [], records: [] };
    process.stdout.write(`${JSON.stringify({ results, rounds, direct })}\n`);
    const errs = Object.values(results).filter((r) => r.get.errors !== "");
    if (errs.length > 0)
      process.stderr.write(`wrk socket errors: ${errs.map((r) => r.get.errors).join("; ")}\n`);
  } finally {
    for (const c of children.reverse()) await stop(c);
    try {
      process.stderr.write(
        readFileSync(join(dir, "cache.log"), "utf8")
          .split("\n")
          .filter((l) => /FATAL|ERROR/.test(l))
          .join("\n"),
      );
    } catch {
      // no squid log: squid never started
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
