// The egress router's HTTP proxy (upstream ran squid on port 8080): plain HTTP in absolute form
// and HTTPS through CONNECT, each request checked against EGRESS_HTTP_PROXY_DESTINATION.
// Every request target is parsed strictly (target.ts), names are resolved once through the
// injected resolver, the policy is applied to the name and to every resolved address
// (policy.ts), and the proxy connects to one of exactly the addresses it checked, so a
// second resolution (DNS rebinding) cannot redirect it. Origin-form requests ("GET / HTTP/1.1",
// i.e. the proxy addressed as a web server) are refused with 400: the proxy never routes on the
// Host header alone. This module does network I/O; all decisions come from the pure modules.

import http from "node:http";
import type net from "node:net";
import type { Duplex } from "node:stream";
import { formatIP, type IP } from "../../api/ip.js";
import type { HttpProxyPolicy } from "../config/proxy.js";
import { forward, OriginPool } from "./origin.js";
import { decideAddress, decideName, needsAddresses, verdictReason } from "./policy.js";
import { type HostResolver, systemResolver } from "./resolver.js";
import { MAX_HEAD_BYTES } from "./response.js";
import {
  type Authority,
  BadTargetError,
  formatHost,
  type Host,
  type HttpTarget,
  hostHeaderAgrees,
  parseAbsoluteHttpUrl,
  parseConnectTarget,
} from "./target.js";
import { connectOrigin, joinTunnel, type OriginSocket } from "./tunnel.js";

export const DEFAULT_HTTP_PROXY_PORT = 8080;

export interface ProxyEvent {
  /** allow: forwarded; deny: refused by policy (403); reject: malformed (400); error: 502/504;
   *  idle: a CONNECT tunnel closed after `readTimeoutMs` without a byte either way. */
  kind: "allow" | "deny" | "reject" | "error" | "idle";
  method: string;
  target: string;
  /** The address connected to (allow), or the address/rule that decided (deny). */
  address?: string;
  reason?: string;
}

export interface HttpProxyOptions {
  policy: HttpProxyPolicy;
  resolver?: HostResolver;
  /** Listen port; 0 picks a free one (tests). Default 8080. */
  port?: number;
  /** Listen address. Default all IPv4 addresses. */
  host?: string;
  connectTimeoutMs?: number;
  /** An exchange with an origin (a request waiting for or receiving its response, or a CONNECT
   *  tunnel) in which no byte moves either way for this long is ended: a request gets a 502 (cut
   *  off if its response has begun), a tunnel is closed on both sides. Default 15 minutes,
   *  squid's `read_timeout`, which upstream's image leaves at its default; 0 for none. */
  readTimeoutMs?: number;
  /** A client's request head (request line and fields) must be complete this long after it
   *  began, else 408. Default 60 s (node:http's); the body that follows has no total limit. */
  headersTimeoutMs?: number;
  onEvent?: (e: ProxyEvent) => void;
}

/** How long a client may take to send a request head. */
export const DEFAULT_HEADERS_TIMEOUT_MS = 60_000;

/** squid's default `read_timeout`: how long an exchange with an origin may go without a byte. */
export const DEFAULT_READ_TIMEOUT_MS = 15 * 60_000;

export interface RunningHttpProxy {
  address: string;
  port: number;
  close(): Promise<void>;
}

type Authorization = { ok: true; addresses: IP[] } | { ok: false; status: 403 | 502; reason: string };

// Hop-by-hop headers (RFC 9110 §7.6.1) and the proxy's own credentials are not forwarded.
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

function filterHeaders(raw: readonly string[], drop: ReadonlySet<string>): string[] {
  // Names listed in Connection are hop-by-hop too; the set is only built when there is one.
  let connectionListed: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() === "connection") {
      // The usual values name no field; no set is needed for them.
      const v = raw[i + 1]!.toLowerCase();
      if (v === "keep-alive" || v === "close") continue;
      connectionListed ??= new Set();
      for (const t of v.split(",")) connectionListed.add(t.trim());
    }
  }
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const k = raw[i]!.toLowerCase();
    if (HOP_BY_HOP.has(k) || drop.has(k) || connectionListed?.has(k)) continue;
    out.push(raw[i]!, raw[i + 1]!);
  }
  return out;
}

