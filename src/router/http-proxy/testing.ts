// Test helpers for the HTTP proxy suites: a proxy that allows every destination, origin servers on
// loopback addresses that count the connections they receive, and a raw-socket client that sends exactly the bytes a test writes
// (a real HTTP client would normalize the very URLs the security tests are about).
// Used by tests only.

import http from "node:http";
import net from "node:net";
import { parseHttpProxyDestination } from "../config/proxy.js";
import { staticResolver } from "./resolver.js";
import { type HttpProxyOptions, type RunningHttpProxy, startHttpProxy } from "./server.js";

/** A proxy on 127.0.0.1 (ephemeral port) that allows every destination and resolves no names:
 *  for tests of the proxying itself. */
export function startOpenProxy(
  connectTimeoutMs = 2000,
  more: Partial<HttpProxyOptions> = {},
): Promise<RunningHttpProxy> {
  return startHttpProxy({
    policy: parseHttpProxyDestination("*"),
    resolver: staticResolver({}),
    port: 0,
    host: "127.0.0.1",
    connectTimeoutMs,
    ...more,
  });
}

export interface Origin {
  host: string;
  port: number;
  /** TCP connections accepted so far. */
  connections: number;
  /** Request lines seen ("GET /path", with the Host header). */
  requests: { method: string; url: string; host: string | undefined }[];
  close(): Promise<void>;
}

export async function startOrigin(host: string, name: string): Promise<Origin> {
  const sockets = new Set<net.Socket>();
  const origin: Origin = {
    host,
    port: 0,
    connections: 0,
    requests: [],
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
  const server = http.createServer((req, res) => {
    origin.requests.push({ method: req.method ?? "", url: req.url ?? "", host: req.headers.host });
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      if (req.url?.startsWith("/bytes/")) {
        const n = Number(req.url.slice(7));
        res.writeHead(200, { "content-type": "application/octet-stream", "content-length": n });
        res.end(Buffer.alloc(n, 0x61));
        return;
      }
      res.writeHead(200, { "content-type": "text/plain", "x-origin": name, "set-cookie": ["a=1", "b=2"] });
      res.end(`${name} ${req.method} ${req.url} ${body.length}`);
    });
  });
  server.on("connection", (s: net.Socket) => {
    origin.connections++;
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  origin.port = (server.address() as net.AddressInfo).port;
  return origin;
}

export interface RawResponse {
  status: number;
  head: string;
  body: string;
}

/** Sends `first`, then each of `rest` `intervalMs` apart (a slow client), and resolves with
 *  everything received once the peer closes. */
export function trickleExchange(
  port: number,
  first: string,
  rest: readonly string[],
  intervalMs = 150,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: "127.0.0.1", port });
    let got = "";
    s.on("data", (c: Buffer) => {
      got += c.toString("latin1");
    });
    s.on("error", reject);
    s.on("close", () => resolve(got));
    s.write(first);
    let i = 0;
    const timer = setInterval(() => {
      if (i < rest.length && !s.destroyed) s.write(rest[i++]!);
      else clearInterval(timer);
    }, intervalMs);
  });
}

/** Sends `text` and reads until the peer closes (or `timeoutMs`); parses the first status line. */
export function rawExchange(port: number, text: string | Buffer, timeoutMs = 3000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: "127.0.0.1", port });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => s.destroy(), timeoutMs);
    s.on("data", (c: Buffer) => chunks.push(c));
    s.on("error", reject);
    s.on("close", () => {
      clearTimeout(timer);
      const all = Buffer.concat(chunks).toString("latin1");
      const split = all.indexOf("\r\n\r\n");
      const head = split < 0 ? all : all.slice(0, split);
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(all);
      resolve({ status: m ? Number(m[1]) : 0, head, body: split < 0 ? "" : all.slice(split + 4) });
    });
    s.write(text);
  });
}

/** A GET request in absolute form with `Connection: close`. */
export function absoluteGet(url: string, extraHeaders = ""): string {
  return `GET ${url} HTTP/1.1\r\n${extraHeaders}Connection: close\r\n\r\n`;
}

/** Opens a CONNECT tunnel, then sends `inner` through it when the proxy answered 200. */
export function connectThrough(
  port: number,
  authority: string,
  hostHeader: string | null,
  inner: string,
  timeoutMs = 3000,
): Promise<{ status: number; tunneled: string }> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: "127.0.0.1", port });
    let buf = Buffer.alloc(0);
    let status = 0;
    const timer = setTimeout(() => s.destroy(), timeoutMs);
    s.on("error", reject);
    s.on("data", (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      if (status === 0) {
        const end = buf.indexOf("\r\n\r\n");
        if (end < 0) return;
        status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(buf.toString("latin1"))?.[1] ?? "0");
        buf = buf.subarray(end + 4);
        if (status === 200) s.write(inner);
      }
    });
    s.on("close", () => {
      clearTimeout(timer);
      resolve({ status, tunneled: buf.toString("latin1") });
    });
    s.write(`CONNECT ${authority} HTTP/1.1\r\n${hostHeader === null ? "" : `Host: ${hostHeader}\r\n`}\r\n`);
  });
}
