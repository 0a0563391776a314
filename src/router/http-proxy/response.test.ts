// Tests of the origin response parser (response.ts): a table of refusals (every kind of
// ambiguous or malformed framing), a table of accepted framings, and a property test that the
// parser frames valid responses, split at arbitrary byte boundaries, exactly as Node's llhttp does
// (http.request against a raw server sending the same bytes).
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { after, before, describe, test } from "node:test";
import fc from "fast-check";
import {
  MAX_HEAD_BYTES,
  ResponseFramingError,
  type ResponseHead,
  ResponseParser,
  type ResponseSink,
} from "./response.js";

interface Parsed {
  head: ResponseHead | undefined;
  body: Buffer;
  complete: boolean;
}

/** Feeds `pieces` to a fresh parser, then EOF when `eof`. Throws what the parser throws. */
function parse(pieces: readonly (string | Buffer)[], opts: { head?: boolean; eof?: boolean } = {}): Parsed {
  const p = new ResponseParser();
  p.reset(opts.head ?? false);
  const body: Buffer[] = [];
  const out: Parsed = { head: undefined, body: Buffer.alloc(0), complete: false };
  const sink: ResponseSink = {
    onHead: (h) => {
      assert.equal(out.head, undefined, "one final head");
      out.head = h;
    },
    onBody: (b) => {
      assert.ok(out.head !== undefined && !out.complete, "body only between head and completion");
      body.push(Buffer.from(b));
    },
    onComplete: () => {
      out.complete = true;
    },
  };
  for (const piece of pieces)
    p.execute(typeof piece === "string" ? Buffer.from(piece, "latin1") : piece, sink);
  if (opts.eof) p.finish(sink);
  out.body = Buffer.concat(body);
  return out;
}

const OK = "HTTP/1.1 200 OK\r\n";

