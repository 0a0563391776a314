// API server write benchmark: durable ConfigMap creates over HTTPS against `egress server` in a child
// process. (1) 10,000 sequential creates on one keep-alive connection: p50/p90/p99/max; (2) 16 and
// 64 concurrent clients (one keep-alive connection each): writes/s and p99, where group commit
// should amortise the fsync; (3) the same with @kubernetes/client-node, which opens a new TLS
// connection per call (it builds a fresh https.Agent for every request).
// Run: node dist/bench/apiserver/writes.bench.js [--sequential N] [--concurrent N] [--client-node N]
import { open, rm } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { CoreV1Api, KubeConfig, type V1ConfigMap } from "@kubernetes/client-node";
import {
  Client,
  configMap,
  createNamespace,
  fmtMs,
  loadAverage,
  record,
  runConcurrent,
  startServerIn,
  summarize,
  tempDataDir,
} from "./support.js";

const { values: args } = parseArgs({
  options: {
    sequential: { type: "string", default: "10000" },
    concurrent: { type: "string", default: "10000" },
    "client-node": { type: "string", default: "2000" },
  },
});
const SEQ = Number(args.sequential);
const CONC = Number(args.concurrent);
const KNODE = Number(args["client-node"]);
const AREA = "writes";

/** The disk's own append+fdatasync latency, so the server's overhead can be told apart from it. */
async function fsyncBaseline(dir: string): Promise<{ p50: number; p99: number }> {
  const path = join(dir, "fsync-probe");
  const fh = await open(path, "w");
  const b = Buffer.alloc(400, 1);
  const lat: number[] = [];
  for (let i = 0; i < 500; i++) {
    const t = performance.now();
    await fh.write(b);
    await fh.datasync();
    lat.push(performance.now() - t);
  }
  await fh.close();
  await rm(path);
  return summarize(lat);
}

const tmp = await tempDataDir();
const server = await startServerIn(tmp, "writes");
console.log(`server pid ${server.pid} at ${server.url}; load average ${loadAverage()}`);
try {
  const fs = await fsyncBaseline(tmp.dir);
  record({
    area: AREA,
    metric: "disk baseline: 400 B write+fdatasync p50/p99",
    value: `${fmtMs(fs.p50)} / ${fmtMs(fs.p99)}`,
  });

  // (1) Sequential creates on one connection.
  {
    const c = new Client(server, 1);
    await createNamespace(c, "seq");
    for (let i = 0; i < 200; i++)
      await c.expect(201, "POST", "/api/v1/namespaces/seq/configmaps", configMap("seq", `warm-${i}`));
    const lat: number[] = [];
    const cpu0 = server.cpuMs();
    const t0 = performance.now();
    for (let i = 0; i < SEQ; i++) {
      const body = configMap("seq", `cm-${String(i).padStart(6, "0")}`);
      const t = performance.now();
      await c.expect(201, "POST", "/api/v1/namespaces/seq/configmaps", body);
      lat.push(performance.now() - t);
    }
    const total = (performance.now() - t0) / 1000;
    const s = summarize(lat);
    c.close();
    record({
      area: AREA,
      metric: `${SEQ} sequential creates (1 client): p50 / p90 / p99 / max`,
      value: `${fmtMs(s.p50)} / ${fmtMs(s.p90)} / ${fmtMs(s.p99)} / ${fmtMs(s.max)}`,
      target: "p99 ≤ 10 ms",
      ok: s.p99 <= 10,
    });
    record({
      area: AREA,
      metric: `${SEQ} sequential creates: writes/s; server CPU per create`,
      value: `${Math.round(SEQ / total)} /s; ${fmtMs((server.cpuMs() - cpu0) / SEQ)}`,
    });
  }

  // (2) Concurrent creates, one keep-alive connection per client.
  for (const clients of [16, 64]) {
    const ns = `conc-${clients}`;
    const c = new Client(server, clients);
    await createNamespace(c, ns);
    await runConcurrent(clients, clients * 4, async (i) => {
      await c.expect(201, "POST", `/api/v1/namespaces/${ns}/configmaps`, configMap(ns, `warm-${i}`));
    });
    const lat: number[] = [];
    const cpu0 = server.cpuMs();
    const client0 = process.cpuUsage();
    const t0 = performance.now();
    await runConcurrent(clients, CONC, async (i) => {
      const body = configMap(ns, `cm-${String(i).padStart(6, "0")}`);
      const t = performance.now();
      await c.expect(201, "POST", `/api/v1/namespaces/${ns}/configmaps`, body);
      lat.push(performance.now() - t);
    });
    const total = (performance.now() - t0) / 1000;
    const serverCpu = server.cpuMs() - cpu0;
    const cu = process.cpuUsage(client0);
    const s = summarize(lat);
    c.close();
    record({
      area: AREA,
      metric: `${CONC} creates, ${clients} concurrent clients: writes/s, p50 / p99`,
      value: `${Math.round(CONC / total)} /s, ${fmtMs(s.p50)} / ${fmtMs(s.p99)}`,
    });
    record({
      area: AREA,
      metric: `${clients} clients: CPU per create, server / bench client; server CPU busy`,
      value: `${fmtMs(serverCpu / CONC)} / ${fmtMs((cu.user + cu.system) / 1000 / CONC)}; ${Math.round(serverCpu / (total * 10))} %`,
    });
  }

  // (3) @kubernetes/client-node, as controllers use it.
  if (KNODE > 0) {
    const kc = new KubeConfig();
    kc.loadFromFile(server.kubeconfig);
    const api = kc.makeApiClient(CoreV1Api);
    await api.createNamespace({ body: { metadata: { name: "knode" } } });
    const body = (i: number, prefix: string): V1ConfigMap =>
      JSON.parse(configMap("knode", `${prefix}-${String(i).padStart(6, "0")}`)) as V1ConfigMap;
    for (let i = 0; i < 50; i++)
      await api.createNamespacedConfigMap({ namespace: "knode", body: body(i, "warm") });
    const lat: number[] = [];
    let t0 = performance.now();
    for (let i = 0; i < KNODE; i++) {
      const b = body(i, "seq");
      const t = performance.now();
      await api.createNamespacedConfigMap({ namespace: "knode", body: b });
      lat.push(performance.now() - t);
    }
    let total = (performance.now() - t0) / 1000;
    let s = summarize(lat);
    record({
      area: AREA,
      metric: `client-node: ${KNODE} sequential creates: p50 / p99, writes/s`,
      value: `${fmtMs(s.p50)} / ${fmtMs(s.p99)}, ${Math.round(KNODE / total)} /s`,
    });
    lat.length = 0;
    t0 = performance.now();
    await runConcurrent(16, KNODE, async (i) => {
      const b = body(i, "conc");
      const t = performance.now();
      await api.createNamespacedConfigMap({ namespace: "knode", body: b });
      lat.push(performance.now() - t);
    });
    total = (performance.now() - t0) / 1000;
    s = summarize(lat);
    record({
      area: AREA,
      metric: `client-node: ${KNODE} creates, 16 concurrent: writes/s, p50 / p99`,
      value: `${Math.round(KNODE / total)} /s, ${fmtMs(s.p50)} / ${fmtMs(s.p99)}`,
    });
  }
  console.log(`load average at the end ${loadAverage()}`);
} finally {
  await server.stop();
  await tmp.cleanup();
}
