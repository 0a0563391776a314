// Shared harness for the API server benchmarks: starts `egress server` as a separate child process
// (so the measuring client and the server never share an event loop), reads its RSS from /proc,
// talks to it over HTTPS with keep-alive agents, and records results for run.sh's table.
// Must not import the server's code: the server under test is only ever reached over the network.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { Agent, request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The build output this file was compiled into (dist/ or .build/<name>/). */
export const BUILD_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const SERVER_MAIN = join(BUILD_ROOT, "src", "cli", "main.js");

export class BenchError extends Error {
  override name = "BenchError";
}

// ---- the server child --------------------------------------------------------------------------

export interface ServerChild {
  pid: number;
  url: string;
  token: string;
  caPem: string;
  dataDir: string;
  kubeconfig: string;
  /** Milliseconds from spawn to the "listening" line (node start + store replay + PKI + bootstrap). */
  startMs: number;
  /** Current VmRSS and VmHWM (peak) in bytes. */
  memory(): { rss: number; hwm: number };
  /** CPU time (user + system) the server has used so far, in ms (10 ms resolution). Less sensitive
   *  to other load on the machine than wall-clock rates, so it is reported beside them. */
  cpuMs(): number;
  /** SIGTERM and wait for exit (a CPU profile, if enabled, is written on exit). */
  stop(): Promise<void>;
}

/** Extra `egress server` flags for every benchmark, e.g. BENCH_SERVER_FLAGS=--no-controllers to
 *  measure the API server without the in-process controllers (run.sh does; unset = as shipped, and
 *  results are then labelled "with controllers"). */
export const SERVER_FLAGS = (process.env.BENCH_SERVER_FLAGS ?? "").split(/\s+/).filter((f) => f !== "");

/**
 * Starts `node <build>/src/cli/main.js server` on an ephemeral loopback port. With BENCH_CPU_PROF
 * set to a directory, the child runs under `node --cpu-prof` and writes its profile there on exit.
 */
export async function startServer(
  dataDir: string,
  label = "server",
  flags = SERVER_FLAGS,
): Promise<ServerChild> {
  if (!existsSync(SERVER_MAIN)) throw new BenchError(`server entry point not found: ${SERVER_MAIN}`);
  const nodeArgs: string[] = [];
  const prof = process.env.BENCH_CPU_PROF;
  if (prof)
    nodeArgs.push(
      "--cpu-prof",
      `--cpu-prof-dir=${prof}`,
      `--cpu-prof-name=${label}-${Date.now()}.cpuprofile`,
    );
  const t0 = performance.now();
  const child: ChildProcess = spawn(
    process.execPath,
    [...nodeArgs, SERVER_MAIN, "server", "--data-dir", dataDir, "--listen", "127.0.0.1:0", ...flags],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, EGRESS_LOG_LEVEL: "warn" } },
  );
  let stderrTail = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderrTail = (stderrTail + d.toString()).slice(-4000);
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    const onData = (d: Buffer): void => {
      out += d.toString();
      const m = /listening on (https:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    };
    child.stdout?.on("data", onData);
    child.once("exit", (code) =>
      reject(new BenchError(`server exited with ${code} before listening:\n${stderrTail}`)),
    );
  });
  const startMs = performance.now() - t0;
  child.stdout?.resume();
  const pid = child.pid!;
  const token = (await readFile(join(dataDir, "token"), "utf8")).trim();
  const caPem = await readFile(join(dataDir, "pki", "ca.crt"), "utf8");
  let exited = false;
  child.once("exit", () => {
    exited = true;
  });
  return {
    pid,
    url,
    token,
    caPem,
    dataDir,
    kubeconfig: join(dataDir, "kubeconfig"),
    startMs,
    memory: () => procMemory(pid),
    cpuMs: () => procCpuMs(pid),
    async stop() {
      if (exited) return;
      const done = once(child, "exit");
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      await done;
      clearTimeout(timer);
    },
  };
}

export function procMemory(pid: number): { rss: number; hwm: number } {
  const s = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string): number => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(s);
    if (!m) throw new BenchError(`/proc/${pid}/status has no ${field}`);
    return Number(m[1]) * 1024;
  };
  return { rss: kb("VmRSS"), hwm: kb("VmHWM") };
}

/** utime + stime of a process from /proc/<pid>/stat, in ms (assumes the usual 100 ticks/s). */
export function procCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may contain spaces) start after the last ')'.
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) * 10;
}

