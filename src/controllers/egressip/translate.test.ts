import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { KubeObject } from "../../api/object.js";
import { nodeIneligibility } from "./node.js";
import {
  clampCloudCapacity,
  cloudStateOf,
  egressFingerprint,
  HEALTH_ENDPOINT_ANNOTATION,
  healthEndpointOf,
  isNodeReady,
  sameItems,
  toEgressIPObject,
  toEgressNode,
} from "./translate.js";

function node(
  name: string,
  o: {
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ready?: string;
    addresses?: { type: string; address: string }[];
    port?: unknown;
  } = {},
): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name, labels: o.labels ?? {}, annotations: o.annotations ?? {} },
    status: {
      ...(o.ready === undefined
        ? {}
        : {
            conditions: [
              { type: "MemoryPressure", status: "False" },
              { type: "Ready", status: o.ready },
            ],
          }),
      addresses: o.addresses ?? [],
      ...(o.port === undefined ? {} : { daemonEndpoints: { kubeletEndpoint: { Port: o.port } } }),
    },
  };
}

const L = "k8s.ovn.org/egress-assignable";

describe("Node → EgressNode", () => {
  const cases: [string, KubeObject, string | undefined][] = [
    ["labelled, Ready", node("a", { labels: { [L]: "" }, ready: "True" }), undefined],
    ["not labelled", node("a", { ready: "True" }), "NotLabelled"],
    ["Ready False", node("a", { labels: { [L]: "" }, ready: "False" }), "NotReady"],
    ["Ready Unknown", node("a", { labels: { [L]: "" }, ready: "Unknown" }), "NotReady"],
    ["no conditions", node("a", { labels: { [L]: "" } }), "NotReady"],
    [
      "control plane (master) on AWS",
      node("a", {
        labels: { [L]: "", "node-role.kubernetes.io/master": "" },
        ready: "True",
        annotations: {
          "cloud.network.openshift.io/egress-ipconfig":
            '[{"ifaddr":{"ipv4":"10.0.0.0/24"},"capacity":{"ipv4":2}}]',
        },
      }),
      "ControlPlaneOnAWS",
    ],
    [
      "control plane (control-plane) on AWS",
      node("a", {
        labels: { [L]: "", "node-role.kubernetes.io/control-plane": "" },
        ready: "True",
        annotations: {
          "cloud.network.openshift.io/egress-ipconfig":
            '[{"ifaddr":{"ipv4":"10.0.0.0/24"},"capacity":{"ipv4":2}}]',
        },
      }),
      "ControlPlaneOnAWS",
    ],
    [
      "malformed annotation drops the label",
      node("a", {
        labels: { [L]: "" },
        ready: "True",
        annotations: { "k8s.ovn.org/node-primary-ifaddr": "{bad" },
      }),
      "NotLabelled",
    ],
  ];
  for (const [name, obj, want] of cases)
    it(name, () => {
      const platform = name.includes("AWS") ? "AWS" : "BareMetal";
      assert.equal(nodeIneligibility(toEgressNode(obj, true).node, platform), want);
    });

  it("unreachable comes from the prober", () => {
    const n = toEgressNode(node("a", { labels: { [L]: "" }, ready: "True" }), false).node;
    assert.equal(nodeIneligibility(n, "BareMetal"), "Unreachable");
  });

  it("reads annotations and addresses", () => {
    const { node: n, error } = toEgressNode(
      node("w1", {
        labels: { [L]: "" },
        ready: "True",
        addresses: [
          { type: "InternalIP", address: "192.168.126.11" },
          { type: "Hostname", address: "w1" },
        ],
        annotations: {
          "k8s.ovn.org/node-primary-ifaddr": '{"ipv4":"192.168.126.11/18"}',
          "k8s.ovn.org/host-cidrs": '["192.168.126.11/18","10.1.0.5/24"]',
          "cloud.network.openshift.io/egress-ipconfig":
            '[{"interface":"eni-1","ifaddr":{"ipv4":"10.0.128.0/18"},"capacity":{"ipv4":14,"ipv6":15}}]',
        },
      }),
      true,
    );
    assert.equal(error, undefined);
    assert.deepEqual(n.addresses, ["192.168.126.11", "w1"]);
    assert.deepEqual(n.primaryIfAddr, { ipv4: "192.168.126.11/18" });
    assert.deepEqual(n.hostCIDRs, ["192.168.126.11/18", "10.1.0.5/24"]);
    assert.deepEqual(n.cloudConfig, {
      interface: "eni-1",
      ifaddr: { ipv4: "10.0.128.0/18" },
      capacity: { ipv4: 14, ipv6: 15 },
    });
    assert.equal(n.ready, true);
  });

  it("a malformed annotation is reported with node, annotation and value", () => {
    const { error, node: n } = toEgressNode(
      node("w2", {
        labels: { [L]: "x", other: "y" },
        annotations: { "k8s.ovn.org/host-cidrs": '"10.0.0.0/8"' },
        addresses: [{ type: "InternalIP", address: "10.0.0.9" }],
      }),
      true,
    );
    assert.match(error?.message ?? "", /node w2: annotation k8s\.ovn\.org\/host-cidrs=.*list/);
    assert.deepEqual(n.labels, { other: "y" });
    assert.deepEqual(n.addresses, ["10.0.0.9"], "addresses still count for conflicts");
  });

  it("isNodeReady needs status True exactly", () => {
    assert.equal(isNodeReady(node("a", { ready: "True" })), true);
    assert.equal(isNodeReady(node("a", { ready: "true" })), false);
  });
});

