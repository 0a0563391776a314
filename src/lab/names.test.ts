import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { podNetnsName as agentPodNetnsName } from "../agent/kubelet/netns.js";
import {
  belongsToLab,
  bridgeName,
  checkLabId,
  fabricNetns,
  fabricPortName,
  hostNetns,
  podNetnsName,
  podNetnsPrefix,
} from "./names.js";

test("lab ids: 1-12 of [a-z0-9]", () => {
  for (const ok of ["main", "a", "t0123456789a"]) assert.equal(checkLabId(ok), ok);
  for (const bad of ["", "Main", "a-b", "a_b", "t0123456789ab", "../x"])
    assert.throws(() => checkLabId(bad), /lab id/);
});

test("namespace names", () => {
  assert.equal(fabricNetns("t1"), "egl-t1-fabric");
  assert.equal(hostNetns("t1", "node1"), "egl-t1-node1");
  // Pinned: sha256("namespace1/client-a") starts with 8627ca0201; the agent names the same way.
  assert.equal(podNetnsName("main", "namespace1", "client-a"), "egp-main-8627ca0201");
  assert.notEqual(
    podNetnsName("main", "namespace1", "client-a"),
    podNetnsName("main", "namespace1", "client-b"),
  );
});

test("pod namespace names agree with the agent's (given the lab's prefix)", () => {
  fc.assert(
    fc.property(
      fc.stringMatching(/^[a-z0-9]{1,12}$/),
      fc.string({ minLength: 1 }),
      fc.string({ minLength: 1 }),
      (id, ns, name) => {
        assert.equal(podNetnsName(id, ns, name), agentPodNetnsName(podNetnsPrefix(id), ns, name));
      },
    ),
  );
});

test("belongsToLab: own namespaces and own pod namespaces only", () => {
  const rows: [string, string, boolean][] = [
    ["a", "egl-a-fabric", true],
    ["a", "egl-a-node1", true],
    ["a", "egl-ab-fabric", false],
    ["ab", "egl-a-fabric", false],
    ["a", `egp-a-0123456789`, true],
    ["a", `egp-a-01234567`, false],
    ["a", `egp-ab-0123456789`, false],
    ["a", "egl-a", false],
    ["a", "cni-1234", false],
  ];
  for (const [id, ns, want] of rows) assert.equal(belongsToLab(id, ns), want, `${id} ${ns}`);
  fc.assert(
    fc.property(fc.stringMatching(/^[a-z0-9]{1,12}$/), fc.string(), fc.string(), (id, ns, name) =>
      belongsToLab(id, podNetnsName(id, ns, name)),
    ),
  );
});

test("interface names fit in 15 characters and stay distinct", () => {
  assert.equal(fabricPortName("node1", "eth0"), "node1-eth0");
  assert.equal(bridgeName("host"), "br-host");
  const long = fabricPortName("a-very-long-host-name", "eth0");
  assert.ok(long.length <= 15, long);
  assert.notEqual(long, fabricPortName("a-very-long-host-namf", "eth0"));
  fc.assert(
    fc.property(
      fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,18}[a-z0-9])?$/),
      fc.integer({ min: 0, max: 9 }),
      (h, i) => {
        const n = fabricPortName(h, `eth${i}`);
        return n.length <= 15 && /^[a-z0-9.-]+$/.test(n);
      },
    ),
  );
});