/** The name this proxy gives itself in Via (RFC 9110 §7.6.3 allows a pseudonym; the host name
 *  would tell the origin about the cluster). */
export const VIA_PSEUDONYM = "egress-router";

/** `values` (a field's earlier values, in order) with `added` after them, as one field value. */
function appendValue(values: readonly string[], added: string): string {
  return [...values, added].join(", ");
}

/** Values of the fields named `name` (lower case) in raw order. */
function fieldValues(raw: readonly string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === name) out.push(raw[i + 1]!);
  return out;
}

const DROP_LENGTH_AND_VIA: ReadonlySet<string> = new Set(["content-length", "via"]);

/** The response fields for the client: hop-by-hop ones and Content-Length dropped (origin.ts
 *  writes the validated length), and this proxy added to Via with the origin's HTTP version
 *  (RFC 9110 §7.6.3: a proxy MUST send Via in each message it forwards). */
function responseHeaders(raw: readonly string[], minor: 0 | 1): string[] {
  const out = filterHeaders(raw, DROP_LENGTH_AND_VIA);
  out.push("Via", appendValue(fieldValues(raw, "via"), `1.${minor} ${VIA_PSEUDONYM}`));
  return out;
}

/** The request head sent to the origin: the origin-form target, Host set to the authority that
 *  was checked, the client's fields without hop-by-hop ones (and without its Host, which must
 *  agree anyway), and, as squid does by default (upstream's image keeps the default), this proxy
 *  added to Via (with the client's HTTP version) and the client's address to X-Forwarded-For.
 *  Node's parser has already refused both Content-Length and Transfer-Encoding
 *  and duplicate lengths (origin.test.ts checks that), and requestFramingProblem refuses codings
 *  not ending in chunked, so a chunked body is re-chunked under the client's own
 *  Transfer-Encoding value and a body with a length is sent as is. Field values come from
 *  llhttp, which refuses CR, LF and NUL in them. */
function requestHead(
  method: string,
  path: string,
  authority: string,
  raw: readonly string[],
  client: { httpVersion: string; address: string },
): { head: string; body: "none" | "length" | "chunked" } {
  let transferEncoding: string | undefined;
  let length = false;
  let connectionListed: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const k = raw[i]!.toLowerCase();
    if (k === "transfer-encoding") {
      transferEncoding = transferEncoding === undefined ? raw[i + 1]! : `${transferEncoding}, ${raw[i + 1]!}`;
    } else if (k === "content-length") length = raw[i + 1] !== "0";
    else if (k === "connection") {
      connectionListed ??= new Set();
      for (const t of raw[i + 1]!.split(",")) connectionListed.add(t.trim().toLowerCase());
    }
  }
  let head = `${method} ${path} HTTP/1.1\r\nHost: ${authority}\r\n`;
  for (let i = 0; i < raw.length; i += 2) {
    const k = raw[i]!.toLowerCase();
    if (
      HOP_BY_HOP.has(k) ||
      k === "host" ||
      k === "via" ||
      k === "x-forwarded-for" ||
      connectionListed?.has(k)
    )
      continue;
    head += `${raw[i]!}: ${raw[i + 1]!}\r\n`;
  }
  head += `Via: ${appendValue(fieldValues(raw, "via"), `${client.httpVersion} ${VIA_PSEUDONYM}`)}\r\n`;
  head += `X-Forwarded-For: ${appendValue(fieldValues(raw, "x-forwarded-for"), client.address)}\r\n`;
  if (transferEncoding !== undefined) head += `Transfer-Encoding: ${transferEncoding}\r\n`;
  head += "\r\n";
  return { head, body: transferEncoding !== undefined ? "chunked" : length ? "length" : "none" };
}

