import assert from "node:assert/strict";
import { describe, it, test } from "node:test";
import type { KubeObject } from "../../api/object.js";
import { resourceVersionAtLeast, WriteExpectations } from "./expectations.js";

const obj = (name: string, rv: string, uid = "u1"): KubeObject => ({
  apiVersion: "v1",
  kind: "X",
  metadata: { name, resourceVersion: rv, uid },
});

describe("resourceVersionAtLeast", () => {
  for (const [have, want, ok] of [
    ["10", "9", true],
    ["10", "10", true],
    ["9", "10", false],
    ["100", "99", true], // numeric, not text order
    ["abc", "abc", true],
    ["abd", "abc", false],
    [undefined, "1", false],
  ] as const)
    it(`${have} ≥ ${want} is ${ok}`, () => assert.equal(resourceVersionAtLeast(have, want), ok));
});

describe("WriteExpectations", () => {
  it("waits until the cache shows the written version, then forgets it", () => {
    const e = new WriteExpectations();
    const cache = new Map<string, KubeObject>([["a", obj("a", "5")]]);
    e.written(obj("a", "7"));
    assert.equal(
      e.satisfied((n) => cache.get(n)),
      false,
    );
    cache.set("a", obj("a", "8")); // a later write by someone else also satisfies
    assert.equal(
      e.satisfied((n) => cache.get(n)),
      true,
    );
    assert.equal(e.size, 0);
  });
  it("a delete is seen when the object is gone or re-created with another uid", () => {
    const e = new WriteExpectations();
    const cache = new Map<string, KubeObject>([["a", obj("a", "5", "old")]]);
    e.deleted("a", "old");
    assert.equal(
      e.satisfied((n) => cache.get(n)),
      false,
    );
    cache.set("a", obj("a", "9", "new"));
    assert.equal(
      e.satisfied((n) => cache.get(n)),
      true,
    );
  });
  it("gives up after the ttl", () => {
    let t = 0;
    const e = new WriteExpectations(100, () => t);
    e.written(obj("a", "7"));
    assert.equal(
      e.satisfied(() => undefined),
      false,
    );
    t = 101;
    assert.equal(
      e.satisfied(() => undefined),
      true,
    );
  });
});

const nodeObj = (rv: string, labels: Record<string, string> = {}): KubeObject => ({
  apiVersion: "v1",
  kind: "Node",
  metadata: { name: "n", resourceVersion: rv, labels },
});

test("expectations: unsatisfied while the cache lacks the write, then dropped", () => {
  const x = new WriteExpectations(1000, () => 0);
  x.expect("n", (c) => c?.metadata.labels?.a === "");
  assert.equal(
    x.satisfied(() => nodeObj("1")),
    false,
  );
  assert.equal(x.size, 1);
  assert.equal(
    x.satisfied(() => nodeObj("2", { a: "" })),
    true,
  );
  assert.equal(x.size, 0);
});

test("expectations: an expired wait counts as satisfied; the check decides about a missing object", () => {
  let now = 0;
  const x = new WriteExpectations(100, () => now);
  x.expect("gone", (c) => c === undefined);
  assert.equal(
    x.satisfied(() => undefined),
    true,
  );
  x.expect("stuck", () => false);
  assert.equal(
    x.satisfied(() => nodeObj("1")),
    false,
  );
  now = 100;
  assert.equal(
    x.satisfied(() => nodeObj("1")),
    true,
  );
  assert.equal(x.size, 0);
});
