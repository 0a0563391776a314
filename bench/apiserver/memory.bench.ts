// API server memory and restart benchmark: 100,000 ConfigMaps (~250 bytes each) over 100 namespaces,
// created by 64 concurrent clients. Measures the server's RSS (VmRSS, and the peak VmHWM) idle,
// after creation and after a forced cluster-wide list, the store's size on disk, and the time a
// restarted server takes to replay the store and listen again (with its RSS after restart).
// Run: node dist/bench/apiserver/memory.bench.js [--objects N] [--namespaces N]
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  BenchError,
  Client,
  configMap,
  createNamespace,
  dirBytes,
  fmtMB,
  fmtMs,
  loadAverage,
  record,
  runConcurrent,
  SERVER_FLAGS,
  type ServerChild,
  startServer,
  startServerIn,
  tempDataDir,
} from "./support.js";

const { values: args } = parseArgs({
  options: { objects: { type: "string", default: "100000" }, namespaces: { type: "string", default: "100" } },
});
const N = Number(args.objects);
const NS = Number(args.namespaces);
const AREA = "memory";
const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** RSS after a short pause (lets the server finish pending work and the GC run a little). */
async function rssAfterPause(s: ServerChild): Promise<{ rss: number; hwm: number }> {
  await settle(2000);
  return s.memory();
}

const tmp = await tempDataDir();
let server = await startServerIn(tmp, "memory");
console.log(`server pid ${server.pid} at ${server.url}; load average ${loadAverage()}`);
try {
  let c = new Client(server, 64);
  for (let n = 0; n < NS; n++) await createNamespace(c, `ns-${n}`);
  const t0 = performance.now();
  await runConcurrent(64, N, async (i) => {
    const ns = `ns-${i % NS}`;
    await c.expect(201, "POST", `/api/v1/namespaces/${ns}/configmaps`, configMap(ns, `cm-${i}`, 250));
  });
  const createS = (performance.now() - t0) / 1000;
  record({
    area: AREA,
    metric: `${N} creates (64 clients, ${NS} namespaces)`,
    value: `${createS.toFixed(1)} s (${Math.round(N / createS)} writes/s)`,
  });
  const created = await rssAfterPause(server);
  record({
    area: AREA,
    metric: `server RSS with ${N} objects, after creation (peak so far)`,
    value: `${fmtMB(created.rss)} (${fmtMB(created.hwm)})`,
    target: "< 300 MB",
    ok: created.rss < 300 * 1024 * 1024,
  });
  const tl = performance.now();
  const all = await c.expect(200, "GET", "/api/v1/configmaps");
  const listMs = performance.now() - tl;
  const items = (JSON.parse(all.body.toString("utf8")) as { items: unknown[] }).items.length;
  if (items < N) throw new BenchError(`cluster-wide list returned ${items} ConfigMaps, want ≥ ${N}`);
  record({
    area: AREA,
    metric: `cluster-wide list of ${N} (${fmtMB(all.body.length)})`,
    value: fmtMs(listMs),
  });
  const listed = await rssAfterPause(server);
  record({
    area: AREA,
    metric: "server RSS after that list (peak)",
    value: `${fmtMB(listed.rss)} (${fmtMB(listed.hwm)})`,
    target: "< 300 MB",
    ok: listed.hwm < 300 * 1024 * 1024,
  });
  c.close();
  await server.stop();
  record({ area: AREA, metric: "store size on disk", value: fmtMB(await dirBytes(join(tmp.dir, "store"))) });

  // Restart: replay the store and serve again. "listening" = the server printed its URL.
  server = await startServer(tmp.dir, "memory-restart");
  record({
    area: AREA,
    metric: `restart with ${N} objects: spawn → listening`,
    value: fmtMs(server.startMs),
  });
  c = new Client(server, 1);
  const probe = Math.min(N - 1, NS + 7);
  const one = await c.expect(200, "GET", `/api/v1/namespaces/ns-${probe % NS}/configmaps/cm-${probe}`);
  if (!one.body.includes(`"cm-${probe}"`)) throw new BenchError("object missing after restart");
  c.close();
  const restarted = await rssAfterPause(server);
  record({
    area: AREA,
    metric: "server RSS after restart (peak)",
    value: `${fmtMB(restarted.rss)} (${fmtMB(restarted.hwm)})`,
  });
  await server.stop();

  // The same for an empty store, to separate node's own start-up from replay; and without the
  // in-process controllers, to show what they add to start-up time and memory.
  const base = SERVER_FLAGS.filter((f) => f !== "--no-controllers");
  for (const flags of SERVER_FLAGS.includes("--no-controllers")
    ? [base, [...base, "--no-controllers"]]
    : []) {
    const empty = await tempDataDir();
    try {
      const e = await startServer(empty.dir, "empty", flags);
      await e.stop();
      const e2 = await startServer(empty.dir, "empty-restart", flags);
      const m = await rssAfterPause(e2);
      record({
        area: AREA,
        metric: `empty store, ${flags.includes("--no-controllers") ? "API only" : "with controllers"}: spawn → listening; RSS`,
        value: `${fmtMs(e2.startMs)}; ${fmtMB(m.rss)}`,
      });
      await e2.stop();
    } finally {
      await empty.cleanup();
    }
  }
  console.log(`load average at the end ${loadAverage()}`);
} finally {
  await server.stop();
  await tmp.cleanup();
}
