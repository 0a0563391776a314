// Failover probes and lab plumbing shared by test/e2e/lab/egressip.test.ts and bench/lab/.
//
// Run as a script inside a pod's network namespace it is the probe itself and prints one JSON line
// per observation on stdout (pipes are synchronous on Linux, so nothing is lost on SIGTERM):
//   node probe.js connect <host> <port> <intervalMs> <timeoutMs>   a new TCP connection every
//       interval (they do not wait for one another), each bounded by timeout; the echo server's
//       first line names the source address it saw.
//   node probe.js burst <host> <port> <count> <timeoutMs>         `count` connections in a row, then
//       exit (same records as connect).
//   node probe.js stream <host> <port> <intervalMs> <timeoutMs>    one long-lived connection that
//       sends a sequence number every interval and expects it echoed back.
// Imported, it drives a lab: `lab up/down`, status, the EgressIP status, starting probes in pods,
// cutting a node's link, restarting an agent, and the outage arithmetic. It only ever enters
// namespaces of the lab id it was given and only signals processes it started itself (or, when a
// test asks for it, one agent pid read from that lab's own state file).
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Client } from "../../../src/controllers/runtime/client.js";
import { currentGenerationListing } from "../../../src/dataplane/nft/generations.js";
import type { LabStatus } from "../../../src/lab/status.js";

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes. */
export const now = (): number => performance.timeOrigin + performance.now();
const PROBE_JS = fileURLToPath(import.meta.url);
const ENTRY = fileURLToPath(new URL("../../../src/lab/cli-entry.js", import.meta.url));

// ---------------------------------------------------------------------------------------------
// The probe (script side)

export interface ConnectRecord {
  kind: "connect";
  /** Start and end of the attempt (ms, wall clock). */
  t0: number;
  t1: number;
  ok: boolean;
  /** Source address the server saw (no port), when ok. */
  src?: string;
  err?: string;
}

export interface StreamRecord {
  kind: "hello" | "echo" | "late" | "closed";
  t: number;
  src?: string;
  seq?: number;
  rttMs?: number;
  err?: string;
}

function emit(rec: object): void {
  process.stdout.write(`${JSON.stringify(rec)}\n`);
}

function connectProbe(host: string, port: number, intervalMs: number, timeoutMs: number): void {
  const once = () => {
    const t0 = now();
    let done = false;
    let buf = "";
    const s = net.connect(port, host);
    const finish = (ok: boolean, extra: { src?: string; err?: string }) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      emit({ kind: "connect", t0, t1: now(), ok, ...extra });
    };
    const timer = setTimeout(() => finish(false, { err: "TIMEOUT" }), timeoutMs);
    s.setNoDelay(true);
    s.on("data", (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf("\n");
      if (nl >= 0) finish(true, { src: buf.slice(0, nl).replace(/:\d+$/, "") });
    });
    s.on("error", (e: NodeJS.ErrnoException) => finish(false, { err: e.code ?? e.message }));
    s.on("close", () => finish(false, { err: "CLOSED" }));
  };
  once();
  setInterval(once, intervalMs);
}

/** `n` connections one after the other, then exit. */
async function burstProbe(host: string, port: number, n: number, timeoutMs: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await new Promise<void>((resolve) => {
      const t0 = now();
      let buf = "";
      let done = false;
      const s = net.connect(port, host);
      const finish = (ok: boolean, extra: { src?: string; err?: string }) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        s.destroy();
        emit({ kind: "connect", t0, t1: now(), ok, ...extra });
        resolve();
      };
      const timer = setTimeout(() => finish(false, { err: "TIMEOUT" }), timeoutMs);
      s.on("data", (d: Buffer) => {
        buf += d.toString();
        const nl = buf.indexOf("\n");
        if (nl >= 0) finish(true, { src: buf.slice(0, nl).replace(/:\d+$/, "") });
      });
      s.on("error", (e: NodeJS.ErrnoException) => finish(false, { err: e.code ?? e.message }));
      s.on("close", () => finish(false, { err: "CLOSED" }));
    });
  }
  process.exit(0);
}

