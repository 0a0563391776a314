import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import type { KubeObject } from "../../api/object.js";
import { electEgressServiceHosts } from "./elect.js";
import {
  currentHost,
  endpointNodes,
  endpointsElectionPrint,
  isLocalPolicy,
  nodeReady,
  serviceElectionPrint,
  toEgressServiceInput,
  toESNode,
} from "./inputs.js";

const node = (name: string, ready: string | undefined, labels: Record<string, string> = {}): KubeObject => ({
  apiVersion: "v1",
  kind: "Node",
  metadata: { name, labels },
  status: ready === undefined ? {} : { conditions: [{ type: "Ready", status: ready }] },
});

test("nodeReady: only Ready=True", () => {
  const table: [string | undefined, boolean][] = [
    ["True", true],
    ["False", false],
    ["Unknown", false],
    [undefined, false],
  ];
  for (const [status, want] of table) assert.equal(nodeReady(node("n", status)), want, String(status));
  assert.deepEqual(toESNode(node("n", "True", { a: "b" }), false), {
    name: "n",
    labels: { a: "b" },
    ready: true,
    reachable: false,
  });
});

const endpoints = (subsets: unknown[]): KubeObject => ({
  apiVersion: "v1",
  kind: "Endpoints",
  metadata: { name: "s", namespace: "ns" },
  subsets,
});

test('endpointNodes: ready addresses\' nodes, unique and sorted; no nodeName → ""', () => {
  const table: [KubeObject | undefined, string[]][] = [
    [undefined, []],
    [endpoints([]), []],
    [endpoints([{ notReadyAddresses: [{ ip: "10.0.0.1", nodeName: "w1" }] }]), []],
    [
      endpoints([
        {
          addresses: [
            { ip: "10.0.0.2", nodeName: "w2" },
            { ip: "10.0.0.1", nodeName: "w1" },
          ],
        },
        { addresses: [{ ip: "10.0.0.3", nodeName: "w2" }] },
      ]),
      ["w1", "w2"],
    ],
    [endpoints([{ addresses: [{ ip: "10.0.0.9" }] }]), [""]],
  ];
  for (const [ep, want] of table) assert.deepEqual(endpointNodes(ep), want);
});

const es = (spec: Record<string, unknown>, host?: string): KubeObject => ({
  apiVersion: "k8s.ovn.org/v1",
  kind: "EgressService",
  metadata: { name: "s", namespace: "ns" },
  spec,
  ...(host !== undefined ? { status: { host } } : {}),
});
const svc = (type: string, ips: string[], etp?: string): KubeObject => ({
  apiVersion: "v1",
  kind: "Service",
  metadata: { name: "s", namespace: "ns" },
  spec: { type, ...(etp ? { externalTrafficPolicy: etp } : {}) },
  status: { loadBalancer: { ingress: ips.map((ip) => ({ ip })) } },
});

test("toEgressServiceInput: defaults and fields", () => {
  const a = toEgressServiceInput(es({}), undefined, undefined);
  assert.deepEqual(a, {
    namespace: "ns",
    name: "s",
    sourceIPBy: "LoadBalancerIP",
    currentHost: "",
    endpointNodes: [],
  });
  const b = toEgressServiceInput(
    es({ sourceIPBy: "Network", nodeSelector: { matchLabels: { x: "y" } } }, "w1"),
    svc("LoadBalancer", ["1.2.3.4"], "Local"),
    endpoints([{ addresses: [{ ip: "10.0.0.1", nodeName: "w1" }] }]),
  );
  assert.deepEqual(b, {
    namespace: "ns",
    name: "s",
    sourceIPBy: "Network",
    currentHost: "w1",
    endpointNodes: ["w1"],
    nodeSelector: { matchLabels: { x: "y" } },
    service: { type: "LoadBalancer", ingressIPs: ["1.2.3.4"], externalTrafficPolicy: "Local" },
  });
  assert.equal(currentHost(es({})), "");
});

test("endpoints without nodeName: Cluster elects, Local does not", () => {
  const ep = endpoints([{ addresses: [{ ip: "10.0.0.9" }] }]);
  const nodes = [toESNode(node("w1", "True"), true)];
  const table: [string, string, string | undefined][] = [
    ["Cluster", "w1", undefined],
    ["Local", "", "NoEligibleNode"],
  ];
  for (const [etp, host, reason] of table) {
    const input = toEgressServiceInput(es({}), svc("LoadBalancer", ["1.2.3.4"], etp), ep);
    const d = electEgressServiceHosts([input], nodes).decisions[0]!;
    assert.equal(d.host, host, etp);
    assert.equal(d.reason, reason, etp);
  }
});

