import assert from "node:assert/strict";
import { test } from "node:test";
import { staleNodes } from "./stale.js";

test("nodes whose heartbeat is older than the grace period go Unknown; others stay", () => {
  const now = 100_000;
  const nodes = [
    { name: "fresh", ready: "True" as const, lastHeartbeat: now - 1_000 },
    { name: "stale", ready: "True" as const, lastHeartbeat: now - 30_000 },
    { name: "stale-notready", ready: "False" as const, lastHeartbeat: now - 30_000 },
    { name: "already-unknown", ready: "Unknown" as const, lastHeartbeat: now - 30_000 },
    { name: "never-reported", ready: undefined, lastHeartbeat: undefined },
    { name: "edge", ready: "True" as const, lastHeartbeat: now - 20_000 },
  ];
  assert.deepEqual(staleNodes(nodes, now, 20_000), ["stale", "stale-notready"]);
});
