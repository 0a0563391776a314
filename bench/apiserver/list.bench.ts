// API server list benchmark: 10,000 ConfigMaps (~300 bytes each) in one namespace, then the time to
// receive the full list over HTTPS (last byte received; the client's JSON.parse is timed apart), as
// JSON and as a Table (`kubectl get`'s format). Median and min of 10 runs each.
// Run: node dist/bench/apiserver/list.bench.js [--objects N] [--runs N]
import { parseArgs } from "node:util";
import {
  BenchError,
  Client,
  configMap,
  createNamespace,
  fmtMB,
  fmtMs,
  loadAverage,
  median,
  record,
  runConcurrent,
  startServerIn,
  tempDataDir,
} from "./support.js";

const { values: args } = parseArgs({
  options: { objects: { type: "string", default: "10000" }, runs: { type: "string", default: "10" } },
});
const N = Number(args.objects);
const RUNS = Number(args.runs);
const AREA = "list";
const TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";

const tmp = await tempDataDir();
const server = await startServerIn(tmp, "list");
console.log(`server pid ${server.pid} at ${server.url}; load average ${loadAverage()}`);
try {
  const c = new Client(server, 64);
  await createNamespace(c, "list");
  await runConcurrent(64, N, async (i) => {
    await c.expect(
      201,
      "POST",
      "/api/v1/namespaces/list/configmaps",
      configMap("list", `cm-${String(i).padStart(6, "0")}`),
    );
  });
  const path = "/api/v1/namespaces/list/configmaps";
  for (const [label, accept] of [
    ["JSON", "application/json"],
    ["Table", TABLE],
  ] as const) {
    const times: number[] = [];
    const parse: number[] = [];
    let bytes = 0;
    let cpu = 0;
    for (let r = 0; r < RUNS + 1; r++) {
      const cpu0 = server.cpuMs();
      const t = performance.now();
      const res = await c.expect(200, "GET", path, undefined, { Accept: accept });
      const dt = performance.now() - t;
      if (r > 0) cpu += server.cpuMs() - cpu0;
      const tp = performance.now();
      const body = JSON.parse(res.body.toString("utf8")) as { items?: unknown[]; rows?: unknown[] };
      const dp = performance.now() - tp;
      const count = (label === "JSON" ? body.items : body.rows)?.length ?? 0;
      if (count !== N) throw new BenchError(`${label} list returned ${count} items, want ${N}`);
      bytes = res.body.length;
      if (r === 0) continue; // first run warms up the server's code paths
      times.push(dt);
      parse.push(dp);
    }
    record({
      area: AREA,
      metric: `${N} ConfigMaps as ${label} (${fmtMB(bytes)}): median (min) of ${RUNS}, to last byte`,
      value: `${fmtMs(median(times))} (${fmtMs(Math.min(...times))})`,
      target: "< 100 ms",
      ok: median(times) < 100,
    });
    record({
      area: AREA,
      metric: `${label}: server CPU per list (mean); client JSON.parse (median)`,
      value: `${fmtMs(cpu / RUNS)}; ${fmtMs(median(parse))}`,
    });
  }
  const mem = server.memory();
  record({
    area: AREA,
    metric: `server RSS with ${N} objects after the lists (peak)`,
    value: `${fmtMB(mem.rss)} (${fmtMB(mem.hwm)})`,
  });
  c.close();
  console.log(`load average at the end ${loadAverage()}`);
} finally {
  await server.stop();
  await tmp.cleanup();
}
