import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { byPod, selectPodsForEgressIPs, standbyEvents } from "./pods.js";

const nss = [
  { name: "prod", labels: { env: "prod" } },
  { name: "dev", labels: { env: "dev" } },
];
const pods = [
  { namespace: "prod", name: "web", labels: { app: "web" } },
  { namespace: "prod", name: "db", labels: { app: "db" } },
  { namespace: "prod", name: "hostnet", labels: { app: "web" }, hostNetwork: true },
  { namespace: "dev", name: "web", labels: { app: "web" } },
];

describe("selectPodsForEgressIPs", () => {
  it("namespaceSelector + optional podSelector; hostNetwork pods never served", () => {
    const r = selectPodsForEgressIPs(
      [
        { name: "all-prod", namespaceSelector: { matchLabels: { env: "prod" } } },
        {
          name: "dev-web",
          namespaceSelector: { matchLabels: { env: "dev" } },
          podSelector: { matchLabels: { app: "web" } },
        },
      ],
      nss,
      pods,
    );
    assert.deepEqual(Object.fromEntries(r.servedBy), {
      "prod/db": "all-prod",
      "prod/web": "all-prod",
      "dev/web": "dev-web",
    });
    assert.deepEqual(r.standby, []);
    assert.deepEqual(r.events, []);
  });

  it("a pod selected twice is served by the oldest; the other is standby with one event", () => {
    const r = selectPodsForEgressIPs(
      [
        {
          name: "a-new",
          creationTimestamp: "2024-02-01T00:00:00Z",
          namespaceSelector: {},
          podSelector: { matchLabels: { app: "web" } },
        },
        {
          name: "z-old",
          creationTimestamp: "2024-01-01T00:00:00Z",
          namespaceSelector: { matchLabels: { env: "prod" } },
        },
      ],
      nss,
      pods,
    );
    assert.equal(r.servedBy.get("prod/web"), "z-old");
    assert.equal(r.servedBy.get("dev/web"), "a-new");
    assert.deepEqual(r.standby, [{ pod: "prod/web", egressIP: "a-new", servedBy: "z-old" }]);
    assert.deepEqual(
      r.events.map((e) => [e.reason, e.object.name]),
      [["EgressIPStandby", "a-new"]],
    );
    assert.deepEqual(r.podsOf.get("a-new"), ["dev/web"]);
  });

  it("invalid selector selects nothing and says so", () => {
    const r = selectPodsForEgressIPs(
      [{ name: "bad", namespaceSelector: { matchExpressions: [{ key: "env", operator: "In" }] } }],
      nss,
      pods,
    );
    assert.equal(r.servedBy.size, 0);
    assert.equal(r.events[0]?.reason, "InvalidSelector");
  });
  it("property: selecting namespace by namespace and merging gives the events of one selection", () => {
    const arbLabels = fc.dictionary(fc.constantFrom("env", "app"), fc.constantFrom("a", "b"), { maxKeys: 2 });
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            ns: fc.option(fc.record({ matchLabels: arbLabels }), { nil: undefined }),
            pod: fc.option(fc.record({ matchLabels: arbLabels }), { nil: undefined }),
            ts: fc.constantFrom("2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z", undefined),
          }),
          { maxLength: 5 },
        ),
        fc.array(arbLabels, { minLength: 1, maxLength: 4 }),
        fc.array(fc.record({ ns: fc.nat(3), labels: arbLabels, host: fc.boolean() }), { maxLength: 20 }),
        (eips, nsLabels, podSpecs) => {
          const specs = eips.map((e, i) => ({
            name: `e${i}`,
            namespaceSelector: e.ns ?? {},
            ...(e.pod ? { podSelector: e.pod } : {}),
            ...(e.ts ? { creationTimestamp: e.ts } : {}),
          }));
          const namespaces = nsLabels.map((labels, i) => ({ name: `ns${i}`, labels }));
          const allPods = podSpecs.map((p, j) => ({
            namespace: `ns${p.ns}`,
            name: `p${j}`,
            labels: p.labels,
            hostNetwork: p.host && j % 4 === 0,
          }));
          const whole = selectPodsForEgressIPs(specs, namespaces, allPods);
          const parts = namespaces.map((n) =>
            selectPodsForEgressIPs(
              specs,
              [n],
              allPods.filter((p) => p.namespace === n.name),
            ),
          );
          const merged = parts.flatMap((r) => r.standby).sort((a, b) => byPod(a.pod, b.pod));
          assert.deepEqual(merged, whole.standby);
          assert.deepEqual(
            standbyEvents(merged),
            whole.events.filter((e) => e.reason === "EgressIPStandby"),
          );
        },
      ),
      { numRuns: 300 },
    );
  });
});
