// Benchmark of the CONNECT path alone: tunnels that carry almost nothing (the origin answers one
// byte and closes), 8 at a time, against a proxy that is already running on loopback. Prints the
// proxy's CPU time per CONNECT (from /proc, so it needs the proxy's pid) and the client-seen setup
// time (connect until the 200 arrived). Run it alternately against two proxies for an A/B test,
// with the proxy started under `node --trace-gc` to count collections. Loopback only.
//
// Usage: node <build>/bench/router/connect-only.bench.js --port PROXY_PORT --pid PROXY_PID
//        [--connects 10000] [--concurrency 8]

import { readFileSync } from "node:fs";
import net from "node:net";
import { arg } from "../support/args.js";

const HOST = "127.0.0.1";

/** CPU time (user + system, ms) used so far by `pid`. */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
}

function oneConnect(proxyPort: number, originPort: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    let t200 = 0n;
    let got = "";
    const s = net.connect(proxyPort, HOST);
    s.on("data", (c: Buffer) => {
      if (t200 !== 0n) return;
      got += c.toString("latin1");
      if (got.includes("\r\n\r\n")) t200 = process.hrtime.bigint();
    });
    s.on("error", reject);
    s.on("close", () =>
      t200 === 0n ? reject(new Error(`no 200: ${got.slice(0, 40)}`)) : resolve(Number(t200 - t0) / 1e6),
    );
    s.write(`CONNECT ${HOST}:${originPort} HTTP/1.1\r\nHost: ${HOST}:${originPort}\r\n\r\n`);
  });
}

async function run(
  proxyPort: number,
  originPort: number,
  total: number,
  concurrency: number,
): Promise<number[]> {
  let started = 0;
  const setup: number[] = [];
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (started++ < total) setup.push(await oneConnect(proxyPort, originPort));
    }),
  );
  return setup.sort((a, b) => a - b);
}

const proxyPort = arg("port");
const pid = arg("pid");
const total = arg("connects", 10_000);
const concurrency = arg("concurrency", 8);
const origin = net.createServer((s) => {
  s.on("error", () => {});
  s.end("x");
});
await new Promise<void>((r) => origin.listen(0, HOST, r));
const originPort = (origin.address() as net.AddressInfo).port;
try {
  await run(proxyPort, originPort, 2000, concurrency); // warm-up
  const c0 = cpuMs(pid);
  const t0 = Date.now();
  const setup = await run(proxyPort, originPort, total, concurrency);
  const c1 = cpuMs(pid);
  const q = (p: number): string =>
    (setup[Math.min(setup.length - 1, Math.floor(p * setup.length))] ?? 0).toFixed(2);
  process.stdout.write(
    `proxy :${proxyPort}: ${(((c1 - c0) * 1000) / total).toFixed(0)} µs CPU per CONNECT, ` +
      `${(total / ((Date.now() - t0) / 1000)).toFixed(0)} CONNECTs/s, setup p50 ${q(0.5)} p99 ${q(0.99)} ms\n`,
  );
} finally {
  origin.close();
}
