import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { compareForDeletion, planReplicas, podFromTemplate, type ReplicaPod } from "./replicas.js";

const pod = (name: string, extra: Partial<ReplicaPod> = {}): ReplicaPod => ({
  name,
  nodeName: "n1",
  phase: "Running",
  ready: true,
  deleting: false,
  creationTimestamp: "2024-01-01T00:00:00Z",
  ...extra,
});

describe("planReplicas", () => {
  const table: {
    name: string;
    desired: number;
    pods: ReplicaPod[];
    pending?: number;
    create: number;
    del: string[];
  }[] = [
    { name: "creates the missing pods", desired: 3, pods: [pod("a")], create: 2, del: [] },
    {
      name: "pending creates count as present",
      desired: 3,
      pods: [pod("a")],
      pending: 2,
      create: 0,
      del: [],
    },
    {
      name: "pods being deleted do not count",
      desired: 1,
      pods: [pod("a", { deleting: true })],
      create: 1,
      del: [],
    },
    {
      name: "finished pods do not count",
      desired: 1,
      pods: [pod("a", { phase: "Failed" })],
      create: 1,
      del: [],
    },
    { name: "at the target: nothing", desired: 2, pods: [pod("a"), pod("b")], create: 0, del: [] },
    {
      name: "scale down: unscheduled, then pending, then not ready, then newest first",
      desired: 1,
      pods: [
        pod("old-ready"),
        pod("new-ready", { creationTimestamp: "2024-02-01T00:00:00Z" }),
        pod("not-ready", { ready: false }),
        pod("pending", { phase: "Pending", ready: false }),
        pod("unscheduled", { nodeName: undefined, phase: "Pending", ready: false }),
      ],
      create: 0,
      del: ["unscheduled", "pending", "not-ready", "new-ready"],
    },
  ];
  for (const t of table) {
    it(t.name, () => {
      const p = planReplicas(t.desired, t.pods, t.pending ?? 0);
      assert.equal(p.create, t.create);
      assert.deepEqual(p.delete, t.del);
    });
  }
  it("status counts active and ready pods", () => {
    const p = planReplicas(3, [pod("a"), pod("b", { ready: false }), pod("c", { deleting: true })], 0, 4);
    assert.deepEqual(p.status, {
      replicas: 2,
      fullyLabeledReplicas: 2,
      readyReplicas: 1,
      availableReplicas: 1,
      observedGeneration: 4,
    });
  });
  it("deletion order is total (antisymmetric)", () => {
    const ps = [
      pod("a"),
      pod("b", { ready: false }),
      pod("c", { nodeName: undefined }),
      pod("d", { phase: "Pending" }),
    ];
    for (const x of ps)
      for (const y of ps)
        assert.equal(Math.sign(compareForDeletion(x, y)) + Math.sign(compareForDeletion(y, x)), 0);
  });
});

describe("podFromTemplate", () => {
  it("generateName, labels, annotations, controller owner reference, a copy of the spec", () => {
    const spec = { containers: [{ name: "c", image: "i" }], nodeSelector: { site: "s" } };
    const p = podFromTemplate({
      namespace: "ns",
      name: "rc",
      uid: "u1",
      template: { metadata: { labels: { name: "x" }, annotations: { a: "b" } }, spec },
    });
    assert.equal(p.metadata.generateName, "rc-");
    assert.deepEqual(p.metadata.labels, { name: "x" });
    assert.deepEqual(p.metadata.annotations, { a: "b" });
    assert.deepEqual(p.metadata.ownerReferences, [
      {
        apiVersion: "v1",
        kind: "ReplicationController",
        name: "rc",
        uid: "u1",
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    assert.deepEqual(p.spec, spec);
    assert.notEqual(p.spec, spec);
  });
});
