import assert from "node:assert/strict";
import { test } from "node:test";
import type { KubeObject } from "../../api/object.js";
import type { DecisionEvent } from "../common/decision.js";
import type { ObjectRef } from "../runtime/events.js";
import { EventDeduper, WriteExpectations } from "./sync.js";

const obj = (rv: string, labels: Record<string, string> = {}): KubeObject => ({
  apiVersion: "v1",
  kind: "Node",
  metadata: { name: "n", resourceVersion: rv, labels },
});

test("expectations: unsatisfied while the cache lacks the write, then dropped", () => {
  const x = new WriteExpectations(1000, () => 0);
  x.expect("n", (c) => c?.metadata.labels?.a === "");
  assert.equal(
    x.satisfied(() => obj("1")),
    false,
  );
  assert.equal(x.size, 1);
  assert.equal(
    x.satisfied(() => obj("2", { a: "" })),
    true,
  );
  assert.equal(x.size, 0);
});

test("expectations: a deleted object or an expired wait counts as satisfied", () => {
  let now = 0;
  const x = new WriteExpectations(100, () => now);
  x.expect("gone", () => false);
  assert.equal(
    x.satisfied(() => undefined),
    true,
  );
  x.expect("stuck", () => false);
  assert.equal(
    x.satisfied(() => obj("1")),
    false,
  );
  now = 100;
  assert.equal(
    x.satisfied(() => obj("1")),
    true,
  );
  assert.equal(x.size, 0);
});

const ev = (reason: string, message = "m", name = "a"): DecisionEvent => ({
  type: "Warning",
  reason,
  message,
  object: { kind: "Service", namespace: "ns", name },
});

test("events: one record per occurrence; again after the problem went away", async () => {
  const got: string[] = [];
  const d = new EventDeduper(async (_ref, _t, reason, message) => {
    got.push(`${reason}:${message}`);
  });
  const resolve = (r: { kind: string; name: string; namespace?: string }): ObjectRef => ({ ...r, uid: "u1" });
  const table: { run: DecisionEvent[]; recorded: string[] }[] = [
    { run: [ev("A"), ev("A")], recorded: ["A:m"] },
    { run: [ev("A")], recorded: [] },
    { run: [ev("A"), ev("A", "other")], recorded: ["A:other"] },
    { run: [], recorded: [] },
    { run: [ev("A")], recorded: ["A:m"] },
  ];
  for (const [i, row] of table.entries()) {
    got.length = 0;
    await d.emit(row.run, resolve);
    assert.deepEqual(got, row.recorded, `run ${i}`);
  }
});

test("events: objects that are gone are skipped; a new uid is a new occurrence", async () => {
  const got: string[] = [];
  const d = new EventDeduper(async (ref, _t, reason) => {
    got.push(`${ref.uid}:${reason}`);
  });
  let uid: string | undefined = "u1";
  const resolve = (r: { kind: string; name: string }): ObjectRef | undefined =>
    uid ? { ...r, uid } : undefined;
  await d.emit([ev("A")], resolve);
  uid = undefined;
  await d.emit([ev("A")], resolve);
  uid = "u2";
  await d.emit([ev("A")], resolve);
  assert.deepEqual(got, ["u1:A", "u2:A"]);
});
