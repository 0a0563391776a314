import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { KubeObject } from "../../api/object.js";
import { CLASS_IN, type DnsMessage, decodeFlags, RCODE, TYPE } from "./message.js";
import { answerQuery, buildClusterZone, EDNS_UDP_SIZE, udpLimit } from "./zone.js";

const svc = (ns: string, name: string, spec: Record<string, unknown>): KubeObject =>
  ({ apiVersion: "v1", kind: "Service", metadata: { namespace: ns, name }, spec }) as unknown as KubeObject;
const eps = (ns: string, name: string, subsets: unknown[]): KubeObject =>
  ({
    apiVersion: "v1",
    kind: "Endpoints",
    metadata: { namespace: ns, name },
    subsets,
  }) as unknown as KubeObject;

const services = [
  svc("shop", "web", { clusterIP: "172.30.0.10", clusterIPs: ["172.30.0.10"] }),
  svc("shop", "dual", { clusterIP: "172.30.0.11", clusterIPs: ["172.30.0.11", "fd02::11"] }),
  svc("shop", "db", { clusterIP: "None" }),
  svc("shop", "empty", { clusterIP: "None" }),
  svc("shop", "pending", {}),
  svc("shop", "alias", { type: "ExternalName", externalName: "www.foo.com." }),
  svc("other", "web", { clusterIP: "172.30.5.5" }),
  svc("bad_ns", "x", { clusterIP: "172.30.9.9" }),
];
const endpoints = [
  eps("shop", "db", [
    {
      addresses: [{ ip: "10.128.2.7", hostname: "db-0" }, { ip: "10.128.0.5" }],
      notReadyAddresses: [{ ip: "10.128.4.4" }],
    },
    { addresses: [{ ip: "10.128.0.5" }, { ip: "not-an-ip" }] },
  ]),
  eps("shop", "web", [{ addresses: [{ ip: "10.128.9.9" }] }]),
];
const zone = buildClusterZone(services, endpoints);

function query(name: string, type: number = TYPE.A, extra: Partial<DnsMessage> = {}): DnsMessage {
  return {
    id: 42,
    flags: decodeFlags(0x0100),
    questions: [{ name, type, class: CLASS_IN }],
    answers: [],
    authorities: [],
    additionals: [],
    ...extra,
  };
}

type Want = { forward: true } | { rcode: number; answers?: string[]; soa?: boolean };

/** Answers as `TYPE value` strings, e.g. "A 172.30.0.10", "CNAME www.foo.com". */
function summary(name: string, type: number): Want {
  const d = answerQuery(query(name, type), zone, { ttl: 5 });
  if (d.kind === "forward") return { forward: true };
  if (d.kind === "drop") throw new Error("dropped");
  const r = d.response;
  const answers = r.answers.map((a) => {
    const data = a.data;
    return data.kind === "A" || data.kind === "AAAA"
      ? `${data.kind} ${data.address}`
      : data.kind === "CNAME"
        ? `CNAME ${data.target}`
        : data.kind;
  });
  return {
    rcode: r.flags.rcode,
    ...(answers.length > 0 ? { answers } : {}),
    ...(r.authorities.length > 0 ? { soa: true } : {}),
  };
}

