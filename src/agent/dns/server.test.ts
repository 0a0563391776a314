// The cluster DNS server over real sockets on loopback (ephemeral ports): zone answers, forwarding
// to a fake upstream over UDP and TCP, failover between upstreams, SERVFAIL, FORMERR, truncation.
import assert from "node:assert/strict";
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { createConnection, createServer, type Server } from "node:net";
import { after, before, describe, it } from "node:test";
import type { KubeObject } from "../../api/object.js";
import { logger } from "../../util/log.js";
import {
  CLASS_IN,
  type DnsMessage,
  decodeFlags,
  encodeMessage,
  parseMessage,
  RCODE,
  TYPE,
} from "./message.js";
import { ClusterDnsServer, parseUpstream } from "./server.js";
import { answerQuery, buildClusterZone } from "./zone.js";

const HOST = "127.0.0.1";
const log = logger("dns-test");
log.level = "silent";

const svc = (ns: string, name: string, spec: Record<string, unknown>): KubeObject =>
  ({ apiVersion: "v1", kind: "Service", metadata: { namespace: ns, name }, spec }) as unknown as KubeObject;
const many = Array.from({ length: 60 }, (_, i) => ({ ip: `10.128.0.${i + 2}` }));
const zone = buildClusterZone(
  [
    svc("shop", "web", { clusterIP: "172.30.0.10" }),
    svc("shop", "big", { clusterIP: "None" }),
    svc("shop", "out", { type: "ExternalName", externalName: "www.foo.com" }),
    svc("shop", "in", { type: "ExternalName", externalName: "web.shop.svc.cluster.local" }),
    svc("shop", "loop", { type: "ExternalName", externalName: "loop.shop.svc.cluster.local" }),
  ],
  [
    {
      apiVersion: "v1",
      kind: "Endpoints",
      metadata: { namespace: "shop", name: "big" },
      subsets: [{ addresses: many }],
    } as unknown as KubeObject,
  ],
);

function query(name: string, id = 7, type: number = TYPE.A): Uint8Array {
  return encodeMessage({
    id,
    flags: decodeFlags(0x0100),
    questions: [{ name, type, class: CLASS_IN }],
    answers: [],
    authorities: [],
    additionals: [],
  });
}

/** A fake upstream: answers every A query with 198.51.100.7 over UDP and TCP; counts queries. */
class FakeUpstream {
  udp!: UdpSocket;
  tcp!: Server;
  port = 0;
  queries = 0;
  async start(): Promise<void> {
    const reply = (raw: Uint8Array): Uint8Array => {
      this.queries++;
      const q = parseMessage(raw);
      const r: DnsMessage = {
        ...q,
        flags: { ...q.flags, qr: true, ra: true },
        answers: [
          {
            name: q.questions[0]!.name,
            type: TYPE.A,
            class: CLASS_IN,
            ttl: 60,
            data: { kind: "A", address: "198.51.100.7" },
          },
        ],
      };
      return encodeMessage(r);
    };
    this.udp = createSocket("udp4");
    this.udp.on("message", (m, r) => this.udp.send(reply(m), r.port, r.address));
    await new Promise<void>((res) => this.udp.bind(0, HOST, () => res()));
    this.port = this.udp.address().port;
    this.tcp = createServer((c) => {
      c.on("data", (d) => {
        const out = reply(d.subarray(2, 2 + d.readUInt16BE(0)));
        const head = Buffer.alloc(2);
        head.writeUInt16BE(out.length);
        c.end(Buffer.concat([head, out]));
      });
    });
    await new Promise<void>((res) => this.tcp.listen(this.port, HOST, () => res()));
  }
  async stop(): Promise<void> {
    this.udp.close();
    await new Promise<void>((res) => this.tcp.close(() => res()));
  }
}

function askUdp(port: number, bytes: Uint8Array, timeoutMs = 1500): Promise<Uint8Array | undefined> {
  return new Promise((resolve) => {
    const s = createSocket("udp4");
    const t = setTimeout(() => {
      s.close();
      resolve(undefined);
    }, timeoutMs);
    s.on("message", (m) => {
      clearTimeout(t);
      s.close();
      resolve(m);
    });
    s.send(bytes, port, HOST);
  });
}

