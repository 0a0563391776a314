import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { evictionDecision, type Toleration, tolerates, withDefaultTolerations } from "./eviction.js";
import { TAINT_NOT_READY, TAINT_UNREACHABLE, type Taint } from "./taints.js";

const unreachable: Taint = { key: TAINT_UNREACHABLE, effect: "NoExecute" };
const notReady: Taint = { key: TAINT_NOT_READY, effect: "NoExecute" };
const custom: Taint = { key: "maintenance", value: "yes", effect: "NoExecute" };
const noSchedule: Taint = { key: TAINT_UNREACHABLE, effect: "NoSchedule" };

test("tolerates: Kubernetes' matching rules", () => {
  const rows: [Toleration, Taint, boolean][] = [
    [{ operator: "Exists" }, custom, true],
    [{ operator: "Exists", effect: "NoSchedule" }, custom, false],
    [{ key: "maintenance", operator: "Exists" }, custom, true],
    [{ key: "maintenance", value: "yes" }, custom, true],
    [{ key: "maintenance", operator: "Equal", value: "yes", effect: "NoExecute" }, custom, true],
    [{ key: "maintenance", operator: "Equal", value: "no" }, custom, false],
    [{ key: "maintenance" }, custom, false], // Equal with an empty value
    [{ key: "other", operator: "Exists" }, custom, false],
    [{ key: TAINT_UNREACHABLE, operator: "Exists", effect: "NoExecute" }, unreachable, true],
    [{ key: TAINT_UNREACHABLE, operator: "Exists", effect: "NoExecute" }, noSchedule, false],
    [{ key: TAINT_UNREACHABLE, operator: "Bogus" }, unreachable, false],
  ];
  for (const [t, taint, want] of rows) assert.equal(tolerates(t, taint), want, JSON.stringify([t, taint]));
});

test("withDefaultTolerations adds the two defaults unless the pod covers them", () => {
  const d = { notReadySeconds: 0, unreachableSeconds: 7 };
  assert.deepEqual(withDefaultTolerations([], d), [
    { key: TAINT_NOT_READY, operator: "Exists", effect: "NoExecute", tolerationSeconds: 0 },
    { key: TAINT_UNREACHABLE, operator: "Exists", effect: "NoExecute", tolerationSeconds: 7 },
  ]);
  const own: Toleration = {
    key: TAINT_UNREACHABLE,
    operator: "Exists",
    effect: "NoExecute",
    tolerationSeconds: 60,
  };
  assert.deepEqual(
    withDefaultTolerations([own], d).map((t) => t.key),
    [TAINT_UNREACHABLE, TAINT_NOT_READY],
  );
  assert.equal(withDefaultTolerations([{ operator: "Exists" }], d).length, 1, "tolerates everything");
  assert.equal(
    withDefaultTolerations([{ key: TAINT_UNREACHABLE, operator: "Exists", effect: "NoSchedule" }], d).length,
    3,
    "a NoSchedule toleration does not cover NoExecute",
  );
});

test("evictionDecision: now, after the shortest tolerationSeconds, or never", () => {
  const d0 = { notReadySeconds: 0, unreachableSeconds: 0 };
  const d5 = { notReadySeconds: 300, unreachableSeconds: 5 };
  const since = 1_000_000;
  const rows: [string, Taint[], Toleration[], typeof d0, ReturnType<typeof evictionDecision>][] = [
    ["no NoExecute taint", [noSchedule], [], d0, { kind: "none" }],
    ["default 0 s", [unreachable], [], d0, { kind: "now" }],
    ["default 5 s", [unreachable], [], d5, { kind: "at", atMs: since + 5000 }],
    ["not-ready uses its own default", [notReady], [], d5, { kind: "at", atMs: since + 300_000 }],
    ["untolerated custom taint", [unreachable, custom], [], d5, { kind: "now" }],
    [
      "own toleration wins over the default",
      [unreachable],
      [{ key: TAINT_UNREACHABLE, operator: "Exists", effect: "NoExecute", tolerationSeconds: 60 }],
      d0,
      { kind: "at", atMs: since + 60_000 },
    ],
    [
      "tolerated forever",
      [unreachable],
      [{ key: TAINT_UNREACHABLE, operator: "Exists", effect: "NoExecute" }],
      d0,
      { kind: "none" },
    ],
    [
      "shortest of several",
      [unreachable, custom],
      [
        { key: TAINT_UNREACHABLE, operator: "Exists", tolerationSeconds: 30 },
        { key: "maintenance", value: "yes", tolerationSeconds: 10 },
      ],
      d0,
      { kind: "at", atMs: since + 10_000 },
    ],
    [
      "negative seconds mean now",
      [unreachable],
      [{ key: TAINT_UNREACHABLE, operator: "Exists", tolerationSeconds: -5 }],
      d5,
      { kind: "now" },
    ],
  ];
  for (const [name, taints, tols, defaults, want] of rows)
    assert.deepEqual(evictionDecision(taints, tols, defaults, since), want, name);
});

test("property: an Exists-everything toleration without seconds is never evicted", () => {
  const taint = fc.record({
    key: fc.constantFrom(TAINT_UNREACHABLE, TAINT_NOT_READY, "a", "b"),
    value: fc.option(fc.constantFrom("x", "y"), { nil: undefined }),
    effect: fc.constantFrom("NoSchedule", "PreferNoSchedule", "NoExecute"),
  });
  fc.assert(
    fc.property(fc.array(taint, { maxLength: 5 }), fc.nat(600), (taints, s) => {
      const d = evictionDecision(
        taints,
        [{ operator: "Exists" }],
        { notReadySeconds: s, unreachableSeconds: s },
        0,
      );
      assert.deepEqual(d, { kind: "none" });
    }),
  );
});