describe("cluster zone: answers", () => {
  const cases: { name: string; type?: number; want: Want }[] = [
    { name: "web.shop.svc.cluster.local", want: { rcode: RCODE.NOERROR, answers: ["A 172.30.0.10"] } },
    { name: "WEB.Shop.SVC.cluster.local.", want: { rcode: RCODE.NOERROR, answers: ["A 172.30.0.10"] } },
    { name: "web.other.svc.cluster.local", want: { rcode: RCODE.NOERROR, answers: ["A 172.30.5.5"] } },
    // IPv4-only Service asked for AAAA: the name exists, no record (NODATA with the SOA).
    { name: "web.shop.svc.cluster.local", type: TYPE.AAAA, want: { rcode: RCODE.NOERROR, soa: true } },
    {
      name: "dual.shop.svc.cluster.local",
      type: TYPE.AAAA,
      want: { rcode: RCODE.NOERROR, answers: ["AAAA fd02::11"] },
    },
    {
      name: "dual.shop.svc.cluster.local",
      type: TYPE.ANY,
      want: { rcode: RCODE.NOERROR, answers: ["A 172.30.0.11", "AAAA fd02::11"] },
    },
    { name: "web.shop.svc.cluster.local", type: TYPE.MX, want: { rcode: RCODE.NOERROR, soa: true } },
    // Headless: the ready endpoint addresses, each once; not-ready and malformed ones left out.
    {
      name: "db.shop.svc.cluster.local",
      want: { rcode: RCODE.NOERROR, answers: ["A 10.128.0.5", "A 10.128.2.7"] },
    },
    { name: "db-0.db.shop.svc.cluster.local", want: { rcode: RCODE.NOERROR, answers: ["A 10.128.2.7"] } },
    { name: "empty.shop.svc.cluster.local", want: { rcode: RCODE.NOERROR, soa: true } },
    // A Service without a cluster IP yet exists but has no address.
    { name: "pending.shop.svc.cluster.local", want: { rcode: RCODE.NOERROR, soa: true } },
    { name: "alias.shop.svc.cluster.local", want: { rcode: RCODE.NOERROR, answers: ["CNAME www.foo.com"] } },
    // Unknown names in the zone: NXDOMAIN with the SOA (negative answers cached for the TTL only).
    { name: "nope.shop.svc.cluster.local", want: { rcode: RCODE.NXDOMAIN, soa: true } },
    { name: "web.nope.svc.cluster.local", want: { rcode: RCODE.NXDOMAIN, soa: true } },
    { name: "x.bad_ns.svc.cluster.local", want: { rcode: RCODE.NXDOMAIN, soa: true } },
    { name: "web.shop.pod.cluster.local", want: { rcode: RCODE.NXDOMAIN, soa: true } },
    // What the search path makes of external names (ndots:5) must fail fast, here.
    { name: "www.foo.com.shop.svc.cluster.local", want: { rcode: RCODE.NXDOMAIN, soa: true } },
    { name: "www.foo.com.cluster.local", want: { rcode: RCODE.NXDOMAIN, soa: true } },
    // The zone's own intermediate names exist (NODATA), the apex has an SOA.
    { name: "shop.svc.cluster.local", want: { rcode: RCODE.NOERROR, soa: true } },
    { name: "svc.cluster.local", want: { rcode: RCODE.NOERROR, soa: true } },
    { name: "cluster.local", type: TYPE.SOA, want: { rcode: RCODE.NOERROR, answers: ["SOA"] } },
    // Outside the zone: forwarded upstream.
    { name: "www.foo.com", want: { forward: true } },
    { name: "cluster.localhost", want: { forward: true } },
    { name: "local", want: { forward: true } },
    { name: "10.0.30.172.in-addr.arpa", type: TYPE.PTR, want: { forward: true } },
  ];
  for (const c of cases)
    it(`${c.name} ${c.type ?? TYPE.A} → ${JSON.stringify(c.want)}`, () => {
      assert.deepEqual(summary(c.name, c.type ?? TYPE.A), c.want);
    });

  it("a reply echoes id, question (as written) and RD, is authoritative, offers recursion, uses the TTL", () => {
    const d = answerQuery(query("Web.shop.svc.cluster.local"), zone, { ttl: 7 });
    assert.equal(d.kind, "reply");
    if (d.kind !== "reply") return;
    const r = d.response;
    assert.equal(r.id, 42);
    assert.deepEqual(r.questions, [{ name: "Web.shop.svc.cluster.local", type: TYPE.A, class: CLASS_IN }]);
    assert.deepEqual(
      [r.flags.qr, r.flags.aa, r.flags.rd, r.flags.ra, r.flags.tc],
      [true, true, true, true, false],
    );
    assert.equal(r.answers[0]!.name, "Web.shop.svc.cluster.local");
    assert.equal(r.answers[0]!.ttl, 7);
  });

  it("negative answers carry the SOA with minimum = TTL", () => {
    const d = answerQuery(query("nope.shop.svc.cluster.local"), zone, { ttl: 3 });
    assert.ok(d.kind === "reply");
    const soa = d.response.authorities[0]!;
    assert.equal(soa.name, "cluster.local");
    assert.equal(soa.ttl, 3);
    assert.ok(soa.data.kind === "SOA" && soa.data.minimum === 3);
  });

  it("a Service added later is answered once the zone is rebuilt", () => {
    const before = buildClusterZone(services, endpoints);
    const after = buildClusterZone(
      [...services, svc("shop", "late", { clusterIP: "172.30.0.99" })],
      endpoints,
    );
    const rcode = (z: typeof zone) => {
      const d = answerQuery(query("late.shop.svc.cluster.local"), z);
      return d.kind === "reply" ? d.response.flags.rcode : -1;
    };
    assert.equal(rcode(before), RCODE.NXDOMAIN);
    assert.equal(rcode(after), RCODE.NOERROR);
  });

  it("another cluster domain", () => {
    const z = buildClusterZone(services, endpoints, "Corp.Example.");
    assert.equal(z.domain, "corp.example");
    const d = answerQuery(query("web.shop.svc.corp.example"), z);
    assert.ok(d.kind === "reply" && d.response.answers.length === 1);
    assert.equal(answerQuery(query("web.shop.svc.cluster.local"), z).kind, "forward");
  });
});