test("endpointsElectionPrint: Local → the ready endpoint nodes; Cluster → only whether there are any", () => {
  const a = endpoints([
    {
      addresses: [
        { ip: "10.0.0.1", nodeName: "w1" },
        { ip: "10.0.0.2", nodeName: "w2" },
      ],
    },
  ]);
  // Same nodes, other IPs and order, an extra not-ready address: the same print.
  const a2 = endpoints([
    {
      addresses: [
        { ip: "10.0.0.7", nodeName: "w2" },
        { ip: "10.0.0.8", nodeName: "w1" },
      ],
      notReadyAddresses: [{ ip: "10.0.0.9", nodeName: "w3" }],
    },
  ]);
  const b = endpoints([{ addresses: [{ ip: "10.0.0.1", nodeName: "w1" }] }]);
  const none = endpoints([{ notReadyAddresses: [{ ip: "10.0.0.1", nodeName: "w1" }] }]);
  const table: [KubeObject | undefined, KubeObject | undefined, boolean, boolean][] = [
    // [first, second, local, same print]
    [a, a2, true, true],
    [a, b, true, false],
    [a, b, false, true],
    [a, none, false, false],
    [none, undefined, false, true],
    [none, undefined, true, true],
    [b, endpoints([{ addresses: [{ ip: "10.0.0.1" }] }]), true, false],
  ];
  for (const [x, y, local, same] of table)
    assert.equal(
      endpointsElectionPrint(x, local) === endpointsElectionPrint(y, local),
      same,
      `${JSON.stringify(x?.subsets)} vs ${JSON.stringify(y?.subsets)}, local ${local}`,
    );
});

test("serviceElectionPrint: type, ingress IPs and externalTrafficPolicy only", () => {
  const base = svc("LoadBalancer", ["1.2.3.4"], "Cluster");
  const relabelled = { ...base, metadata: { ...base.metadata, labels: { a: "b" } } };
  assert.equal(serviceElectionPrint(base), serviceElectionPrint(relabelled));
  assert.equal(serviceElectionPrint(undefined), undefined);
  for (const other of [
    svc("ClusterIP", ["1.2.3.4"], "Cluster"),
    svc("LoadBalancer", [], "Cluster"),
    svc("LoadBalancer", ["1.2.3.5"], "Cluster"),
    svc("LoadBalancer", ["1.2.3.4"], "Local"),
  ])
    assert.notEqual(serviceElectionPrint(base), serviceElectionPrint(other), JSON.stringify(other));
  assert.equal(isLocalPolicy(svc("LoadBalancer", [], "Local")), true);
  assert.equal(isLocalPolicy(base), false);
  assert.equal(isLocalPolicy(undefined), false);
});

test("property: Endpoints with the same election print give the same decisions", () => {
  const nodeNames = ["w1", "w2", "w3"];
  const nodes = nodeNames.map((n, i) => toESNode(node(n, i === 2 ? "False" : "True"), true));
  const addr = fc.record({
    ip: fc.constantFrom("10.0.0.1", "10.0.0.2"),
    nodeName: fc.constantFrom(...nodeNames),
  });
  const eps = fc.array(
    fc.record({
      addresses: fc.array(addr, { maxLength: 3 }),
      notReadyAddresses: fc.array(addr, { maxLength: 2 }),
    }),
    { maxLength: 2 },
  );
  let compared = 0;
  fc.assert(
    fc.property(
      eps,
      eps,
      fc.constantFrom("Local", "Cluster"),
      fc.constantFrom("", ...nodeNames),
      fc.constantFrom("LoadBalancerIP", "Network"),
      (s1, s2, etp, host, sourceIPBy) => {
        const e1 = endpoints(s1);
        const e2 = endpoints(s2);
        const local = isLocalPolicy(svc("LoadBalancer", ["1.2.3.4"], etp));
        if (endpointsElectionPrint(e1, local) !== endpointsElectionPrint(e2, local)) return;
        compared++;
        const service = svc("LoadBalancer", ["1.2.3.4"], etp);
        const decide = (ep: KubeObject) =>
          electEgressServiceHosts([toEgressServiceInput(es({ sourceIPBy }, host), service, ep)], nodes);
        assert.deepEqual(decide(e1), decide(e2));
      },
    ),
    { numRuns: 400 },
  );
  assert.ok(compared > 20, `only ${compared} pairs with equal prints`);
});
