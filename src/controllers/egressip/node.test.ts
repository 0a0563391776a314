import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseIP } from "../../api/ip.js";
import {
  CLOUD_EGRESS_IPCONFIG_ANNOTATION,
  capacityLeft,
  cloudPrivateIPConfigName,
  EGRESS_ASSIGNABLE_LABEL,
  type EgressNode,
  egressNetworkFor,
  HOST_CIDRS_ANNOTATION,
  NodeAnnotationError,
  nodeIneligibility,
  PRIMARY_IFADDR_ANNOTATION,
  parseNodeEgressAnnotations,
} from "./node.js";

const base: EgressNode = {
  name: "n",
  labels: { [EGRESS_ASSIGNABLE_LABEL]: "" },
  ready: true,
  reachable: true,
  addresses: [],
};

describe("node egress annotations", () => {
  it("parses the three annotations", () => {
    const r = parseNodeEgressAnnotations("n", {
      [PRIMARY_IFADDR_ANNOTATION]: '{"ipv4":"192.168.111.23/24","ipv6":"fd00::23/64"}',
      [HOST_CIDRS_ANNOTATION]: '["192.168.111.23/24","172.16.0.5/16"]',
      [CLOUD_EGRESS_IPCONFIG_ANNOTATION]:
        '[{"interface":"eni-1","ifaddr":{"ipv4":"10.0.128.0/18"},"capacity":{"ipv4":14,"ipv6":15}}]',
    });
    assert.deepEqual(r, {
      primaryIfAddr: { ipv4: "192.168.111.23/24", ipv6: "fd00::23/64" },
      hostCIDRs: ["192.168.111.23/24", "172.16.0.5/16"],
      cloudConfig: {
        interface: "eni-1",
        ifaddr: { ipv4: "10.0.128.0/18" },
        capacity: { ipv4: 14, ipv6: 15 },
      },
    });
    assert.deepEqual(parseNodeEgressAnnotations("n", undefined), {});
  });
  const bad: [string, string][] = [
    [PRIMARY_IFADDR_ANNOTATION, "{"],
    [PRIMARY_IFADDR_ANNOTATION, '{"ipv4":"fd00::1/64"}'],
    [PRIMARY_IFADDR_ANNOTATION, '{"ipv4":"10.0.0.1"}'],
    [HOST_CIDRS_ANNOTATION, '"10.0.0.0/8"'],
    [HOST_CIDRS_ANNOTATION, '["nope"]'],
    [CLOUD_EGRESS_IPCONFIG_ANNOTATION, "[]"],
    [CLOUD_EGRESS_IPCONFIG_ANNOTATION, '[{"ifaddr":{"ipv4":"x"},"capacity":{}}]'],
    [CLOUD_EGRESS_IPCONFIG_ANNOTATION, '[{"ifaddr":{},"capacity":{"ip":-1}}]'],
  ];
  for (const [k, v] of bad)
    it(`rejects ${k}=${v}`, () => {
      assert.throws(
        () => parseNodeEgressAnnotations("n1", { [k]: v }),
        (e: unknown) => {
          assert.ok(e instanceof NodeAnnotationError);
          assert.equal(e.annotation, k);
          assert.equal(e.value, v);
          assert.match(e.message, /node n1/);
          return true;
        },
      );
    });
});

describe("node eligibility and networks", () => {
  const table: [string, Partial<EgressNode>, "BareMetal" | "AWS" | "GCP", string | undefined][] = [
    ["eligible", {}, "BareMetal", undefined],
    ["no label", { labels: {} }, "BareMetal", "NotLabelled"],
    ["not ready", { ready: false }, "BareMetal", "NotReady"],
    ["unreachable", { reachable: false }, "BareMetal", "Unreachable"],
    ["hostNetwork only", { hostNetworkOnly: true }, "BareMetal", "HostNetworkOnly"],
    [
      "AWS master",
      { labels: { [EGRESS_ASSIGNABLE_LABEL]: "", "node-role.kubernetes.io/master": "" } },
      "AWS",
      "ControlPlaneOnAWS",
    ],
    ["cloud without config", {}, "GCP", "NoCloudConfig"],
  ];
  for (const [name, patch, platform, want] of table)
    it(name, () => assert.equal(nodeIneligibility({ ...base, ...patch }, platform), want));

  it("primary network first, then the longest host-cidrs prefix", () => {
    const n: EgressNode = {
      ...base,
      primaryIfAddr: { ipv4: "10.0.0.5/24" },
      hostCIDRs: ["10.0.0.5/24", "172.16.0.1/12", "172.16.5.1/24"],
    };
    assert.equal(egressNetworkFor(n, "BareMetal", "10.0.0.9")?.prefix, 24);
    assert.equal(egressNetworkFor(n, "BareMetal", "172.16.5.9")?.prefix, 24);
    assert.equal(egressNetworkFor(n, "BareMetal", "172.17.0.9")?.prefix, 12);
    assert.equal(egressNetworkFor(n, "BareMetal", "192.168.0.1"), undefined);
    assert.equal(egressNetworkFor(n, "AWS", "10.0.0.9"), undefined);
  });

  it("capacity per family (AWS) or shared (ip)", () => {
    const aws = { ...base, cloudConfig: { ifaddr: {}, capacity: { ipv4: 3, ipv6: 1 } } };
    assert.equal(capacityLeft(aws, "AWS", 4, { v4: 1, v6: 1 }), 2);
    assert.equal(capacityLeft(aws, "AWS", 6, { v4: 1, v6: 1 }), 0);
    const gcp = { ...base, cloudConfig: { ifaddr: {}, capacity: { ip: 3 } } };
    assert.equal(capacityLeft(gcp, "GCP", 6, { v4: 2, v6: 0 }), 1);
    assert.equal(capacityLeft(base, "BareMetal", 4, { v4: 100, v6: 0 }), Number.POSITIVE_INFINITY);
  });

  it("CloudPrivateIPConfig names", () => {
    assert.equal(cloudPrivateIPConfigName(parseIP("10.0.128.5")!), "10.0.128.5");
    assert.equal(
      cloudPrivateIPConfigName(parseIP("fc00:f853:ccd:e793::54")!),
      "fc00.f853.0ccd.e793.0000.0000.0000.0054",
    );
  });
});