describe("cluster zone: odd queries", () => {
  it("responses sent to us are dropped", () => {
    assert.equal(
      answerQuery(query("web.shop.svc.cluster.local", TYPE.A, { flags: decodeFlags(0x8100) }), zone).kind,
      "drop",
    );
  });

  const rcodeOf = (m: DnsMessage) => {
    const d = answerQuery(m, zone);
    return d.kind === "reply" ? d.response.flags.rcode : d.kind;
  };
  const cases: { name: string; msg: DnsMessage; want: number | string }[] = [
    {
      name: "opcode NOTIFY → NOTIMP",
      msg: query("web.shop.svc.cluster.local", TYPE.A, { flags: decodeFlags(0x2100) }),
      want: RCODE.NOTIMP,
    },
    { name: "no question → FORMERR", msg: query("x", TYPE.A, { questions: [] }), want: RCODE.FORMERR },
    {
      name: "two questions → FORMERR",
      msg: query("x", TYPE.A, {
        questions: [
          { name: "a.cluster.local", type: TYPE.A, class: CLASS_IN },
          { name: "b.cluster.local", type: TYPE.A, class: CLASS_IN },
        ],
      }),
      want: RCODE.FORMERR,
    },
    {
      name: "CHAOS class in the zone → REFUSED",
      msg: query("x", TYPE.A, {
        questions: [{ name: "web.shop.svc.cluster.local", type: TYPE.A, class: 3 }],
      }),
      want: RCODE.REFUSED,
    },
    {
      name: "CHAOS class outside → forwarded",
      msg: query("x", TYPE.A, { questions: [{ name: "version.bind", type: TYPE.TXT, class: 3 }] }),
      want: "forward",
    },
  ];
  for (const c of cases) it(c.name, () => assert.equal(rcodeOf(c.msg), c.want));

  it("EDNS: an OPT in the query gets one in the reply; the UDP limit follows the querier's size", () => {
    const opt = {
      name: "",
      type: TYPE.OPT,
      class: 4096,
      ttl: 0,
      data: { kind: "raw" as const, bytes: new Uint8Array() },
    };
    const m = query("web.shop.svc.cluster.local", TYPE.A, { additionals: [opt] });
    const d = answerQuery(m, zone);
    assert.ok(d.kind === "reply");
    assert.deepEqual(
      d.response.additionals.map((r) => [r.type, r.class]),
      [[TYPE.OPT, EDNS_UDP_SIZE]],
    );
    assert.equal(udpLimit(m), EDNS_UDP_SIZE);
    assert.equal(udpLimit(query("x", TYPE.A, { additionals: [{ ...opt, class: 100 }] })), 512);
    assert.equal(udpLimit(query("x")), 512);
    const plain = answerQuery(query("web.shop.svc.cluster.local"), zone);
    assert.ok(plain.kind === "reply" && plain.response.additionals.length === 0);
  });
});
