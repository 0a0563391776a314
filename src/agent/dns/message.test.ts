import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  CLASS_IN,
  canonicalName,
  type DnsFlags,
  DnsFormatError,
  type DnsMessage,
  decodeFlags,
  encodeFlags,
  encodeForUdp,
  encodeMessage,
  messageId,
  nameLabels,
  parseMessage,
  TYPE,
} from "./message.js";

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ""), "hex"));
const q = (name: string, type: number = TYPE.A): DnsMessage => ({
  id: 0x1234,
  flags: decodeFlags(0x0100),
  questions: [{ name, type, class: CLASS_IN }],
  answers: [],
  authorities: [],
  additionals: [],
});

// `web.ns.svc.cluster.local A IN`, RD set, as dig/glibc send it (no EDNS).
const QUERY_BYTES =
  "1234 0100 0001 0000 0000 0000" + "03776562 026e73 03737663 07636c7573746572 056c6f63616c 00" + "0001 0001";

describe("DNS message: wire bytes", () => {
  it("parses a query as sent by a stub resolver", () => {
    const m = parseMessage(hex(QUERY_BYTES));
    assert.equal(m.id, 0x1234);
    assert.equal(m.flags.rd, true);
    assert.equal(m.flags.qr, false);
    assert.deepEqual(m.questions, [{ name: "web.ns.svc.cluster.local", type: TYPE.A, class: CLASS_IN }]);
  });

  it("encodes the same query to the same bytes", () => {
    assert.deepEqual(encodeMessage(q("web.ns.svc.cluster.local")), hex(QUERY_BYTES));
  });

  it("compresses an answer's name to a pointer at the question (0xc00c)", () => {
    const m = q("web.ns.svc.cluster.local");
    m.flags = { ...m.flags, qr: true };
    m.answers = [
      {
        name: "web.ns.svc.cluster.local",
        type: TYPE.A,
        class: CLASS_IN,
        ttl: 5,
        data: { kind: "A", address: "172.30.0.10" },
      },
    ];
    const bytes = encodeMessage(m);
    const answer = bytes.subarray(hex(QUERY_BYTES).length);
    assert.deepEqual(answer, hex("c00c 0001 0001 00000005 0004 ac1e000a"));
    assert.deepEqual(parseMessage(bytes).answers, m.answers);
  });

  it("compression matches names case-insensitively but keeps each name's own case", () => {
    const m = q("WEB.ns.svc.cluster.local");
    m.answers = [
      {
        name: "web.NS.svc.cluster.local",
        type: TYPE.CNAME,
        class: CLASS_IN,
        ttl: 1,
        data: { kind: "CNAME", target: "x.svc.cluster.local" },
      },
    ];
    const back = parseMessage(encodeMessage(m));
    assert.equal(back.questions[0]!.name, "WEB.ns.svc.cluster.local");
    // Compressed to a pointer at the question: the name comes back in the question's case.
    assert.equal(back.answers[0]!.name, "WEB.ns.svc.cluster.local");
    assert.deepEqual(back.answers[0]!.data, { kind: "CNAME", target: "x.svc.cluster.local" });
  });

  it("round-trips every record kind it decodes, plus raw and OPT records", () => {
    const m: DnsMessage = {
      id: 7,
      flags: { qr: true, opcode: 0, aa: true, tc: false, rd: true, ra: true, ad: false, cd: true, rcode: 3 },
      questions: [{ name: "a.b", type: TYPE.ANY, class: CLASS_IN }],
      answers: [
        {
          name: "a.b",
          type: TYPE.A,
          class: CLASS_IN,
          ttl: 4294967295,
          data: { kind: "A", address: "255.0.1.2" },
        },
        {
          name: "a.b",
          type: TYPE.AAAA,
          class: CLASS_IN,
          ttl: 0,
          data: { kind: "AAAA", address: "fd00:0:0:0:0:0:0:1" },
        },
        { name: "c.a.b", type: TYPE.CNAME, class: CLASS_IN, ttl: 9, data: { kind: "CNAME", target: "a.b" } },
        {
          name: "a.b",
          type: TYPE.TXT,
          class: CLASS_IN,
          ttl: 9,
          data: { kind: "raw", bytes: Uint8Array.from([2, 104, 105]) },
        },
      ],
      authorities: [
        {
          name: "b",
          type: TYPE.SOA,
          class: CLASS_IN,
          ttl: 5,
          data: {
            kind: "SOA",
            mname: "ns.b",
            rname: "h.b",
            serial: 1,
            refresh: 2,
            retry: 3,
            expire: 4,
            minimum: 5,
          },
        },
      ],
      additionals: [
        { name: "", type: TYPE.OPT, class: 1232, ttl: 0, data: { kind: "raw", bytes: new Uint8Array() } },
      ],
    };
    assert.deepEqual(parseMessage(encodeMessage(m)), m);
  });

  it("AAAA addresses accept the :: form", () => {
    const m = q("x");
    m.answers = [
      { name: "x", type: TYPE.AAAA, class: CLASS_IN, ttl: 1, data: { kind: "AAAA", address: "fd00::1" } },
    ];
    assert.deepEqual(parseMessage(encodeMessage(m)).answers[0]!.data, {
      kind: "AAAA",
      address: "fd00:0:0:0:0:0:0:1",
    });
  });

  it("labels holding dots, backslashes and odd bytes survive as \\-escapes", () => {
    assert.deepEqual(
      nameLabels("a\\.b.c\\\\d.e\\000").map((l) => [...l]),
      [
        [97, 46, 98],
        [99, 92, 100],
        [101, 0],
      ],
    );
    const m = q("a\\.b.c\\\\d.e\\000");
    assert.equal(parseMessage(encodeMessage(m)).questions[0]!.name, "a\\.b.c\\\\d.e\\000");
  });

  it("flags: every field survives (the reserved Z bit is dropped)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff }), (v) => encodeFlags(decodeFlags(v)) === (v & ~0x0040)),
    );
  });

  it("property: random A-record responses round-trip", () => {
    const label = fc.stringMatching(/^[a-z0-9-]{1,20}$/);
    const name = fc.array(label, { minLength: 1, maxLength: 5 }).map((ls) => ls.join("."));
    const octet = fc.integer({ min: 0, max: 255 });
    const addr = fc.tuple(octet, octet, octet, octet).map((o) => o.join("."));
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffff }),
        name,
        fc.array(fc.tuple(name, addr), { maxLength: 6 }),
        (id, qn, rrs) => {
          const m: DnsMessage = {
            ...q(qn),
            id,
            answers: rrs.map(([n, a]) => ({
              name: n,
              type: TYPE.A,
              class: CLASS_IN,
              ttl: 5,
              data: { kind: "A", address: a },
            })),
          };
          assert.deepEqual(parseMessage(encodeMessage(m)), m);
        },
      ),
    );
  });
});

