// Reachability prober for egress-assignable nodes: `GET <health endpoint>` on a fixed tick per node,
// each probe bounded by a timeout; a node becomes unreachable after `failures` consecutive failed
// probes and reachable again after one success. Probes run on a fixed tick whether or not the
// previous one has answered, so the worst-case detection time is interval × failures + timeout.
// It only observes and reports state changes; it never touches the API.
import { Agent, request } from "node:http";

/** Answers true when the endpoint said 200 within the timeout. `deadlineMs` (sent to the node as
 *  PROBE_DEADLINE_HEADER) is how soon after a probe it answered the node can be declared unreachable. */
export type ProbeFn = (url: string, timeoutMs: number, deadlineMs?: number) => Promise<boolean>;

/**
 * Request header telling the probed node the earliest time, in ms after a probe it answered, at which
 * the prober may declare it unreachable (failures × interval + timeout). A node that hears no probe
 * for (nearly) that long is cut off from the controller and drops its egress IPs before another node
 * can be given them (the agent's self-fence, docs/egressip.md).
 */
export const PROBE_DEADLINE_HEADER = "x-egress-unreachable-after-ms";

export interface ProberOptions {
  intervalMs: number;
  timeoutMs: number;
  /** Consecutive failed probes before a node counts as unreachable (≥ 1). */
  failures: number;
  /** Called on every change of a node's state (including the first result). */
  onChange: (node: string, reachable: boolean, previous: boolean | undefined) => void;
  probe?: ProbeFn;
}

interface Target {
  url: string | undefined;
  timer: NodeJS.Timeout | undefined;
  seq: number;
  applied: number;
  failed: number;
  inflight: number;
  reachable: boolean | undefined;
  settled: (() => void)[];
}

/** HTTP/1.1 GET with keep-alive (a probe is then one small request on an open connection). */
export function httpProbe(agent = new Agent({ keepAlive: true, maxSockets: 4 })): ProbeFn {
  return (url, timeoutMs, deadlineMs) =>
    new Promise<boolean>((resolve) => {
      let done = false;
      let timer: NodeJS.Timeout | undefined;
      const finish = (ok: boolean) => {
        if (done) return;
        done = true;
        if (timer) clearTimeout(timer);
        resolve(ok);
      };
      let u: URL;
      try {
        u = new URL(url);
      } catch {
        finish(false);
        return;
      }
      if (u.protocol !== "http:") {
        finish(false);
        return;
      }
      const headers = deadlineMs === undefined ? {} : { [PROBE_DEADLINE_HEADER]: String(deadlineMs) };
      const req = request(u, { method: "GET", agent, headers }, (res) => {
        const ok = res.statusCode === 200;
        res.on("error", () => finish(false));
        res.on("end", () => finish(ok));
        res.resume();
      });
      req.on("error", () => finish(false));
      // The verdict waits for the poll phase after the timer: when this process's event loop was
      // stalled (GC, a long run, a loaded machine), the timer and an answer that arrived meanwhile
      // are due at once, and timers run first. setImmediate lets the answer be read before the
      // probe counts as failed, so a stall here never makes a healthy node look unreachable.
      timer = setTimeout(() => {
        setImmediate(() => {
          finish(false);
          req.destroy();
        });
      }, timeoutMs);
      req.end();
    });
}

export class Prober {
  private readonly targets = new Map<string, Target>();
  private readonly probe: ProbeFn;
  private readonly maxInflight: number;
  private readonly deadlineMs: number;
  private stopped = false;

  constructor(private readonly opts: ProberOptions) {
    this.probe = opts.probe ?? httpProbe();
    // Enough overlapping probes to keep the fixed tick while earlier ones wait for their timeout.
    this.maxInflight = Math.ceil(opts.timeoutMs / opts.intervalMs) + 1;
    // After the last answered probe, `failures` more must be sent (one per tick at the earliest) and
    // time out before the node is declared unreachable.
    this.deadlineMs = opts.failures * opts.intervalMs + opts.timeoutMs;
  }

  /** Known state: true/false, or undefined before the first result. */
  isReachable(node: string): boolean | undefined {
    return this.targets.get(node)?.reachable;
  }

  get nodes(): string[] {
    return [...this.targets.keys()];
  }

  /** Starts probing `node` at `url` (restarts when the URL changed). A node without an endpoint is
   *  unreachable at once. */
  set(node: string, url: string | undefined): void {
    if (this.stopped) return;
    const t = this.targets.get(node);
    if (t && t.url === url) return;
    if (t?.timer) clearInterval(t.timer);
    const nt: Target = t ?? {
      url,
      timer: undefined,
      seq: 0,
      applied: 0,
      failed: 0,
      inflight: 0,
      reachable: undefined,
      settled: [],
    };
    nt.url = url;
    nt.failed = 0;
    nt.applied = nt.seq; // results of probes against the old URL are stale
    this.targets.set(node, nt);
    if (url === undefined) {
      nt.timer = undefined;
      this.apply(node, nt, false);
      return;
    }
    nt.timer = setInterval(() => this.tick(node, nt), this.opts.intervalMs);
    nt.timer.unref();
    this.tick(node, nt);
  }

  delete(node: string): void {
    const t = this.targets.get(node);
    if (!t) return;
    if (t.timer) clearInterval(t.timer);
    this.targets.delete(node);
    for (const r of t.settled) r();
  }

  /** Resolves once every current target has a first result (or after `ms`). */
  async settled(ms: number): Promise<void> {
    const waits = [...this.targets.values()]
      .filter((t) => t.reachable === undefined)
      .map((t) => new Promise<void>((r) => t.settled.push(r)));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(waits),
      new Promise<void>((r) => {
        timer = setTimeout(r, ms);
      }),
    ]);
    if (timer) clearTimeout(timer);
  }

  stop(): void {
    this.stopped = true;
    for (const n of [...this.targets.keys()]) this.delete(n);
  }

  private tick(node: string, t: Target): void {
    if (this.stopped || t.inflight >= this.maxInflight || t.url === undefined) return;
    const seq = ++t.seq;
    const url = t.url;
    t.inflight++;
    void this.probe(url, this.opts.timeoutMs, this.deadlineMs)
      .catch(() => false)
      .then((ok) => {
        t.inflight--;
        // Results may arrive out of order (a timeout after a later fast answer): the newest wins.
        if (this.targets.get(node) !== t || seq <= t.applied) return;
        t.applied = seq;
        if (ok) {
          t.failed = 0;
          this.apply(node, t, true);
        } else {
          t.failed++;
          if (t.failed >= this.opts.failures || t.reachable === undefined) this.apply(node, t, false);
        }
      });
  }

  private apply(node: string, t: Target, reachable: boolean): void {
    const prev = t.reachable;
    t.reachable = reachable;
    const s = t.settled;
    t.settled = [];
    for (const r of s) r();
    if (prev !== reachable) this.opts.onChange(node, reachable, prev);
  }
}
