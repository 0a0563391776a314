// Reachability matrices with real packets: one prober process per source pod (probe-script.ts,
// inside the pod's network namespace) tries every target of a round at once; the driver compares
// the observed matrix with the expected one and, when they differ, prints grids in the style of the
// Kubernetes network-policy e2e tests ("X" = connected, "." = blocked) plus a list of the wrong cells.
// Rounds repeat only to wait for convergence (a policy being applied): the matrix must equal the
// expectation in one whole round before the deadline; a cell is never retried on its own, so a flaky
// dataplane is not hidden. Only processes it starts itself are signalled (by pid).
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { FloodRequest, ProbeProtocol, ProbeResponse, ProbeResult, ProbeTarget } from "./probe-script.js";

const SCRIPT = fileURLToPath(new URL("./probe-script.js", import.meta.url));

/** A pod the matrix probes from (and usually to). */
export interface MatrixPod {
  namespace: string;
  name: string;
  node: string;
  ip: string;
  netns: string;
  labels: Record<string, string>;
}

export const podKey = (p: { namespace: string; name: string }): string => `${p.namespace}/${p.name}`;

/** A column: a pod (by key) or an outside address, a port and a protocol. */
export interface Target extends ProbeTarget {
  /** The pod this target is (for expectation functions), if any. */
  pod?: MatrixPod;
}

/** Target helpers. Keys read `<what>:<proto><port>`, e.g. `p1/a:t7000`, `1.2.3.4:u7001`. */
/** Ports the egress/echo image serves as HTTP. */
export const POD_HTTP_PORTS = [8080];

export function podTarget(p: MatrixPod, port: number, protocol: ProbeProtocol = "TCP"): Target {
  return {
    key: `${podKey(p)}:${proto(protocol)}${port}`,
    host: p.ip,
    port,
    protocol,
    pod: p,
    ...(protocol === "TCP" && POD_HTTP_PORTS.includes(port) ? { http: true } : {}),
  };
}

/** An address (or a name resolved through `resolver`). The lab's outside hosts serve HTTP on 80
 *  and 8080 (lab/topology.yaml): those TCP targets are probed with an HTTP request. */
export function addrTarget(
  host: string,
  port: number,
  protocol: ProbeProtocol = "TCP",
  resolver?: string,
): Target {
  return {
    ...(protocol === "TCP" && (port === 80 || port === 8080) ? { http: true } : {}),
    key: `${host}:${proto(protocol)}${protocol === "DNS" ? "" : port}`,
    host,
    port,
    protocol,
    ...(resolver ? { resolver } : {}),
  };
}

const proto = (p: ProbeProtocol) => (p === "TCP" ? "t" : p === "UDP" ? "u" : "dns");

/** One long-lived prober in a pod's network namespace. */
export class Prober {
  private readonly child: ChildProcess;
  private readonly waiting = new Map<number, (r: ProbeResponse) => void>();
  private nextId = 1;
  private stderr = "";
  private readonly ready: Promise<void>;
  private exited = false;

