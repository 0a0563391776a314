import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { selectPodsForEgressIPs } from "./pods.js";

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
});
