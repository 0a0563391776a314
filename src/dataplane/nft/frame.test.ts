import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  encodeReply,
  encodeRequest,
  FrameError,
  type Reply,
  ReplyDecoder,
  type Request,
  RequestDecoder,
} from "./frame.js";

test("a request frame is the op byte, the big-endian UTF-8 length and the payload", () => {
  const cases: [Request, string][] = [
    [{ op: "apply", payload: "add table ip t\n" }, "410000000f"],
    [{ op: "check", payload: "" }, "4300000000"],
    [{ op: "json", payload: "é" }, "4a00000002"],
  ];
  for (const [req, head] of cases) {
    const b = encodeRequest(req);
    assert.equal(b.subarray(0, 5).toString("hex"), head, req.op);
    assert.equal(b.subarray(5).toString("utf8"), req.payload);
  }
  assert.equal(encodeReply({ ok: true, text: "x" }).toString("hex"), "4f0000000178");
  assert.equal(encodeReply({ ok: false, text: "" }).toString("hex"), "4500000000");
});

test("replies split at every byte boundary decode to the same frames", () => {
  const replies: Reply[] = [
    { ok: true, text: "nft-helper 1" },
    { ok: false, text: "/dev/stdin:3:20-23: Error: syntax error, unexpected drop\n" },
    { ok: true, text: "" },
    { ok: true, text: '{"nftables": [{"table": {"name": "ä€𝄞"}}]}\n' },
  ];
  const bytes = Buffer.concat(replies.map(encodeReply));
  for (let cut = 0; cut <= bytes.length; cut++) {
    const d = new ReplyDecoder();
    const got = [...d.push(bytes.subarray(0, cut)), ...d.push(bytes.subarray(cut))];
    assert.deepEqual(got, replies, `cut at ${cut}`);
    assert.equal(d.pending, 0);
  }
});

test("an incomplete frame waits for the rest", () => {
  const d = new ReplyDecoder();
  const b = encodeReply({ ok: true, text: "hello" });
  assert.deepEqual(d.push(b.subarray(0, 7)), []);
  assert.equal(d.pending, 7);
  assert.deepEqual(d.push(b.subarray(7)), [{ ok: true, text: "hello" }]);
});

test("unknown status or op bytes are refused, naming the byte", () => {
  assert.throws(
    () => new ReplyDecoder().push(Buffer.from("3f00000000", "hex")),
    (e: unknown) => e instanceof FrameError && /unknown reply status 0x3f/.test(e.message),
  );
  assert.throws(() => new RequestDecoder().push(Buffer.from("5800000000", "hex")), /unknown request op 0x58/);
});

test("property: any requests in any chunking round-trip through the request decoder", () => {
  const req = fc.record({
    op: fc.constantFrom("apply" as const, "check" as const, "json" as const),
    payload: fc.string({ unit: "binary", maxLength: 300 }),
  });
  fc.assert(
    fc.property(fc.array(req, { maxLength: 8 }), fc.array(fc.nat(400), { maxLength: 10 }), (reqs, cuts) => {
      const bytes = Buffer.concat(reqs.map(encodeRequest));
      const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
      const d = new RequestDecoder();
      const got: Request[] = [];
      let at = 0;
      for (const p of [...points, bytes.length]) {
        got.push(...d.push(bytes.subarray(at, p)));
        at = p;
      }
      assert.deepEqual(
        got,
        reqs.map((r) => ({ op: r.op, payload: r.payload })),
      );
    }),
  );
});

test("a large reply arriving in many chunks decodes once complete", () => {
  const text = "x".repeat(3_000_000);
  const bytes = encodeReply({ ok: true, text });
  const d = new ReplyDecoder();
  let got: Reply[] = [];
  for (let i = 0; i < bytes.length; i += 65536) got = got.concat(d.push(bytes.subarray(i, i + 65536)));
  assert.equal(got.length, 1);
  assert.equal(got[0]!.text.length, text.length);
});