/** A fresh temporary data directory, removed by the returned cleanup. */
export async function tempDataDir(): Promise<{ dir: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "egress-apibench-"));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** startServer in a temp dir that is removed if the server does not come up. */
export async function startServerIn(
  tmp: { dir: string; cleanup(): Promise<void> },
  label: string,
): Promise<ServerChild> {
  try {
    return await startServer(tmp.dir, label);
  } catch (e) {
    await tmp.cleanup();
    throw e;
  }
}

/** Total size of the regular files under `dir`. */
export async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) total += await dirBytes(p);
    else if (e.isFile()) total += (await stat(p)).size;
  }
  return total;
}

// ---- HTTPS client --------------------------------------------------------------------------------

export interface Response {
  status: number;
  body: Buffer;
}

export class Client {
  readonly agent: Agent;
  private readonly base: URL;

  /** `sockets`: how many keep-alive connections the agent may hold (one per concurrent client). */
  constructor(
    readonly server: Pick<ServerChild, "url" | "token" | "caPem">,
    sockets = 1,
  ) {
    this.base = new URL(server.url);
    this.agent = new Agent({ keepAlive: true, maxSockets: sockets, ca: server.caPem });
  }

  request(
    method: string,
    path: string,
    body?: string,
    headers: Record<string, string> = {},
  ): Promise<Response> {
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        {
          host: this.base.hostname,
          port: this.base.port,
          path,
          method,
          agent: this.agent,
          headers: {
            Authorization: `Bearer ${this.server.token}`,
            Accept: "application/json",
            ...(body !== undefined
              ? { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) }
              : {}),
            ...headers,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  }

  /** A request that must answer `want`; otherwise throws with the server's Status message. */
  async expect(want: number, method: string, path: string, body?: string, headers?: Record<string, string>) {
    const r = await this.request(method, path, body, headers);
    if (r.status !== want) {
      throw new BenchError(
        `${method} ${path}: want ${want}, got ${r.status}: ${r.body.toString().slice(0, 300)}`,
      );
    }
    return r;
  }

  close(): void {
    this.agent.destroy();
  }
}

export async function createNamespace(c: Client, name: string): Promise<void> {
  await c.expect(
    201,
    "POST",
    "/api/v1/namespaces",
    JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name } }),
  );
}

/** A ConfigMap body of about `bytes` bytes of JSON (the server adds uid, timestamps, version). */
export function configMap(namespace: string, name: string, bytes = 300): string {
  const skeleton = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name, namespace, labels: { app: "bench", tier: "backend" } },
    data: { "config.yaml": "" },
  };
  const pad = Math.max(0, bytes - JSON.stringify(skeleton).length);
  skeleton.data["config.yaml"] = `mode: bench\nvalue: ${"x".repeat(Math.max(0, pad - 20))}\n`;
  return JSON.stringify(skeleton);
}

/** Runs fn(0..total-1) with `concurrency` callers in flight; each caller takes the next index. */
export async function runConcurrent(
  concurrency: number,
  total: number,
  fn: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < total; i = next++) await fn(i);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
}

// ---- statistics and reporting -------------------------------------------------------------------

/** Nearest-rank percentile of an ascending array. */
export function pct(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function median(xs: readonly number[]): number {
  return pct(
    [...xs].sort((a, b) => a - b),
    50,
  );
}

export interface LatencySummary {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export function summarize(xs: readonly number[]): LatencySummary {
  const s = [...xs].sort((a, b) => a - b);
  return {
    n: s.length,
    p50: pct(s, 50),
    p90: pct(s, 90),
    p99: pct(s, 99),
    max: s[s.length - 1] ?? Number.NaN,
  };
}

export const fmtMs = (x: number): string => `${x < 10 ? x.toFixed(2) : x.toFixed(1)} ms`;
export const fmtMB = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

export interface ResultRow {
  area: string;
  metric: string;
  value: string;
  target?: string;
  /** true = target met, false = missed, undefined = no target. */
  ok?: boolean;
}

/** Prints a result and appends it to $BENCH_RESULTS (JSON lines) for run.sh's table. */
export function record(row: ResultRow): void {
  if (!SERVER_FLAGS.includes("--no-controllers")) row = { ...row, area: `${row.area} (with controllers)` };
  const mark = row.ok === undefined ? "" : row.ok ? "  [met]" : "  [MISSED]";
  console.log(
    `${row.area} | ${row.metric}: ${row.value}${row.target ? ` (target ${row.target})` : ""}${mark}`,
  );
  const file = process.env.BENCH_RESULTS;
  if (file) appendFileSync(file, `${JSON.stringify(row)}\n`);
}

/** Load of the machine, to be printed with every run (the machine is shared). */
export function loadAverage(): string {
  return readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
}

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes. */
export function wallNow(): number {
  return performance.timeOrigin + performance.now();
}