function streamProbe(host: string, port: number, intervalMs: number, timeoutMs: number): void {
  const s = net.connect(port, host);
  s.setNoDelay(true);
  let buf = "";
  let hello = false;
  let seq = 0;
  const pending = new Map<number, number>();
  s.on("data", (d: Buffer) => {
    buf += d.toString();
    for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (!hello) {
        hello = true;
        emit({ kind: "hello", t: now(), src: line.replace(/:\d+$/, "") });
        setInterval(() => {
          const n = ++seq;
          pending.set(n, now());
          s.write(`${n}\n`);
        }, intervalMs);
        continue;
      }
      const n = Number(line);
      const sent = pending.get(n);
      if (sent === undefined) continue;
      pending.delete(n);
      const rtt = now() - sent;
      emit({ kind: rtt <= timeoutMs ? "echo" : "late", t: now(), seq: n, rttMs: rtt });
    }
  });
  const closed = (err: string) => {
    emit({ kind: "closed", t: now(), err });
    process.exit(0);
  };
  s.on("error", (e: NodeJS.ErrnoException) => closed(e.code ?? e.message));
  s.on("close", () => closed("CLOSED"));
}

// ---------------------------------------------------------------------------------------------
// Running things

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function sh(argv: string[], timeoutMs = 20_000): RunResult {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8", timeout: timeoutMs });
  return { code: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? String(r.error ?? "") };
}

