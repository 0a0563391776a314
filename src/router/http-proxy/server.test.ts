// Functional tests of the HTTP proxy against real loopback origins (security cases are in
// security.test.ts).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import http from "node:http";
import net from "node:net";
import { after, before, test } from "node:test";
import { parseHttpProxyDestination } from "../config/proxy.js";
import { staticResolver } from "./resolver.js";
import { type ProxyEvent, type RunningHttpProxy, startHttpProxy } from "./server.js";
import {
  absoluteGet,
  connectThrough,
  type Origin,
  rawExchange,
  startOpenProxy,
  startOrigin,
  trickleExchange,
} from "./testing.js";

let origin: Origin;
let proxy: RunningHttpProxy;
const events: ProxyEvent[] = [];

before(async () => {
  origin = await startOrigin("127.0.0.2", "origin");
  proxy = await startHttpProxy({
    policy: parseHttpProxyDestination("!127.0.0.9\n*"),
    resolver: staticResolver({ "web.example": ["127.0.0.2"] }),
    port: 0,
    host: "127.0.0.1",
    connectTimeoutMs: 2000,
    onEvent: (e) => events.push(e),
  });
});
after(async () => {
  await proxy?.close();
  await origin?.close();
});

function viaProxy(method: string, url: string, body?: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>(
    (resolve, reject) => {
      // Like curl with a proxy: Host names the target, not the proxy.
      const host = url.replace(/^http:\/\//, "").split("/")[0]!;
      const opts = { host: "127.0.0.1", port: proxy.port, method, path: url, headers: { host, ...headers } };
      const req = http.request(opts, (res) => {
        let data = "";
        res.setEncoding("latin1");
        res.on("data", (c: string) => {
          data += c;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: data }));
      });
      req.on("error", reject);
      req.end(body);
    },
  );
}

test("GET and POST through the proxy, by name and by address; headers preserved", async () => {
  const get = await viaProxy("GET", `http://web.example:${origin.port}/hello?x=1`, undefined, {
    "proxy-authorization": "Basic c2VjcmV0",
    "x-keep": "yes",
  });
  assert.equal(get.status, 200);
  assert.equal(get.body, "origin GET /hello?x=1 0");
  assert.deepEqual(get.headers["set-cookie"], ["a=1", "b=2"]);
  const seen = origin.requests.at(-1)!;
  assert.equal(seen.url, "/hello?x=1");
  assert.equal(seen.host, `web.example:${origin.port}`);
  const post = await viaProxy("POST", `http://127.0.0.2:${origin.port}/submit`, "x".repeat(100_000));
  assert.equal(post.body, "origin POST /submit 100000");
  assert.ok(events.some((e) => e.kind === "allow" && e.address === "127.0.0.2"));
});

test("keep-alive: several requests on one client connection are each checked", async () => {
  const s = net.connect({ host: "127.0.0.1", port: proxy.port });
  const got: string[] = [];
  await new Promise<void>((resolve) => {
    s.on("data", (c: Buffer) => got.push(c.toString("latin1")));
    s.on("close", () => resolve());
    s.write(`GET http://127.0.0.2:${origin.port}/1 HTTP/1.1\r\nHost: 127.0.0.2:${origin.port}\r\n\r\n`);
    s.write(`GET http://127.0.0.9:${origin.port}/2 HTTP/1.1\r\nHost: 127.0.0.9:${origin.port}\r\n\r\n`);
    setTimeout(() => s.end(), 300);
  });
  const all = got.join("");
  assert.match(all, /HTTP\/1\.1 200/);
  assert.match(all, /HTTP\/1\.1 403/);
});

test("CONNECT tunnels bytes both ways (1 MiB)", async () => {
  const r = await connectThrough(
    proxy.port,
    `127.0.0.2:${origin.port}`,
    `127.0.0.2:${origin.port}`,
    "GET /bytes/1048576 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
  );
  assert.equal(r.status, 200);
  const body = r.tunneled.slice(r.tunneled.indexOf("\r\n\r\n") + 4);
  assert.equal(body.length, 1048576);
});

