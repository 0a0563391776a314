import assert from "node:assert/strict";
import { it } from "node:test";
import { EventDeduper, type KeyedEvent } from "./dedup.js";

const ev = (name: string, reason: string, message = "m", uid?: string): KeyedEvent => ({
  type: "Warning",
  reason,
  message,
  object: { kind: "EgressIP", name },
  ...(uid ? { uid } : {}),
});

it("reports each problem once while it lasts, again when it comes back", () => {
  const d = new EventDeduper();
  const a = ev("e1", "NoMatchingNodeFound");
  const b = ev("e2", "UnassignedRequest");
  assert.deepEqual(d.fresh([a, a]), [a], "twice in one run is one problem");
  assert.deepEqual(d.fresh([a, b]), [b]);
  assert.deepEqual(d.fresh([a, b]), []);
  assert.deepEqual(d.fresh([b]), [], "a went away");
  assert.deepEqual(d.fresh([a, b]), [a], "a is back");
  assert.equal(d.size, 2);
});

it("object, reason, message and uid all distinguish problems", () => {
  const d = new EventDeduper();
  d.fresh([ev("e1", "R", "m1", "u1")]);
  const variants = [
    ev("e2", "R", "m1", "u1"),
    ev("e1", "S", "m1", "u1"),
    ev("e1", "R", "m2", "u1"),
    ev("e1", "R", "m1", "u2"),
  ];
  for (const v of variants) {
    const d2 = new EventDeduper();
    d2.fresh([ev("e1", "R", "m1", "u1")]);
    assert.deepEqual(d2.fresh([v]), [v]);
  }
  assert.deepEqual(d.fresh([ev("e1", "R", "m1", "u1")]), []);
});
