// The node's cluster DNS server (the I/O shell around zone.ts): UDP and TCP listeners on the
// addresses pods use as their nameserver, answering the cluster zone itself and forwarding every
// other query unchanged to the upstream resolvers (in order, next one on timeout or error). It never
// caches and never rewrites forwarded answers (the client's id and flags pass through); only the
// target of an ExternalName CNAME is looked up on the client's behalf.
import { randomInt } from "node:crypto";
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { createConnection, createServer, isIPv6, type Server, type Socket } from "node:net";
import type { Logger } from "../../util/log.js";
import {
  type DnsMessage,
  encodeForUdp,
  encodeMessage,
  messageId,
  parseMessage,
  RCODE,
  TYPE,
} from "./message.js";
import { type DnsDecision, replyTo, udpLimit } from "./zone.js";

export interface Upstream {
  host: string;
  port: number;
}

/** `ip`, `ip:port` or `[ipv6]:port` → an upstream; throws naming the value. */
export function parseUpstream(s: string): Upstream {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  const v4 = /^([^:]+)(?::(\d+))?$/.exec(s);
  const host = v6?.[1] ?? (isIPv6(s) ? s : v4?.[1]);
  const port = Number(v6?.[2] ?? (isIPv6(s) ? undefined : v4?.[2]) ?? 53);
  if (!host || !Number.isInteger(port) || port < 1 || port > 65535)
    throw new Error(`upstream DNS server ${JSON.stringify(s)}: expected ip, ip:port or [ipv6]:port`);
  return { host, port };
}

export interface ClusterDnsServerOptions {
  upstreams: Upstream[];
  /** Decides a parsed query (the zone's answerQuery over the current caches). */
  decide: (query: DnsMessage) => DnsDecision;
  /** Per upstream attempt. */
  timeoutMs?: number;
  log: Logger;
}

interface Listener {
  address: string;
  udp: UdpSocket;
  tcp: Server;
  port: number;
}

const TCP_IDLE_MS = 10_000;
/** CNAME links followed for one answer. */
const MAX_CHASE = 8;

export class ClusterDnsServer {
  private readonly listeners = new Map<string, Listener>();
  private readonly connections = new Set<Socket>();

  constructor(private readonly opts: ClusterDnsServerOptions) {}

  /** Addresses currently served. */
  addresses(): string[] {
    return [...this.listeners.keys()];
  }

  port(address: string): number | undefined {
    return this.listeners.get(address)?.port;
  }