describe("refused responses", () => {
  const cases: [string, string, RegExp][] = [
    [
      "Content-Length and Transfer-Encoding",
      `${OK}Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n`,
      /both/,
    ],
    [
      "Transfer-Encoding before Content-Length",
      `${OK}Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n`,
      /both/,
    ],
    [
      "differing Content-Length fields",
      `${OK}Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd`,
      /differing/,
    ],
    ["differing Content-Length list", `${OK}Content-Length: 3, 4\r\n\r\nabcd`, /differing/],
    ["negative Content-Length", `${OK}Content-Length: -1\r\n\r\n`, /invalid Content-Length/],
    ["Content-Length with sign", `${OK}Content-Length: +3\r\n\r\nabc`, /invalid Content-Length/],
    ["hex Content-Length", `${OK}Content-Length: 0x3\r\n\r\nabc`, /invalid Content-Length/],
    ["empty Content-Length", `${OK}Content-Length:\r\n\r\n`, /invalid Content-Length/],
    ["huge Content-Length", `${OK}Content-Length: 99999999999999999999\r\n\r\n`, /invalid Content-Length/],
    ["gzip, chunked", `${OK}Transfer-Encoding: gzip, chunked\r\n\r\n`, /unsupported Transfer-Encoding/],
    [
      "chunked, chunked",
      `${OK}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n`,
      /unsupported/,
    ],
    ["identity coding", `${OK}Transfer-Encoding: identity\r\n\r\n`, /unsupported Transfer-Encoding/],
    ["chunked in HTTP/1.0", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", /HTTP\/1\.0/],
    ["chunk size not hex", `${OK}Transfer-Encoding: chunked\r\n\r\nzz\r\n`, /invalid chunk size/],
    ["empty chunk size", `${OK}Transfer-Encoding: chunked\r\n\r\n\r\n`, /invalid chunk size/],
    ["negative chunk size", `${OK}Transfer-Encoding: chunked\r\n\r\n-1\r\n`, /invalid chunk size/],
    [
      "chunk size with 0x",
      `${OK}Transfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n`,
      /after chunk size/,
    ],
    ["space after chunk size", `${OK}Transfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n`, /after chunk size/],
    ["chunk size too large", `${OK}Transfer-Encoding: chunked\r\n\r\n${"f".repeat(14)}\r\n`, /too large/],
    ["bare LF after chunk size", `${OK}Transfer-Encoding: chunked\r\n\r\n5\nhello\r\n`, /after chunk size/],
    ["CR without LF after size", `${OK}Transfer-Encoding: chunked\r\n\r\n5\rhello\r\n`, /CRLF/],
    [
      "chunk longer than its size",
      `${OK}Transfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n`,
      /not followed/,
    ],
    ["bare LF in chunk extension", `${OK}Transfer-Encoding: chunked\r\n\r\n5;a\nb\r\nhello\r\n`, /extension/],
    ["bare LF in trailer", `${OK}Transfer-Encoding: chunked\r\n\r\n0\r\nX: 1\n\r\n`, /bare LF/],
    ["trailer without colon", `${OK}Transfer-Encoding: chunked\r\n\r\n0\r\nnocolon\r\n\r\n`, /colon/],
    ["field line without colon", `${OK}Content-Length: 0\r\nnocolon\r\n\r\n`, /colon/],
    ["empty field name", `${OK}: value\r\nContent-Length: 0\r\n\r\n`, /empty field name/],
    ["space before colon", `${OK}Content-Length : 3\r\n\r\nabc`, /white space before the colon/],
    ["tab before colon", `${OK}Transfer-Encoding\t: chunked\r\n\r\n`, /white space before the colon/],
    ["obs-fold (space)", `${OK}X-A: 1\r\n 2\r\nContent-Length: 0\r\n\r\n`, /obs-fold/],
    ["obs-fold (tab)", `${OK}X-A: 1\r\n\t2\r\nContent-Length: 0\r\n\r\n`, /obs-fold/],
    ["first field line folded", `${OK} X-A: 1\r\nContent-Length: 0\r\n\r\n`, /obs-fold/],
    ["bare LF in head", `${OK}X-A: 1\nContent-Length: 0\r\n\r\n`, /bare CR or LF/],
    ["bare CR in head", `${OK}X-A: 1\rContent-Length: 0\r\n\r\n`, /bare CR or LF/],
    ["NUL in field value", `${OK}X-A: a\0b\r\nContent-Length: 0\r\n\r\n`, /field value/],
    ["DEL in field value", `${OK}X-A: a\x7fb\r\nContent-Length: 0\r\n\r\n`, /field value/],
    ["control in reason", "HTTP/1.1 200 O\x01K\r\nContent-Length: 0\r\n\r\n", /reason/],
    ["HTTP/2 status line", "HTTP/2 200 OK\r\nContent-Length: 0\r\n\r\n", /status line/],
    ["HTTP/1.2 status line", "HTTP/1.2 200 OK\r\nContent-Length: 0\r\n\r\n", /status line/],
    ["lower-case version", "http/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", /status line/],
    ["two-digit status", "HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n", /status line/],
    ["status 099", "HTTP/1.1 099 OK\r\nContent-Length: 0\r\n\r\n", /status line/],
    ["two spaces before status", "HTTP/1.1  200 OK\r\nContent-Length: 0\r\n\r\n", /status line/],
    ["not HTTP at all", "SSH-2.0-OpenSSH_9.2\r\n\r\n", /status line/],
    ["101 switching protocols", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n", /protocol switch/],
    ["data after a Content-Length body", `${OK}Content-Length: 2\r\n\r\nabEXTRA`, /after the end/],
    [
      "data after the last chunk",
      `${OK}Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n`,
      /after the end/,
    ],
    ["oversize head", `${OK}X-Big: ${"a".repeat(MAX_HEAD_BYTES)}\r\n\r\n`, /head too large/],
    ["too many 1xx", `${"HTTP/1.1 100 Continue\r\n\r\n".repeat(17)}${OK}Content-Length: 0\r\n\r\n`, /1xx/],
  ];
  for (const [name, text, why] of cases) {
    test(name, () => {
      assert.throws(
        () => parse([text]),
        (e: unknown) => e instanceof ResponseFramingError && why.test(e.message),
      );
      // The same refusal when the bytes arrive one at a time.
      assert.throws(
        () => parse([...Buffer.from(text, "latin1")].map((b) => Buffer.of(b))),
        (e: unknown) => e instanceof ResponseFramingError && why.test(e.message),
      );
    });
  }

  test("oversize head without an end, fed in pieces, is refused before it is complete", () => {
    const piece = `X-Pad: ${"a".repeat(1000)}\r\n`;
    assert.throws(() => parse([OK, ...Array<string>(70).fill(piece)]), /head too large/);
  });

  test("oversize trailer section", () => {
    const trailer = `X-T: ${"a".repeat(1000)}\r\n`.repeat(70);
    assert.throws(
      () => parse([`${OK}Transfer-Encoding: chunked\r\n\r\n0\r\n${trailer}\r\n`]),
      /trailer section too large/,
    );
  });

  test("truncated responses are refused at EOF", () => {
    for (const text of [
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n",
      `${OK}Content-Length: 5\r\n\r\nabc`,
      `${OK}Transfer-Encoding: chunked\r\n\r\n5\r\nhel`,
      `${OK}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n`,
      `${OK}Transfer-Encoding: chunked\r\n\r\n0\r\n`,
    ]) {
      assert.throws(() => parse([text], { eof: true }), /closed mid-response/, text);
    }
  });
});

describe("accepted responses", () => {
  test("Content-Length body; fields keep case and order, values lose surrounding white space", () => {
    const r = parse([`${OK}X-A:  one \r\nContent-Length: 5\r\nx-a: two\r\n\r\nhello`]);
    assert.deepEqual(r.head?.rawHeaders, ["X-A", "one", "Content-Length", "5", "x-a", "two"]);
    assert.deepEqual(r.head?.framing, { kind: "length", length: 5 });
    assert.equal(r.body.toString(), "hello");
    assert.equal(r.complete, true);
    assert.equal(r.head?.keepAlive, true);
  });

  test("identical repeated Content-Length values are one length", () => {
    const r = parse([`${OK}Content-Length: 3\r\nContent-Length: 3, 3\r\n\r\nabc`]);
    assert.equal(r.head?.contentLength, 3);
    assert.equal(r.body.toString(), "abc");
  });

  test("chunked with extensions, upper-case hex, leading zeros and trailers (dropped)", () => {
    const r = parse([
      `${OK}Transfer-Encoding: Chunked\r\n\r\n0A;x=1;y="z"\r\n0123456789\r\n002\r\nab\r\n0\r\nX-T: 1\r\n\r\n`,
    ]);
    assert.equal(r.body.toString(), "0123456789ab");
    assert.equal(r.complete, true);
    assert.deepEqual(r.head?.framing, { kind: "chunked" });
  });

  test("close-delimited body ends at EOF and is never kept alive", () => {
    const r = parse([`${OK}X: y\r\n\r\nsome`, " more"], { eof: true });
    assert.equal(r.body.toString(), "some more");
    assert.equal(r.complete, true);
    assert.equal(r.head?.keepAlive, false);
  });

  test("no body: HEAD, 204, 304 (whatever the length fields say)", () => {
    const head = parse([`${OK}Content-Length: 100\r\n\r\n`], { head: true });
    assert.equal(head.complete, true);
    assert.equal(head.head?.contentLength, 100);
    for (const s of ["204 No Content", "304 Not Modified"]) {
      const r = parse([`HTTP/1.1 ${s}\r\nContent-Length: 7\r\n\r\n`]);
      assert.equal(r.complete, true);
      assert.equal(r.body.length, 0);
    }
  });

  test("1xx responses before the final one are consumed", () => {
    const r = parse([
      `HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n${OK}Content-Length: 1\r\n\r\nx`,
    ]);
    assert.equal(r.head?.status, 200);
    assert.equal(r.body.toString(), "x");
  });

  test("keep-alive by version and Connection", () => {
    const ka = (t: string) => parse([t]).head?.keepAlive;
    assert.equal(ka(`${OK}Content-Length: 0\r\n\r\n`), true);
    assert.equal(ka(`${OK}Connection: Close\r\nContent-Length: 0\r\n\r\n`), false);
    assert.equal(ka(`${OK}Connection: x, close\r\nContent-Length: 0\r\n\r\n`), false);
    assert.equal(ka("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"), false);
    assert.equal(ka("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n"), true);
  });

  test("status line without a reason phrase, and with an empty one", () => {
    assert.equal(parse(["HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n"]).head?.reason, "");
    assert.equal(parse(["HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n"]).head?.status, 404);
  });

  test("a parser is reusable after reset", () => {
    const p = new ResponseParser();
    const seen: string[] = [];
    const sink: ResponseSink = {
      onHead: (h) => seen.push(String(h.status)),
      onBody: (b) => seen.push(b.toString()),
      onComplete: () => seen.push("done"),
    };
    p.reset(false);
    p.execute(Buffer.from(`${OK}Transfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n`), sink);
    p.reset(false);
    p.execute(Buffer.from("HTTP/1.1 404 No\r\nContent-Length: 1\r\n\r\nb"), sink);
    assert.deepEqual(seen, ["200", "a", "done", "404", "b", "done"]);
  });
});

// ---- property: the same framing as llhttp ----------------------------------------------------

interface Spec {
  minor: 0 | 1;
  status: number;
  reason: string;
  /** name, value, white space before and after the value */
  fields: [string, string, string, string][];
  framing: "length" | "chunked" | "close";
  connection: "" | "close" | "keep-alive";
  chunks: { data: Uint8Array; ext: string }[];
  trailers: [string, string][];
}

const tokenChar = fc.constantFrom(
  ..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!#$%&'*+^`|~",
);
const token = fc.array(tokenChar, { minLength: 1, maxLength: 12 }).map((a) => a.join(""));
const fieldName = token.filter(
  (n) =>
    !["content-length", "transfer-encoding", "connection", "trailer", "keep-alive"].includes(n.toLowerCase()),
);
const valueChar = fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c));
// Values with inner spaces but none at either end (both parsers trim those).
const fieldValue = fc
  .array(fc.oneof(valueChar, fc.constant(" ")), { maxLength: 20 })
  .map((a) => a.join("").trim());

