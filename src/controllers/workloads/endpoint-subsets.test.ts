import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { canonicalSubsets, type EpPod, endpointSubsets } from "./endpoint-subsets.js";

const pod = (name: string, ip: string | undefined, extra: Partial<EpPod> = {}): EpPod => ({
  namespace: "ns",
  name,
  labels: { app: "web" },
  ...(ip ? { podIP: ip } : {}),
  nodeName: "n1",
  ready: true,
  terminating: false,
  namedPorts: { http: { port: 8080, protocol: "TCP" } },
  ...extra,
});
const ref = (name: string) => ({ kind: "Pod" as const, namespace: "ns", name });

describe("endpointSubsets", () => {
  it("ready in addresses, not ready in notReadyAddresses, sorted by IP; no IP / terminating / other labels skipped", () => {
    const s = endpointSubsets(
      { selector: { app: "web" }, ports: [{ name: "web", port: 80, targetPort: 8080 }] },
      [
        pod("b", "10.0.0.2"),
        pod("a", "10.0.0.1"),
        pod("c", "10.0.0.3", { ready: false }),
        pod("d", undefined),
        pod("e", "10.0.0.5", { terminating: true }),
        pod("f", "10.0.0.6", { labels: { app: "db" } }),
        pod("g", "10.0.0.7", { phase: "Succeeded" }),
      ],
    );
    assert.deepEqual(s, [
      {
        addresses: [
          { ip: "10.0.0.1", nodeName: "n1", targetRef: ref("a") },
          { ip: "10.0.0.2", nodeName: "n1", targetRef: ref("b") },
        ],
        notReadyAddresses: [{ ip: "10.0.0.3", nodeName: "n1", targetRef: ref("c") }],
        ports: [{ name: "web", port: 8080, protocol: "TCP" }],
      },
    ]);
  });
  it("named targetPorts resolve per pod; pods without the name serve nothing; different ports → different subsets", () => {
    const s = endpointSubsets({ selector: { app: "web" }, ports: [{ port: 80, targetPort: "http" }] }, [
      pod("a", "10.0.0.1"),
      pod("b", "10.0.0.2", { namedPorts: { http: { port: 9090, protocol: "TCP" } } }),
      pod("c", "10.0.0.3", { namedPorts: {} }),
      pod("d", "10.0.0.4", { namedPorts: { http: { port: 8080, protocol: "UDP" } } }),
    ]);
    assert.deepEqual(
      s.map((x) => [x.addresses?.map((a) => a.ip), x.ports?.map((p) => p.port)]),
      [
        [["10.0.0.1"], [8080]],
        [["10.0.0.2"], [9090]],
      ],
    );
  });
  it("targetPort defaults to port; publishNotReadyAddresses puts every pod in addresses", () => {
    const s = endpointSubsets(
      { selector: { app: "web" }, ports: [{ port: 80, protocol: "UDP" }], publishNotReadyAddresses: true },
      [pod("a", "10.0.0.1", { ready: false })],
    );
    assert.deepEqual(s[0]?.ports, [{ port: 80, protocol: "UDP" }]);
    assert.equal(s[0]?.addresses?.length, 1);
  });
  it("canonical form ignores order and defaults, so unchanged Endpoints are not rewritten", () => {
    const want = endpointSubsets({ selector: { app: "web" }, ports: [{ port: 80 }] }, [
      pod("a", "10.0.0.1"),
      pod("b", "10.0.0.2"),
    ]);
    const stored = [
      {
        ports: [{ port: 80 }],
        addresses: [
          { ip: "10.0.0.2", nodeName: "n1", targetRef: ref("b") },
          { ip: "10.0.0.1", nodeName: "n1", targetRef: ref("a") },
        ],
      },
    ];
    assert.equal(canonicalSubsets(stored as never), canonicalSubsets(want));
    assert.notEqual(canonicalSubsets([]), canonicalSubsets(want));
  });
});
