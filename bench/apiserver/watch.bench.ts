// API server watch fan-out benchmark: 100 watchers (each its own HTTPS connection, held by a second
// child process, watchers.ts) on the ConfigMaps of one namespace; this process then creates 1,000
// ConfigMaps as a burst (16 concurrent writers) and records when each write was acknowledged. Every
// watcher must receive every event (100 × 1,000); delivery latency = receive time in the watcher
// process − acknowledgement time in this process (clocks aligned by an IPC ping), and also
// receive − request-sent time (the end-to-end view, never negative).
// Run: node dist/bench/apiserver/watch.bench.js [--watchers N] [--writes N] [--writers N]
import { type ChildProcess, fork } from "node:child_process";
import { once } from "node:events";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import {
  BenchError,
  Client,
  configMap,
  createNamespace,
  fmtMs,
  loadAverage,
  pct,
  procCpuMs,
  record,
  runConcurrent,
  startServerIn,
  summarize,
  tempDataDir,
  wallNow,
} from "./support.js";
import type { ChildMessage, ParentMessage } from "./watchers.js";

const { values: args } = parseArgs({
  options: {
    watchers: { type: "string", default: "100" },
    writes: { type: "string", default: "1000" },
    writers: { type: "string", default: "16" },
  },
});
const WATCHERS = Number(args.watchers);
const WRITES = Number(args.writes);
const WRITERS = Number(args.writers);
const AREA = "watch";
const PREFIX = "w-";