// Optional white space around field values (both parsers drop it).
const ows = fc.constantFrom("", " ", "\t", "  ", " \t");

const spec: fc.Arbitrary<Spec> = fc
  .record({
    minor: fc.constantFrom<0 | 1>(0, 1),
    status: fc.oneof(fc.constantFrom(200, 204, 304, 404, 500), fc.integer({ min: 200, max: 599 })),
    reason: fc.array(fc.constantFrom(..."ab OK"), { maxLength: 10 }).map((a) => a.join("")),
    fields: fc.array(fc.tuple(fieldName, fieldValue, ows, ows), { maxLength: 6 }),
    framing: fc.constantFrom<Spec["framing"]>("length", "chunked", "close"),
    connection: fc.constantFrom<Spec["connection"]>("", "close", "keep-alive"),
    chunks: fc.array(
      fc.record({
        data: fc.uint8Array({ minLength: 1, maxLength: 300 }),
        ext: fc.constantFrom("", ";a", ";a=b", ';n="v"'),
      }),
      { maxLength: 4 },
    ),
    trailers: fc.array(fc.tuple(fieldName, fieldValue), { maxLength: 2 }),
  })
  .map((s) => (s.framing === "chunked" && s.minor === 0 ? { ...s, framing: "length" as const } : s));

