import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { LabelSelector } from "../../api/selector.js";
import { type EgressServiceInput, electEgressServiceHosts } from "./elect.js";
import { type ESNode, NodeSelectorIndex } from "./node-index.js";

const node = (name: string, labels: Record<string, string>, ready = true, reachable = true): ESNode => ({
  name,
  labels,
  ready,
  reachable,
});

describe("NodeSelectorIndex", () => {
  it("eligible = Ready, reachable and matching; follows node changes", () => {
    const ix = NodeSelectorIndex.of([
      node("a", { z: "1" }),
      node("b", { z: "2" }),
      node("c", { z: "1" }, false),
    ]);
    const z1 = { matchLabels: { z: "1" } };
    assert.deepEqual([...ix.matching(z1)].sort(), ["a"]);
    assert.deepEqual([...ix.matching(undefined)].sort(), ["a", "b"]);
    assert.equal(ix.setNode(node("c", { z: "1" })), true);
    assert.deepEqual([...ix.matching(z1)].sort(), ["a", "c"]);
    assert.equal(ix.setNode(node("c", { z: "1" })), false, "no change, no work");
    assert.equal(ix.setReachable("a", false), true);
    assert.equal(ix.deleteNode("b"), true);
    assert.deepEqual([...ix.matching(z1)].sort(), ["c"]);
    assert.deepEqual([...ix.matching({})].sort(), ["c"]);
  });

  it("an invalid selector throws every time; unused selectors are forgotten", () => {
    const ix = NodeSelectorIndex.of([node("a", {})]);
    const bad = { matchExpressions: [{ key: "k", operator: "In" as const }] };
    assert.throws(() => ix.matching(bad));
    assert.throws(() => ix.matching(bad));
    ix.matching({ matchLabels: { x: "y" } });
    assert.equal(ix.selectorCount, 2);
    ix.endRound();
    ix.matching({ matchLabels: { x: "y" } });
    ix.endRound();
    ix.endRound();
    assert.equal(ix.selectorCount, 1, "the invalid selector was not asked for two rounds");
  });

  const arbLabels = fc.dictionary(fc.constantFrom("zone", "role", "gpu"), fc.constantFrom("a", "b", ""), {
    maxKeys: 3,
  });
  const arbNode = fc.record({
    name: fc.constantFrom("n1", "n2", "n3", "n4", "n5", "n6"),
    labels: arbLabels,
    ready: fc.boolean(),
    reachable: fc.boolean(),
  });
  const arbSelector: fc.Arbitrary<LabelSelector | undefined> = fc.oneof(
    fc.constant(undefined),
    fc.record({ matchLabels: arbLabels }),
    fc.record({
      matchExpressions: fc.array(
        fc.record({
          key: fc.constantFrom("zone", "role", "gpu"),
          operator: fc.constantFrom("Exists" as const, "DoesNotExist" as const),
        }),
        { maxLength: 2 },
      ),
    }),
  );
  type Op = { kind: "set"; node: ESNode } | { kind: "delete"; name: string } | { kind: "elect" };
  const arbOp: fc.Arbitrary<Op> = fc.oneof(
    arbNode.map((n) => ({ kind: "set" as const, node: n })),
    fc.constantFrom("n1", "n2", "n3").map((name) => ({ kind: "delete" as const, name })),
    fc.constant({ kind: "elect" as const }),
  );

  it("property: an index updated node by node elects exactly as the plain node list", () => {
    fc.assert(
      fc.property(
        fc.array(arbOp, { maxLength: 30 }),
        fc.array(
          fc.record({
            sel: arbSelector,
            local: fc.boolean(),
            ep: fc.subarray(["n1", "n2", "n3", "n4", "n5", "n6"], { minLength: 1 }),
          }),
          { minLength: 1, maxLength: 6 },
        ),
        (ops, svcs) => {
          const ix = new NodeSelectorIndex();
          const nodes = new Map<string, ESNode>();
          let hosts = new Map<string, string>();
          const inputs = (): EgressServiceInput[] =>
            svcs.map((s, i) => ({
              namespace: "ns",
              name: `s${i}`,
              sourceIPBy: "LoadBalancerIP",
              currentHost: hosts.get(`s${i}`) ?? "",
              service: {
                type: "LoadBalancer",
                ingressIPs: ["192.0.2.1"],
                ...(s.local ? { externalTrafficPolicy: "Local" as const } : {}),
              },
              endpointNodes: s.ep,
              ...(s.sel ? { nodeSelector: s.sel } : {}),
            }));
          for (const op of [...ops, { kind: "elect" } as Op]) {
            if (op.kind === "set") {
              nodes.set(op.node.name, op.node);
              ix.setNode(op.node);
            } else if (op.kind === "delete") {
              nodes.delete(op.name);
              ix.deleteNode(op.name);
            } else {
              const viaIndex = electEgressServiceHosts(inputs(), ix);
              const plain = electEgressServiceHosts(inputs(), [...nodes.values()]);
              assert.deepEqual(viaIndex, plain);
              hosts = new Map(plain.decisions.map((d) => [d.name, d.host]));
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