test("errors: unresolvable name 502, refused port 502, upgrade 501, https:// URL 400", async () => {
  assert.equal((await rawExchange(proxy.port, absoluteGet("http://nowhere.example/"))).status, 502);
  const closed = await new Promise<number>((resolve) => {
    const srv = net.createServer();
    srv.listen(0, "127.0.0.2", () => {
      const p = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(p));
    });
  });
  assert.equal((await rawExchange(proxy.port, absoluteGet(`http://127.0.0.2:${closed}/`))).status, 502);
  assert.equal((await connectThrough(proxy.port, `127.0.0.2:${closed}`, null, "")).status, 502);
  const up = await rawExchange(
    proxy.port,
    `GET http://127.0.0.2:${origin.port}/ws HTTP/1.1\r\nHost: 127.0.0.2:${origin.port}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`,
  );
  assert.equal(up.status, 501);
  assert.equal((await rawExchange(proxy.port, absoluteGet("https://web.example/"))).status, 400);
});

test("an origin that accepts but never answers gets 502 after the read timeout", async () => {
  const silent = net.createServer((s) => s.on("error", () => {}));
  const held: net.Socket[] = [];
  silent.on("connection", (s) => held.push(s));
  await new Promise<void>((r) => silent.listen(0, "127.0.0.2", r));
  const quick = await startOpenProxy(2000, { readTimeoutMs: 300 });
  try {
    const port = (silent.address() as net.AddressInfo).port;
    const t0 = Date.now();
    const r = await rawExchange(quick.port, absoluteGet(`http://127.0.0.2:${port}/`));
    assert.equal(r.status, 502);
    assert.ok(Date.now() - t0 >= 250, `answered after ${Date.now() - t0} ms`);
  } finally {
    await quick.close();
    for (const s of held) s.destroy();
    silent.close();
  }
});

test("a slow answer within the read timeout gets through, however short the connect timeout", async () => {
  // Long polling: the origin holds the request for longer than the connect timeout.
  const slow = http.createServer((_req, res) => {
    setTimeout(() => res.end("late answer"), 700);
  });
  await new Promise<void>((r) => slow.listen(0, "127.0.0.2", r));
  const quick = await startOpenProxy(200, { readTimeoutMs: 5000 });
  try {
    const port = (slow.address() as net.AddressInfo).port;
    const r = await rawExchange(quick.port, absoluteGet(`http://127.0.0.2:${port}/poll`));
    assert.equal(r.status, 200);
    assert.match(r.body, /late answer/);
  } finally {
    await quick.close();
    slow.close();
  }
});

test("an origin that does not complete the handshake gets 502 after the connect timeout, not the read timeout", async () => {
  // A listener whose process is stopped: once its accept queue is full, the kernel drops further
  // SYNs, so a connect neither succeeds nor fails.
  const child = spawn(
    process.execPath,
    [
      "-e",
      `const s=require("net").createServer();s.listen({port:0,host:"127.0.0.2",backlog:1},()=>{process.stdout.write(String(s.address().port)+"\\n");process.kill(process.pid,"SIGSTOP")})`,
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const fillers: net.Socket[] = [];
  const quick = await startOpenProxy(300, { readTimeoutMs: 60_000 });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout!.once("data", (c: Buffer) => resolve(Number(c.toString().trim())));
      child.once("exit", (code) => reject(new Error(`listener exited with ${code}`)));
    });
    // Fill the accept queue (backlog 1 holds two) and check that a further connect hangs.
    for (let i = 0; i < 3; i++) {
      const f = net.connect({ host: "127.0.0.2", port });
      f.on("error", () => {});
      fillers.push(f);
    }
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    const r = await rawExchange(quick.port, absoluteGet(`http://127.0.0.2:${port}/`), 10_000);
    const ms = Date.now() - t0;
    assert.equal(r.status, 502);
    assert.ok(ms >= 250 && ms < 5000, `answered after ${ms} ms`);
  } finally {
    await quick.close();
    for (const f of fillers) f.destroy();
    child.kill("SIGKILL");
  }
});

