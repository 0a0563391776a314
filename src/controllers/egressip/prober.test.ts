import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, it } from "node:test";
import { httpProbe, Prober } from "./prober.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

it("fails after N consecutive failures, recovers after one success", async () => {
  let up = true;
  const changes: [string, boolean][] = [];
  const p = new Prober({
    intervalMs: 10,
    timeoutMs: 5,
    failures: 3,
    probe: async () => up,
    onChange: (n, r) => changes.push([n, r]),
  });
  try {
    p.set("n1", "http://x/healthz");
    await p.settled(1000);
    assert.equal(p.isReachable("n1"), true);
    up = false;
    const t0 = Date.now();
    while (p.isReachable("n1") !== false) await sleep(2);
    assert.ok(Date.now() - t0 >= 20, "three failures take at least two intervals");
    up = true;
    while (p.isReachable("n1") !== true) await sleep(2);
    assert.deepEqual(changes, [
      ["n1", true],
      ["n1", false],
      ["n1", true],
    ]);
  } finally {
    p.stop();
  }
});

it("a node without an endpoint is unreachable at once; delete forgets", async () => {
  const seen: boolean[] = [];
  const p = new Prober({
    intervalMs: 10,
    timeoutMs: 5,
    failures: 1,
    probe: async () => true,
    onChange: (_n, r) => seen.push(r),
  });
  p.set("n1", undefined);
  assert.equal(p.isReachable("n1"), false);
  p.delete("n1");
  assert.equal(p.isReachable("n1"), undefined);
  assert.deepEqual(seen, [false]);
  p.stop();
});

it("stale results (older probe answering last) are ignored", async () => {
  let n = 0;
  // Probe 1 is slow and fails; probe 2 is fast and succeeds: the node must stay reachable.
  const probe = (_u: string) => {
    n++;
    return n === 1 ? sleep(40).then(() => false) : Promise.resolve(true);
  };
  const p = new Prober({ intervalMs: 10, timeoutMs: 50, failures: 1, probe, onChange: () => {} });
  try {
    p.set("n1", "http://x/");
    await sleep(80);
    assert.equal(p.isReachable("n1"), true);
  } finally {
    p.stop();
  }
});

let srv: Server | undefined;
after(() => {
  srv?.closeAllConnections();
  srv?.close();
});

it("httpProbe: 200 ok, other status fails, hang times out, refused fails", async () => {
  let mode: "ok" | "500" | "hang" = "ok";
  srv = createServer((req, res) => {
    if (mode === "hang") return;
    res.statusCode = mode === "ok" ? 200 : 500;
    res.end(req.url);
  });
  await new Promise<void>((r) => srv!.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}/healthz`;
  const probe = httpProbe();
  assert.equal(await probe(url, 500), true);
  mode = "500";
  assert.equal(await probe(url, 500), false);
  mode = "hang";
  const t0 = Date.now();
  assert.equal(await probe(url, 100), false);
  assert.ok(Date.now() - t0 < 400);
  srv.closeAllConnections();
  await new Promise<void>((r) => srv!.close(() => r()));
  assert.equal(await probe(url, 500), false, "connection refused");
  assert.equal(await probe("https://127.0.0.1:1/", 100), false, "only http");
  assert.equal(await probe("not a url", 100), false);
});
