import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type SchedNode, type SchedPod, schedulePods } from "./schedule.js";

const node = (name: string, extra: Partial<SchedNode> = {}): SchedNode => ({
  name,
  labels: { zone: name },
  ready: true,
  ...extra,
});
const pod = (name: string, extra: Partial<SchedPod> = {}): SchedPod => ({ namespace: "ns", name, ...extra });
const bound = (r: ReturnType<typeof schedulePods>) =>
  Object.fromEntries(r.bindings.map((b) => [b.name, b.node]));

describe("schedulePods", () => {
  it("fewest pods first, ties by name, each binding counts", () => {
    const r = schedulePods(
      [node("b"), node("a")],
      [pod("p1"), pod("p2"), pod("p3"), pod("x", { nodeName: "b" })],
    );
    assert.deepEqual(bound(r), { p1: "a", p2: "a", p3: "b" });
  });
  it("oldest pod first", () => {
    const r = schedulePods(
      [node("a")],
      [
        pod("z", { creationTimestamp: "2024-01-01T00:00:00Z" }),
        pod("a", { creationTimestamp: "2024-01-02T00:00:00Z" }),
      ],
    );
    assert.deepEqual(
      r.bindings.map((b) => b.name),
      ["z", "a"],
    );
  });
  it("skips NotReady and unschedulable nodes; honours nodeSelector", () => {
    const r = schedulePods(
      [node("a", { ready: false }), node("b", { unschedulable: true }), node("c"), node("d")],
      [pod("p", { nodeSelector: { zone: "d" } })],
    );
    assert.deepEqual(bound(r), { p: "d" });
  });
  it("finished pods do not count", () => {
    const r = schedulePods(
      [node("a"), node("b")],
      [pod("done", { nodeName: "a", phase: "Succeeded" }), pod("x", { nodeName: "b" }), pod("p")],
    );
    assert.deepEqual(bound(r), { p: "a" });
  });
  it("no fitting node → FailedScheduling with reasons", () => {
    const r = schedulePods(
      [node("a", { ready: false }), node("b")],
      [pod("p", { nodeSelector: { zone: "q" } })],
    );
    assert.deepEqual(r.bindings, []);
    assert.equal(r.events[0]?.reason, "FailedScheduling");
    assert.equal(
      r.events[0]?.message,
      "0/2 nodes are available: 1 node(s) were not ready, 1 node(s) didn't match Pod's node affinity/selector.",
    );
  });
});
