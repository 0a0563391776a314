// A client for the router e2e tests, run inside a client pod's network namespace. Prints one JSON
// line per attempt. Every mode ends by itself (timeouts, bounded loops). Modes:
//   tcp HOST PORT [HOLD_MS]       connect, read the echo server's first line, keep the connection
//                                 open HOLD_MS (so the test can look at the server side), close
//   http HOST PORT                GET / (origin form); status and first body line
//   proxy PROXY PORT URL          GET URL in absolute form through an HTTP proxy
//   connect PROXY PORT TARGET     CONNECT TARGET through the proxy, then the echo line
//   loop HOST PORT DURATION_MS    TCP connects every 100 ms (300 ms timeout) until DURATION_MS
import net from "node:net";

const TIMEOUT_MS = 3000;
const out = (o: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify({ t: Date.now(), ...o })}\n`);
};

function tcp(host: string, port: number, holdMs: number, timeoutMs = TIMEOUT_MS): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect(port, host);
    let done = false;
    const finish = (o: Record<string, unknown>, hold = 0): void => {
      if (done) return;
      done = true;
      out(o);
      setTimeout(() => {
        s.destroy();
        resolve();
      }, hold);
    };
    s.setTimeout(timeoutMs, () => finish({ ok: false, error: "TIMEOUT" }));
    let buf = "";
    s.on("data", (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf("\n");
      if (nl >= 0)
        finish({ ok: true, line: buf.slice(0, nl), local: `${s.localAddress}:${s.localPort}` }, holdMs);
    });
    s.on("error", (e: NodeJS.ErrnoException) => finish({ ok: false, error: e.code ?? e.message }));
    s.on("close", () => finish({ ok: false, error: "CLOSED" }));
  });
}

/** Sends raw request bytes, parses status and body of one HTTP/1.1 response (Connection: close). */
function rawHttp(host: string, port: number, request: string): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect(port, host);
    let buf = "";
    let done = false;
    const finish = (o: Record<string, unknown>): void => {
      if (done) return;
      done = true;
      out(o);
      s.destroy();
      resolve();
    };
    s.setTimeout(TIMEOUT_MS, () => finish({ ok: false, error: "TIMEOUT" }));
    s.on("connect", () => s.write(request));
    s.on("data", (d: Buffer) => (buf += d.toString()));
    s.on("error", (e: NodeJS.ErrnoException) => finish({ ok: false, error: e.code ?? e.message }));
    s.on("end", () => {
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(buf)?.[1] ?? 0);
      const head = buf.slice(0, buf.indexOf("\r\n\r\n"));
      let body = buf.slice(head.length + 4);
      // A chunked body: the first line is the chunk size.
      if (/^transfer-encoding:\s*chunked/im.test(head)) body = body.split("\r\n")[1] ?? "";
      finish({ ok: status > 0, status, body: body.split("\n")[0] });
    });
  });
}

function connectTunnel(proxy: string, port: number, target: string): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect(port, proxy);
    let buf = "";
    let stage: "head" | "tunnel" = "head";
    let done = false;
    const finish = (o: Record<string, unknown>): void => {
      if (done) return;
      done = true;
      out(o);
      s.destroy();
      resolve();
    };
    s.setTimeout(TIMEOUT_MS, () => finish({ ok: false, error: "TIMEOUT" }));
    s.on("connect", () => s.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`));
    s.on("data", (d: Buffer) => {
      buf += d.toString();
      if (stage === "head") {
        const end = buf.indexOf("\r\n\r\n");
        if (end < 0) return;
        const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(buf)?.[1] ?? 0);
        if (status !== 200) return finish({ ok: false, status });
        stage = "tunnel";
        buf = buf.slice(end + 4);
      }
      const nl = buf.indexOf("\n");
      if (nl >= 0) finish({ ok: true, status: 200, line: buf.slice(0, nl) });
    });
    s.on("error", (e: NodeJS.ErrnoException) => finish({ ok: false, error: e.code ?? e.message }));
    s.on("end", () => finish({ ok: false, error: "CLOSED", status: 0 }));
  });
}

async function loop(host: string, port: number, durationMs: number): Promise<void> {
  const end = Date.now() + Math.min(durationMs, 120_000);
  while (Date.now() < end) {
    const started = Date.now();
    await tcp(host, port, 0, 300);
    const wait = 100 - (Date.now() - started);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
}

const [mode, a = "", b = "", c = ""] = process.argv.slice(2);
const port = Number(b);
switch (mode) {
  case "tcp":
    await tcp(a, port, Number(c || 0));
    break;
  case "http":
    await rawHttp(a, port, `GET / HTTP/1.1\r\nHost: ${a}:${port}\r\nConnection: close\r\n\r\n`);
    break;
  case "proxy": {
    const host = new URL(c).host;
    await rawHttp(a, port, `GET ${c} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    break;
  }
  case "connect":
    await connectTunnel(a, port, c);
    break;
  case "loop":
    await loop(a, port, Number(c));
    break;
  default:
    process.stderr.write(`unknown mode ${JSON.stringify(mode)}\n`);
    process.exitCode = 2;
}