describe("DNS message: malformed input names where and what", () => {
  const cases: { name: string; bytes: string; error: RegExp }[] = [
    { name: "short header", bytes: "1234 0100 0001", error: /header\.nscount|header\.ancount/ },
    { name: "label past the end", bytes: "1234 0100 0001 0000 0000 0000 05 6162", error: /label runs past/ },
    { name: "name without its end", bytes: "1234 0100 0001 0000 0000 0000 01 61", error: /name runs past/ },
    {
      name: "pointer to itself",
      bytes: "1234 0100 0001 0000 0000 0000 c00c 0001 0001",
      error: /does not point backwards/,
    },
    {
      name: "extended label type",
      bytes: "1234 0100 0001 0000 0000 0000 41 00 0001 0001",
      error: /unsupported label type 0x40/,
    },
    {
      name: "missing question type",
      bytes: "1234 0100 0001 0000 0000 0000 00 00",
      error: /question\[0\]\.type/,
    },
    {
      name: "trailing bytes",
      bytes: "1234 0100 0000 0000 0000 0000 ff",
      error: /1 bytes after the last record/,
    },
    {
      name: "A record of 5 bytes",
      bytes: "1234 8100 0000 0001 0000 0000 00 0001 0001 00000005 0005 0102030405",
      error: /answer\[0\]: A record data is 5 bytes/,
    },
    {
      name: "rdlength past the end",
      bytes: "1234 8100 0000 0001 0000 0000 00 0010 0001 00000005 0009 01",
      error: /answer\[0\]\.rdata/,
    },
  ];
  for (const c of cases)
    it(c.name, () => {
      assert.throws(
        () => parseMessage(hex(c.bytes)),
        (e: unknown) => e instanceof DnsFormatError && c.error.test(e.message),
      );
    });

  it("names longer than 255 bytes are refused both ways", () => {
    const long = Array(5).fill("a".repeat(60)).join(".");
    assert.throws(() => encodeMessage(q(long)), /longer than 255 bytes/);
    // Hand-made: five 60-byte labels.
    const labels = Array(5)
      .fill(`3c${"61".repeat(60)}`)
      .join("");
    assert.throws(
      () => parseMessage(hex(`1234 0100 0001 0000 0000 0000 ${labels} 00 0001 0001`)),
      /longer than 255/,
    );
  });

  it("encoding refuses bad labels and addresses", () => {
    assert.throws(() => encodeMessage(q("a..b")), /empty label/);
    assert.throws(() => encodeMessage(q(`${"x".repeat(64)}.b`)), /label longer than 63/);
    const m = q("x");
    m.answers = [
      { name: "x", type: TYPE.A, class: CLASS_IN, ttl: 1, data: { kind: "A", address: "1.2.3.256" } },
    ];
    assert.throws(() => encodeMessage(m), /"1\.2\.3\.256" is not an IPv4 address/);
  });
});

describe("DNS message: helpers", () => {
  it("encodeForUdp truncates to the question and sets TC when over the limit", () => {
    const m = q("big.ns.svc.cluster.local");
    m.flags = { ...m.flags, qr: true } as DnsFlags;
    for (let i = 0; i < 40; i++)
      m.answers.push({
        name: m.questions[0]!.name,
        type: TYPE.A,
        class: CLASS_IN,
        ttl: 5,
        data: { kind: "A", address: `10.0.0.${i}` },
      });
    const full = encodeForUdp(m, 4096);
    assert.equal(parseMessage(full).answers.length, 40);
    const cut = parseMessage(encodeForUdp(m, 512));
    assert.equal(cut.flags.tc, true);
    assert.equal(cut.answers.length, 0);
    assert.deepEqual(cut.questions, m.questions);
  });

  it("messageId and canonicalName", () => {
    assert.equal(messageId(hex("abcd")), 0xabcd);
    assert.equal(messageId(hex("ab")), undefined);
    assert.equal(canonicalName("Web.NS.svc.Cluster.Local."), "web.ns.svc.cluster.local");
  });
});
