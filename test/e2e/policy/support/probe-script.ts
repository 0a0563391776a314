// The prober that runs inside a pod's network namespace (`ip netns exec <pod netns> node
// probe-script.js`), started by matrix.ts. It reads one JSON request per line on stdin and answers
// each with one JSON line on stdout, so one process per source pod serves every round of a matrix
// without paying node's start-up again:
//   {"id":1,"op":"probe","timeoutMs":800,"targets":[{"key":"…","host":"10.128.0.5","port":7000,"protocol":"TCP"}]}
//     tries every target at once; TCP succeeds when the echo server's first line arrives (it names
//     the source address it saw), UDP when the reply datagram arrives, DNS when the resolver
//     answers. A target with `resolver` is a name resolved through that server first.
//   {"id":2,"op":"flood","target":{…},"durationMs":3000,"intervalMs":10,"timeoutMs":300}
//     a new connection every interval for the duration (not waiting for one another); answers with
//     the count of attempts and every success (the atomicity test expects none).
// Must not decide anything: it reports what happened, the driver compares.
import { createSocket } from "node:dgram";
import { Resolver } from "node:dns/promises";
import net from "node:net";
import { performance } from "node:perf_hooks";
import { createInterface } from "node:readline";

export type ProbeProtocol = "TCP" | "UDP" | "DNS";

export interface ProbeTarget {
  /** Column key, unique within a request. */
  key: string;
  /** Address, or a name when `resolver` is set (or protocol DNS). */
  host: string;
  port: number;
  protocol: ProbeProtocol;
  /** DNS server to resolve `host` with (plain address, port 53). */
  resolver?: string;
  /** TCP target is an HTTP echo server: send a request, read the body. */
  http?: boolean;
}

export interface ProbeResult {
  ok: boolean;
  /** Source address the echo server saw (TCP/UDP), or the resolved addresses (DNS). */
  src?: string;
  /** Why it failed: TIMEOUT, ECONNREFUSED, DNS:<code> ... */
  err?: string;
  ms: number;
}

export interface ProbeRequest {
  id: number;
  op: "probe";
  timeoutMs: number;
  targets: ProbeTarget[];
}

export interface FloodRequest {
  id: number;
  op: "flood";
  target: ProbeTarget;
  durationMs: number;
  intervalMs: number;
  timeoutMs: number;
}

export interface ProbeResponse {
  id: number;
  results?: Record<string, ProbeResult>;
  flood?: { attempts: number; failures: number; successes: { t: number; src?: string }[] };
  error?: string;
}

const now = (): number => performance.timeOrigin + performance.now();

async function resolveName(name: string, server: string, timeoutMs: number): Promise<string[]> {
  const r = new Resolver({ timeout: timeoutMs, tries: 1 });
  r.setServers([server]);
  return r.resolve4(name);
}

/** The `<ip>:<port>` line an echo server sent (plain, or as an HTTP body), once complete. */
function sourceLine(buf: string): string | undefined {
  if (buf.startsWith("HTTP/")) {
    // Any complete response counts (a health endpoint's 404 too); the body names the source when
    // it is an echo server (headers and body arrive together: one write on the server side).
    const end = buf.indexOf("\r\n\r\n");
    if (end < 0) return undefined;
    return buf
      .slice(end + 4)
      .split("\n")[0]!
      .replace(/:\d+$/, "");
  }
  const nl = buf.indexOf("\n");
  return nl < 0 ? undefined : buf.slice(0, nl).replace(/:\d+$/, "");
}

