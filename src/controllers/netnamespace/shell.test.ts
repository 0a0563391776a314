import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { KubeObject } from "../../api/object.js";
import type { DecisionEvent } from "../common/decision.js";
import { EventDedup, resourceVersionAtLeast, WriteExpectations } from "./shell.js";

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

describe("EventDedup", () => {
  const ev = (reason: string): DecisionEvent => ({
    type: "Warning",
    reason,
    message: "m",
    object: { kind: "NetNamespace", name: "p" },
  });
  it("passes an event once while it stands, again after it went away", () => {
    const d = new EventDedup();
    assert.deepEqual(d.fresh([ev("A"), ev("A")]), [ev("A")]);
    assert.deepEqual(d.fresh([ev("A"), ev("B")]), [ev("B")]);
    assert.deepEqual(d.fresh([ev("B")]), []);
    assert.deepEqual(d.fresh([ev("A"), ev("B")]), [ev("A")]);
  });
});