describe("health endpoint", () => {
  const cases: [string, KubeObject, string | undefined][] = [
    [
      "InternalIP + kubelet port",
      node("a", {
        addresses: [
          { type: "ExternalIP", address: "1.2.3.4" },
          { type: "InternalIP", address: "10.0.0.1" },
        ],
        port: 10250,
      }),
      "http://10.0.0.1:10250/healthz",
    ],
    [
      "IPv6 InternalIP is bracketed",
      node("a", { addresses: [{ type: "InternalIP", address: "fd00::1" }], port: 9 }),
      "http://[fd00::1]:9/healthz",
    ],
    ["no port", node("a", { addresses: [{ type: "InternalIP", address: "10.0.0.1" }] }), undefined],
    [
      "bad port",
      node("a", { addresses: [{ type: "InternalIP", address: "10.0.0.1" }], port: "x" }),
      undefined,
    ],
    ["no InternalIP", node("a", { addresses: [{ type: "Hostname", address: "a" }], port: 1 }), undefined],
    [
      "annotation overrides",
      node("a", {
        annotations: { [HEALTH_ENDPOINT_ANNOTATION]: "http://127.0.0.1:5555/ok" },
        addresses: [{ type: "InternalIP", address: "10.0.0.1" }],
        port: 10250,
      }),
      "http://127.0.0.1:5555/ok",
    ],
  ];
  for (const [name, obj, want] of cases) it(name, () => assert.equal(healthEndpointOf(obj), want));
});

describe("fingerprint", () => {
  it("ignores heartbeats, sees Ready and labels", () => {
    const a = node("a", { labels: { [L]: "" }, ready: "True" });
    const b = structuredClone(a);
    (b.status as { conditions: { lastHeartbeatTime?: string }[] }).conditions[1]!.lastHeartbeatTime =
      "2024-01-01T00:00:00Z";
    assert.equal(egressFingerprint(a), egressFingerprint(b));
    assert.notEqual(
      egressFingerprint(a),
      egressFingerprint(node("a", { labels: { [L]: "" }, ready: "False" })),
    );
    assert.notEqual(egressFingerprint(a), egressFingerprint(node("a", { ready: "True" })));
  });

  it("ignores labels the decision does not read (EgressService host labels), not the role labels", () => {
    const a = node("a", { labels: { [L]: "" }, ready: "True" });
    const hosted = node("a", { labels: { [L]: "", "egress-service.k8s.ovn.org/ns-s": "" }, ready: "True" });
    assert.equal(egressFingerprint(a), egressFingerprint(hosted));
    const master = node("a", { labels: { [L]: "", "node-role.kubernetes.io/master": "" }, ready: "True" });
    assert.notEqual(egressFingerprint(a), egressFingerprint(master));
  });
});

describe("EgressIP → EgressIPObject", () => {
  it("copies spec and status", () => {
    const o = toEgressIPObject({
      apiVersion: "k8s.ovn.org/v1",
      kind: "EgressIP",
      metadata: { name: "e", creationTimestamp: "2024-01-01T00:00:00Z" },
      spec: { egressIPs: ["10.0.0.1", "fd00::1"], namespaceSelector: {} },
      status: { items: [{ node: "n1", egressIP: "10.0.0.1" }, { bogus: 1 }] },
    });
    assert.deepEqual(o, {
      name: "e",
      creationTimestamp: "2024-01-01T00:00:00Z",
      egressIPs: ["10.0.0.1", "fd00::1"],
      status: [{ node: "n1", egressIP: "10.0.0.1" }],
    });
  });
  it("sameItems ignores order only", () => {
    const a = { node: "n1", egressIP: "1.1.1.1" };
    const b = { node: "n2", egressIP: "1.1.1.2" };
    assert.equal(sameItems([a, b], [b, a]), true);
    assert.equal(sameItems([a], [{ ...a, node: "n2" }]), false);
    assert.equal(sameItems([a], [a, b]), false);
  });
});

describe("CloudPrivateIPConfig state", () => {
  const cpic = (spec: string, status?: unknown, generation = 1): KubeObject => ({
    apiVersion: "cloud.network.openshift.io/v1",
    kind: "CloudPrivateIPConfig",
    metadata: { name: "10.0.0.5", generation },
    spec: { node: spec },
    ...(status === undefined ? {} : { status }),
  });
  const cond = (status: string, gen?: number, message = "m") => ({
    type: "Assigned",
    status,
    reason: status === "True" ? "CloudResponseSuccess" : "CloudResponseError",
    message,
    ...(gen === undefined ? {} : { observedGeneration: gen }),
  });
  const cases: [string, KubeObject, string][] = [
    ["no status", cpic("n1"), "pending"],
    ["confirmed", cpic("n1", { node: "n1", conditions: [cond("True", 1)] }), "confirmed"],
    ["confirmed for the old node", cpic("n2", { node: "n1", conditions: [cond("True", 1)] }, 2), "pending"],
    ["status node differs", cpic("n2", { node: "n1", conditions: [cond("True")] }), "pending"],
    ["refused", cpic("n1", { conditions: [cond("False", 1)] }), "refused"],
    ["refusal of an older spec", cpic("n1", { conditions: [cond("False", 1)] }, 2), "pending"],
  ];
  for (const [name, obj, want] of cases) it(name, () => assert.equal(cloudStateOf(obj).state, want));

  it("clamp turns capacity into a shared limit", () => {
    const n = toEgressNode(
      node("a", {
        annotations: {
          "cloud.network.openshift.io/egress-ipconfig":
            '[{"ifaddr":{"ipv4":"10.0.0.0/24"},"capacity":{"ipv4":14}}]',
        },
      }),
      true,
    ).node;
    assert.deepEqual(clampCloudCapacity(n, 1).cloudConfig?.capacity, { ip: 1 });
    assert.deepEqual(clampCloudCapacity(n, 20).cloudConfig?.capacity, { ip: 14 });
  });
});
