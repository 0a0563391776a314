// Tests of plain-HTTP forwarding over the proxy's own origin connections (origin.ts) through the
// real proxy on loopback: refused response framing gives the client a 502 and closes the origin
// connection, connections are reused only after a complete keep-alive exchange, bodies of every
// framing arrive intact, and a stale pooled connection is retried once.
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { after, before, describe, test } from "node:test";
import type { RunningHttpProxy } from "./server.js";
import { type Origin, rawExchange, startOpenProxy, startOrigin } from "./testing.js";

let proxy: RunningHttpProxy;
let echo: Origin;
const servers: net.Server[] = [];

before(async () => {
  proxy = await startOpenProxy();
  echo = await startOrigin("127.0.0.2", "echo");
});
after(async () => {
  await proxy?.close();
  await echo?.close();
  for (const s of servers) s.close();
});

interface Scripted {
  port: number;
  /** Connections accepted, and how many of them the proxy has closed. */
  accepted: number;
  closed: number;
  /** Resolves when the next connection closes. */
  nextClose(): Promise<void>;
}

/** A raw origin: for each request head it receives, `answer(index on connection, head)` gives the
 *  bytes to send (null: destroy the connection without answering). */
async function scripted(answer: (i: number, head: string) => (string | Buffer)[] | null): Promise<Scripted> {
  const waiters: (() => void)[] = [];
  const st: Scripted = {
    port: 0,
    accepted: 0,
    closed: 0,
    nextClose: () => new Promise((r) => waiters.push(r)),
  };
  const server = net.createServer((s) => {
    st.accepted++;
    let buf = "";
    let n = 0;
    s.on("error", () => {});
    s.on("close", () => {
      st.closed++;
      for (const w of waiters.splice(0)) w();
    });
    s.on("data", (c: Buffer) => {
      buf += c.toString("latin1");
      for (let end = buf.indexOf("\r\n\r\n"); end >= 0; end = buf.indexOf("\r\n\r\n")) {
        const head = buf.slice(0, end);
        buf = buf.slice(end + 4);
        const out = answer(n++, head);
        if (out === null) {
          s.destroy();
          return;
        }
        // Pieces are written in separate writes, a little apart, so they arrive as separate reads;
        // an empty piece closes the connection.
        let delay = 0;
        for (const piece of out) {
          setTimeout(() => {
            if (!s.writable) return;
            if (piece.length === 0) s.end();
            else s.write(piece);
          }, delay);
          delay += 20;
        }
      }
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.2", r));
  st.port = (server.address() as net.AddressInfo).port;
  return st;
}

function get(port: number, path = "/", method = "GET", keepAlive = false): string {
  return (
    `${method} http://127.0.0.2:${port}${path} HTTP/1.1\r\nHost: 127.0.0.2:${port}\r\n` +
    `${keepAlive ? "" : "Connection: close\r\n"}\r\n`
  );
}

/** A request through the proxy with node:http (which decodes the proxy's own framing). */
function viaHttp(
  url: string,
  method = "GET",
  body?: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  const host = url.replace(/^http:\/\//, "").split("/")[0]!;
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port: proxy.port, method, path: url, headers: { host, ...headers }, agent: false },
      (res) => {
        let text = "";
        res.setEncoding("latin1");
        res.on("data", (c: string) => {
          text += c;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

describe("refused origin responses: 502 to the client, origin connection closed", () => {
  const OK = "HTTP/1.1 200 OK\r\n";
  const cases: [string, ...string[]][] = [
    [
      "Content-Length and Transfer-Encoding",
      `${OK}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\nhello`,
    ],
    ["differing Content-Length", `${OK}Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!`],
    [
      "invalid chunk size (same read as the head)",
      `${OK}Transfer-Encoding: chunked\r\n\r\nxyz\r\nhello\r\n0\r\n\r\n`,
    ],
    ["bad chunk after a good one (same read)", `${OK}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n-1\r\n`],
    ["field line without colon", `${OK}Content-Length: 5\r\nbroken line\r\n\r\nhello`],
    ["obs-fold", `${OK}X-A: 1\r\n  folded\r\nContent-Length: 5\r\n\r\nhello`],
    ["space before colon", `${OK}Content-Length : 5\r\n\r\nhello`],
    ["unsupported coding", `${OK}Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n`],
    ["oversize head", `${OK}X-Big: ${"b".repeat(70_000)}\r\nContent-Length: 0\r\n\r\n`],
    ["not HTTP", "SSH-2.0-OpenSSH\r\n\r\n"],
    ["101 without an upgrade request", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n"],
    ["truncated head, then close", "HTTP/1.1 200 OK\r\nContent-Le", ""],
  ];
  for (const [name, ...pieces] of cases) {
    test(name, async () => {
      const origin = await scripted(() => pieces);
      const closed = origin.nextClose();
      const r = await rawExchange(proxy.port, get(origin.port));
      assert.equal(r.status, 502, r.head);
      assert.match(r.body, /bad response from origin|closed mid-response/);
      await closed;
      assert.equal(origin.closed, origin.accepted);
    });
  }

  test("a body cut short by the origin is cut short for the client (no made-up end)", async () => {
    const origin = await scripted(() => [`${OK}Content-Length: 10\r\n\r\nhello`, ""]);
    const r = await rawExchange(proxy.port, get(origin.port));
    assert.equal(r.status, 200);
    assert.match(r.head, /Content-Length: 10/);
    assert.equal(r.body, "hello");
  });

  test("a bad chunk in a later read: the client's response is cut off, not completed", async () => {
    const origin = await scripted(() => [`${OK}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n`, "zz\r\n"]);
    const closed = origin.nextClose();
    const r = await rawExchange(proxy.port, get(origin.port));
    assert.equal(r.status, 200);
    // Re-chunked toward the client: the first chunk arrived, the terminating chunk never does.
    assert.match(r.body, /hello/);
    assert.doesNotMatch(r.body, /\r\n0\r\n\r\n$/);
    await closed;
  });
});

describe("forwarding and connection reuse", () => {
  test("keep-alive responses: one origin connection serves sequential requests", async () => {
    const origin = await scripted((i) => [`HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n${i}!`]);
    for (let i = 0; i < 3; i++) {
      const r = await rawExchange(proxy.port, get(origin.port));
      assert.equal(r.body, `${i}!`);
    }
    assert.equal(origin.accepted, 1);
  });

  test("Connection: close and HTTP/1.0 responses are not reused", async () => {
    for (const status of ["HTTP/1.1 200 OK\r\nConnection: close", "HTTP/1.0 200 OK"]) {
      const origin = await scripted(() => [`${status}\r\nContent-Length: 1\r\n\r\nx`]);
      for (let i = 0; i < 2; i++) assert.equal((await rawExchange(proxy.port, get(origin.port))).body, "x");
      assert.equal(origin.accepted, 2, status);
    }
  });

  test("chunked body (split over reads, with trailers) is delivered whole", async () => {
    const origin = await scripted(() => [
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n3\r\nabc",
      "\r\n4;ext=1\r\ndefg\r\n",
      "0\r\nX-T: 1\r\n\r\n",
    ]);
    const res = await viaHttp(`http://127.0.0.2:${origin.port}/`);
    assert.equal(res.body, "abcdefg");
    assert.equal(res.headers.trailer, undefined, "hop-by-hop Trailer is not forwarded");
    // A second request reuses the connection (the chunked message was read to its end).
    await rawExchange(proxy.port, get(origin.port));
    assert.equal(origin.accepted, 1);
  });

  test("close-delimited body is delivered whole and the connection is not reused", async () => {
    const big = "z".repeat(200_000);
    const origin = await scripted(() => [
      `HTTP/1.1 200 OK\r\nX: y\r\n\r\n${big.slice(0, 1000)}`,
      big.slice(1000),
      "",
    ]);
    for (let i = 0; i < 2; i++) {
      const r = await viaHttp(`http://127.0.0.2:${origin.port}/`);
      assert.equal(r.status, 200);
      assert.ok(r.body === big, `body of ${r.body.length} bytes`);
    }
    assert.equal(origin.accepted, 2);
  });

  test("HEAD: Content-Length is forwarded, no body is expected, the connection is reused", async () => {
    const origin = await scripted(() => ["HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"]);
    const r = await rawExchange(proxy.port, get(origin.port, "/", "HEAD"));
    assert.equal(r.status, 200);
    assert.match(r.head, /\r\nContent-Length: 1234/i);
    assert.equal(r.body, "");
    await rawExchange(proxy.port, get(origin.port, "/", "HEAD"));
    assert.equal(origin.accepted, 1);
  });

  test("interim 1xx responses are skipped; the final response is forwarded", async () => {
    const origin = await scripted(() => [
      "HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n",
      "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
    ]);
    const r = await rawExchange(proxy.port, get(origin.port));
    assert.equal(r.status, 201);
    assert.equal(r.body, "ok");
  });

  test("a pooled connection the origin drops on reuse is retried once on a new one", async () => {
    const origin = await scripted((i) =>
      i === 0 ? ["HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na"] : null,
    );
    assert.equal((await rawExchange(proxy.port, get(origin.port))).body, "a");
    const r = await rawExchange(proxy.port, get(origin.port));
    assert.equal(r.status, 200);
    assert.equal(r.body, "a");
    assert.equal(origin.accepted, 2);
  });

  test("an origin that always drops the request gets a 502, not a retry loop", async () => {
    const origin = await scripted(() => null);
    const r = await rawExchange(proxy.port, get(origin.port));
    assert.equal(r.status, 502);
    assert.equal(origin.accepted, 1);
  });

  test("a client that leaves mid-response gets the origin connection closed", async () => {
    const origin = await scripted(() => ["HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial"]);
    const closed = origin.nextClose();
    const s = net.connect({ host: "127.0.0.1", port: proxy.port });
    s.on("error", () => {});
    s.write(get(origin.port));
    await new Promise<void>((r) => s.once("data", () => r()));
    s.destroy();
    await closed;
    assert.equal(origin.closed, 1);
  });

  test("request bodies: Content-Length as is, chunked re-chunked; the origin sees the same bytes", async () => {
    const base = `http://127.0.0.2:${echo.port}`;
    const withLength = await viaHttp(`${base}/a`, "POST", "hello world", { "content-length": "11" });
    assert.equal(withLength.body, "echo POST /a 11");
    const raw = await rawExchange(
      proxy.port,
      `POST ${base}/b HTTP/1.1\r\nHost: 127.0.0.2:${echo.port}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n` +
        "5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\n",
    );
    assert.match(raw.body, /echo POST \/b 11\r\n/);
    const chunked = await viaHttp(`${base}/c`, "POST", "x".repeat(300_000), {
      "transfer-encoding": "chunked",
    });
    assert.equal(chunked.body, "echo POST /c 300000");
    const empty = await viaHttp(`${base}/d`, "POST", "", { "transfer-encoding": "chunked" });
    assert.equal(empty.body, "echo POST /d 0");
  });

  test("ambiguous request framing is refused by the proxy's request parser (400), nothing is forwarded", async () => {
    const seen = echo.requests.length;
    for (const framing of [
      "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
      "Content-Length: 5\r\nContent-Length: 6\r\n",
      "Transfer-Encoding: gzip\r\n",
    ]) {
      const r = await rawExchange(
        proxy.port,
        `POST http://127.0.0.2:${echo.port}/x HTTP/1.1\r\nHost: 127.0.0.2:${echo.port}\r\n${framing}Connection: close\r\n\r\nhello`,
      );
      assert.equal(r.status, 400, framing);
    }
    assert.equal(echo.requests.length, seen);
  });
});
