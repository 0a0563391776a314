// Worker thread of the agent's health endpoint (started by health.ts): serves `GET /healthz`,
// `/readyz`, `/livez` with 200 while the main thread's heartbeat is fresh, 503 when it is stale, 404
// otherwise. Posts `{ port }` once listening. Records when the last probe carrying the prober's
// deadline header arrived (slots 1, 2 of the shared array; health.ts reads them).
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { parentPort, workerData } from "node:worker_threads";

const { host, port, beat, staleAfterMs, header } = workerData as {
  host: string;
  port: number;
  beat: BigInt64Array;
  staleAfterMs: number;
  header: string;
};

const server = createServer((req, res) => {
  if (req.url === "/healthz" || req.url === "/readyz" || req.url === "/livez") {
    const now = Date.now();
    const deadline = Number(req.headers[header]);
    if (Number.isFinite(deadline) && deadline > 0) {
      Atomics.store(beat, 2, BigInt(Math.round(deadline)));
      Atomics.store(beat, 1, BigInt(now));
    }
    const age = now - Number(Atomics.load(beat, 0));
    const ok = age < staleAfterMs;
    res.writeHead(ok ? 200 : 503, { "Content-Type": "text/plain" });
    res.end(ok ? "ok" : `agent event loop silent for ${age} ms`);
    return;
  }
  res.writeHead(404);
  res.end();
});
server.keepAliveTimeout = 5_000;
server.listen(port, host, () => {
  parentPort?.postMessage({ port: (server.address() as AddressInfo).port });
});
