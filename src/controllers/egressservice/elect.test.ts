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

describe("electEgressServiceHosts with large candidate sets (LoadHeap)", () => {
  // Reference: the plain rule — kept hosts counted first, then in namespace/name order the
  // eligible node hosting the fewest services, ties by name — by scanning every candidate.
  function reference(svcs: EgressServiceInput[], nodes: ESNode[]): Map<string, string> {
    const ok = (s: EgressServiceInput) =>
      nodes
        .filter((x) => x.ready && x.reachable)
        .filter((x) => Object.entries(s.nodeSelector?.matchLabels ?? {}).every(([k, v]) => x.labels[k] === v))
        .map((x) => x.name);
    const sorted = [...svcs].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const load = new Map<string, number>();
    const out = new Map<string, string>();
    for (const s of sorted)
      if (s.currentHost && ok(s).includes(s.currentHost)) {
        out.set(s.name, s.currentHost);
        load.set(s.currentHost, (load.get(s.currentHost) ?? 0) + 1);
      }
    for (const s of sorted) {
      if (out.has(s.name)) continue;
      let best: string | undefined;
      for (const c of ok(s)) {
        const l = load.get(c) ?? 0;
        const bl = best === undefined ? Number.POSITIVE_INFINITY : (load.get(best) ?? 0);
        if (l < bl || (l === bl && best !== undefined && c < best)) best = c;
      }
      if (best === undefined) continue;
      out.set(s.name, best);
      load.set(best, (load.get(best) ?? 0) + 1);
    }
    return out;
  }

  it("property: picks exactly what a scan of every candidate picks", () => {
    const nodeArb = fc.uniqueArray(
      fc.record({
        name: fc.integer({ min: 0, max: 300 }).map((i) => `node-${i}`),
        zone: fc.constantFrom("a", "b"),
        ready: fc.integer({ min: 0, max: 9 }).map((i) => i !== 0),
      }),
      { minLength: 20, maxLength: 120, selector: (x) => x.name },
    );
    fc.assert(
      fc.property(
        nodeArb,
        fc.array(
          fc.record({ sel: fc.constantFrom("none", "a", "b"), host: fc.integer({ min: 0, max: 400 }) }),
          { minLength: 1, maxLength: 60 },
        ),
        (ns, specs) => {
          const nodes: ESNode[] = ns.map((x) => ({
            name: x.name,
            labels: { zone: x.zone },
            ready: x.ready,
            reachable: true,
          }));
          const svcs = specs.map((sp, i) =>
            es(`svc-${String(i).padStart(3, "0")}`, {
              currentHost: sp.host < 300 ? `node-${sp.host}` : "",
              ...(sp.sel === "none" ? {} : { nodeSelector: { matchLabels: { zone: sp.sel } } }),
            }),
          );
          const got = new Map(
            electEgressServiceHosts(svcs, nodes)
              .decisions.filter((d) => d.host !== "")
              .map((d) => [d.name, d.host]),
          );
          assert.deepEqual(got, reference(svcs, nodes));
        },
      ),
      { numRuns: 150 },
    );
  });
});
