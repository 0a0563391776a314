import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import net from "node:net";
import { after, before, test } from "node:test";
import { parseDnsProxyDestination } from "../config/proxy.js";
import type { TtlResolver } from "./cache.js";
import { type RunningDnsProxy, startDnsProxy } from "./server.js";

// Echo servers on two loopback addresses, each prefixing its name.
const servers: net.Server[] = [];
async function echo(host: string, name: string): Promise<number> {
  const s = net.createServer((c) => {
    c.on("error", () => c.destroy());
    c.on("data", (d: Buffer) => c.write(`${name}:${d.toString()}`));
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, host, r));
  return (s.address() as net.AddressInfo).port;
}

function roundTrip(port: number, msg: string): Promise<string> {
  return new Promise((resolve) => {
    const c = net.connect({ host: "127.0.0.1", port });
    let got = "";
    // A proxy that cannot reach its target drops the client (reset or close): "" either way.
    c.on("error", () => c.destroy());
    c.on("data", (d: Buffer) => {
      got += d.toString();
      c.end();
    });
    c.on("close", () => resolve(got));
    c.write(msg);
  });
}

let proxy: RunningDnsProxy;
let portB = 0;
let answer = "127.0.0.2";
let now = 0;

before(async () => {
  const a = await echo("127.0.0.2", "A");
  const b = await echo("127.0.0.3", "B");
  portB = b;
  assert.equal(a > 0 && b > 0, true);
  const resolver: TtlResolver = { resolve4: async () => [{ address: answer, ttl: 30 }] };
  // Parsed from text, then pointed at loopback (which the parser rightly refuses as a target).
  const proxies = parseDnsProxyDestination(`1001 10.0.0.3 ${b}\n1002 svc.example ${a}\n`).map((p) =>
    p.isName ? p : { ...p, target: "127.0.0.3" },
  );
  proxy = await startDnsProxy({
    proxies,
    resolver,
    host: "127.0.0.1",
    bindPort: () => 0,
    cache: { now: () => now },
  });
});
after(async () => {
  await proxy?.close();
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
});

test("one listener per line forwards to an IP target and to a resolved name", async () => {
  assert.equal(await roundTrip(proxy.ports.get(1001)!, "hi"), "B:hi");
  assert.equal(await roundTrip(proxy.ports.get(1002)!, "yo"), "A:yo");
});

test("the name is re-resolved after its TTL", async () => {
  answer = "127.0.0.9"; // nothing listens there: once re-resolved, connections fail
  assert.equal(await roundTrip(proxy.ports.get(1002)!, "still"), "A:still");
  now += 30_000;
  assert.equal(await roundTrip(proxy.ports.get(1002)!, "gone"), "");
  assert.equal(proxy.caches.get(1002)!.lookups, 2);
});

test("both sides of a proxied connection have TCP keepalive (a vanished peer is noticed)", async () => {
  const port = proxy.ports.get(1001)!;
  const c = net.connect({ host: "127.0.0.1", port });
  c.on("error", () => {});
  await new Promise<void>((resolve) => {
    c.on("data", () => resolve());
    c.write("ping");
  });
  // ss lists each end of a loopback connection; the proxy's ends carry a keepalive timer.
  const proxyEnds = (filter: string): string[] =>
    execFileSync("ss", ["-tnoH", "state", "established", filter], { encoding: "utf8" })
      .split("\n")
      .filter((l) => l.trim() !== "");
  const clientSide = proxyEnds(`( sport = :${port} and dport = :${c.localPort} )`);
  assert.equal(clientSide.length, 1, clientSide.join("\n"));
  assert.match(clientSide[0]!, /timer:\(keepalive,/);
  const originSide = proxyEnds(`( dst 127.0.0.3:${portB} )`);
  assert.ok(originSide.length >= 1, "the proxy's connection to the target");
  assert.ok(
    originSide.every((l) => /timer:\(keepalive,/.test(l)),
    originSide.join("\n"),
  );
  c.destroy();
});