function tcp(
  host: string,
  port: number,
  timeoutMs: number,
  http: boolean,
): Promise<{ ok: boolean; src?: string; err?: string }> {
  return new Promise((resolve) => {
    let buf = "";
    let done = false;
    const s = net.connect(port, host);
    const finish = (v: { ok: boolean; src?: string; err?: string }) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => finish({ ok: false, err: "TIMEOUT" }), timeoutMs);
    // Echo servers send their line at once (and may close before reading: nothing is written to
    // them); HTTP echo servers answer a request. Both name the source address they saw.
    if (http) s.on("connect", () => s.write("GET / HTTP/1.0\r\n\r\n"));
    s.on("data", (d: Buffer) => {
      buf += d.toString();
      const src = sourceLine(buf);
      if (src !== undefined) finish({ ok: true, src });
    });
    s.on("error", (e: NodeJS.ErrnoException) => finish({ ok: false, err: e.code ?? e.message }));
    s.on("close", () => finish({ ok: false, err: "CLOSED" }));
  });
}

function udp(
  host: string,
  port: number,
  timeoutMs: number,
): Promise<{ ok: boolean; src?: string; err?: string }> {
  return new Promise((resolve) => {
    const u = createSocket("udp4");
    let done = false;
    const finish = (v: { ok: boolean; src?: string; err?: string }) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      u.close();
      resolve(v);
    };
    const timer = setTimeout(() => finish({ ok: false, err: "TIMEOUT" }), timeoutMs);
    u.on("message", (m: Buffer) =>
      finish({ ok: true, src: m.toString().split("\n")[0]!.replace(/:\d+$/, "") }),
    );
    u.on("error", (e: NodeJS.ErrnoException) => finish({ ok: false, err: e.code ?? e.message }));
    u.send("probe", port, host);
  });
}

async function probeOne(t: ProbeTarget, timeoutMs: number): Promise<ProbeResult> {
  const t0 = now();
  const done = (v: { ok: boolean; src?: string; err?: string }): ProbeResult => ({
    ...v,
    ms: Math.round(now() - t0),
  });
  let host = t.host;
  if (t.protocol === "DNS" || t.resolver) {
    try {
      const addrs = await resolveName(t.host, t.resolver ?? t.host, timeoutMs);
      if (t.protocol === "DNS") return done({ ok: true, src: addrs.join(",") });
      if (!addrs[0]) return done({ ok: false, err: "DNS:NOADDR" });
      host = addrs[0];
    } catch (e) {
      return done({ ok: false, err: `DNS:${(e as NodeJS.ErrnoException).code ?? String(e)}` });
    }
  }
  return done(
    t.protocol === "UDP"
      ? await udp(host, t.port, timeoutMs)
      : await tcp(host, t.port, timeoutMs, t.http === true),
  );
}

async function flood(r: FloodRequest): Promise<ProbeResponse> {
  const successes: { t: number; src?: string }[] = [];
  let attempts = 0;
  let failures = 0;
  const running: Promise<void>[] = [];
  const end = now() + r.durationMs;
  while (now() < end) {
    attempts++;
    running.push(
      probeOne(r.target, r.timeoutMs).then((res) => {
        if (res.ok) successes.push({ t: now(), ...(res.src ? { src: res.src } : {}) });
        else failures++;
      }),
    );
    await new Promise((res) => setTimeout(res, r.intervalMs));
  }
  await Promise.all(running);
  return { id: r.id, flood: { attempts, failures, successes } };
}

async function handle(line: string): Promise<ProbeResponse> {
  let req: ProbeRequest | FloodRequest;
  try {
    req = JSON.parse(line) as ProbeRequest | FloodRequest;
  } catch {
    return { id: -1, error: `not JSON: ${line.slice(0, 80)}` };
  }
  if (req.op === "flood") return flood(req);
  const entries = await Promise.all(
    req.targets.map(async (t) => [t.key, await probeOne(t, req.timeoutMs)] as const),
  );
  return { id: req.id, results: Object.fromEntries(entries) };
}

if (process.argv[2] === "serve") {
  createInterface({ input: process.stdin }).on("line", (line) => {
    void handle(line).then((res) => process.stdout.write(`${JSON.stringify(res)}\n`));
  });
  process.stdin.on("end", () => process.exit(0));
  process.stdout.write(`${JSON.stringify({ id: 0, ready: true })}\n`);
}
