// Forwarding of plain-HTTP requests to origin servers over our own pooled keep-alive connections
// (net.Socket) with the strict response parser of response.ts, instead of http.request and an
// Agent. One exchange per proxied request: it writes the request head (and body) the proxy built,
// parses the response, and streams the body into the client's ServerResponse without buffering
// beyond the bytes of one read. A connection goes back to the pool only when the response was
// read to its end, the request was sent to its end, and the origin allows keep-alive; any framing
// doubt closes it. The connection is to an address literal the caller authorized: this module
// never resolves names and never decides policy.

import type http from "node:http";
import net from "node:net";
import { type ResponseHead, ResponseParser, type ResponseSink } from "./response.js";

/** Idle origin connections kept per address and port (http.Agent's maxFreeSockets was 256). */
export const MAX_IDLE_PER_ORIGIN = 256;

/** A connection to one origin address and port. Its listeners are attached once and dispatch to
 *  the exchange using it, so a reused connection costs no listener churn per request. */
class OriginConnection {
  readonly parser = new ResponseParser();
  user: Exchange | undefined;
  /** Whether a request has completed on this connection before (a stale keep-alive socket). */
  reused = false;
  /** The inactivity limit now set on the socket (0: none). */
  timeoutMs = 0;

  constructor(
    readonly pool: OriginPool,
    readonly key: string,
    readonly socket: net.Socket,
  ) {
    socket.setNoDelay(true);
    // Connecting, then (as the connection is new, an exchange is waiting for it) in use.
    this.arm(pool.timeouts.connectMs);
    socket.once("connect", () => this.arm(this.user ? pool.timeouts.readMs : pool.timeouts.idleMs));
    socket.on("data", (c: Buffer) => {
      if (this.user) this.user.onData(c);
      else socket.destroy(); // an idle connection has nothing to say
    });
    socket.on("end", () => this.user?.onEnd());
    socket.on("error", (e: Error) => this.user?.onError(e));
    socket.on("timeout", () => {
      this.user?.onTimeout(this.timeoutMs);
      socket.destroy();
    });
    socket.on("close", () => {
      pool.forget(this);
      this.user?.onEnd();
    });
  }

  /** Sets the socket's inactivity limit: connecting, in use by an exchange, or idle in the pool. */
  arm(ms: number): void {
    this.timeoutMs = ms;
    this.socket.setTimeout(ms);
  }
}

/** Inactivity limits of origin connections (ms; 0 for none): while connecting, while an exchange
 *  uses the connection (no byte either way: squid's read_timeout), and idle in the pool. */
export interface OriginTimeouts {
  connectMs: number;
  readMs: number;
  idleMs: number;
}

export class OriginPool {
  private readonly idle = new Map<string, OriginConnection[]>();
  private readonly all = new Set<OriginConnection>();

  constructor(readonly timeouts: OriginTimeouts) {}

  /** An idle connection to address:port, or a new one (connecting: writes are queued). */
  acquire(address: string, family: 4 | 6, port: number, fresh: boolean): OriginConnection {
    const key = `${address} ${port}`;
    const list = fresh ? undefined : this.idle.get(key);
    while (list !== undefined && list.length > 0) {
      const c = list.pop()!;
      if (c.socket.destroyed) continue;
      c.arm(this.timeouts.readMs);
      return c;
    }
    const c = new OriginConnection(this, key, net.connect({ host: address, port, family }));
    this.all.add(c);
    return c;
  }

  release(c: OriginConnection): void {
    c.user = undefined;
    c.reused = true;
    let list = this.idle.get(c.key);
    if (list === undefined) {
      list = [];
      this.idle.set(c.key, list);
    }
    if (list.length >= MAX_IDLE_PER_ORIGIN || c.socket.destroyed) c.socket.destroy();
    else {
      c.arm(this.timeouts.idleMs);
      list.push(c);
    }
  }

  forget(c: OriginConnection): void {
    this.all.delete(c);
    const list = this.idle.get(c.key);
    if (list === undefined) return;
    const i = list.indexOf(c);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.idle.delete(c.key);
  }

  close(): void {
    for (const c of this.all) c.socket.destroy();
  }
}

export interface OriginRequest {
  address: string;
  family: 4 | 6;
  port: number;
  /** The complete request head to send ("GET /path HTTP/1.1\r\n...\r\n\r\n"), latin1. */
  head: string;
  isHeadRequest: boolean;
  /** How the request body is sent: none, as is (Content-Length), or re-chunked. */
  body: "none" | "length" | "chunked";
  /** Response header fields (filtered by the caller: hop-by-hop fields). */
  filterResponseHeaders(raw: readonly string[], minor: 0 | 1): string[];
  /** Called once when the exchange fails; returns the text of the 502 answer. */
  onError(e: Error): string;
}

/** Sends `r` to the origin and streams the answer into `res`. */
export function forward(
  pool: OriginPool,
  r: OriginRequest,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): void {
  new Exchange(pool, r, req, res).start(false);
}

