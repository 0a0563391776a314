import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  agentOnlyDown,
  evictionsAllowed,
  type NodeHealth,
  observe,
  type ReadyStatus,
  staleNodes,
  zoneKey,
  zoneState,
  zoneStateOfCounts,
} from "./health.js";

test("observe: the probe time moves only when the heartbeat or the Ready status changes", () => {
  const a = observe(undefined, "True", "2026-01-01T00:00:01Z", 1000);
  assert.deepEqual(a, { heartbeat: "2026-01-01T00:00:01Z", ready: "True", probeTime: 1000 });
  assert.equal(observe(a, "True", "2026-01-01T00:00:01Z", 5000), a, "same heartbeat: unchanged");
  assert.equal(observe(a, "True", "2026-01-01T00:00:02Z", 5000).probeTime, 5000);
  assert.equal(observe(a, "Unknown", "2026-01-01T00:00:01Z", 6000).probeTime, 6000);
});

test("staleNodes: silent longer than the grace on the controller's clock, with a heartbeat", () => {
  const now = 100_000;
  const h = (ready: ReadyStatus, probeTime: number, beats = true): NodeHealth => ({
    ready,
    probeTime,
    heartbeat: beats ? "2026-01-01T00:00:00Z" : undefined,
  });
  const nodes = [
    { name: "fresh", health: h("True", now - 1_000) },
    { name: "stale", health: h("True", now - 4_001) },
    { name: "stale-notready", health: h("False", now - 30_000) },
    { name: "already-unknown", health: h("Unknown", now - 30_000) },
    { name: "never-reported", health: h(undefined, now - 30_000, false) },
    { name: "hand-written-ready", health: h("True", now - 30_000, false) },
    { name: "edge", health: h("True", now - 4_000) },
  ];
  assert.deepEqual(staleNodes(nodes, now, 4_000), ["stale", "stale-notready"]);
});

test("zoneState and evictionsAllowed follow Kubernetes' thresholds", () => {
  const T = "True" as const;
  const F = "False" as const;
  const U = "Unknown" as const;
  const rows: [ReadyStatus[], string, boolean][] = [
    [[T, T, T], "Normal", true],
    [[T, T, U], "Normal", true],
    [[T, U, U], "Normal", true], // two not ready: not more than two
    [[U, U, U], "FullDisruption", false],
    [[U, F, undefined], "FullDisruption", false],
    [[T, U, U, U], "PartialDisruption", false], // 75 % of a small cluster
    [[T, T, U, U, U], "PartialDisruption", false], // 60 %
    [[T, T, T, U, U, U], "Normal", true], // 50 % < 55 %
    [[], "Normal", true],
  ];
  for (const [readies, state, allowed] of rows) {
    assert.equal(zoneState(readies), state, JSON.stringify(readies));
    assert.equal(evictionsAllowed(zoneState(readies), readies.length), allowed, JSON.stringify(readies));
  }
  assert.equal(evictionsAllowed("PartialDisruption", 51), true, "large zones keep evicting");
  assert.equal(evictionsAllowed("FullDisruption", 51), false);
});

test("zoneKey: region and zone labels, current or beta names", () => {
  assert.equal(zoneKey(undefined), zoneKey({}));
  assert.equal(
    zoneKey({ "topology.kubernetes.io/zone": "a", "topology.kubernetes.io/region": "r" }),
    zoneKey({
      "failure-domain.beta.kubernetes.io/zone": "a",
      "failure-domain.beta.kubernetes.io/region": "r",
    }),
  );
  assert.notEqual(
    zoneKey({ "topology.kubernetes.io/zone": "a" }),
    zoneKey({ "topology.kubernetes.io/zone": "b" }),
  );
});

test("agentOnlyDown: held while the host refuses (bounded), or before the first answer", () => {
  const hold = 60_000;
  const rows: [string, Parameters<typeof agentOnlyDown>[0], boolean, number, boolean][] = [
    ["cannot be probed", undefined, false, 0, false],
    ["first probe out", undefined, true, 0, true],
    ["refused", { result: "refused", since: 0 }, true, 1000, true],
    ["refused too long", { result: "refused", since: 0 }, true, hold, false],
    ["unreachable", { result: "unreachable", since: 0 }, true, 1000, false],
    ["agent answers, status lost", { result: "connected", since: 0 }, true, 1000, false],
  ];
  for (const [name, probe, probeable, now, want] of rows)
    assert.equal(agentOnlyDown(probe, probeable, now, hold), want, name);
});

test("property: zoneStateOfCounts (the monitor's per-tick form) agrees with zoneState", () => {
  const status = fc.constantFrom<ReadyStatus>("True", "False", "Unknown", undefined);
  fc.assert(
    fc.property(fc.array(status, { maxLength: 80 }), (readies) => {
      const ready = readies.filter((r) => r === "True").length;
      assert.equal(zoneStateOfCounts(ready, readies.length), zoneState(readies));
    }),
  );
});