function serialize(s: Spec): Buffer {
  const body = Buffer.concat(s.chunks.map((c) => c.data));
  let head = `HTTP/1.${s.minor} ${s.status} ${s.reason}\r\n`;
  for (const [k, v, before, afterValue] of s.fields) head += `${k}:${before}${v}${afterValue}\r\n`;
  if (s.connection !== "") head += `Connection: ${s.connection}\r\n`;
  if (s.framing === "length") head += `Content-Length: ${body.length}\r\n`;
  if (s.framing === "chunked") head += "Transfer-Encoding: chunked\r\n";
  head += "\r\n";
  // 204 and 304 have no body, whatever their fields say.
  if (s.status === 204 || s.status === 304) return Buffer.from(head, "latin1");
  if (s.framing !== "chunked") return Buffer.concat([Buffer.from(head, "latin1"), body]);
  const parts: Uint8Array[] = [Buffer.from(head, "latin1")];
  for (const c of s.chunks) {
    parts.push(
      Buffer.from(`${c.data.length.toString(16)}${c.ext}\r\n`, "latin1"),
      c.data,
      Buffer.from("\r\n"),
    );
  }
  parts.push(Buffer.from(`0\r\n${s.trailers.map(([k, v]) => `${k}: ${v}\r\n`).join("")}\r\n`, "latin1"));
  return Buffer.concat(parts);
}

interface Framed {
  status: number;
  reason: string;
  rawHeaders: string[];
  body: string;
  keepAlive: boolean;
}

let rawServer: net.Server;
let rawPort = 0;
/** What the raw server sends next (one connection at a time). */
let toSend: Uint8Array = Buffer.alloc(0);

before(async () => {
  rawServer = net.createServer((s) => {
    s.on("error", () => {});
    s.once("data", () => s.end(toSend)); // the whole response, then EOF
  });
  await new Promise<void>((r) => rawServer.listen(0, "127.0.0.1", r));
  rawPort = (rawServer.address() as net.AddressInfo).port;
});
after(() => {
  rawServer.close();
});

function viaLlhttp(bytes: Uint8Array): Promise<Framed> {
  toSend = bytes;
  // A keep-alive agent of its own per request, so req.shouldKeepAlive reports llhttp's verdict
  // and no stale pooled socket is ever reused.
  const agent = new http.Agent({ keepAlive: true });
  return new Promise<Framed>((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port: rawPort, path: "/", agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          reason: res.statusMessage ?? "",
          rawHeaders: res.rawHeaders,
          body: Buffer.concat(chunks).toString("hex"),
          keepAlive: req.shouldKeepAlive,
        }),
      );
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  }).finally(() => agent.destroy());
}

function viaOurs(bytes: Buffer, cuts: number[]): Framed {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let last = 0;
  for (const p of [...points, bytes.length]) {
    if (p > last) pieces.push(bytes.subarray(last, p));
    last = p;
  }
  const r = parse(pieces, { eof: true });
  assert.ok(r.complete && r.head);
  return {
    status: r.head.status,
    reason: r.head.reason,
    rawHeaders: r.head.rawHeaders,
    body: r.body.toString("hex"),
    keepAlive: r.head.keepAlive,
  };
}

test("property: valid responses split anywhere are framed as llhttp frames them", async () => {
  await fc.assert(
    fc.asyncProperty(spec, fc.array(fc.nat(), { maxLength: 8 }), async (s, cuts) => {
      const bytes = serialize(s);
      const theirs = await viaLlhttp(bytes);
      const ours = viaOurs(bytes, cuts);
      assert.deepEqual(ours, theirs);
    }),
    { numRuns: 150 },
  );
});