  constructor(readonly netns: string) {
    this.child = spawn("ip", ["netns", "exec", netns, process.execPath, SCRIPT, "serve"], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    let markReady: () => void = () => undefined;
    this.ready = new Promise((r) => {
      markReady = r;
    });
    createInterface({ input: this.child.stdout! }).on("line", (l) => {
      let msg: ProbeResponse & { ready?: boolean };
      try {
        msg = JSON.parse(l) as ProbeResponse & { ready?: boolean };
      } catch {
        return;
      }
      if (msg.ready) return markReady();
      const w = this.waiting.get(msg.id);
      this.waiting.delete(msg.id);
      w?.(msg);
    });
    this.child.stderr!.on("data", (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-2000);
    });
    this.child.once("close", () => {
      this.exited = true;
      markReady();
      for (const w of this.waiting.values()) w({ id: -1, error: `prober exited: ${this.stderr.trim()}` });
      this.waiting.clear();
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  private async send(req: Record<string, unknown>, timeoutMs: number): Promise<ProbeResponse> {
    await this.ready;
    if (this.exited) throw new Error(`prober in ${this.netns} exited: ${this.stderr.trim()}`);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`prober in ${this.netns} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, (r) => {
        clearTimeout(timer);
        if (r.error) reject(new Error(r.error));
        else resolve(r);
      });
      this.child.stdin!.write(`${JSON.stringify({ ...req, id })}\n`);
    });
  }

  async probe(targets: ProbeTarget[], timeoutMs: number): Promise<Record<string, ProbeResult>> {
    const plain = targets.map(({ key, host, port, protocol, resolver, http }) => ({
      key,
      host,
      port,
      protocol,
      ...(resolver ? { resolver } : {}),
      ...(http ? { http } : {}),
    }));
    const r = await this.send({ op: "probe", timeoutMs, targets: plain }, 2 * timeoutMs + 15_000);
    return r.results ?? {};
  }

  async flood(
    target: ProbeTarget,
    o: Omit<FloodRequest, "id" | "op" | "target">,
  ): Promise<NonNullable<ProbeResponse["flood"]>> {
    const { key, host, port, protocol, http } = target;
    const r = await this.send(
      { op: "flood", target: { key, host, port, protocol, ...(http ? { http } : {}) }, ...o },
      o.durationMs + o.timeoutMs + 15_000,
    );
    return r.flood!;
  }

  stop(): void {
    if (this.exited || this.child.pid === undefined) return;
    this.child.stdin!.end();
    try {
      process.kill(this.child.pid, "SIGKILL");
    } catch {
      /* gone */
    }
  }
}

/** Probers by network namespace, started on first use; `stopAll` in `after`. */
export class ProberPool {
  private readonly probers = new Map<string, Prober>();

  get(netns: string): Prober {
    let p = this.probers.get(netns);
    if (!p) {
      p = new Prober(netns);
      this.probers.set(netns, p);
    }
    return p;
  }

  /** Stops the prober of a namespace that is going away (a deleted pod). */
  drop(netns: string): void {
    this.probers.get(netns)?.stop();
    this.probers.delete(netns);
  }

  stopAll(): void {
    for (const p of this.probers.values()) p.stop();
    this.probers.clear();
  }
}

// ------------------------------------------------------------------------------ matrices (pure)

/** row key (source pod) → column key (target) → connected? */
export type Matrix = Map<string, Map<string, boolean>>;

export interface Observation {
  matrix: Matrix;
  details: Map<string, Map<string, ProbeResult>>;
}

export type Expectation = (from: MatrixPod, to: Target) => boolean;

export function expectedMatrix(sources: MatrixPod[], targets: Target[], expect: Expectation): Matrix {
  return new Map(
    sources.map((s) => [
      podKey(s),
      new Map(targets.filter((t) => t.pod !== s).map((t) => [t.key, expect(s, t)])),
    ]),
  );
}

export interface Mismatch {
  from: string;
  to: string;
  expected: boolean;
  observed: boolean;
  detail?: ProbeResult;
}

export function mismatches(expected: Matrix, observed: Observation): Mismatch[] {
  const out: Mismatch[] = [];
  for (const [from, row] of expected)
    for (const [to, want] of row) {
      const got = observed.matrix.get(from)?.get(to) ?? false;
      if (got !== want) {
        const detail = observed.details.get(from)?.get(to);
        out.push({ from, to, expected: want, observed: got, ...(detail ? { detail } : {}) });
      }
    }
  return out;
}

/** A grid: rows = sources, columns = targets; "X" connected, "." blocked, "-" not probed (self),
 *  and in the comparison grid "." = as expected, "X" = wrong. */
export function renderGrid(
  title: string,
  rows: string[],
  cols: string[],
  cell: (r: string, c: string) => string,
): string {
  const w = Math.max(...rows.map((r) => r.length), 4);
  const lines = [title];
  // Column headers are numbered (keys are long); the legend maps numbers to keys.
  lines.push(`${"".padEnd(w)}  ${cols.map((_, i) => String(i + 1).padStart(3)).join("")}`);
  for (const r of rows) lines.push(`${r.padEnd(w)}  ${cols.map((c) => cell(r, c).padStart(3)).join("")}`);
  return lines.join("\n");
}

export function renderComparison(
  expected: Matrix,
  observed: Observation,
  elapsedMs?: number,
  columns?: string[],
): string {
  const rows = [...expected.keys()];
  const cols = columns ?? [...new Set([...expected.values()].flatMap((r) => [...r.keys()]))];
  const mark = (m: Matrix) => (r: string, c: string) => {
    const v = m.get(r)?.get(c);
    return v === undefined ? "-" : v ? "X" : ".";
  };
  const wrong = mismatches(expected, observed);
  const bad = new Set(wrong.map((m) => `${m.from}\u0000${m.to}`));
  return [
    `reachability matrix: ${wrong.length} of ${rows.reduce((n, r) => n + (expected.get(r)?.size ?? 0), 0)} cells wrong${
      elapsedMs === undefined ? "" : ` (last round, ${elapsedMs} ms after the first)`
    }`,
    `columns: ${cols.map((c, i) => `${i + 1}=${c}`).join("  ")}`,
    renderGrid("expected (X = connected, . = blocked):", rows, cols, mark(expected)),
    renderGrid("observed:", rows, cols, mark(observed.matrix)),
    renderGrid("comparison (. = as expected, X = wrong):", rows, cols, (r, c) =>
      expected.get(r)?.get(c) === undefined ? "-" : bad.has(`${r}\u0000${c}`) ? "X" : ".",
    ),
    "wrong cells:",
    ...wrong.map(
      (m) =>
        `  ${m.from} -> ${m.to}: expected ${m.expected ? "connected" : "blocked"}, observed ${
          m.observed ? `connected (seen as ${m.detail?.src ?? "?"})` : `blocked (${m.detail?.err ?? "?"})`
        }`,
    ),
  ].join("\n");
}

// ------------------------------------------------------------------------------ probing

export interface MatrixOptions {
  /** Per-attempt timeout of a connection (ms). */
  timeoutMs?: number;
  /** How long to wait for the matrix to converge to the expectation (ms). */
  deadlineMs?: number;
}

/** One round: every source probes every target (except itself) at once. */
export async function observe(
  pool: ProberPool,
  sources: MatrixPod[],
  targets: Target[],
  timeoutMs: number,
): Promise<Observation> {
  const rows = await Promise.all(
    sources.map(async (s) => {
      const mine = targets.filter((t) => t.pod !== s);
      return [podKey(s), await pool.get(s.netns).probe(mine, timeoutMs)] as const;
    }),
  );
  const matrix: Matrix = new Map();
  const details = new Map<string, Map<string, ProbeResult>>();
  for (const [row, results] of rows) {
    matrix.set(row, new Map(Object.entries(results).map(([k, v]) => [k, v.ok])));
    details.set(row, new Map(Object.entries(results)));
  }
  return { matrix, details };
}

export class MatrixError extends Error {
  override name = "MatrixError";
  constructor(
    message: string,
    readonly wrong: Mismatch[],
  ) {
    super(message);
  }
}

/** Probes rounds until the whole matrix equals the expectation or the deadline passes; throws a
 *  MatrixError with the grids of the last round. Returns the time from the first round's start to
 *  the end of the matching round; `o.matched` receives the wall-clock start of the matching round
 *  (its connections were sent then, so the state it saw was in place by then). */
export async function assertMatrix(
  pool: ProberPool,
  sources: MatrixPod[],
  targets: Target[],
  expect: Expectation,
  o: MatrixOptions & { what?: string; matched?: (roundStartedAt: number) => void } = {},
): Promise<number> {
  const timeoutMs = o.timeoutMs ?? 1000;
  const deadline = Date.now() + (o.deadlineMs ?? 5000);
  const want = expectedMatrix(sources, targets, expect);
  const t0 = Date.now();
  for (;;) {
    const roundStart = Date.now();
    const seen = await observe(pool, sources, targets, timeoutMs);
    const wrong = mismatches(want, seen);
    if (wrong.length === 0) {
      o.matched?.(roundStart);
      return Date.now() - t0;
    }
    if (Date.now() > deadline)
      throw new MatrixError(
        `${o.what ? `${o.what}: ` : ""}${renderComparison(
          want,
          seen,
          Date.now() - t0,
          targets.map((t) => t.key),
        )}`,
        wrong,
      );
    await new Promise((r) => setTimeout(r, 100));
  }
}
