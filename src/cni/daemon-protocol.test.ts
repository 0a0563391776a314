import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  decodeRequest,
  decodeResponse,
  encodeRequest,
  encodeResponse,
  isForwardedEnv,
  MAX_STDIN_BYTES,
  ProtocolError,
} from "./daemon-protocol.js";

const envKey = fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,20}$/);
const envVal = fc.string({ maxLength: 40 }).filter((s) => !s.includes("\0"));

/** Feeds `frame` in pieces cut at `cuts`; every proper prefix must be "incomplete". */
function feed<T>(frame: Buffer, cuts: number[], decode: (b: Buffer) => T | undefined): T | undefined {
  const points = [...new Set(cuts.map((c) => c % (frame.length + 1)))].sort((a, b) => a - b);
  for (const p of points) if (p < frame.length) assert.equal(decode(frame.subarray(0, p)), undefined);
  return decode(frame);
}

describe("daemon protocol: request frames", () => {
  it("round-trips any env and stdin, whatever the chunking", () => {
    fc.assert(
      fc.property(
        fc.dictionary(envKey, envVal, { maxKeys: 8 }),
        fc.uint8Array({ maxLength: 300 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (env, stdin, cuts) => {
          const frame = encodeRequest({ env, stdin: Buffer.from(stdin) });
          const got = feed(frame, cuts, decodeRequest);
          assert.deepEqual(got?.env, { ...env });
          assert.deepEqual(got?.stdin, Buffer.from(stdin));
        },
      ),
    );
  });

  const bad: { name: string; frame: Buffer; match: RegExp }[] = [
    { name: "wrong magic", frame: Buffer.from("HTTP/1.1 GET /\n"), match: /does not start with/ },
    { name: "env entry without =", frame: Buffer.from("WBQ1\nNOEQUALS\0\0" + "0\n"), match: /not KEY=VALUE/ },
    { name: "stdin length not a number", frame: Buffer.from("WBQ1\nA=1\0\0x\n"), match: /not a number/ },
    {
      name: "stdin too large",
      frame: Buffer.from(`WBQ1\n\0${MAX_STDIN_BYTES + 1}\n`),
      match: /too large/,
    },
    { name: "bytes after the frame", frame: Buffer.from("WBQ1\n\x002\n{}x"), match: /after the frame/ },
  ];
  for (const t of bad) {
    it(`rejects: ${t.name}`, () => {
      assert.throws(
        () => decodeRequest(t.frame),
        (e: unknown) => e instanceof ProtocolError && t.match.test(e.message),
      );
    });
  }

  it("refuses to encode variables that would break the frame", () => {
    assert.throws(() => encodeRequest({ env: { "A=B": "x" }, stdin: Buffer.alloc(0) }), ProtocolError);
    assert.throws(() => encodeRequest({ env: { A: "x\0y" }, stdin: Buffer.alloc(0) }), ProtocolError);
  });

  it("forwards exactly the variables the plugin reads", () => {
    for (const k of [
      "CNI_COMMAND",
      "CNI_ARGS",
      "WHEREABOUTS_FLATFILE",
      "KUBECONFIG",
      "KUBERNETES_SERVICE_HOST",
    ])
      assert.ok(isForwardedEnv(k), k);
    for (const k of ["PATH", "HOME", "KUBECONFIG_X", "NODE_OPTIONS", "cni_command"])
      assert.ok(!isForwardedEnv(k), k);
  });
});

describe("daemon protocol: response frames", () => {
  it("round-trips exit code and stdout, whatever the chunking", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 255 }),
        fc.uint8Array({ maxLength: 300 }),
        fc.array(fc.nat()),
        (code, out, cuts) => {
          const frame = encodeResponse({ exitCode: code, stdout: Buffer.from(out) });
          const got = feed(frame, cuts, decodeResponse);
          assert.equal(got?.exitCode, code);
          assert.deepEqual(got?.stdout, Buffer.from(out));
        },
      ),
    );
  });

  it("a truncated reply stays incomplete (the caller then reports an error), garbage is rejected", () => {
    const frame = encodeResponse({ exitCode: 0, stdout: Buffer.from('{"ips":[]}\n') });
    assert.equal(decodeResponse(frame.subarray(0, frame.length - 1)), undefined);
    assert.throws(() => decodeResponse(Buffer.from("WBR1 x 1\n{")), ProtocolError);
    assert.throws(() => decodeResponse(Buffer.concat([frame, Buffer.from("!")])), ProtocolError);
  });
});
