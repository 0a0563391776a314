// Tests of the CONNECT tunnel's byte copy (tunnel.ts) through the real proxy on loopback: the
// reused read buffer must never hand the client bytes that a later read overwrote, a server that
// speaks first must be heard after the 200, and EOFs must pass through as half closes.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import net from "node:net";
import { after, before, test } from "node:test";
import type { ProxyEvent, RunningHttpProxy } from "./server.js";
import { startOpenProxy } from "./testing.js";
import { freeBufferCount, TUNNEL_BUFFER_SIZE } from "./tunnel.js";

let proxy: RunningHttpProxy;
const servers: net.Server[] = [];

before(async () => {
  proxy = await startOpenProxy();
});
after(async () => {
  await proxy?.close();
  for (const s of servers) s.close();
});

async function origin(onConnection: (s: net.Socket) => void): Promise<number> {
  const server = net.createServer({ allowHalfOpen: true }, onConnection);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return (server.address() as net.AddressInfo).port;
}

/** Opens a tunnel; resolves with the socket and whatever arrived after the 200's header. */
function tunnel(port: number, via: RunningHttpProxy = proxy): Promise<{ socket: net.Socket; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port: via.port, allowHalfOpen: true });
    let got = Buffer.alloc(0);
    const onData = (c: Buffer): void => {
      got = Buffer.concat([got, c]);
      const end = got.indexOf("\r\n\r\n");
      if (end < 0) return;
      socket.off("data", onData);
      socket.pause();
      const head = got.toString("latin1", 0, end);
      if (!head.startsWith("HTTP/1.1 200")) reject(new Error(head));
      else resolve({ socket, rest: got.subarray(end + 4) });
    };
    socket.on("data", onData);
    socket.on("error", reject);
    socket.write(`CONNECT 127.0.0.1:${port} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
  });
}

function pattern(size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) b[i] = (i * 7 + (i >> 13)) % 251;
  return b;
}

test("a slow client gets every byte intact while the origin sends far more than one buffer", async () => {
  // More than the loopback socket buffers hold, so writes to the stalled client stay pending.
  const body = pattern(TUNNEL_BUFFER_SIZE * 256 + 12345);
  const port = await origin((s) => {
    s.on("error", () => {});
    s.end(body);
  });
  const { socket, rest } = await tunnel(port);
  const hash = createHash("sha256").update(rest);
  let received = rest.length;
  let nextStall = 0;
  await new Promise<void>((resolve, reject) => {
    socket.on("data", (c: Buffer) => {
      hash.update(c);
      received += c.length;
      // Stall now and then so the proxy's writes to us stay pending and it must stop reading.
      if (received >= nextStall) {
        nextStall = received + (1 << 20);
        socket.pause();
        setTimeout(() => socket.resume(), 30);
      }
    });
    socket.on("end", () => resolve());
    socket.on("error", reject);
    setTimeout(() => socket.resume(), 100);
  });
  socket.destroy();
  assert.equal(received, body.length);
  assert.equal(hash.digest("hex"), createHash("sha256").update(body).digest("hex"));
});

test("a server that speaks first is heard after the 200, in order", async () => {
  const port = await origin((s) => {
    s.on("error", () => {});
    s.write("220 banner\r\n");
    s.on("data", (c: Buffer) => s.write(`echo ${c.toString()}`));
  });
  // Give the banner time to reach the proxy before the client sends anything.
  const { socket, rest } = await tunnel(port);
  let text = rest.toString();
  socket.on("data", (c: Buffer) => {
    text += c.toString();
  });
  socket.resume();
  await new Promise((r) => setTimeout(r, 50));
  socket.write("hello");
  for (let i = 0; i < 100 && !text.includes("echo hello"); i++) await new Promise((r) => setTimeout(r, 10));
  socket.destroy();
  assert.equal(text, "220 banner\r\necho hello");
});

test("EOFs pass through as half closes in both directions", async () => {
  const port = await origin((s) => {
    s.on("error", () => {});
    let got = "";
    s.on("data", (c: Buffer) => {
      got += c.toString();
    });
    // Answer only after the client's EOF arrived through the tunnel.
    s.on("end", () => s.end(`got ${got.length} bytes`));
  });
  const { socket, rest } = await tunnel(port);
  let text = rest.toString();
  const ended = new Promise<void>((resolve) => socket.on("end", () => resolve()));
  socket.on("data", (c: Buffer) => {
    text += c.toString();
  });
  socket.resume();
  socket.end("x".repeat(100_000));
  await ended;
  socket.destroy();
  assert.equal(text, "got 100000 bytes");
});

test("an origin that writes and closes at once: the client gets every byte, then a clean EOF", async () => {
  // The proxy closes the client's socket right after the origin's EOF when nothing is queued in
  // Node; the kernel must still deliver what it holds, in order, and end with FIN (no reset).
  const body = Buffer.alloc(3 * TUNNEL_BUFFER_SIZE + 12_345);
  for (let i = 0; i < body.length; i++) body[i] = (i * 7) & 255;
  const port = await origin((s) => {
    s.on("error", () => {});
    s.end(body);
  });
  for (let round = 0; round < 20; round++) {
    const { socket, rest } = await tunnel(port);
    const chunks: Buffer[] = [rest];
    const outcome = await new Promise<string>((resolve) => {
      socket.on("data", (c: Buffer) => chunks.push(c));
      socket.on("end", () => resolve("end"));
      socket.on("error", (e) => resolve(`error ${e.message}`));
      socket.resume();
    });
    socket.destroy();
    assert.equal(outcome, "end", `round ${round}`);
    const got = Buffer.concat(chunks);
    assert.equal(got.length, body.length, `round ${round}`);
    assert.ok(got.equals(body), `round ${round}: bytes differ`);
  }
});

test("read buffers are reused only after their tunnel closed: concurrent tunnels never see each other's bytes", async () => {
  // Each origin connection sends its own pattern (seeded by the first byte the client sends),
  // several buffers long. Some clients stall, some leave in the middle; the others must get
  // exactly their own bytes while buffers of closed tunnels are handed to new ones.
  const size = 5 * TUNNEL_BUFFER_SIZE + 777;
  const body = (seed: number): Buffer => {
    const b = Buffer.allocUnsafe(size);
    for (let i = 0; i < size; i++) b[i] = (i * 13 + seed * 101 + (i >> 11)) & 255;
    return b;
  };
  const port = await origin((s) => {
    s.on("error", () => {});
    s.once("data", (c: Buffer) => s.end(body(c[0]!)));
  });
  const one = async (seed: number): Promise<void> => {
    const { socket, rest } = await tunnel(port);
    const chunks: Buffer[] = [rest];
    let received = rest.length;
    const leaveAt = seed % 4 === 3 ? size >> 1 : Number.POSITIVE_INFINITY;
    const outcome = await new Promise<string>((resolve) => {
      socket.on("data", (c: Buffer) => {
        chunks.push(c);
        received += c.length;
        if (received >= leaveAt) {
          socket.destroy();
          resolve("left");
        } else if (seed % 3 === 0 && received < 2 * TUNNEL_BUFFER_SIZE) {
          socket.pause();
          setTimeout(() => socket.resume(), 5);
        }
      });
      socket.on("end", () => resolve("end"));
      socket.on("error", (e) => resolve(`error ${e.message}`));
      socket.resume();
      socket.write(Buffer.from([seed]));
    });
    socket.destroy();
    const got = Buffer.concat(chunks);
    const want = body(seed);
    if (outcome === "left") {
      assert.ok(got.equals(want.subarray(0, got.length)), `tunnel ${seed}: bytes differ before it left`);
      return;
    }
    assert.equal(outcome, "end", `tunnel ${seed}`);
    assert.equal(got.length, size, `tunnel ${seed}`);
    assert.ok(got.equals(want), `tunnel ${seed}: bytes differ`);
  };
  let seed = 0;
  for (let wave = 0; wave < 6; wave++) await Promise.all(Array.from({ length: 8 }, () => one(seed++ & 255)));
  // Closed tunnels gave their buffers back (the bytes above were checked while they were reused).
  for (let i = 0; i < 50 && freeBufferCount() === 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(freeBufferCount() > 0, "no buffer was returned for reuse");
});

test("a tunnel idle in both directions is closed after the read timeout; traffic either way keeps it open", async () => {
  const events: ProxyEvent[] = [];
  const idleMs = 400;
  const short = await startOpenProxy(2000, { readTimeoutMs: idleMs, onEvent: (e) => events.push(e) });
  const timers: NodeJS.Timeout[] = [];
  try {
    // The origin talks every 100 ms on the first connection, stays silent on the others.
    let n = 0;
    const port = await origin((s) => {
      s.on("error", () => {});
      s.resume();
      if (n++ === 0) timers.push(setInterval(() => s.write("tick"), 100));
    });
    // The proxy closes a tunnel's client side with a FIN (these sockets allow half-open ones).
    const closedAfter = (socket: net.Socket, t0: number): Promise<number> =>
      new Promise((resolve) => socket.on("end", () => resolve(Date.now() - t0)));
    const down = await tunnel(port, short); // origin → client traffic
    const up = await tunnel(port, short); // client → origin traffic
    const quiet = await tunnel(port, short);
    const t0 = Date.now();
    for (const t of [down, up, quiet]) {
      t.socket.on("error", () => {});
      t.socket.resume();
    }
    timers.push(setInterval(() => up.socket.write("tock"), 100));
    const quietClosed = closedAfter(quiet.socket, t0);
    let downClosed = false;
    let upClosed = false;
    down.socket.on("end", () => {
      downClosed = true;
    });
    up.socket.on("end", () => {
      upClosed = true;
    });
    const quietMs = await Promise.race([
      quietClosed,
      new Promise<number>((r) => timers.push(setTimeout(() => r(Number.POSITIVE_INFINITY), idleMs + 3000))),
    ]);
    assert.ok(
      quietMs >= idleMs - 50 && quietMs < idleMs + 1500,
      `the quiet tunnel closed after ${quietMs} ms`,
    );
    await new Promise((r) => setTimeout(r, 3 * idleMs));
    assert.equal(downClosed, false, "a tunnel with origin → client traffic was closed");
    assert.equal(upClosed, false, "a tunnel with client → origin traffic was closed");
    assert.deepEqual(
      events.filter((e) => e.kind === "idle").map((e) => [e.method, e.reason]),
      [["CONNECT", "no data for 0.4 s"]],
    );
    down.socket.destroy();
    up.socket.destroy();
  } finally {
    for (const t of timers) clearInterval(t);
    await short.close();
  }
});