  /** Listens on UDP and TCP `address:port` (port 0: one ephemeral port for both, tests). Idempotent. */
  async listen(address: string, port = 53): Promise<number> {
    const have = this.listeners.get(address);
    if (have) return have.port;
    const udp = createSocket(isIPv6(address) ? "udp6" : "udp4");
    udp.on("message", (msg, rinfo) => void this.onDatagram(udp, msg, rinfo.address, rinfo.port));
    await new Promise<void>((resolve, reject) => {
      udp.once("error", reject);
      udp.bind(port, address, () => {
        udp.off("error", reject);
        resolve();
      });
    });
    udp.on("error", (err) => this.opts.log.warn({ err, address }, "cluster DNS UDP socket error"));
    const bound = udp.address().port;
    const tcp = createServer((c) => this.onConnection(c));
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once("error", reject);
        tcp.listen(bound, address, () => {
          tcp.off("error", reject);
          resolve();
        });
      });
    } catch (e) {
      udp.close();
      throw e;
    }
    tcp.on("error", (err) => this.opts.log.warn({ err, address }, "cluster DNS TCP server error"));
    this.listeners.set(address, { address, udp, tcp, port: bound });
    this.opts.log.info({ address, port: bound }, "cluster DNS listening");
    return bound;
  }

  async close(): Promise<void> {
    for (const c of this.connections) c.destroy();
    await Promise.all(
      [...this.listeners.values()].map(
        (l) =>
          new Promise<void>((resolve) => {
            l.udp.close();
            l.tcp.close(() => resolve());
          }),
      ),
    );
    this.listeners.clear();
  }

  /** The reply bytes for one query, or undefined for none (unparseable without an id, a response). */
  private async handle(raw: Uint8Array, transport: "udp" | "tcp"): Promise<Uint8Array | undefined> {
    let query: DnsMessage;
    try {
      query = parseMessage(raw);
    } catch {
      const id = messageId(raw);
      if (id === undefined || raw.length < 12 || (raw[2]! & 0x80) !== 0) return undefined;
      return encodeMessage(
        replyTo(
          {
            id,
            flags: {
              qr: false,
              opcode: 0,
              aa: false,
              tc: false,
              rd: (raw[2]! & 1) !== 0,
              ra: false,
              ad: false,
              cd: false,
              rcode: 0,
            },
            questions: [],
            answers: [],
            authorities: [],
            additionals: [],
          },
          RCODE.FORMERR,
        ),
      );
    }
    const d = this.opts.decide(query);
    if (d.kind === "drop") return undefined;
    if (d.kind === "reply") {
      const response = await this.chase(query, d.response, transport);
      return transport === "udp" ? encodeForUdp(response, udpLimit(query)) : encodeMessage(response);
    }
    const forwarded = await this.forward(raw, transport);
    return forwarded ?? encodeMessage(replyTo(query, RCODE.SERVFAIL));
  }

  /**
   * An ExternalName answer (a CNAME) to an address query gets the target's records appended, as
   * CoreDNS does: stub resolvers such as glibc's do not follow a CNAME themselves. The target is
   * looked up in the zone or upstream (a fresh id); a failed lookup leaves the CNAME alone.
   */
  private async chase(query: DnsMessage, answer: DnsMessage, transport: "udp" | "tcp"): Promise<DnsMessage> {
    let response = answer;
    const q = query.questions[0];
    if (!q || (q.type !== TYPE.A && q.type !== TYPE.AAAA)) return response;
    const seen = new Set<string>();
    for (let depth = 0; depth < MAX_CHASE; depth++) {
      const last = response.answers.at(-1)?.data;
      if (last?.kind !== "CNAME" || seen.has(last.target)) return response;
      seen.add(last.target);
      const sub: DnsMessage = {
        id: randomInt(0x10000),
        flags: { ...query.flags, rcode: 0 },
        questions: [{ name: last.target, type: q.type, class: q.class }],
        answers: [],
        authorities: [],
        additionals: [],
      };
      const d = this.opts.decide(sub);
      let got: DnsMessage | undefined;
      if (d.kind === "reply") got = d.response;
      else if (d.kind === "forward") {
        const raw = await this.forward(encodeMessage(sub), transport);
        try {
          got = raw ? parseMessage(raw) : undefined;
        } catch {
          got = undefined;
        }
      }
      if (!got || got.id !== sub.id) return response;
      response = {
        ...response,
        flags: { ...response.flags, rcode: got.flags.rcode },
        answers: [...response.answers, ...got.answers],
      };
      if (got.answers.length === 0 || got.answers.at(-1)?.data.kind !== "CNAME") return response;
    }
    return response;
  }

  private async onDatagram(sock: UdpSocket, msg: Buffer, host: string, port: number): Promise<void> {
    try {
      const reply = await this.handle(msg, "udp");
      if (reply) sock.send(reply, port, host);
    } catch (err) {
      this.opts.log.warn({ err, client: `${host}:${port}` }, "cluster DNS query failed");
    }
  }

  private onConnection(c: Socket): void {
    this.connections.add(c);
    c.setTimeout(TCP_IDLE_MS, () => c.destroy());
    c.on("close", () => this.connections.delete(c));
    c.on("error", () => {});
    let buf = Buffer.alloc(0);
    // Queries on one connection are answered in order (RFC 7766 allows either; order is simpler).
    let chain = Promise.resolve();
    c.on("data", (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2) {
        const len = buf.readUInt16BE(0);
        if (buf.length < 2 + len) break;
        const msg = buf.subarray(2, 2 + len);
        buf = buf.subarray(2 + len);
        chain = chain.then(async () => {
          try {
            const reply = await this.handle(msg, "tcp");
            if (!reply || c.destroyed) return;
            const head = Buffer.alloc(2);
            head.writeUInt16BE(reply.length);
            c.write(Buffer.concat([head, reply]));
          } catch (err) {
            this.opts.log.warn({ err }, "cluster DNS TCP query failed");
          }
        });
      }
    });
  }

  /** The first upstream answer to the query, relayed as it is. */
  private async forward(raw: Uint8Array, transport: "udp" | "tcp"): Promise<Uint8Array | undefined> {
    const timeoutMs = this.opts.timeoutMs ?? 2000;
    for (const u of this.opts.upstreams) {
      if (this.listeners.get(u.host)?.port === u.port) continue; // never to ourselves
      try {
        return transport === "udp"
          ? await udpExchange(u, raw, timeoutMs)
          : await tcpExchange(u, raw, timeoutMs);
      } catch (err) {
        this.opts.log.debug({ err, upstream: `${u.host}:${u.port}` }, "upstream DNS server failed");
      }
    }
    return undefined;
  }
}

/** One query over UDP from a fresh socket (a random source port per query). */
function udpExchange(u: Upstream, raw: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
  const id = messageId(raw);
  return new Promise((resolve, reject) => {
    const s = createSocket(isIPv6(u.host) ? "udp6" : "udp4");
    const timer = setTimeout(() => done(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    let finished = false;
    const done = (err: Error | undefined, reply?: Uint8Array) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      s.close();
      if (err) reject(err);
      else resolve(reply!);
    };
    s.on("error", (e) => done(e));
    s.on("message", (msg, rinfo) => {
      // Only the server asked, answering this id, counts (anything else is ignored).
      if (rinfo.address !== u.host || rinfo.port !== u.port || messageId(msg) !== id) return;
      done(undefined, msg);
    });
    s.send(raw, u.port, u.host, (e) => {
      if (e) done(e);
    });
  });
}

/** One query over TCP (length-prefixed, RFC 1035 §4.2.2). */
function tcpExchange(u: Upstream, raw: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const c = createConnection({ host: u.host, port: u.port });
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => done(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    let finished = false;
    const done = (err: Error | undefined, reply?: Uint8Array) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      c.destroy();
      if (err) reject(err);
      else resolve(reply!);
    };
    c.on("error", (e) => done(e));
    c.on("connect", () => {
      const head = Buffer.alloc(2);
      head.writeUInt16BE(raw.length);
      c.write(Buffer.concat([head, raw]));
    });
    c.on("data", (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0))
        done(undefined, buf.subarray(2, 2 + buf.readUInt16BE(0)));
    });
    c.on("end", () => done(new Error("connection closed before the answer")));
  });
}