/** A request body whose framing the origin could read differently from Node's parser: a transfer
 *  coding list not ending in chunked (llhttp reports that only after the request was emitted). */
function requestFramingProblem(raw: readonly string[]): string | undefined {
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() !== "transfer-encoding") continue;
    const last = raw[i + 1]!.split(",").at(-1)!.trim().toLowerCase();
    if (last !== "chunked") return `Transfer-Encoding ${JSON.stringify(raw[i + 1])} does not end in chunked`;
  }
  return undefined;
}

/** A plain-text answer on a raw socket (CONNECT, upgrades); the reason phrase is HTTP's own. */
function rawResponse(socket: Duplex, status: number, reason: string): void {
  const text = http.STATUS_CODES[status] ?? "Error";
  const body = `egress-router: ${reason}\n`;
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `Connection: close\r\n\r\n${body}`,
  );
}

/** Connects to the first address that answers, in order. Only addresses that passed the
 *  policy are ever passed in; they are literals, so net.connect does no lookup of its own. */
function connectAny(addresses: readonly IP[], port: number, timeoutMs: number): Promise<OriginSocket> {
  return new Promise((resolve, reject) => {
    let i = 0;
    let lastError: Error = new Error("no address");
    const next = (): void => {
      const ip = addresses[i++];
      if (!ip) {
        reject(lastError);
        return;
      }
      const origin = connectOrigin({ host: formatIP(ip), port, family: ip.family });
      const s = origin.socket;
      const timer = setTimeout(
        () => s.destroy(new Error(`connect timeout after ${timeoutMs} ms`)),
        timeoutMs,
      );
      s.once("connect", () => {
        clearTimeout(timer);
        s.removeAllListeners("error");
        resolve(origin);
      });
      s.once("error", (e) => {
        clearTimeout(timer);
        lastError = e;
        next();
      });
    };
    next();
  });
}