/** Messages from the watcher process, awaited by type. */
class Channel {
  private readonly waiting: Array<{ type: string; resolve(m: ChildMessage): void }> = [];
  private failure: Error | undefined;
  constructor(readonly child: ChildProcess) {
    child.on("message", (m: ChildMessage) => {
      if (m.type === "error") {
        this.failure = new BenchError(`watcher process: ${m.message}`);
        return;
      }
      const i = this.waiting.findIndex((w) => w.type === m.type);
      if (i >= 0) this.waiting.splice(i, 1)[0]!.resolve(m);
    });
  }
  send(m: ParentMessage): void {
    this.child.send(m);
  }
  next<T extends ChildMessage["type"]>(
    type: T,
    timeoutMs = 60_000,
  ): Promise<Extract<ChildMessage, { type: T }>> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(this.failure ?? new BenchError(`no "${type}" from the watcher process in ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.waiting.push({
        type,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m as Extract<ChildMessage, { type: T }>);
        },
      });
    });
  }
}

/** Offset to add to the child's wall clock to get ours: the ping with the smallest round trip. */
async function clockOffset(ch: Channel): Promise<number> {
  let best = { rtt: Number.POSITIVE_INFINITY, offset: 0 };
  for (let i = 0; i < 30; i++) {
    const t = wallNow();
    ch.send({ type: "ping", t });
    const pong = await ch.next("pong");
    const back = wallNow();
    const rtt = back - t;
    if (rtt < best.rtt) best = { rtt, offset: (t + back) / 2 - pong.child };
  }
  return best.offset;
}

const tmp = await tempDataDir();
const server = await startServerIn(tmp, "watch");
const here = dirname(fileURLToPath(import.meta.url));
const child = fork(join(here, "watchers.js"), [], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
const ch = new Channel(child);
console.log(`server pid ${server.pid}, watcher process pid ${child.pid}; load average ${loadAverage()}`);
try {
  const c = new Client(server, WRITERS);
  await createNamespace(c, "watch");
  const list = JSON.parse(
    (await c.expect(200, "GET", "/api/v1/namespaces/watch/configmaps")).body.toString(),
  ) as { metadata: { resourceVersion: string } };
  const rv = list.metadata.resourceVersion;
  ch.send({
    type: "start",
    url: server.url,
    token: server.token,
    caPem: server.caPem,
    path: `/api/v1/namespaces/watch/configmaps?watch=1&resourceVersion=${rv}&allowWatchBookmarks=true`,
    watchers: WATCHERS,
    namePrefix: PREFIX,
    expect: WRITES,
  });
  await ch.next("ready");
  const offset = await clockOffset(ch);
  // Warm the write path on another namespace so the burst does not measure JIT compilation.
  await createNamespace(c, "warm");
  await runConcurrent(WRITERS, 200, async (i) => {
    await c.expect(201, "POST", "/api/v1/namespaces/warm/configmaps", configMap("warm", `warm-${i}`));
  });

  const serverCpu0 = server.cpuMs();
  const watcherCpu0 = procCpuMs(child.pid!);
  const sent = new Array<number>(WRITES).fill(0);
  const acked = new Array<number>(WRITES).fill(0);
  const t0 = performance.now();
  await runConcurrent(WRITERS, WRITES, async (i) => {
    const body = configMap("watch", `${PREFIX}${i}`);
    sent[i] = wallNow();
    await c.expect(201, "POST", "/api/v1/namespaces/watch/configmaps", body);
    acked[i] = wallNow();
  });
  const burstMs = performance.now() - t0;

  // Let the streams drain: poll the delivered count until it is complete or stops growing for 5 s.
  const want = WATCHERS * WRITES;
  let seen = -1;
  let stalledSince = Date.now();
  for (;;) {
    ch.send({ type: "progress" });
    const p = await ch.next("progress");
    if (p.delivered >= want) break;
    if (p.delivered !== seen) {
      seen = p.delivered;
      stalledSince = Date.now();
    } else if (Date.now() - stalledSince > 5_000) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const serverCpu = server.cpuMs() - serverCpu0;
  const watcherCpu = procCpuMs(child.pid!) - watcherCpu0;
  ch.send({ type: "collect" });
  const result = await ch.next("result");
  const delivered = result.counts.reduce((a, b) => a + b, 0);
  const afterAck: number[] = [];
  const afterSend: number[] = [];
  let lastDelivery = 0;
  for (const times of result.recv) {
    for (let i = 0; i < WRITES; i++) {
      const r = times[i]!;
      if (r < 0) continue;
      const ours = r + offset;
      afterAck.push(ours - acked[i]!);
      afterSend.push(ours - sent[i]!);
      lastDelivery = Math.max(lastDelivery, ours);
    }
  }
  const a = summarize(afterAck);
  const s = summarize(afterSend);
  record({
    area: AREA,
    metric: `${WATCHERS} watchers × ${WRITES}-write burst (${WRITERS} writers): events delivered`,
    value: `${delivered} of ${want}${result.duplicates ? `, ${result.duplicates} duplicates` : ""}`,
    target: "all",
    ok: delivered === want && result.duplicates === 0,
  });
  record({
    area: AREA,
    metric: "delivery − write ack: p50 / p99 / max",
    value: `${fmtMs(a.p50)} / ${fmtMs(a.p99)} / ${fmtMs(a.max)}`,
    target: "p99 < 50 ms",
    ok: a.p99 < 50,
  });
  record({
    area: AREA,
    metric: "delivery − write sent: p50 / p99 / max",
    value: `${fmtMs(s.p50)} / ${fmtMs(s.p99)} / ${fmtMs(s.max)}`,
  });
  const sortedAck = [...afterAck].sort((x, y) => x - y);
  record({
    area: AREA,
    metric: "share of deliveries before the writer saw its ack",
    value: `${((100 * afterAck.filter((x) => x < 0).length) / Math.max(1, afterAck.length)).toFixed(1)} % (p1 ${fmtMs(pct(sortedAck, 1))})`,
  });
  const lastAck = Math.max(...acked);
  record({
    area: AREA,
    metric: "burst: write time; last delivery after the last ack",
    value: `${fmtMs(burstMs)} (${Math.round(WRITES / (burstMs / 1000))} writes/s); ${fmtMs(lastDelivery - lastAck)}`,
  });
  record({
    area: AREA,
    metric: "CPU for burst + delivery: server (per write) / watcher process",
    value: `${Math.round(serverCpu)} ms (${fmtMs(serverCpu / WRITES)}) / ${Math.round(watcherCpu)} ms`,
  });
  c.close();
  console.log(`clock offset watcher→bench ${offset.toFixed(3)} ms; load average at the end ${loadAverage()}`);
} finally {
  if (child.connected) child.disconnect();
  if (child.exitCode === null) {
    child.kill("SIGTERM");
    await once(child, "exit");
  }
  await server.stop();
  await tmp.cleanup();
}