test("only the request head has a time limit: a slow head gets 408, a slow upload after it is forwarded whole", async () => {
  const quick = await startOpenProxy(2000, { headersTimeoutMs: 300 });
  try {
    const url = `http://127.0.0.2:${origin.port}/upload`;
    // The body takes ~1.5 s, five times the head limit.
    const upload = await trickleExchange(
      quick.port,
      `POST ${url} HTTP/1.1\r\nHost: 127.0.0.2:${origin.port}\r\nContent-Length: 40\r\nConnection: close\r\n\r\n`,
      Array<string>(10).fill("abcd"),
    );
    assert.match(upload, /^HTTP\/1\.1 200 /);
    assert.match(upload, /origin POST \/upload 40/);
    const slowHead = await trickleExchange(quick.port, `GET ${url} HTTP/1.1\r\n`, [
      `Host: 127.0.0.2:${origin.port}\r\n`,
      "A: 1\r\n",
      "B: 2\r\n",
      "C: 3\r\n",
      "D: 4\r\n",
      "\r\n",
    ]);
    assert.match(slowHead, /^HTTP\/1\.1 408 Request Timeout\r\n/);
    assert.match(slowHead, /request head not complete within 0\.3 s/);
  } finally {
    await quick.close();
  }
});

test("request heads up to 64 KiB pass (squid's limit, not node:http's 16 KiB); larger ones get 431", async () => {
  const big = http.createServer({ maxHeaderSize: 128 * 1024 }, (req, res) => {
    res.end(`x-big ${String(req.headers["x-big"] ?? "").length}`);
  });
  await new Promise<void>((r) => big.listen(0, "127.0.0.2", r));
  try {
    const port = (big.address() as net.AddressInfo).port;
    const url = `http://127.0.0.2:${port}/`;
    const ok = await rawExchange(proxy.port, absoluteGet(url, `X-Big: ${"a".repeat(40 * 1024)}\r\n`));
    assert.equal(ok.status, 200);
    assert.match(ok.body, /x-big 40960/);
    const tooBig = await rawExchange(proxy.port, absoluteGet(url, `X-Big: ${"a".repeat(70 * 1024)}\r\n`));
    assert.equal(tooBig.status, 431);
    assert.match(tooBig.body, /request head larger than 64 KiB/);
  } finally {
    big.close();
  }
});

test("Via and X-Forwarded-For as squid sends them: appended to the client's, Via also on the response", async () => {
  const seen: http.IncomingHttpHeaders[] = [];
  const echo = http.createServer((req, res) => {
    seen.push(req.headers);
    res.setHeader("Via", "1.1 origin-cache");
    res.end("ok");
  });
  await new Promise<void>((r) => echo.listen(0, "127.0.0.2", r));
  try {
    const url = `http://127.0.0.2:${(echo.address() as net.AddressInfo).port}/`;
    const plain = await rawExchange(proxy.port, absoluteGet(url));
    assert.equal(plain.status, 200);
    assert.equal(seen[0]!.via, "1.1 egress-router");
    assert.equal(seen[0]!["x-forwarded-for"], "127.0.0.1");
    assert.match(plain.head, /\r\nVia: 1\.1 origin-cache, 1\.1 egress-router(\r\n|$)/);
    const chained = await rawExchange(
      proxy.port,
      absoluteGet(url, "Via: 1.0 first-proxy\r\nX-Forwarded-For: 10.0.0.7\r\nX-Forwarded-For: 10.0.0.8\r\n"),
    );
    assert.equal(chained.status, 200);
    assert.equal(seen[1]!.via, "1.0 first-proxy, 1.1 egress-router");
    assert.equal(seen[1]!["x-forwarded-for"], "10.0.0.7, 10.0.0.8, 127.0.0.1");
    const old = await rawExchange(proxy.port, `GET ${url} HTTP/1.0\r\n\r\n`);
    assert.equal(old.status, 200);
    assert.equal(seen[2]!.via, "1.0 egress-router");
  } finally {
    echo.close();
  }
});

test("a body that arrives after the headers is forwarded (the request is not ended early)", async () => {
  const got = await trickleExchange(
    proxy.port,
    `POST http://127.0.0.2:${origin.port}/late HTTP/1.1\r\nHost: 127.0.0.2:${origin.port}\r\n` +
      "Content-Length: 5\r\nConnection: close\r\n\r\n",
    ["hello"],
    100,
  );
  assert.match(got, /\r\norigin POST \/late 5\r\n/);
});
