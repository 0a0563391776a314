import assert from "node:assert/strict";
import { test } from "node:test";
import { PatchError } from "./errors.js";
import { applyMergePatch } from "./merge-patch.js";

// RFC 7386 Appendix A, minus the rows whose patch is not an object (see the next test).
const rfcExamples: [unknown, unknown, unknown][] = [
  [{ a: "b" }, { a: "c" }, { a: "c" }],
  [{ a: "b" }, { b: "c" }, { a: "b", b: "c" }],
  [{ a: "b" }, { a: null }, {}],
  [{ a: "b", b: "c" }, { a: null }, { b: "c" }],
  [{ a: ["b"] }, { a: "c" }, { a: "c" }],
  [{ a: "c" }, { a: ["b"] }, { a: ["b"] }],
  [{ a: { b: "c" } }, { a: { b: "d", c: null } }, { a: { b: "d" } }],
  [{ a: [{ b: "c" }] }, { a: [1] }, { a: [1] }],
  [{ e: null }, { a: 1 }, { e: null, a: 1 }],
  [[1, 2], { a: "b", c: null }, { a: "b" }],
  [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
];

test("merge patch: RFC 7386 appendix A", () => {
  for (const [target, patch, want] of rfcExamples) {
    assert.deepEqual(applyMergePatch(target, patch), want, JSON.stringify({ target, patch }));
  }
});

test("merge patch: a non-object patch is refused like kube-apiserver does", () => {
  for (const patch of [["c", "d"], ["c"], null, "bar", 1]) {
    assert.throws(
      () => applyMergePatch({ a: "b" }, patch),
      (e: unknown) =>
        e instanceof PatchError &&
        e.code === 400 &&
        /^merge patch: patch must be a JSON object/.test(e.message),
    );
  }
});

test("merge patch: arrays are replaced, nulls inside arrays are kept", () => {
  assert.deepEqual(applyMergePatch({ l: [1, 2, 3] }, { l: [null, { x: null }] }), { l: [null, { x: null }] });
});

test("merge patch: kubectl label/annotate on a custom resource", () => {
  const egressIP = {
    apiVersion: "k8s.ovn.org/v1",
    kind: "EgressIP",
    metadata: { name: "eip", labels: { env: "dev" } },
    spec: { egressIPs: ["192.168.126.101"] },
  };
  const out = applyMergePatch(egressIP, {
    metadata: { labels: { env: null, team: "a" }, annotations: { n: "x" } },
  });
  assert.deepEqual(out, {
    apiVersion: "k8s.ovn.org/v1",
    kind: "EgressIP",
    metadata: { name: "eip", labels: { team: "a" }, annotations: { n: "x" } },
    spec: { egressIPs: ["192.168.126.101"] },
  });
});

test("merge patch: result shares nothing with the inputs", () => {
  const target = { a: { b: [1] }, keep: { deep: { x: 1 } } };
  const patch = { n: { m: [2] } };
  const out = applyMergePatch(target, patch) as { keep: { deep: { x: number } }; n: { m: number[] } };
  out.keep.deep.x = 99;
  out.n.m.push(3);
  assert.deepEqual(target, { a: { b: [1] }, keep: { deep: { x: 1 } } });
  assert.deepEqual(patch, { n: { m: [2] } });
});

test("merge patch: __proto__ keys stay data", () => {
  const out = applyMergePatch({}, JSON.parse('{"__proto__":{"polluted":1},"a":{"__proto__":null}}'));
  assert.equal(JSON.stringify(out), '{"__proto__":{"polluted":1},"a":{}}');
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test("merge patch: non-JSON input values are typed errors", () => {
  assert.throws(() => applyMergePatch({}, { a: () => 1 }), PatchError);
  assert.throws(() => applyMergePatch({}, { a: Number.NaN }), /non-finite number/);
  assert.throws(() => applyMergePatch({ d: new Date() }, {}), /target contains a value that is not JSON/);
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.throws(() => applyMergePatch({}, cyclic), /nested deeper than/);
});