export async function startHttpProxy(opts: HttpProxyOptions): Promise<RunningHttpProxy> {
  const policy = opts.policy;
  const resolver = opts.resolver ?? systemResolver;
  const connectTimeoutMs = opts.connectTimeoutMs ?? 30_000;
  const readTimeoutMs = opts.readTimeoutMs ?? DEFAULT_READ_TIMEOUT_MS;
  const emit = opts.onEvent ?? (() => {});
  // Origin connections are kept alive and reused (squid keeps persistent server connections
  // too): connectTimeoutMs to connect, readTimeoutMs without a byte while in use, and
  // connectTimeoutMs again as the idle time a pooled connection is kept.
  const pool = new OriginPool({
    connectMs: connectTimeoutMs,
    readMs: readTimeoutMs,
    idleMs: connectTimeoutMs,
  });
  const tunnels = new Set<net.Socket>();

  /** The decision for an address literal, taken without waiting (most proxied requests name
   *  an address or a name; only names need the resolver). */
  function authorizeAddress(ip: IP): Authorization {
    const v = decideAddress(policy, ip);
    return v.allow ? { ok: true, addresses: [ip] } : { ok: false, status: 403, reason: verdictReason(v) };
  }

  async function authorize(host: Host): Promise<Authorization> {
    if (host.kind === "ip") return authorizeAddress(host.ip);
    // A name decided by name rules alone is refused before any lookup is made for it.
    if (!needsAddresses(policy, host.name)) {
      const v = decideName(policy, host.name, []);
      if (!v.allow) return { ok: false, status: 403, reason: verdictReason(v) };
    }
    let addresses: IP[];
    try {
      addresses = await resolver.resolve(host.name);
    } catch (e) {
      return { ok: false, status: 502, reason: `cannot resolve ${host.name}: ${(e as Error).message}` };
    }
    if (addresses.length === 0) return { ok: false, status: 502, reason: `cannot resolve ${host.name}` };
    const v = decideName(policy, host.name, addresses);
    if (!v.allow) {
      const where = v.address ? ` (${formatIP(v.address)})` : "";
      return { ok: false, status: 403, reason: `${verdictReason(v)}${where}` };
    }
    return { ok: true, addresses };
  }

  function checkHostHeader(req: http.IncomingMessage, target: Authority): string | undefined {
    const hosts = fieldValues(req.rawHeaders, "host");
    if (hosts.length > 1) return "more than one Host header";
    if (hosts.length === 1 && !hostHeaderAgrees(target, hosts[0]!)) {
      return `Host header ${JSON.stringify(hosts[0])} does not match the request target`;
    }
    return undefined;
  }

  function refuseRequest(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    status: number,
    kind: ProxyEvent["kind"],
    reason: string,
  ): void {
    emit({ kind, method: req.method ?? "GET", target: req.url ?? "", reason });
    req.resume();
    res.writeHead(status, { "content-type": "text/plain", connection: "close" });
    res.end(`egress-router: ${reason}\n`);
  }

  function onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = req.url ?? "";
    let target: HttpTarget;
    try {
      target = parseAbsoluteHttpUrl(url);
    } catch (e) {
      refuseRequest(req, res, 400, "reject", e instanceof BadTargetError ? e.message : String(e));
      return;
    }
    const hostProblem = checkHostHeader(req, target.authority);
    if (hostProblem) {
      refuseRequest(req, res, 400, "reject", hostProblem);
      return;
    }
    const framingProblem = requestFramingProblem(req.rawHeaders);
    if (framingProblem) {
      refuseRequest(req, res, 400, "reject", framingProblem);
      return;
    }
    const host = target.authority.host;
    if (host.kind === "ip") {
      forwardRequest(req, res, target, authorizeAddress(host.ip));
      return;
    }
    authorize(host).then(
      (auth) => forwardRequest(req, res, target, auth),
      (e: unknown) => res.destroy(e instanceof Error ? e : new Error(String(e))),
    );
  }

  function forwardRequest(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    target: HttpTarget,
    auth: Authorization,
  ): void {
    const method = req.method ?? "GET";
    const url = req.url ?? "";
    if (!auth.ok) {
      refuseRequest(req, res, auth.status, auth.status === 403 ? "deny" : "error", auth.reason);
      return;
    }
    // A client that left while its name was being resolved: its response's 'close' has been
    // emitted already, so an exchange started now would not notice; send nothing.
    if (req.socket.destroyed) return;
    const address = auth.addresses[0]!;
    const addressText = formatIP(address);
    emit({ kind: "allow", method, target: url, address: addressText });
    const { head, body } = requestHead(method, target.path, target.authorityText, req.rawHeaders, {
      httpVersion: req.httpVersion === "1.0" ? "1.0" : "1.1",
      // squid writes "unknown" when it has no address for the client.
      address: req.socket.remoteAddress ?? "unknown",
    });
    forward(
      pool,
      {
        address: addressText,
        family: address.family,
        port: target.authority.port,
        head,
        isHeadRequest: method === "HEAD",
        body,
        filterResponseHeaders: responseHeaders,
        onError: (e) => {
          emit({ kind: "error", method, target: url, reason: e.message });
          return `egress-router: upstream ${formatHost(target.authority.host)}: ${e.message}\n`;
        },
      },
      req,
      res,
    );
  }

  async function onConnect(req: http.IncomingMessage, client: Duplex, head: Buffer): Promise<void> {
    const url = req.url ?? "";
    const method = "CONNECT";
    client.on("error", () => client.destroy());
    let target: Authority;
    try {
      target = parseConnectTarget(url);
    } catch (e) {
      emit({ kind: "reject", method, target: url, reason: (e as Error).message });
      return rawResponse(client, 400, (e as Error).message);
    }
    const hostProblem = checkHostHeader(req, target);
    if (hostProblem) {
      emit({ kind: "reject", method, target: url, reason: hostProblem });
      return rawResponse(client, 400, hostProblem);
    }
    const auth = await authorize(target.host);
    if (!auth.ok) {
      emit({ kind: auth.status === 403 ? "deny" : "error", method, target: url, reason: auth.reason });
      return rawResponse(client, auth.status, auth.reason);
    }
    let origin: OriginSocket;
    try {
      origin = await connectAny(auth.addresses, target.port, connectTimeoutMs);
    } catch (e) {
      emit({ kind: "error", method, target: url, reason: (e as Error).message });
      return rawResponse(client, 502, (e as Error).message);
    }
    const upstream = origin.socket;
    if (client.destroyed) {
      upstream.destroy();
      return;
    }
    emit({ kind: "allow", method, target: url, address: origin.address });
    tunnels.add(upstream);
    upstream.on("close", () => tunnels.delete(upstream));
    joinTunnel(client, origin, head, "HTTP/1.1 200 Connection Established\r\n\r\n");
    // Every byte of the tunnel, either way, is a read or a write on the origin's socket, so its
    // inactivity timer is the tunnel's. (A peer that vanished without a FIN or reset would
    // otherwise hold both sockets for good.)
    if (readTimeoutMs > 0) {
      upstream.setTimeout(readTimeoutMs, () => {
        emit({ kind: "idle", method, target: url, reason: `no data for ${readTimeoutMs / 1000} s` });
        upstream.destroy();
      });
    }
  }

  // HTTP/1.1 clients must send Host, but an absolute-form target already names the host; the
  // agreement check below covers a Host that is present.
  // Timeouts on the client side: the request head must arrive within headersTimeoutMs; the body
  // then has no total limit (node:http's requestTimeout, 300 s by default, cut longer uploads
  // with a 408 even while their bytes were flowing; squid limits only the head). A body that
  // stops flowing is ended by the read timeout on the origin side.
  const headersTimeout = opts.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS;
  const server = http.createServer({
    keepAliveTimeout: 30_000,
    requireHostHeader: false,
    headersTimeout,
    requestTimeout: 0,
    // squid's request_header_max_size (64 KB) instead of node:http's 16 KiB: large cookies or
    // bearer tokens pass, as they did through upstream's squid. Response heads have the same
    // limit (response.ts MAX_HEAD_BYTES).
    maxHeaderSize: MAX_HEAD_BYTES,
    // node:http looks for late heads on an interval (30 s by default): at least twice per limit.
    connectionsCheckingInterval: Math.min(30_000, Math.max(50, Math.floor(headersTimeout / 2))),
  });
  server.on("request", (req, res) => {
    try {
      onRequest(req, res);
    } catch (e) {
      res.destroy(e instanceof Error ? e : new Error(String(e)));
    }
  });
  server.on("connect", (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    onConnect(req, socket, head).catch(() => socket.destroy());
  });
  // Upgrades through a forward proxy would bypass the request path above; refuse them.
  server.on("upgrade", (req: http.IncomingMessage, socket: Duplex) => {
    emit({
      kind: "reject",
      method: req.method ?? "",
      target: req.url ?? "",
      reason: "upgrade not supported",
    });
    rawResponse(socket, 501, "protocol upgrade through the proxy is not supported");
  });
  server.on("clientError", (e: NodeJS.ErrnoException, socket: Duplex) =>
    e.code === "ERR_HTTP_REQUEST_TIMEOUT"
      ? rawResponse(socket, 408, `request head not complete within ${headersTimeout / 1000} s`)
      : e.code === "HPE_HEADER_OVERFLOW"
        ? rawResponse(socket, 431, `request head larger than ${MAX_HEAD_BYTES / 1024} KiB`)
        : rawResponse(socket, 400, "malformed request"),
  );

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? DEFAULT_HTTP_PROXY_PORT, opts.host ?? "0.0.0.0", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const addr = server.address() as net.AddressInfo;
  return {
    address: addr.address,
    port: addr.port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const t of tunnels) t.destroy();
        pool.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