export function shOk(argv: string[], timeoutMs = 20_000): string {
  const r = sh(argv, timeoutMs);
  if (r.code !== 0) throw new Error(`${argv.join(" ")} exited ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a value other than undefined/false, or throws after timeoutMs. */
export async function waitFor<T>(
  what: string,
  fn: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs: number,
  stepMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(stepMs);
  }
}

/** Lab e2e tests and benches need root, ip, nft, arping and dnsmasq. */
export const labSkip = (): string | false =>
  process.getuid?.() !== 0
    ? "needs root"
    : ["ip", "nft", "arping", "nsenter"].find((b) => sh(["sh", "-c", `command -v ${b}`]).code !== 0)
      ? "needs ip, nft, arping and nsenter"
      : !existsSync("/usr/sbin/dnsmasq")
        ? "needs dnsmasq"
        : false;

// ---------------------------------------------------------------------------------------------
// A lab

export interface EgressAssignment {
  node: string;
  egressIP: string;
}

export type PodInfo = LabStatus["pods"][number];

export class Lab {
  readonly id: string;
  readonly base: string;
  readonly stateDir: string;
  private client?: Client;
  /** Processes this Lab object started itself (restarted agents); killed by `down`. */
  readonly ownPids = new Set<number>();
  private readonly restartedAgents = new Map<string, number>();

  /** A new lab id (prefix + 8 hex digits) with a temporary state dir; or, with `attach`, an existing
   *  lab (debugging: `new Lab("", { id: "main", stateDir: ".lab/main" })`). */
  constructor(prefix = "e", attach?: { id: string; stateDir: string }) {
    this.id = attach?.id ?? `${prefix}${randomBytes(4).toString("hex")}`.slice(0, 12);
    this.base = attach ? "" : mkdtempSync(join(tmpdir(), "egl-eip-"));
    this.stateDir = attach?.stateDir ?? join(this.base, "state");
  }

  ns(host: string): string {
    return `egl-${this.id}-${host}`;
  }

  cli(args: string[], timeoutMs = 90_000): RunResult {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      EGRESS_LOG_LEVEL: process.env.EGRESS_LOG_LEVEL ?? "info",
    };
    delete env.NODE_TEST_CONTEXT;
    const r = spawnSync(
      process.execPath,
      [ENTRY, "lab", ...args, "--id", this.id, "--state-dir", this.stateDir],
      {
        encoding: "utf8",
        timeout: timeoutMs,
        env,
      },
    );
    return { code: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? String(r.error ?? "") };
  }

  up(extra: string[] = ["--example", "seed"]): void {
    const r = this.cli(["up", ...extra], 120_000);
    if (r.code !== 0) throw new Error(`lab up failed (${r.code}):\n${r.stderr}\n${r.stdout}`);
  }

  /** Kills what this object started, then `lab down`; returns the down result. */
  down(): RunResult {
    for (const pid of this.ownPids) killPid(pid);
    this.ownPids.clear();
    const r = this.cli(["down"], 60_000);
    return r;
  }

  removeBase(): void {
    if (this.base) rmSync(this.base, { recursive: true, force: true });
  }

  status(): LabStatus {
    const r = this.cli(["status", "--output", "json"], 30_000);
    if (r.code !== 0) throw new Error(`lab status failed: ${r.stderr}`);
    return JSON.parse(r.stdout) as LabStatus;
  }

  /** The API client (loaded lazily: the probe script must start fast and not load it). */
  async api(): Promise<Client> {
    if (!this.client) {
      const { Client } = await import("../../../src/controllers/runtime/client.js");
      this.client = Client.fromFile(join(this.stateDir, "kubeconfig"));
    }
    return this.client;
  }

  async egressIPStatus(name = "egressips-prod"): Promise<EgressAssignment[]> {
    const o = await (await this.api()).request<{ status?: { items?: EgressAssignment[] } }>(
      "GET",
      `/apis/k8s.ovn.org/v1/egressips/${name}`,
    );
    return [...(o.status?.items ?? [])].sort((a, b) => a.egressIP.localeCompare(b.egressIP));
  }

  /** Waits until every pod is Running with an IP and the EgressIP has `count` items. */
  async waitSeedReady(count = 2, timeoutMs = 60_000): Promise<{ pods: PodInfo[]; eips: EgressAssignment[] }> {
    return waitFor(
      "seed pods Running and EgressIP assigned",
      async () => {
        const st = this.status();
        const pods = st.pods;
        if (pods.length < 6 || !pods.every((p) => p.phase === "Running" && p.ip)) return undefined;
        const eips = await this.egressIPStatus();
        if (eips.length !== count) return undefined;
        // And the holders really carry the addresses (agents have applied).
        for (const e of eips) if (!this.addressHolders(e.egressIP).includes(e.node)) return undefined;
        return { pods, eips };
      },
      timeoutMs,
      250,
    );
  }

  /** Waits until the EgressIP has `count` items, each address is on its holder and nowhere else,
   *  and nothing changed for `quietMs` (assignments can flap after a move; see docs/lab.md). Only
   *  `nodes` are looked at (leave out a node that is cut off: it keeps its addresses). */
  async waitStable(
    count = 2,
    quietMs = 1500,
    timeoutMs = 20_000,
    nodes = ["node1", "node2", "node3"],
  ): Promise<EgressAssignment[]> {
    let last = "";
    let since = Date.now();
    return waitFor(
      `EgressIP assignments stable for ${quietMs} ms`,
      async () => {
        const eips = await this.egressIPStatus();
        const where = eips
          .map((e) => `${e.egressIP}=${e.node}:${this.addressHolders(e.egressIP, nodes).join(",")}`)
          .join(" ");
        if (where !== last) {
          last = where;
          since = Date.now();
        }
        const ok =
          eips.length === count &&
          eips.every((e) => this.addressHolders(e.egressIP, nodes).join() === e.node);
        return ok && Date.now() - since >= quietMs ? eips : undefined;
      },
      timeoutMs,
      200,
    );
  }

  /** Nodes whose namespace has `ip` on some interface. */
  addressHolders(ip: string, nodes = ["node1", "node2", "node3"]): string[] {
    return nodes.filter((n) => {
      const r = sh(["ip", "-n", this.ns(n), "-o", "-4", "addr", "show"]);
      return r.stdout.split("\n").some((l) => l.includes(` inet ${ip}/`));
    });
  }

  /** Sets the fabric side of `<host>`'s eth0 down (cut) or up (restore). */
  link(host: string, state: "up" | "down"): void {
    shOk(["ip", "-n", this.ns("fabric"), "link", "set", `${host}-eth0`, state]);
  }

  /** `nft list table inet egress-node` in a node, without handles, as its live generation with the
   *  generation suffixes stripped (src/dataplane/nft/generations.ts): stable across re-applies. */
  nftTable(node: string): string {
    return currentGenerationListing(
      shOk(["ip", "netns", "exec", this.ns(node), "nft", "list", "table", "inet", "egress-node"]).replace(
        /\s*# handle \d+/g,
        "",
      ),
    ).trim();
  }

  mac(node: string, dev = "eth0"): string {
    const j = JSON.parse(shOk(["ip", "-n", this.ns(node), "-j", "link", "show", dev])) as {
      address: string;
    }[];
    return j[0]!.address.toLowerCase();
  }

  /** MACs that answer ARP for `ip`, as seen from external host `from`, over `durationMs`: a new
   *  `arping -b -c 2 -w 1` every `stepMs` (iputils takes whole seconds only, so they overlap; each
   *  broadcasts, and each sees every reply on the segment). A process exits early once it has two
   *  replies, so a second answerer shows up within ~stepMs of appearing. */
  async arpAnswers(ip: string, durationMs: number, stepMs = 100, from = "ext1"): Promise<string[]> {
    const macs = new Set<string>();
    const running: Promise<unknown>[] = [];
    const end = Date.now() + durationMs;
    while (Date.now() < end) {
      const child = spawn(
        "ip",
        ["netns", "exec", this.ns(from), "arping", "-b", "-c", "2", "-w", "1", "-I", "eth0", ip],
        {
          stdio: ["ignore", "pipe", "ignore"],
        },
      );
      let out = "";
      child.stdout.on("data", (d: Buffer) => {
        out += d.toString();
      });
      running.push(
        new Promise((r) => child.once("close", r)).then(() => {
          for (const m of out.matchAll(/reply from [\d.]+ \[([0-9A-Fa-f:]+)\]/g))
            macs.add(m[1]!.toLowerCase());
        }),
      );
      await sleep(stepMs);
    }
    await Promise.all(running);
    return [...macs].sort();
  }

  /** The link-layer address external host `from` has cached for `ip` ("" if none). */
  neighbour(ip: string, from = "ext1"): string {
    const j = JSON.parse(shOk(["ip", "-n", this.ns(from), "-j", "neigh", "show", ip])) as {
      lladdr?: string;
    }[];
    return (j[0]?.lladdr ?? "").toLowerCase();
  }

  /** Creates a pod bound to `node` (no scheduler) and waits until it runs with an IP. */
  async createPod(namespace: string, name: string, node: string, image = "egress/client"): Promise<PodInfo> {
    await (await this.api()).request("POST", `/api/v1/namespaces/${namespace}/pods`, {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name, namespace },
      spec: { nodeName: node, containers: [{ name: "main", image }] },
    });
    return waitFor(
      `pod ${namespace}/${name} Running on ${node}`,
      () =>
        this.status().pods.find(
          (p) => p.namespace === namespace && p.name === name && p.phase === "Running" && p.ip,
        ),
      30_000,
      250,
    );
  }

  /** Pid and argv of a node's agent from the lab's state file (or the one we restarted). */
  agentRecord(node: string): { pid: number | null; argv: string[]; netns: string } {
    const st = JSON.parse(readFileSync(join(this.stateDir, "state.json"), "utf8")) as {
      processes: { name: string; pid: number | null; argv: string[]; netns: string }[];
    };
    const p = st.processes.find((x) => x.name === `agent/${node}`);
    if (!p) throw new Error(`no agent/${node} in the lab's state file`);
    return p;
  }

  /** The running agent of `node`: the one this object restarted last, else the one `lab up` started. */
  agentPid(node: string): number | null {
    return this.restartedAgents.get(node) ?? this.agentRecord(node).pid;
  }

  /** Starts an agent again as `lab up` does (nsenter --net, the recorded argv, detached, lab id in
   *  the environment); output appended to `logPath`. The pid is killed by `down`. */
  async restartAgent(node: string, logPath: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<number> {
    const rec = this.agentRecord(node);
    const out = openSync(logPath, "a", 0o600);
    try {
      const env: NodeJS.ProcessEnv = { ...process.env, EGRESS_LAB_ID: this.id, ...extraEnv };
      delete env.NODE_TEST_CONTEXT;
      const child = spawn("nsenter", [`--net=/var/run/netns/${rec.netns}`, "--", ...rec.argv], {
        detached: true,
        stdio: ["ignore", out, out],
        env,
      });
      await new Promise<void>((resolve, reject) => {
        child.once("spawn", () => resolve());
        child.once("error", reject);
      });
      child.unref();
      this.ownPids.add(child.pid!);
      this.restartedAgents.set(node, child.pid!);
      return child.pid!;
    } finally {
      closeSync(out);
    }
  }

  /** Starts a probe inside the network namespace `netns` (a pod's). */
  probe(
    netns: string,
    mode: "connect" | "stream" | "burst",
    host: string,
    port: number,
    intervalMs: number,
    timeoutMs: number,
  ) {
    return new Probe(netns, mode, host, port, intervalMs, timeoutMs);
  }
}

export function killPid(pid: number, signal: NodeJS.Signals = "SIGKILL"): void {
  try {
    process.kill(pid, signal);
  } catch {
    /* already gone */
  }
}

export function pidAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/\) Z /.test(stat);
  } catch {
    return false;
  }
}