class Exchange implements ResponseSink {
  private conn!: OriginConnection;
  private head: ResponseHead | undefined;
  private headSent = false;
  /** Body views parsed from the current read, written after the whole read was parsed, so that
   *  a framing error anywhere in the read that carried the head still turns into a 502. */
  private readonly batch: Buffer[] = [];
  private completed = false;
  private done = false;
  private requestDone: boolean;
  private retried = false;

  constructor(
    private readonly pool: OriginPool,
    private readonly r: OriginRequest,
    private readonly req: http.IncomingMessage,
    private readonly res: http.ServerResponse,
  ) {
    this.requestDone = r.body === "none";
    res.once("close", () => {
      // The client went away before the response was complete: drop the origin connection.
      if (!this.done) this.abandon();
    });
  }

  start(fresh: boolean): void {
    const r = this.r;
    const conn = this.pool.acquire(r.address, r.family, r.port, fresh);
    this.conn = conn;
    conn.user = this;
    conn.parser.reset(r.isHeadRequest);
    conn.socket.write(r.head, "latin1");
    if (r.body !== "none") this.sendBody();
  }

  private sendBody(): void {
    const socket = this.conn.socket;
    const chunked = this.r.body === "chunked";
    const req = this.req;
    req.on("data", (c: Buffer) => {
      if (this.done || socket.destroyed) return;
      let ok: boolean;
      if (chunked) {
        socket.write(`${c.length.toString(16)}\r\n`, "latin1");
        socket.write(c);
        ok = socket.write("\r\n", "latin1");
      } else ok = socket.write(c);
      if (!ok) {
        req.pause();
        socket.once("drain", () => req.resume());
      }
    });
    req.on("end", () => {
      if (this.done || socket.destroyed) return;
      if (chunked) socket.write("0\r\n\r\n", "latin1");
      this.requestDone = true;
    });
  }

  // ResponseSink: called by the parser inside onData.
  onHead(h: ResponseHead): void {
    this.head = h;
  }
  onBody(chunk: Buffer): void {
    this.batch.push(chunk);
  }
  onComplete(): void {
    this.completed = true;
  }

  onData(chunk: Buffer): void {
    if (this.done) return;
    try {
      this.conn.parser.execute(chunk, this);
    } catch (e) {
      // Bytes after a complete response: the response stands, the connection does not.
      if (!this.completed) {
        this.fail(e as Error);
        return;
      }
      this.conn.user = undefined;
      this.conn.socket.destroy();
    }
    this.flush();
  }

  onEnd(): void {
    if (this.done) return;
    if (!this.completed) {
      const c = this.conn;
      // A pooled connection the origin closed just as we reused it: nothing was answered, so a
      // request without a body is sent again, once, on a new connection (as browsers do).
      if (c.parser.received === 0 && c.reused && this.r.body === "none" && !this.retried) {
        this.retried = true;
        c.user = undefined;
        c.socket.destroy();
        this.start(true);
        return;
      }
      try {
        c.parser.finish(this); // completes a close-delimited body, or throws
      } catch (e) {
        this.fail(e as Error);
        return;
      }
    }
    this.flush();
  }

  onError(e: Error): void {
    if (this.done) return;
    if (this.completed) {
      this.flush();
      return;
    }
    const c = this.conn;
    if (c.parser.received === 0 && c.reused && this.r.body === "none" && !this.retried) {
      this.onEnd();
      return;
    }
    this.fail(e);
  }

  onTimeout(ms: number): void {
    if (!this.done) this.fail(new Error(`upstream timeout after ${ms} ms`));
  }

  private flush(): void {
    const res = this.res;
    const h = this.head;
    if (h !== undefined && !this.headSent) {
      this.headSent = true;
      const headers = this.r.filterResponseHeaders(h.rawHeaders, h.minor);
      if (h.contentLength !== undefined && h.framing.kind !== "chunked" && h.framing.kind !== "close") {
        headers.push("Content-Length", String(h.contentLength));
      }
      res.writeHead(h.status, h.reason, headers);
    }
    const batch = this.batch;
    if (this.completed) {
      this.done = true;
      const last = batch.length === 1 ? batch[0] : undefined;
      if (last === undefined) for (const b of batch) res.write(b);
      batch.length = 0;
      res.end(last);
      const c = this.conn;
      if (c.user !== this) return; // already dropped (bytes after the end)
      if (h!.keepAlive && this.requestDone && !c.socket.destroyed) this.pool.release(c);
      else {
        c.user = undefined;
        c.socket.destroy();
      }
      return;
    }
    let ok = true;
    for (const b of batch) ok = res.write(b);
    batch.length = 0;
    if (!ok) {
      const socket = this.conn.socket;
      socket.pause();
      res.once("drain", () => socket.resume());
    }
  }

  private fail(e: Error): void {
    this.abandon();
    const text = this.r.onError(e);
    const res = this.res;
    if (!this.headSent && !res.headersSent) {
      this.headSent = true;
      res.writeHead(502, {
        "content-type": "text/plain",
        "content-length": Buffer.byteLength(text),
        connection: "close",
      });
      res.end(text);
    } else res.destroy();
  }

  private abandon(): void {
    this.done = true;
    this.batch.length = 0;
    const c = this.conn;
    if (c.user === this) c.user = undefined;
    c.socket.destroy();
  }
}
