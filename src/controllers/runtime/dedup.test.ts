import assert from "node:assert/strict";
import { it, test } from "node:test";
import type { DecisionEvent } from "../common/decision.js";
import { EventDedup, emitFresh, type KeyedEvent, type RecordFn } from "./dedup.js";
import type { ObjectRef } from "./events.js";

const ev = (name: string, reason: string, message = "m", uid?: string): KeyedEvent => ({
  type: "Warning",
  reason,
  message,
  object: { kind: "EgressIP", name },
  ...(uid ? { uid } : {}),
});

it("reports each problem once while it lasts, again when it comes back", () => {
  const d = new EventDedup();
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
  const d = new EventDedup();
  d.fresh([ev("e1", "R", "m1", "u1")]);
  const variants = [
    ev("e2", "R", "m1", "u1"),
    ev("e1", "S", "m1", "u1"),
    ev("e1", "R", "m2", "u1"),
    ev("e1", "R", "m1", "u2"),
  ];
  for (const v of variants) {
    const d2 = new EventDedup();
    d2.fresh([ev("e1", "R", "m1", "u1")]);
    assert.deepEqual(d2.fresh([v]), [v]);
  }
  assert.deepEqual(d.fresh([ev("e1", "R", "m1", "u1")]), []);
});

const sev = (reason: string, message = "m", name = "a"): DecisionEvent => ({
  type: "Warning",
  reason,
  message,
  object: { kind: "Service", namespace: "ns", name },
});

test("events: one record per occurrence; again after the problem went away", async () => {
  const got: string[] = [];
  const d = new EventDedup();
  const rec: RecordFn = async (_ref, _t, reason, message) => {
    got.push(`${reason}:${message}`);
  };
  const resolve = (r: { kind: string; name: string; namespace?: string }): ObjectRef => ({ ...r, uid: "u1" });
  const table: { run: DecisionEvent[]; recorded: string[] }[] = [
    { run: [sev("A"), sev("A")], recorded: ["A:m"] },
    { run: [sev("A")], recorded: [] },
    { run: [sev("A"), sev("A", "other")], recorded: ["A:other"] },
    { run: [], recorded: [] },
    { run: [sev("A")], recorded: ["A:m"] },
  ];
  for (const [i, row] of table.entries()) {
    got.length = 0;
    await emitFresh(d, row.run, resolve, rec);
    assert.deepEqual(got, row.recorded, `run ${i}`);
  }
});

test("events: objects that are gone are skipped; a new uid is a new occurrence", async () => {
  const got: string[] = [];
  const d = new EventDedup();
  const rec: RecordFn = async (ref, _t, reason) => {
    got.push(`${ref.uid}:${reason}`);
  };
  let uid: string | undefined = "u1";
  const resolve = (r: { kind: string; name: string }): ObjectRef | undefined =>
    uid ? { ...r, uid } : undefined;
  await emitFresh(d, [sev("A")], resolve, rec);
  uid = undefined;
  await emitFresh(d, [sev("A")], resolve, rec);
  uid = "u2";
  await emitFresh(d, [sev("A")], resolve, rec);
  assert.deepEqual(got, ["u1:A", "u2:A"]);
});