/** A probe process in a pod namespace; collects its JSON lines. */
export class Probe {
  readonly records: (ConnectRecord | StreamRecord)[] = [];
  private readonly child: ChildProcess;
  private readonly exited: Promise<void>;
  private stderr = "";

  constructor(
    netns: string,
    mode: string,
    host: string,
    port: number,
    intervalMs: number,
    timeoutMs: number,
  ) {
    this.child = spawn(
      "ip",
      [
        "netns",
        "exec",
        netns,
        process.execPath,
        PROBE_JS,
        mode,
        host,
        String(port),
        String(intervalMs),
        String(timeoutMs),
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    createInterface({ input: this.child.stdout! }).on("line", (l) => {
      try {
        this.records.push(JSON.parse(l) as ConnectRecord | StreamRecord);
      } catch {
        /* not ours */
      }
    });
    this.child.stderr!.on("data", (d: Buffer) => {
      this.stderr += d.toString();
    });
    this.exited = new Promise((r) => this.child.once("close", () => r()));
  }

  get connects(): ConnectRecord[] {
    return this.records.filter((r): r is ConnectRecord => r.kind === "connect");
  }

  get streams(): StreamRecord[] {
    return this.records.filter((r): r is StreamRecord => r.kind !== "connect");
  }

  /** Waits until `n` records have arrived. */
  async ready(n = 1, timeoutMs = 10_000): Promise<void> {
    try {
      await waitFor("probe output", () => this.records.length >= n, timeoutMs);
    } catch (e) {
      // The probe's stderr and exit as they are now (e.g. `ip netns exec` refusing a missing namespace).
      const { exitCode, signalCode } = this.child;
      throw new Error(
        `${(e as Error).message}; probe exit ${exitCode ?? signalCode ?? "none"}, stderr: ${this.stderr.trim()}`,
      );
    }
  }

  /** Waits for the probe to exit on its own (burst mode). */
  async finished(timeoutMs = 30_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.exited,
      new Promise<void>((_, reject) => {
        timer = setTimeout(() => {
          this.child.kill("SIGKILL");
          reject(new Error(`probe did not finish in ${timeoutMs} ms (stderr: ${this.stderr.trim()})`));
        }, timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGTERM");
    await this.exited;
  }
}

// ---------------------------------------------------------------------------------------------
// Outage arithmetic (pure)

export interface Outage {
  /** ms from the cut to the end of the first successful probe after the last failed one; 0 when
   *  no probe failed. */
  outageMs: number;
  failed: number;
  ok: number;
  /** ms from the cut to the start of the first / last failed probe (undefined if none). */
  firstFailMs?: number;
  lastFailMs?: number;
  /** Source addresses of successful probes: before the cut, from the cut until the outage ended,
   *  and after. */
  before: Record<string, number>;
  during: Record<string, number>;
  after: Record<string, number>;
  /** Probes that ended after the cut that were seen with a source not in `allowed`. */
  leaks: ConnectRecord[];
}

const count = (recs: ConnectRecord[]): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const r of recs) if (r.src) out[r.src] = (out[r.src] ?? 0) + 1;
  return out;
};

export function outage(records: ConnectRecord[], cutAt: number, allowed: readonly string[]): Outage {
  const recs = [...records].sort((a, b) => a.t0 - b.t0);
  const failures = recs.filter((r) => !r.ok && r.t1 > cutAt);
  const lastFail = failures.at(-1);
  let end = cutAt;
  let outageMs = 0;
  if (lastFail) {
    const firstOk = recs.find((r) => r.ok && r.t0 > lastFail.t0);
    end = firstOk ? firstOk.t1 : Number.POSITIVE_INFINITY;
    outageMs = end - cutAt;
  }
  const oks = recs.filter((r) => r.ok);
  return {
    outageMs,
    failed: failures.length,
    ok: oks.filter((r) => r.t1 > cutAt).length,
    firstFailMs: failures[0] && failures[0].t0 - cutAt,
    lastFailMs: lastFail && lastFail.t0 - cutAt,
    before: count(oks.filter((r) => r.t1 <= cutAt)),
    during: count(oks.filter((r) => r.t1 > cutAt && r.t1 < end)),
    after: count(oks.filter((r) => r.t1 >= end)),
    leaks: oks.filter((r) => r.t1 > cutAt && !allowed.includes(r.src ?? "")),
  };
}

// ---------------------------------------------------------------------------------------------

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [mode, host, port, interval, timeout] = process.argv.slice(2);
  process.on("SIGTERM", () => process.exit(0));
  if (mode === "connect") connectProbe(host!, Number(port), Number(interval), Number(timeout));
  else if (mode === "burst") void burstProbe(host!, Number(port), Number(interval), Number(timeout));
  else if (mode === "stream") streamProbe(host!, Number(port), Number(interval), Number(timeout));
  else {
    process.stderr.write(
      `usage: probe.js connect|stream HOST PORT INTERVAL_MS TIMEOUT_MS | burst HOST PORT COUNT TIMEOUT_MS\n`,
    );
    process.exit(2);
  }
}
