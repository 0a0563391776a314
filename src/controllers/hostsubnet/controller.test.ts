import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { KubeObject } from "../../api/object.js";
import { nodeIP, publishedState } from "./controller.js";

const node = (addresses: { type: string; address: string }[]): KubeObject => ({
  apiVersion: "v1",
  kind: "Node",
  metadata: { name: "n" },
  status: { addresses },
});

describe("nodeIP", () => {
  const cases: [string, { type: string; address: string }[], string | undefined][] = [
    [
      "InternalIP",
      [
        { type: "Hostname", address: "n" },
        { type: "InternalIP", address: "10.0.0.1" },
      ],
      "10.0.0.1",
    ],
    [
      "IPv4 InternalIP before IPv6",
      [
        { type: "InternalIP", address: "fd00::1" },
        { type: "InternalIP", address: "10.0.0.1" },
      ],
      "10.0.0.1",
    ],
    ["IPv6 only", [{ type: "InternalIP", address: "fd00::1" }], "fd00::1"],
    ["ExternalIP fallback", [{ type: "ExternalIP", address: "203.0.113.5" }], "203.0.113.5"],
    [
      "InternalIP beats ExternalIP",
      [
        { type: "ExternalIP", address: "203.0.113.5" },
        { type: "InternalIP", address: "10.0.0.2" },
      ],
      "10.0.0.2",
    ],
    ["none", [{ type: "Hostname", address: "n" }], undefined],
  ];
  for (const [name, addrs, want] of cases) it(name, () => assert.equal(nodeIP(node(addrs)), want));
});

describe("publishedState", () => {
  it("normal names the node and its IP; dropped the reason; none publishes nothing", () => {
    assert.deepEqual(
      publishedState({ state: "normal", egressIP: "1.1.1.1", node: "n1", nodeIP: "10.0.0.1" }),
      {
        egressIP: "1.1.1.1",
        state: "normal",
        node: "n1",
        nodeIP: "10.0.0.1",
      },
    );
    assert.deepEqual(publishedState({ state: "dropped", egressIP: "1.1.1.1", reason: "r" }), {
      egressIP: "1.1.1.1",
      state: "dropped",
      reason: "r",
    });
    assert.equal(publishedState({ state: "none" }), undefined);
  });
});