/** Sends all queries on one TCP connection at once; resolves with the replies in order. */
function askTcp(port: number, queries: Uint8Array[]): Promise<DnsMessage[]> {
  return new Promise((resolve, reject) => {
    const c = createConnection({ host: HOST, port });
    let buf = Buffer.alloc(0);
    const out: DnsMessage[] = [];
    c.on("error", reject);
    c.on("connect", () => {
      for (const q of queries) {
        const head = Buffer.alloc(2);
        head.writeUInt16BE(q.length);
        c.write(Buffer.concat([head, q]));
      }
    });
    c.on("data", (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        out.push(parseMessage(buf.subarray(2, 2 + buf.readUInt16BE(0))));
        buf = buf.subarray(2 + buf.readUInt16BE(0));
      }
      if (out.length === queries.length) {
        c.destroy();
        resolve(out);
      }
    });
  });
}

/** A port nothing listens on (UDP queries to it go unanswered). */
async function deadPort(): Promise<number> {
  const s = createSocket("udp4");
  await new Promise<void>((res) => s.bind(0, HOST, () => res()));
  const p = s.address().port;
  s.close();
  return p;
}

describe("ClusterDnsServer", () => {
  const upstream = new FakeUpstream();
  let server: ClusterDnsServer;
  let port = 0;
  let failover: ClusterDnsServer;
  let failoverPort = 0;
  let noUpstream: ClusterDnsServer;
  let noUpstreamPort = 0;

  before(async () => {
    await upstream.start();
    const decide = (q: DnsMessage) => answerQuery(q, zone, { ttl: 5 });
    server = new ClusterDnsServer({ upstreams: [{ host: HOST, port: upstream.port }], decide, log });
    port = await server.listen(HOST, 0);
    const dead = await deadPort();
    failover = new ClusterDnsServer({
      upstreams: [
        { host: HOST, port: dead },
        { host: HOST, port: upstream.port },
      ],
      decide,
      timeoutMs: 200,
      log,
    });
    failoverPort = await failover.listen(HOST, 0);
    noUpstream = new ClusterDnsServer({
      upstreams: [{ host: HOST, port: dead }],
      decide,
      timeoutMs: 200,
      log,
    });
    noUpstreamPort = await noUpstream.listen(HOST, 0);
  });
  after(async () => {
    await Promise.all([server?.close(), failover?.close(), noUpstream?.close(), upstream.stop()]);
  });

  it("answers a Service name over UDP from the zone, without asking upstream", async () => {
    const before = upstream.queries;
    const r = parseMessage((await askUdp(port, query("web.shop.svc.cluster.local", 99)))!);
    assert.equal(r.id, 99);
    assert.equal(r.flags.rcode, RCODE.NOERROR);
    assert.deepEqual(
      r.answers.map((a) => a.data),
      [{ kind: "A", address: "172.30.0.10" }],
    );
    assert.equal(upstream.queries, before);
  });

  it("NXDOMAIN for an unknown name in the zone", async () => {
    const r = parseMessage((await askUdp(port, query("nope.shop.svc.cluster.local")))!);
    assert.equal(r.flags.rcode, RCODE.NXDOMAIN);
  });

  it("forwards other names over UDP and relays the upstream answer with the client's id", async () => {
    const r = parseMessage((await askUdp(port, query("www.foo.com", 1234)))!);
    assert.equal(r.id, 1234);
    assert.deepEqual(
      r.answers.map((a) => a.data),
      [{ kind: "A", address: "198.51.100.7" }],
    );
  });

  it("TCP: zone and forwarded answers, several queries on one connection, in order", async () => {
    const rs = await askTcp(port, [
      query("web.shop.svc.cluster.local", 1),
      query("www.foo.com", 2),
      query("x.cluster.local", 3),
    ]);
    assert.deepEqual(
      rs.map((r) => [r.id, r.flags.rcode, r.answers.length]),
      [
        [1, RCODE.NOERROR, 1],
        [2, RCODE.NOERROR, 1],
        [3, RCODE.NXDOMAIN, 0],
      ],
    );
  });

  it("a large answer is truncated over UDP (TC) and complete over TCP", async () => {
    const u = parseMessage((await askUdp(port, query("big.shop.svc.cluster.local")))!);
    assert.equal(u.flags.tc, true);
    assert.equal(u.answers.length, 0);
    const [t] = await askTcp(port, [query("big.shop.svc.cluster.local")]);
    assert.equal(t!.flags.tc, false);
    assert.equal(t!.answers.length, 60);
  });

  it("ExternalName: the CNAME's target is looked up (upstream or in the zone) for address queries", async () => {
    const summary = (m: DnsMessage) => [
      m.flags.rcode,
      m.answers.map((a) =>
        a.data.kind === "CNAME" ? `CNAME ${a.data.target}` : a.data.kind === "A" ? a.data.address : "?",
      ),
    ];
    const ask = async (name: string, type: number = TYPE.A) =>
      summary(parseMessage((await askUdp(port, query(name, 3, type)))!));
    assert.deepEqual(await ask("out.shop.svc.cluster.local"), [
      RCODE.NOERROR,
      ["CNAME www.foo.com", "198.51.100.7"],
    ]);
    assert.deepEqual(await ask("in.shop.svc.cluster.local"), [
      RCODE.NOERROR,
      ["CNAME web.shop.svc.cluster.local", "172.30.0.10"],
    ]);
    // A CNAME query gets the alias only; a self-referencing alias stops.
    assert.deepEqual(await ask("out.shop.svc.cluster.local", TYPE.CNAME), [
      RCODE.NOERROR,
      ["CNAME www.foo.com"],
    ]);
    const loop = await ask("loop.shop.svc.cluster.local");
    assert.equal(loop[0], RCODE.NOERROR);
    assert.ok((loop[1] as string[]).length <= 9);
  });

  it("a silent upstream is skipped for the next one", async () => {
    const r = parseMessage((await askUdp(failoverPort, query("www.foo.com", 5)))!);
    assert.deepEqual(
      r.answers.map((a) => a.data),
      [{ kind: "A", address: "198.51.100.7" }],
    );
  });

  it("SERVFAIL when no upstream answers", async () => {
    const r = parseMessage((await askUdp(noUpstreamPort, query("www.foo.com", 6)))!);
    assert.equal(r.id, 6);
    assert.equal(r.flags.rcode, RCODE.SERVFAIL);
    assert.deepEqual(r.questions, [{ name: "www.foo.com", type: TYPE.A, class: CLASS_IN }]);
  });

  it("FORMERR for a malformed query with a header; silence for a few stray bytes", async () => {
    const bad = Buffer.from("abcd01000001000000000000ff", "hex");
    const r = parseMessage((await askUdp(port, bad))!);
    assert.equal(r.id, 0xabcd);
    assert.equal(r.flags.rcode, RCODE.FORMERR);
    assert.equal(await askUdp(port, Buffer.from("ab", "hex"), 300), undefined);
  });

  it("listen is idempotent per address", async () => {
    assert.equal(await server.listen(HOST, 0), port);
    assert.deepEqual(server.addresses(), [HOST]);
  });
});

describe("parseUpstream", () => {
  const cases: [string, { host: string; port: number } | RegExp][] = [
    ["192.168.126.200", { host: "192.168.126.200", port: 53 }],
    ["192.168.126.200:5353", { host: "192.168.126.200", port: 5353 }],
    ["fd00::53", { host: "fd00::53", port: 53 }],
    ["[fd00::53]:5353", { host: "fd00::53", port: 5353 }],
    ["1.2.3.4:0", /expected ip, ip:port/],
    ["1.2.3.4:x", /expected ip, ip:port/],
    ["", /expected ip, ip:port/],
  ];
  for (const [input, want] of cases)
    it(JSON.stringify(input), () => {
      if (want instanceof RegExp) assert.throws(() => parseUpstream(input), want);
      else assert.deepEqual(parseUpstream(input), want);
    });
});
