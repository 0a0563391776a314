import assert from "node:assert/strict";
import { test } from "node:test";
import type { KubeObject } from "../../api/object.js";
import { electEgressServiceHosts } from "./elect.js";
import { currentHost, endpointNodes, nodeReady, toEgressServiceInput, toESNode } from "./inputs.js";

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
