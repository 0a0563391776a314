import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  type EgressServiceInput,
  type ESNode,
  egressServiceLabel,
  electEgressServiceHosts,
  nodeLabelChanges,
} from "./elect.js";

const n = (name: string, extra: Partial<ESNode> = {}): ESNode => ({
  name,
  labels: { zone: name.endsWith("1") ? "a" : "b" },
  ready: true,
  reachable: true,
  ...extra,
});
const lb = { type: "LoadBalancer", ingressIPs: ["172.18.0.100"] };
function es(name: string, extra: Partial<EgressServiceInput> = {}): EgressServiceInput {
  return {
    namespace: "ns",
    name,
    sourceIPBy: "LoadBalancerIP",
    currentHost: "",
    service: lb,
    endpointNodes: ["n1", "n2"],
    ...extra,
  };
}
const hosts = (r: ReturnType<typeof electEgressServiceHosts>) =>
  Object.fromEntries(r.decisions.map((d) => [d.name, d.host || d.reason]));

describe("electEgressServiceHosts", () => {
  const nodes = [n("n2"), n("n1"), n("n3")];
  const table: {
    name: string;
    svcs: EgressServiceInput[];
    nodes?: ESNode[];
    want: Record<string, string | undefined>;
  }[] = [
    { name: "lowest name when all equal", svcs: [es("s")], want: { s: "n1" } },
    {
      name: "fewest services hosted",
      svcs: [es("a"), es("b"), es("c")],
      want: { a: "n1", b: "n2", c: "n3" },
    },
    { name: "sourceIPBy Network → ALL", svcs: [es("s", { sourceIPBy: "Network" })], want: { s: "ALL" } },
    { name: "no Service", svcs: [es("s", { service: undefined })], want: { s: "ServiceNotFound" } },
    {
      name: "not a LoadBalancer",
      svcs: [es("s", { service: { ...lb, type: "ClusterIP" } })],
      want: { s: "NotLoadBalancer" },
    },
    {
      name: "no ingress IP",
      svcs: [es("s", { service: { ...lb, ingressIPs: [] } })],
      want: { s: "NoIngressIP" },
    },
    { name: "no endpoints", svcs: [es("s", { endpointNodes: [] })], want: { s: "NoEndpoints" } },
    {
      name: "Network without endpoints → none",
      svcs: [es("s", { sourceIPBy: "Network", endpointNodes: [] })],
      want: { s: "NoEndpoints" },
    },
    {
      name: "nodeSelector",
      svcs: [es("s", { nodeSelector: { matchLabels: { zone: "b" } } })],
      want: { s: "n2" },
    },
    {
      name: "nodeSelector matches nothing",
      svcs: [es("s", { nodeSelector: { matchLabels: { zone: "c" } } })],
      want: { s: "NoEligibleNode" },
    },
    {
      name: "ETP Local → only nodes with endpoints",
      svcs: [es("s", { endpointNodes: ["n3"], service: { ...lb, externalTrafficPolicy: "Local" } })],
      want: { s: "n3" },
    },
    { name: "ETP Cluster → any node", svcs: [es("s", { endpointNodes: ["n3"] })], want: { s: "n1" } },
    {
      name: "NotReady and unreachable nodes skipped",
      svcs: [es("s")],
      nodes: [n("n1", { ready: false }), n("n2", { reachable: false }), n("n3")],
      want: { s: "n3" },
    },
    { name: "sticky current host", svcs: [es("s", { currentHost: "n3" })], want: { s: "n3" } },
    {
      name: "re-election when host NotReady",
      svcs: [es("s", { currentHost: "n1" })],
      nodes: [n("n1", { ready: false }), n("n2")],
      want: { s: "n2" },
    },
    {
      name: "re-election when host stops matching",
      svcs: [es("s", { currentHost: "n1", nodeSelector: { matchLabels: { zone: "b" } } })],
      want: { s: "n2" },
    },
    { name: "re-election when host gone", svcs: [es("s", { currentHost: "gone" })], want: { s: "n1" } },
    {
      name: "kept hosts count before new elections",
      svcs: [es("a"), es("b", { currentHost: "n1" })],
      want: { a: "n2", b: "n1" },
    },
  ];
  for (const t of table)
    it(t.name, () => assert.deepEqual(hosts(electEgressServiceHosts(t.svcs, t.nodes ?? nodes)), t.want));

  it("labels the host only (not for Network) and computes label changes", () => {
    const r = electEgressServiceHosts([es("a"), es("b", { sourceIPBy: "Network" })], nodes);
    assert.deepEqual(Object.fromEntries(r.nodeLabels), { n1: ["egress-service.k8s.ovn.org/ns-a"] });
    assert.equal(egressServiceLabel("ns", "a"), "egress-service.k8s.ovn.org/ns-a");
    assert.deepEqual(
      nodeLabelChanges({ "egress-service.k8s.ovn.org/ns-old": "", zone: "a" }, r.nodeLabels.get("n1")),
      {
        add: ["egress-service.k8s.ovn.org/ns-a"],
        remove: ["egress-service.k8s.ovn.org/ns-old"],
      },
    );
    assert.deepEqual(
      nodeLabelChanges({ "egress-service.k8s.ovn.org/ns-a": "" }, ["egress-service.k8s.ovn.org/ns-a"]),
      { add: [], remove: [] },
    );
  });

  it("property: re-running with the result as current host changes nothing; hosts always qualify", () => {
    const arb = fc.record({
      nodes: fc.array(
        fc.record({ ready: fc.boolean(), reachable: fc.boolean(), zone: fc.constantFrom("a", "b") }),
        { maxLength: 5 },
      ),
      svcs: fc.array(
        fc.record({
          ep: fc.array(fc.nat(5), { maxLength: 3 }),
          local: fc.boolean(),
          sel: fc.constantFrom(undefined, "a", "b"),
        }),
        { maxLength: 6 },
      ),
    });
    fc.assert(
      fc.property(arb, ({ nodes: ns, svcs }) => {
        const nodes = ns.map((x, i) => ({
          name: `n${i}`,
          labels: { zone: x.zone },
          ready: x.ready,
          reachable: x.reachable,
        }));
        const input = svcs.map((s, i) =>
          es(`s${i}`, {
            endpointNodes: s.ep.map((e) => `n${e}`),
            service: { ...lb, externalTrafficPolicy: s.local ? "Local" : "Cluster" },
            ...(s.sel ? { nodeSelector: { matchLabels: { zone: s.sel } } } : {}),
          }),
        );
        const r1 = electEgressServiceHosts(input, nodes);
        for (const d of r1.decisions) {
          if (d.host === "") continue;
          const node = nodes.find((x) => x.name === d.host)!;
          const s = svcs[Number(d.name.slice(1))]!;
          assert.ok(node.ready && node.reachable);
          if (s.sel) assert.equal(node.labels.zone, s.sel);
          if (s.local) assert.ok(s.ep.map((e) => `n${e}`).includes(node.name));
        }
        const again = input.map((s, i) => ({ ...s, currentHost: r1.decisions[i]!.host }));
        const r2 = electEgressServiceHosts(again, nodes);
        assert.deepEqual(r2.decisions, r1.decisions);
        assert.deepEqual(
          r2.events.filter((e) => e.type === "Normal"),
          [],
        );
      }),
      { numRuns: 300 },
    );
  });
});
