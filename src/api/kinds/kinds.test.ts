// Tests for the kinds: seed examples and kubectl output validate clean, each semantic rule rejects
// what it should (field path + value), defaults, printer columns, field selectors, lookups and the
// patch metadata the strategic-merge-patch engine reads.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { parseAllDocuments } from "yaml";
import type { FieldError } from "../errors.js";
import type { KubeObject } from "../object.js";
import type { ResourceType } from "../resource.js";
import { validateObject } from "../validate.js";
import {
  cloudPrivateIPConfigName,
  findByCategory,
  findByGroupVersionResource,
  findByKind,
  findByResourceName,
  findByShortName,
  resourceTypes,
} from "./index.js";
import { kubectlDryRunObjects } from "./kubectl-fixtures.js";

function rtFor(o: { apiVersion?: unknown; kind?: unknown }): ResourceType {
  const rt = findByKind(String(o.apiVersion), String(o.kind));
  assert.ok(rt, `no kind for ${String(o.apiVersion)} ${String(o.kind)}`);
  return rt;
}

function check(o: Record<string, unknown>, old?: Record<string, unknown>) {
  return validateObject(rtFor(o), o, old as KubeObject | undefined);
}

/** The seed examples vendored in the repository: <repo>/examples/seed (or $EGRESS_EXAMPLES_DIR). */
function examplesDir(): string {
  if (process.env.EGRESS_EXAMPLES_DIR) return process.env.EGRESS_EXAMPLES_DIR;
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json")) && dirname(dir) !== dir) dir = dirname(dir);
  return join(dir, "examples", "seed");
}

function loadExamples(): { file: string; obj: Record<string, unknown> }[] {
  const dir = examplesDir();
  const out: { file: string; obj: Record<string, unknown> }[] = [];
  for (const file of readdirSync(dir).sort()) {
    const text = readFileSync(join(dir, file), "utf8");
    if (file.endsWith(".json")) out.push({ file, obj: JSON.parse(text) as Record<string, unknown> });
    else if (file.endsWith(".yaml") || file.endsWith(".yml")) {
      for (const doc of parseAllDocuments(text)) {
        const obj = doc.toJS() as unknown;
        if (obj !== null && typeof obj === "object") out.push({ file, obj: obj as Record<string, unknown> });
      }
    }
  }
  return out;
}

describe("seed examples and kubectl output", () => {
  const examples = loadExamples();
  it("finds the examples", () => {
    assert.ok(examples.length >= 20, `only ${examples.length} example objects in ${examplesDir()}`);
  });
  for (const { file, obj } of examples) {
    const name = `${file}: ${String(obj.kind)} ${String((obj.metadata as Record<string, unknown>)?.name)}`;
    it(`${name} validates clean, before and after defaults`, () => {
      assert.deepEqual(check(obj), { errors: [], unknownFields: [] });
      const copy = structuredClone(obj) as KubeObject;
      rtFor(obj).defaults?.(copy);
      assert.deepEqual(check(copy), { errors: [], unknownFields: [] });
    });
  }
  for (const obj of kubectlDryRunObjects) {
    it(`kubectl ${String(obj.kind)} ${String((obj.metadata as Record<string, unknown>).name)} validates clean`, () => {
      assert.deepEqual(check(obj), { errors: [], unknownFields: [] });
      const copy = structuredClone(obj) as KubeObject;
      rtFor(obj).defaults?.(copy);
      assert.deepEqual(check(copy), { errors: [], unknownFields: [] });
    });
  }
});

// ------------------------------------------------------------------------------------ invalid table

const meta = (name: string, extra: Record<string, unknown> = {}) => ({ name, ...extra });
const eip = (spec: Record<string, unknown>, m: Record<string, unknown> = {}) => ({
  apiVersion: "k8s.ovn.org/v1",
  kind: "EgressIP",
  metadata: meta("eip", m),
  spec: { egressIPs: ["10.0.0.1"], namespaceSelector: {}, ...spec },
});
const ef = (egress: unknown[], name = "default") => ({
  apiVersion: "k8s.ovn.org/v1",
  kind: "EgressFirewall",
  metadata: meta(name),
  spec: { egress },
});
const enp = (egress: unknown[]) => ({
  apiVersion: "network.openshift.io/v1",
  kind: "EgressNetworkPolicy",
  metadata: meta("any-name"),
  spec: { egress },
});
const pod = (spec: Record<string, unknown>, m: Record<string, unknown> = {}) => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: meta("p", m),
  spec: { containers: [{ name: "c", image: "nginx" }], ...spec },
});
const svc = (spec: Record<string, unknown>, name = "s") => ({
  apiVersion: "v1",
  kind: "Service",
  metadata: meta(name),
  spec: { ports: [{ port: 80 }], ...spec },
});
const np = (spec: Record<string, unknown>) => ({
  apiVersion: "networking.k8s.io/v1",
  kind: "NetworkPolicy",
  metadata: meta("np"),
  spec: { podSelector: {}, ...spec },
});
const route = (spec: Record<string, unknown>, annotations: Record<string, string> = {}) => ({
  apiVersion: "route.openshift.io/v1",
  kind: "Route",
  metadata: meta("r", { annotations }),
  spec: { to: { kind: "Service", name: "app" }, ...spec },
});
const HSTS = "haproxy.router.openshift.io/hsts_header";

interface Case {
  name: string;
  obj: Record<string, unknown>;
  old?: Record<string, unknown>;
  field: string;
  value?: unknown;
  type?: FieldError["type"];
}

const cases: Case[] = [
  // metadata
  {
    name: "name not a DNS subdomain",
    obj: eip({}, { name: "Bad_Name" }),
    field: "metadata.name",
    value: "Bad_Name",
  },
  {
    name: "namespace name not a DNS label",
    obj: { apiVersion: "v1", kind: "Namespace", metadata: meta("a.b") },
    field: "metadata.name",
    value: "a.b",
  },
  { name: "service name not DNS-1035", obj: svc({}, "1abc"), field: "metadata.name", value: "1abc" },
  {
    name: "missing name",
    obj: { ...eip({}), metadata: {} },
    field: "metadata.name",
    type: "FieldValueRequired",
  },
  {
    name: "label key invalid",
    obj: eip({}, { labels: { "a b": "x" } }),
    field: "metadata.labels",
    value: "a b",
  },
  {
    name: "label value invalid",
    obj: eip({}, { labels: { a: "x y" } }),
    field: "metadata.labels",
    value: "x y",
  },
  {
    name: "label value too long",
    obj: eip({}, { labels: { a: "x".repeat(64) } }),
    field: "metadata.labels",
    value: "x".repeat(64),
  },
  {
    name: "annotation key invalid",
    obj: eip({}, { annotations: { "-bad/x": "v" } }),
    field: "metadata.annotations",
    value: "-bad/x",
  },
  {
    name: "finalizer not qualified",
    obj: eip({}, { finalizers: ["a/b/c"] }),
    field: "metadata.finalizers[0]",
    value: "a/b/c",
  },
  // EgressIP
  {
    name: "egress IP in CIDR notation",
    obj: eip({ egressIPs: ["192.168.126.10/24"] }),
    field: "spec.egressIPs[0]",
    value: "192.168.126.10/24",
  },
  {
    name: "egress IP garbage",
    obj: eip({ egressIPs: ["10.0.0.1", "300.1.1.1"] }),
    field: "spec.egressIPs[1]",
    value: "300.1.1.1",
  },
  {
    name: "egress IP duplicate",
    obj: eip({ egressIPs: ["fd00::1", "fd00:0::1"] }),
    field: "spec.egressIPs[1]",
    value: "fd00:0::1",
    type: "FieldValueDuplicate",
  },
  {
    name: "egress IP not a string",
    obj: eip({ egressIPs: [5] }),
    field: "spec.egressIPs[0]",
    value: 5,
    type: "FieldValueTypeInvalid",
  },
  {
    name: "namespaceSelector missing",
    obj: {
      apiVersion: "k8s.ovn.org/v1",
      kind: "EgressIP",
      metadata: meta("e"),
      spec: { egressIPs: ["10.0.0.1"] },
    },
    field: "spec.namespaceSelector",
    type: "FieldValueRequired",
  },
  {
    name: "selector operator invalid",
    obj: eip({ podSelector: { matchExpressions: [{ key: "a", operator: "Equals", values: ["b"] }] } }),
    field: "spec.podSelector.matchExpressions[0].operator",
    value: "Equals",
  },
  {
    name: "selector In without values",
    obj: eip({ namespaceSelector: { matchExpressions: [{ key: "a", operator: "In" }] } }),
    field: "spec.namespaceSelector.matchExpressions[0].values",
    type: "FieldValueRequired",
  },
  // EgressFirewall
  { name: "firewall not named default", obj: ef([], "fw"), field: "metadata.name", value: "fw" },
  {
    name: "firewall rule type lower case",
    obj: ef([{ type: "allow", to: { cidrSelector: "1.2.3.0/24" } }]),
    field: "spec.egress[0].type",
    value: "allow",
    type: "FieldValueNotSupported",
  },
  {
    name: "firewall to with two destinations",
    obj: ef([{ type: "Allow", to: { cidrSelector: "1.2.3.0/24", dnsName: "a.com" } }]),
    field: "spec.egress[0].to",
  },
  { name: "firewall to empty", obj: ef([{ type: "Deny", to: {} }]), field: "spec.egress[0].to" },
  {
    name: "firewall bad CIDR",
    obj: ef([{ type: "Deny", to: { cidrSelector: "1.2.3.0/33" } }]),
    field: "spec.egress[0].to.cidrSelector",
    value: "1.2.3.0/33",
  },
  {
    name: "firewall bad dnsName",
    obj: ef([{ type: "Deny", to: { dnsName: "foo_bar.com" } }]),
    field: "spec.egress[0].to.dnsName",
    value: "foo_bar.com",
  },
  {
    name: "firewall wildcard in the middle",
    obj: ef([{ type: "Deny", to: { dnsName: "a.*.com" } }]),
    field: "spec.egress[0].to.dnsName",
    value: "a.*.com",
  },
  {
    name: "firewall port protocol",
    obj: ef([{ type: "Deny", to: { dnsName: "a.com" }, ports: [{ protocol: "ICMP", port: 1 }] }]),
    field: "spec.egress[0].ports[0].protocol",
    value: "ICMP",
  },
  {
    name: "firewall port 0",
    obj: ef([{ type: "Deny", to: { dnsName: "a.com" }, ports: [{ protocol: "TCP", port: 0 }] }]),
    field: "spec.egress[0].ports[0].port",
    value: 0,
  },
  {
    name: "firewall port 65536",
    obj: ef([{ type: "Deny", to: { dnsName: "a.com" }, ports: [{ protocol: "UDP", port: 65536 }] }]),
    field: "spec.egress[0].ports[0].port",
    value: 65536,
  },
  {
    name: "firewall with 8001 rules",
    obj: ef(Array.from({ length: 8001 }, () => ({ type: "Deny", to: { cidrSelector: "0.0.0.0/0" } }))),
    field: "spec.egress",
    value: 8001,
    type: "FieldValueTooMany",
  },
  // EgressNetworkPolicy
  {
    name: "ENP rule type",
    obj: enp([{ type: "Reject", to: { cidrSelector: "0.0.0.0/0" } }]),
    field: "spec.egress[0].type",
    value: "Reject",
  },
  {
    name: "ENP both selectors",
    obj: enp([{ type: "Allow", to: { cidrSelector: "0.0.0.0/0", dnsName: "a.com" } }]),
    field: "spec.egress[0].to",
  },
  { name: "ENP no selector", obj: enp([{ type: "Allow", to: {} }]), field: "spec.egress[0].to" },
  {
    name: "ENP wildcard dnsName",
    obj: enp([{ type: "Allow", to: { dnsName: "*.a.com" } }]),
    field: "spec.egress[0].to.dnsName",
    value: "*.a.com",
  },
  {
    name: "ENP CIDR",
    obj: enp([{ type: "Allow", to: { cidrSelector: "1.2.3/24" } }]),
    field: "spec.egress[0].to.cidrSelector",
    value: "1.2.3/24",
  },
  {
    name: "ENP with 51 rules",
    obj: enp(Array.from({ length: 51 }, () => ({ type: "Deny", to: { cidrSelector: "0.0.0.0/0" } }))),
    field: "spec.egress",
    type: "FieldValueTooMany",
  },
  // NetNamespace, HostSubnet, ClusterNetwork
  {
    name: "netid too big",
    obj: {
      apiVersion: "network.openshift.io/v1",
      kind: "NetNamespace",
      metadata: meta("p1"),
      netname: "p1",
      netid: 16777216,
    },
    field: "netid",
    value: 16777216,
  },
  {
    name: "netid negative",
    obj: {
      apiVersion: "network.openshift.io/v1",
      kind: "NetNamespace",
      metadata: meta("p1"),
      netname: "p1",
      netid: -1,
    },
    field: "netid",
    value: -1,
  },
  {
    name: "netname differs",
    obj: {
      apiVersion: "network.openshift.io/v1",
      kind: "NetNamespace",
      metadata: meta("p1"),
      netname: "p2",
      netid: 5,
    },
    field: "netname",
    value: "p2",
  },
  {
    name: "NetNamespace egress IP v6",
    obj: {
      apiVersion: "network.openshift.io/v1",
      kind: "NetNamespace",
      metadata: meta("p1"),
      netname: "p1",
      netid: 5,
      egressIPs: ["fd00::1"],
    },
    field: "egressIPs[0]",
    value: "fd00::1",
  },
  {
    name: "HostSubnet host differs",
    obj: {
      apiVersion: "network.openshift.io/v1",
      kind: "HostSubnet",
      metadata: meta("node1"),
      host: "node2",
      hostIP: "10.0.0.1",
      subnet: "10.128.0.0/23",
    },
    field: "host",
    value: "node2",
  },
  {
    name: "HostSubnet hostIP",
    obj: {
      apiVersion: "network.openshift.io/v1",
      kind: "HostSubnet",
      metadata: meta("node1"),
      host: "node1",
      hostIP: "10.0.0",
      subnet: "10.128.0.0/23",
    },
    field: "hostIP",
    value: "10.0.0",
  },
  {
    name: "HostSubnet subnet host bits",
    obj: {
      apiVersion: "network.openshift.io/v1",
      kind: "HostSubnet",
      metadata: meta("node1"),
      host: "node1",
      hostIP: "10.0.0.1",
      subnet: "10.128.0.1/23",
    },
    field: "subnet",
    value: "10.128.0.1/23",
  },
  {
    name: "HostSubnet egressCIDR",
    obj: {
      apiVersion: "network.openshift.io/v1",
      kind: "HostSubnet",
      metadata: meta("node1"),
      host: "node1",
      hostIP: "10.0.0.1",
      subnet: "10.128.0.0/23",
      egressCIDRs: ["10.0.0.0/33"],
    },
    field: "egressCIDRs[0]",
    value: "10.0.0.0/33",
  },
  {
    name: "ClusterNetwork hostSubnetLength too big",
    obj: {
      apiVersion: "network.openshift.io/v1",
      kind: "ClusterNetwork",
      metadata: meta("default"),
      serviceNetwork: "172.30.0.0/16",
      clusterNetworks: [{ CIDR: "10.128.0.0/14", hostSubnetLength: 19 }],
    },
    field: "clusterNetworks[0].hostSubnetLength",
    value: 19,
  },
  {
    name: "ClusterNetwork bad CIDR",
    obj: {
      apiVersion: "network.openshift.io/v1",
      kind: "ClusterNetwork",
      metadata: meta("default"),
      serviceNetwork: "172.30.0.0/16",
      clusterNetworks: [{ CIDR: "10.128.0.0", hostSubnetLength: 9 }],
    },
    field: "clusterNetworks[0].CIDR",
    value: "10.128.0.0",
  },
  {
    name: "ClusterNetwork service network overlaps",
    obj: {
      apiVersion: "network.openshift.io/v1",
      kind: "ClusterNetwork",
      metadata: meta("default"),
      serviceNetwork: "10.128.0.0/16",
      clusterNetworks: [{ CIDR: "10.128.0.0/14", hostSubnetLength: 9 }],
    },
    field: "serviceNetwork",
    value: "10.128.0.0/16",
  },
  // EgressService, MetalLB, Whereabouts, NAD, CloudPrivateIPConfig
  {
    name: "EgressService sourceIPBy",
    obj: {
      apiVersion: "k8s.ovn.org/v1",
      kind: "EgressService",
      metadata: meta("s", { namespace: "n" }),
      spec: { sourceIPBy: "Node" },
    },
    field: "spec.sourceIPBy",
    value: "Node",
    type: "FieldValueNotSupported",
  },
  {
    name: "IPAddressPool address",
    obj: {
      apiVersion: "metallb.io/v1beta1",
      kind: "IPAddressPool",
      metadata: meta("p"),
      spec: { addresses: ["10.0.0.0/24", "10.0.0.9-10.0.0.1"] },
    },
    field: "spec.addresses[1]",
    value: "10.0.0.9-10.0.0.1",
  },
  {
    name: "IPAddressPool mixed-family range",
    obj: {
      apiVersion: "metallb.io/v1beta1",
      kind: "IPAddressPool",
      metadata: meta("p"),
      spec: { addresses: ["10.0.0.1-fd00::1"] },
    },
    field: "spec.addresses[0]",
    value: "10.0.0.1-fd00::1",
  },
  {
    name: "BGPPeer address",
    obj: {
      apiVersion: "metallb.io/v1beta1",
      kind: "BGPPeer",
      metadata: meta("p"),
      spec: { myASN: 64500, peerASN: 64501, peerAddress: "10.0.0.300" },
    },
    field: "spec.peerAddress",
    value: "10.0.0.300",
  },
  {
    name: "IPPool range",
    obj: {
      apiVersion: "whereabouts.cni.cncf.io/v1alpha1",
      kind: "IPPool",
      metadata: meta("p"),
      spec: { range: "192.168.2.0", allocations: {} },
    },
    field: "spec.range",
    value: "192.168.2.0",
  },
  {
    name: "IPPool allocation key",
    obj: {
      apiVersion: "whereabouts.cni.cncf.io/v1alpha1",
      kind: "IPPool",
      metadata: meta("p"),
      spec: { range: "192.168.2.0/30", allocations: { "4": { id: "c", podref: "ns/p" } } },
    },
    field: "spec.allocations[4]",
    value: "4",
  },
  {
    name: "NAD config not JSON",
    obj: {
      apiVersion: "k8s.cni.cncf.io/v1",
      kind: "NetworkAttachmentDefinition",
      metadata: meta("n"),
      spec: { config: "{nope" },
    },
    field: "spec.config",
    value: "{nope",
  },
  {
    name: "CloudPrivateIPConfig name not an IP",
    obj: {
      apiVersion: "cloud.network.openshift.io/v1",
      kind: "CloudPrivateIPConfig",
      metadata: meta("node-a"),
      spec: { node: "n" },
    },
    field: "metadata.name",
    value: "node-a",
  },
  // Pod
  {
    name: "pod without containers",
    obj: pod({ containers: [] }),
    field: "spec.containers",
    type: "FieldValueRequired",
  },
  {
    name: "pod container name duplicate",
    obj: pod({
      containers: [
        { name: "a", image: "x" },
        { name: "a", image: "y" },
      ],
    }),
    field: "spec.containers[1].name",
    value: "a",
  },
  {
    name: "pod init and app container share a name",
    obj: pod({ initContainers: [{ name: "a", image: "x" }], containers: [{ name: "a", image: "y" }] }),
    field: "spec.containers[0].name",
    value: "a",
  },
  {
    name: "pod container image missing",
    obj: pod({ containers: [{ name: "a" }] }),
    field: "spec.containers[0].image",
    type: "FieldValueRequired",
  },
  {
    name: "pod container name",
    obj: pod({ containers: [{ name: "A_b", image: "x" }] }),
    field: "spec.containers[0].name",
    value: "A_b",
  },
  {
    name: "pod restartPolicy",
    obj: pod({ restartPolicy: "Sometimes" }),
    field: "spec.restartPolicy",
    value: "Sometimes",
  },
  {
    name: "pod containerPort",
    obj: pod({ containers: [{ name: "a", image: "x", ports: [{ containerPort: 0 }] }] }),
    field: "spec.containers[0].ports[0].containerPort",
    value: 0,
  },
  {
    name: "pod env valueFrom with two sources",
    obj: pod({
      containers: [
        {
          name: "a",
          image: "x",
          env: [
            {
              name: "E",
              valueFrom: { configMapKeyRef: { name: "c", key: "k" }, secretKeyRef: { name: "s", key: "k" } },
            },
          ],
        },
      ],
    }),
    field: "spec.containers[0].env[0].valueFrom",
  },
  {
    name: "pod volumeMount of unknown volume",
    obj: pod({ containers: [{ name: "a", image: "x", volumeMounts: [{ name: "data", mountPath: "/d" }] }] }),
    field: "spec.containers[0].volumeMounts[0].name",
    value: "data",
  },
  {
    name: "pod nodeSelector value",
    obj: pod({ nodeSelector: { site: "a b" } }),
    field: "spec.nodeSelector",
    value: "a b",
  },
  {
    name: "pod podIP",
    obj: { ...pod({}), status: { podIP: "10.0.0.1/24" } },
    field: "status.podIP",
    value: "10.0.0.1/24",
  },
  {
    name: "pod nodeName changes",
    obj: pod({ nodeName: "node-b" }),
    old: pod({ nodeName: "node-a" }),
    field: "spec.nodeName",
    value: "node-b",
  },
  {
    name: "pod spec otherwise immutable",
    obj: pod({ hostNetwork: true }),
    old: pod({}),
    field: "spec",
    type: "FieldValueForbidden",
  },
  // Service
  { name: "service port 0", obj: svc({ ports: [{ port: 0 }] }), field: "spec.ports[0].port", value: 0 },
  {
    name: "service port 70000",
    obj: svc({ ports: [{ port: 70000 }] }),
    field: "spec.ports[0].port",
    value: 70000,
  },
  {
    name: "service duplicate port names",
    obj: svc({
      ports: [
        { name: "http", port: 80 },
        { name: "http", port: 81 },
      ],
    }),
    field: "spec.ports[1].name",
    value: "http",
    type: "FieldValueDuplicate",
  },
  {
    name: "service unnamed ports",
    obj: svc({ ports: [{ port: 80 }, { port: 81, name: "b" }] }),
    field: "spec.ports[0].name",
    type: "FieldValueRequired",
  },
  {
    name: "service protocol",
    obj: svc({ ports: [{ port: 80, protocol: "ICMP" }] }),
    field: "spec.ports[0].protocol",
    value: "ICMP",
  },
  { name: "service type", obj: svc({ type: "Magic" }), field: "spec.type", value: "Magic" },
  {
    name: "service targetPort name",
    obj: svc({ ports: [{ port: 80, targetPort: "Not_A_Name" }] }),
    field: "spec.ports[0].targetPort",
    value: "Not_A_Name",
  },
  {
    name: "service targetPort type",
    obj: svc({ ports: [{ port: 80, targetPort: true }] }),
    field: "spec.ports[0].targetPort",
    value: true,
  },
  { name: "service without ports", obj: svc({ ports: [] }), field: "spec.ports", type: "FieldValueRequired" },
  {
    name: "service clusterIP changes",
    obj: svc({ clusterIP: "172.30.0.2" }),
    old: svc({ clusterIP: "172.30.0.1" }),
    field: "spec.clusterIP",
    value: "172.30.0.2",
  },
  // NetworkPolicy
  {
    name: "ipBlock cidr invalid",
    obj: np({ ingress: [{ from: [{ ipBlock: { cidr: "10.0.0.0/40" } }] }] }),
    field: "spec.ingress[0].from[0].ipBlock.cidr",
    value: "10.0.0.0/40",
  },
  {
    name: "ipBlock except outside cidr",
    obj: np({ egress: [{ to: [{ ipBlock: { cidr: "10.0.0.0/16", except: ["10.1.0.0/24"] } }] }] }),
    field: "spec.egress[0].to[0].ipBlock.except[0]",
    value: "10.1.0.0/24",
  },
  {
    name: "ipBlock except equal to cidr",
    obj: np({ egress: [{ to: [{ ipBlock: { cidr: "10.0.0.0/16", except: ["10.0.0.0/16"] } }] }] }),
    field: "spec.egress[0].to[0].ipBlock.except[0]",
    value: "10.0.0.0/16",
  },
  {
    name: "ipBlock with podSelector",
    obj: np({ ingress: [{ from: [{ ipBlock: { cidr: "10.0.0.0/16" }, podSelector: {} }] }] }),
    field: "spec.ingress[0].from[0]",
    type: "FieldValueForbidden",
  },
  {
    name: "netpol port number",
    obj: np({ ingress: [{ ports: [{ port: 0 }] }] }),
    field: "spec.ingress[0].ports[0].port",
    value: 0,
  },
  {
    name: "netpol protocol",
    obj: np({ ingress: [{ ports: [{ protocol: "tcp", port: 80 }] }] }),
    field: "spec.ingress[0].ports[0].protocol",
    value: "tcp",
  },
  {
    name: "netpol endPort below port",
    obj: np({ egress: [{ ports: [{ port: 80, endPort: 79 }] }] }),
    field: "spec.egress[0].ports[0].endPort",
    value: 79,
  },
  {
    name: "netpol policyTypes",
    obj: np({ policyTypes: ["Ingress", "Sideways"] }),
    field: "spec.policyTypes[1]",
    value: "Sideways",
  },
  // Route
  {
    name: "route host",
    obj: route({ host: "App.example.com" }),
    field: "spec.host",
    value: "App.example.com",
  },
  {
    name: "route termination",
    obj: route({ tls: { termination: "edgy" } }),
    field: "spec.tls.termination",
    value: "edgy",
  },
  {
    name: "route HSTS without max-age",
    obj: route({ tls: { termination: "edge" } }, { [HSTS]: "includeSubDomains;preload" }),
    field: `metadata.annotations[${HSTS}]`,
    value: "includeSubDomains;preload",
  },
  {
    name: "route HSTS junk after",
    obj: route({ tls: { termination: "reencrypt" } }, { [HSTS]: "max-age=10;foo" }),
    field: `metadata.annotations[${HSTS}]`,
    value: "max-age=10;foo",
  },
  {
    name: "route to kind",
    obj: route({ to: { kind: "Pod", name: "x" } }),
    field: "spec.to.kind",
    value: "Pod",
  },
  // ConfigMap / Secret
  {
    name: "configmap key",
    obj: { apiVersion: "v1", kind: "ConfigMap", metadata: meta("c"), data: { "a/b": "x" } },
    field: "data[a/b]",
    value: "a/b",
  },
  {
    name: "configmap immutable",
    obj: { apiVersion: "v1", kind: "ConfigMap", metadata: meta("c"), data: { a: "2" }, immutable: true },
    old: { apiVersion: "v1", kind: "ConfigMap", metadata: meta("c"), data: { a: "1" }, immutable: true },
    field: "data",
    type: "FieldValueForbidden",
  },
  {
    name: "secret data not base64",
    obj: { apiVersion: "v1", kind: "Secret", metadata: meta("s"), data: { a: "not base64!" } },
    field: "data[a]",
    value: "not base64!",
  },
  {
    name: "tls secret without key",
    obj: {
      apiVersion: "v1",
      kind: "Secret",
      metadata: meta("s"),
      type: "kubernetes.io/tls",
      data: { "tls.crt": "YQ==" },
    },
    field: "data[tls.key]",
    type: "FieldValueRequired",
  },
  // structural
  {
    name: "wrong type deep in a list",
    obj: pod({ containers: [{ name: "a", image: "x", ports: [{ containerPort: "80" }] }] }),
    field: "spec.containers[0].ports[0].containerPort",
    value: "80",
    type: "FieldValueTypeInvalid",
  },
  {
    name: "timestamp not RFC 3339",
    obj: eip({}, { creationTimestamp: "yesterday" }),
    field: "metadata.creationTimestamp",
    value: "yesterday",
  },
  {
    name: "label value not a string",
    obj: eip({}, { labels: { a: 1 } }),
    field: "metadata.labels[a]",
    value: 1,
  },
];

describe("invalid objects are rejected with field path and value", () => {
  for (const c of cases) {
    it(c.name, () => {
      const r = check(c.obj, c.old);
      const hit = r.errors.find(
        (e) =>
          e.field === c.field &&
          (c.value === undefined || JSON.stringify(e.value) === JSON.stringify(c.value)) &&
          (c.type === undefined || e.type === c.type),
      );
      assert.ok(
        hit,
        `expected an error at ${c.field} (value ${JSON.stringify(c.value)}), got ${JSON.stringify(r.errors)}`,
      );
    });
  }
});

describe("valid variants the rules must not reject", () => {
  const ok: [string, Record<string, unknown>, Record<string, unknown>?][] = [
    ["IPv6 egress IPs", eip({ egressIPs: ["fd00::10", "2001:db8::1"] })],
    ["firewall wildcard dnsName", ef([{ type: "Allow", to: { dnsName: "*.example.com" } }])],
    [
      "firewall upper-case dnsName with trailing dot",
      ef([{ type: "Allow", to: { dnsName: "WWW.Example.com." } }]),
    ],
    [
      "firewall nodeSelector and ports",
      ef([
        {
          type: "Allow",
          to: { nodeSelector: { matchLabels: { a: "b" } } },
          ports: [{ protocol: "SCTP", port: 65535 }],
        },
      ]),
    ],
    [
      "HSTS preload first, quoted max-age, spaces",
      route({ tls: { termination: "edge" } }, { [HSTS]: 'preload; max-age = "0" ; includeSubDomains' }),
    ],
    ["HSTS case-insensitive", route({ tls: { termination: "reencrypt" } }, { [HSTS]: "MAX-AGE=5" })],
    [
      "HSTS ignored on passthrough routes",
      route({ tls: { termination: "passthrough" } }, { [HSTS]: "garbage" }),
    ],
    ["HSTS ignored on plain routes", route({}, { [HSTS]: "garbage" })],
    ["pod nodeName set once", pod({ nodeName: "node-a" }), pod({})],
    ["pod image change", pod({ containers: [{ name: "c", image: "nginx:2" }] }), pod({})],
    ["service headless without ports", svc({ ports: [], clusterIP: "None" })],
    ["service ExternalName", svc({ type: "ExternalName", externalName: "db.example.com", ports: [] })],
    [
      "CloudPrivateIPConfig IPv6 name",
      {
        apiVersion: "cloud.network.openshift.io/v1",
        kind: "CloudPrivateIPConfig",
        metadata: meta("fc00.f853.0ccd.e793.0000.0000.0000.0054"),
        spec: { node: "n1" },
      },
    ],
    [
      "IPAddressPool IPv6 range",
      {
        apiVersion: "metallb.io/v1beta1",
        kind: "IPAddressPool",
        metadata: meta("p"),
        spec: { addresses: ["fd00::1-fd00::ff", "10.0.0.0/24"] },
      },
    ],
    [
      "netpol named port and endPort",
      np({ egress: [{ ports: [{ port: "http" }, { port: 1000, endPort: 2000, protocol: "UDP" }] }] }),
    ],
    ["netpol null podSelector", np({ podSelector: null })],
    [
      "HostSubnet without subnet but assign annotation",
      {
        apiVersion: "network.openshift.io/v1",
        kind: "HostSubnet",
        metadata: meta("n1", { annotations: { "pod.network.openshift.io/assign-subnet": "true" } }),
        host: "n1",
        hostIP: "10.0.0.1",
        subnet: "",
      },
    ],
    [
      "legacy v1 NetNamespace",
      { apiVersion: "v1", kind: "NetNamespace", metadata: meta("p1"), netname: "p1", netid: 0 },
    ],
  ];
  for (const [name, obj, old] of ok) {
    it(name, () => assert.deepEqual(check(obj, old), { errors: [], unknownFields: [] }));
  }
});

describe("unknown fields", () => {
  const table: [string, Record<string, unknown>, string[]][] = [
    ["top-level spec field", eip({ foo: 1 }), ["spec.foo"]],
    [
      "container field typo",
      pod({ containers: [{ name: "a", image: "x", imagee: "y" }] }),
      ["spec.containers[0].imagee"],
    ],
    ["metadata field", eip({}, { lables: {} }), ["metadata.lables"]],
    [
      "inside a map value",
      {
        apiVersion: "whereabouts.cni.cncf.io/v1alpha1",
        kind: "IPPool",
        metadata: meta("p"),
        spec: { range: "10.0.0.0/24", allocations: { "1": { id: "c", podref: "a/b", extra: 1 } } },
      },
      ["spec.allocations[1].extra"],
    ],
    [
      "NetNamespace top level",
      {
        apiVersion: "network.openshift.io/v1",
        kind: "NetNamespace",
        metadata: meta("p"),
        netname: "p",
        netid: 1,
        netId: 2,
      },
      ["netId"],
    ],
    [
      "free-form subtrees are not reported",
      pod({
        containers: [{ name: "a", image: "x", securityContext: { anything: { goes: 1 } } }],
        affinity: { x: 1 },
      }),
      [],
    ],
    ["volume sources are not reported", pod({ volumes: [{ name: "v", emptyDir: {}, whatever: 1 }] }), []],
    [
      "two at once",
      pod({ foo: 1, containers: [{ name: "a", image: "x", env: [{ name: "A", vaule: "b" }] }] }),
      ["spec.foo", "spec.containers[0].env[0].vaule"],
    ],
  ];
  for (const [name, obj, expected] of table) {
    it(name, () => assert.deepEqual(check(obj).unknownFields.sort(), [...expected].sort()));
  }
});

describe("defaults", () => {
  const apply = (o: Record<string, unknown>) => {
    const obj = structuredClone(o) as KubeObject;
    rtFor(o).defaults?.(obj);
    return obj as Record<string, unknown> & KubeObject;
  };
  it("Service: type, sessionAffinity, protocol, targetPort = port", () => {
    const s = apply(
      svc({ ports: [{ port: 80 }, { port: 53, protocol: "UDP", targetPort: "dns", name: "dns" }] }),
    );
    const spec = s.spec as Record<string, unknown>;
    assert.equal(spec.type, "ClusterIP");
    assert.equal(spec.sessionAffinity, "None");
    assert.deepEqual(spec.ports, [
      { port: 80, protocol: "TCP", targetPort: 80 },
      { port: 53, protocol: "UDP", targetPort: "dns", name: "dns" },
    ]);
  });
  it("Pod: restartPolicy, dnsPolicy, imagePullPolicy by tag, phase Pending", () => {
    const p = apply(
      pod({
        containers: [
          { name: "a", image: "nginx" },
          { name: "b", image: "reg:5000/x:1.2" },
        ],
      }),
    );
    const spec = p.spec as {
      restartPolicy: string;
      dnsPolicy: string;
      containers: { imagePullPolicy: string }[];
    };
    assert.equal(spec.restartPolicy, "Always");
    assert.equal(spec.dnsPolicy, "ClusterFirst");
    assert.deepEqual(
      spec.containers.map((c) => c.imagePullPolicy),
      ["Always", "IfNotPresent"],
    );
    assert.deepEqual(p.status, { phase: "Pending" });
  });
  it("Namespace: finalizers, phase, name label", () => {
    const n = apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: "ns1" } });
    assert.deepEqual(n.spec, { finalizers: ["kubernetes"] });
    assert.deepEqual(n.status, { phase: "Active" });
    assert.equal(n.metadata.labels?.["kubernetes.io/metadata.name"], "ns1");
  });
  it("NetworkPolicy: policyTypes Ingress, plus Egress with egress rules; null podSelector → {}", () => {
    assert.deepEqual((apply(np({ podSelector: null })).spec as Record<string, unknown>).policyTypes, [
      "Ingress",
    ]);
    assert.deepEqual((apply(np({ podSelector: null })).spec as Record<string, unknown>).podSelector, {});
    assert.deepEqual((apply(np({ egress: [{}] })).spec as Record<string, unknown>).policyTypes, [
      "Ingress",
      "Egress",
    ]);
    assert.deepEqual((apply(np({ policyTypes: ["Egress"] })).spec as Record<string, unknown>).policyTypes, [
      "Egress",
    ]);
  });
  it("Secret: stringData merged into data as base64", () => {
    const s = apply({ apiVersion: "v1", kind: "Secret", metadata: meta("s"), stringData: { a: "hello" } });
    assert.deepEqual(s.data, { a: "aGVsbG8=" });
    assert.equal(s.stringData, undefined);
    assert.equal(s.type, "Opaque");
  });
  it("EgressService: nothing", () => {
    const o = {
      apiVersion: "k8s.ovn.org/v1",
      kind: "EgressService",
      metadata: meta("s"),
      spec: { sourceIPBy: "Network" },
    };
    assert.deepEqual(apply(o), o);
  });
});

describe("printer columns", () => {
  const cells = (o: Record<string, unknown>, wide = false) => {
    const rt = rtFor(o);
    return Object.fromEntries(
      rt.columns
        .filter((c) => wide || c.priority === 0)
        .map((c) => [c.name, c.cell(o as KubeObject) ?? "<none>"]),
    );
  };
  it("EgressIP: all IPs and nodes comma-joined", () => {
    const o = {
      ...eip({ egressIPs: ["10.0.0.1", "10.0.0.2"] }),
      status: {
        items: [
          { node: "n1", egressIP: "10.0.0.2" },
          { node: "n2", egressIP: "10.0.0.1" },
        ],
      },
    };
    assert.deepEqual(cells(o), {
      EgressIPs: "10.0.0.1,10.0.0.2",
      "Assigned Node": "n1,n2",
      "Assigned EgressIPs": "10.0.0.2,10.0.0.1",
    });
    assert.deepEqual(cells(eip({})), {
      EgressIPs: "10.0.0.1",
      "Assigned Node": "<none>",
      "Assigned EgressIPs": "<none>",
    });
  });
  it("Pod: READY, STATUS, RESTARTS; wide IP and NODE", () => {
    const o = {
      ...pod({
        nodeName: "n1",
        containers: [
          { name: "a", image: "x" },
          { name: "b", image: "y" },
        ],
      }),
      status: {
        phase: "Running",
        podIP: "10.128.0.5",
        containerStatuses: [
          { name: "a", ready: true, restartCount: 2, state: { running: {} } },
          { name: "b", ready: false, restartCount: 1, state: { waiting: { reason: "CrashLoopBackOff" } } },
        ],
      },
    };
    const c = cells(o, true);
    assert.equal(c.Ready, "1/2");
    assert.equal(c.Status, "CrashLoopBackOff");
    assert.equal(c.Restarts, 3);
    assert.equal(c.IP, "10.128.0.5");
    assert.equal(c.Node, "n1");
    const init = {
      ...pod({ initContainers: [{ name: "i", image: "x" }] }),
      status: { phase: "Pending", initContainerStatuses: [{ name: "i", state: { running: {} } }] },
    };
    assert.equal(cells(init).Status, "Init:0/1");
    const deleting = {
      ...pod({}, { deletionTimestamp: "2024-01-01T00:00:00Z" }),
      status: { phase: "Running" },
    };
    assert.equal(cells(deleting).Status, "Terminating");
  });
  it("Node: STATUS, ROLES, VERSION, wide INTERNAL-IP", () => {
    const o = {
      apiVersion: "v1",
      kind: "Node",
      metadata: meta("n1", {
        labels: { "node-role.kubernetes.io/worker": "", "node-role.kubernetes.io/infra": "" },
      }),
      spec: { unschedulable: true },
      status: {
        conditions: [{ type: "Ready", status: "False" }],
        addresses: [{ type: "InternalIP", address: "192.168.1.10" }],
        nodeInfo: { kubeletVersion: "v1.32.0" },
      },
    };
    const c = cells(o, true);
    assert.equal(c.Status, "NotReady,SchedulingDisabled");
    assert.equal(c.Roles, "infra,worker");
    assert.equal(c.Version, "v1.32.0");
    assert.equal(c["Internal-IP"], "192.168.1.10");
  });
  it("Service: TYPE, CLUSTER-IP, EXTERNAL-IP, PORT(S)", () => {
    const o = {
      ...svc({
        type: "LoadBalancer",
        clusterIP: "172.30.0.10",
        ports: [
          { port: 80, nodePort: 30080 },
          { port: 53, protocol: "UDP", name: "d" },
        ],
      }),
    };
    assert.deepEqual(cells(o), {
      Type: "LoadBalancer",
      "Cluster-IP": "172.30.0.10",
      "External-IP": "<pending>",
      "Port(s)": "80:30080/TCP,53/UDP",
    });
    const withIngress = { ...o, status: { loadBalancer: { ingress: [{ ip: "172.19.0.100" }] } } };
    assert.equal(cells(withIngress)["External-IP"], "172.19.0.100");
  });
  it("Endpoints: at most three shown", () => {
    const o = {
      apiVersion: "v1",
      kind: "Endpoints",
      metadata: meta("e"),
      subsets: [
        {
          addresses: ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"].map((ip) => ({ ip })),
          ports: [{ port: 80 }],
        },
      ],
    };
    assert.equal(cells(o).Endpoints, "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 1 more...");
  });
  it("ClusterNetwork, HostSubnet, NetNamespace", () => {
    const cn = {
      apiVersion: "network.openshift.io/v1",
      kind: "ClusterNetwork",
      metadata: meta("default"),
      serviceNetwork: "172.30.0.0/16",
      pluginName: "redhat/openshift-ovs-multitenant",
      clusterNetworks: [{ CIDR: "10.128.0.0/14", hostSubnetLength: 9 }],
    };
    assert.deepEqual(cells(cn), {
      "Cluster Networks": "10.128.0.0/14:9",
      "Service Network": "172.30.0.0/16",
      "Plugin Name": "redhat/openshift-ovs-multitenant",
    });
    const hs = {
      apiVersion: "network.openshift.io/v1",
      kind: "HostSubnet",
      metadata: meta("n1"),
      host: "n1",
      hostIP: "10.0.0.1",
      subnet: "10.128.0.0/23",
      egressCIDRs: ["10.0.0.0/24"],
    };
    assert.deepEqual(cells(hs), {
      Host: "n1",
      "Host IP": "10.0.0.1",
      Subnet: "10.128.0.0/23",
      "Egress CIDRs": "10.0.0.0/24",
      "Egress IPs": "<none>",
    });
    const nn = {
      apiVersion: "network.openshift.io/v1",
      kind: "NetNamespace",
      metadata: meta("p"),
      netname: "p",
      netid: 0,
      egressIPs: ["10.0.0.5"],
    };
    assert.deepEqual(cells(nn), { NetID: 0, "Egress IPs": "10.0.0.5" });
  });
  it("NetworkPolicy POD-SELECTOR and Route columns", () => {
    assert.equal(cells(np({}))["Pod-Selector"], "<none>");
    assert.equal(cells(np({ podSelector: { matchLabels: { role: "db" } } }))["Pod-Selector"], "role=db");
    const r = route({
      host: "a.example.com",
      tls: { termination: "edge", insecureEdgeTerminationPolicy: "Redirect" },
    });
    const c = cells(r);
    assert.equal(c["Host/Port"], "a.example.com");
    assert.equal(c.Services, "app");
    assert.equal(c.Termination, "edge/Redirect");
  });
});

describe("field selectors", () => {
  it("Pod spec.nodeName / status.phase / status.podIP", () => {
    const o = {
      ...pod({ nodeName: "n1" }),
      status: { phase: "Running", podIP: "10.0.0.9" },
    } as unknown as KubeObject;
    const fs = rtFor(o).fieldSelectors;
    assert.equal(fs["spec.nodeName"]?.(o), "n1");
    assert.equal(fs["status.phase"]?.(o), "Running");
    assert.equal(fs["status.podIP"]?.(o), "10.0.0.9");
  });
  it("Event involvedObject.*, reason, source, type", () => {
    const o = {
      apiVersion: "v1",
      kind: "Event",
      metadata: meta("e", { namespace: "default" }),
      involvedObject: { kind: "EgressIP", name: "eip", uid: "u1", apiVersion: "k8s.ovn.org/v1" },
      reason: "NoMatchingNodeFound",
      source: { component: "egressip-controller" },
      type: "Warning",
    } as unknown as KubeObject;
    const fs = rtFor(o).fieldSelectors;
    assert.equal(fs["involvedObject.kind"]?.(o), "EgressIP");
    assert.equal(fs["involvedObject.name"]?.(o), "eip");
    assert.equal(fs["involvedObject.uid"]?.(o), "u1");
    assert.equal(fs["involvedObject.namespace"]?.(o), "");
    assert.equal(fs.reason?.(o), "NoMatchingNodeFound");
    assert.equal(fs.source?.(o), "egressip-controller");
    assert.equal(fs.type?.(o), "Warning");
    assert.deepEqual(check(o as unknown as Record<string, unknown>), { errors: [], unknownFields: [] });
  });
  it("Namespace status.phase, Node spec.unschedulable, Secret type", () => {
    const ns = {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: meta("n"),
      status: { phase: "Terminating" },
    } as unknown as KubeObject;
    assert.equal(rtFor(ns).fieldSelectors["status.phase"]?.(ns), "Terminating");
    const node = { apiVersion: "v1", kind: "Node", metadata: meta("n") } as unknown as KubeObject;
    assert.equal(rtFor(node).fieldSelectors["spec.unschedulable"]?.(node), "false");
    const sec = {
      apiVersion: "v1",
      kind: "Secret",
      metadata: meta("s"),
      type: "kubernetes.io/tls",
    } as unknown as KubeObject;
    assert.equal(rtFor(sec).fieldSelectors.type?.(sec), "kubernetes.io/tls");
  });
});

describe("registry and lookups", () => {
  it("every kind is unique by group/version/plural and group/version/kind", () => {
    const gvr = new Set<string>();
    const gvk = new Set<string>();
    for (const rt of resourceTypes) {
      for (const gv of [{ group: rt.group, version: rt.version }, ...rt.aliases]) {
        const r = `${gv.group}/${gv.version}/${rt.plural}`;
        const k = `${gv.group}/${gv.version}/${rt.kind}`;
        assert.ok(!gvr.has(r), r);
        assert.ok(!gvk.has(k), k);
        gvr.add(r);
        gvk.add(k);
      }
      assert.equal(rt.listKind, `${rt.kind}List`);
      assert.match(rt.plural, /^[a-z0-9-]+$/);
    }
    assert.equal(resourceTypes.length, 29);
  });
  it("finds kinds by GVR, kind (with legacy aliases), short name and resource name", () => {
    assert.equal(findByGroupVersionResource("k8s.ovn.org", "v1", "egressips")?.kind, "EgressIP");
    assert.equal(findByGroupVersionResource("", "v1", "egressnetworkpolicies")?.kind, "EgressNetworkPolicy");
    assert.equal(findByGroupVersionResource("", "v1", "egressips"), undefined);
    assert.equal(findByKind("v1", "EgressNetworkPolicy")?.group, "network.openshift.io");
    for (const k of ["NetNamespace", "HostSubnet", "ClusterNetwork", "EgressNetworkPolicy"])
      assert.ok(findByKind("v1", k), k);
    assert.equal(findByKind("v1", "EgressIP"), undefined);
    assert.equal(findByShortName("eip")?.kind, "EgressIP");
    assert.equal(findByShortName("svc")?.kind, "Service");
    assert.equal(findByShortName("net-attach-def")?.kind, "NetworkAttachmentDefinition");
    assert.equal(findByResourceName("egressips.k8s.ovn.org")?.kind, "EgressIP");
    assert.equal(findByResourceName("Pods")?.kind, "Pod");
    assert.equal(findByResourceName("netpol")?.kind, "NetworkPolicy");
    assert.deepEqual(
      findByCategory("all").map((r) => r.kind),
      ["Pod", "Service", "ReplicationController", "Route"],
    );
  });
  it("scope and status subresources", () => {
    const scope = Object.fromEntries(resourceTypes.map((r) => [r.kind, r.namespaced]));
    for (const k of [
      "EgressIP",
      "ClusterNetwork",
      "NetNamespace",
      "HostSubnet",
      "CloudPrivateIPConfig",
      "Node",
      "Namespace",
    ]) {
      assert.equal(scope[k], false, k);
    }
    for (const k of ["EgressService", "EgressFirewall", "EgressNetworkPolicy", "Pod", "Route", "IPPool"])
      assert.equal(scope[k], true, k);
    assert.equal(findByShortName("no")?.statusSubresource, true);
    assert.equal(findByShortName("svc")?.statusSubresource, true);
  });
  it("CloudPrivateIPConfig names", () => {
    assert.equal(cloudPrivateIPConfigName("10.0.0.5"), "10.0.0.5");
    assert.equal(
      cloudPrivateIPConfigName("fc00:f853:ccd:e793::54"),
      "fc00.f853.0ccd.e793.0000.0000.0000.0054",
    );
  });
});

describe("patch metadata in the schemas", () => {
  type S = Record<string, unknown>;
  const at = (schema: unknown, ...path: string[]): S => {
    let cur = schema as S;
    for (const p of path) cur = (p === "[]" ? cur.items : (cur.properties as S)[p]) as S;
    return cur;
  };
  const pod = findByKind("v1", "Pod")!.schema;
  const meta = (s: S) => [s["x-kubernetes-patch-merge-key"], s["x-kubernetes-patch-strategy"]];
  it("Pod lists", () => {
    assert.deepEqual(meta(at(pod, "spec", "containers")), ["name", "merge"]);
    assert.deepEqual(meta(at(pod, "spec", "initContainers")), ["name", "merge"]);
    assert.deepEqual(meta(at(pod, "spec", "containers", "[]", "env")), ["name", "merge"]);
    assert.deepEqual(meta(at(pod, "spec", "containers", "[]", "ports")), ["containerPort", "merge"]);
    assert.deepEqual(meta(at(pod, "spec", "containers", "[]", "volumeMounts")), ["mountPath", "merge"]);
    assert.deepEqual(meta(at(pod, "spec", "volumes")), ["name", "merge,retainKeys"]);
    assert.deepEqual(meta(at(pod, "spec", "imagePullSecrets")), ["name", "merge"]);
    assert.deepEqual(meta(at(pod, "metadata", "ownerReferences")), ["uid", "merge"]);
    assert.deepEqual(meta(at(pod, "metadata", "finalizers")), [undefined, "merge"]);
    assert.equal(
      at(pod, "spec", "containers", "[]", "resources")["x-kubernetes-preserve-unknown-fields"],
      true,
    );
  });
  it("Service, Node, NetworkPolicy and CRD kinds", () => {
    const svc = findByKind("v1", "Service")!.schema;
    assert.deepEqual(meta(at(svc, "spec", "ports")), ["port", "merge"]);
    assert.equal(at(svc, "spec", "ports", "[]", "targetPort")["x-kubernetes-int-or-string"], true);
    const node = findByKind("v1", "Node")!.schema;
    assert.deepEqual(meta(at(node, "status", "addresses")), ["type", "merge"]);
    assert.deepEqual(meta(at(node, "status", "conditions")), ["type", "merge"]);
    const netpol = findByKind("networking.k8s.io/v1", "NetworkPolicy")!.schema;
    assert.equal(at(netpol, "spec", "ingress")["x-kubernetes-list-type"], "atomic");
    assert.equal(
      at(netpol, "spec", "ingress", "[]", "ports", "[]", "port")["x-kubernetes-int-or-string"],
      true,
    );
    const eipSchema = findByKind("k8s.ovn.org/v1", "EgressIP")!.schema;
    assert.deepEqual(meta(at(eipSchema, "spec", "egressIPs")), [undefined, undefined]);
    assert.equal(findByKind("k8s.ovn.org/v1", "EgressIP")!.builtin, false);
    assert.equal(findByKind("v1", "Pod")!.builtin, true);
  });
  it("schemas serialise to plain JSON (OpenAPI)", () => {
    for (const rt of resourceTypes) {
      const json = JSON.parse(JSON.stringify(rt.schema)) as S;
      assert.equal(json.type, "object", rt.kind);
      assert.ok((json.properties as S).metadata, rt.kind);
    }
  });
});

describe("properties", () => {
  const v4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join("."));
  it("any dotted-quad egress IP is accepted, with a prefix length it is rejected at its index", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(v4, { minLength: 1, maxLength: 5 }),
        fc.integer({ min: 0, max: 32 }),
        (ips, len) => {
          assert.deepEqual(check(eip({ egressIPs: ips })).errors, []);
          const bad = [...ips, `${ips[0]}/${len}`];
          const errs = check(eip({ egressIPs: bad })).errors;
          assert.deepEqual(
            errs.map((e) => e.field),
            [`spec.egressIPs[${ips.length}]`],
          );
        },
      ),
      { numRuns: 200 },
    );
  });
  it("service ports validate exactly when in 1..65535", () => {
    fc.assert(
      fc.property(fc.integer({ min: -10, max: 70000 }), (port) => {
        const errs = check(svc({ ports: [{ port }] })).errors;
        assert.equal(errs.length === 0, port >= 1 && port <= 65535);
      }),
      { numRuns: 300 },
    );
  });
});

describe("benchmark", () => {
  it("validates 10,000 EgressIPs (printed, not asserted)", () => {
    const rt = findByKind("k8s.ovn.org/v1", "EgressIP")!;
    const objs = Array.from({ length: 10_000 }, (_, i) =>
      eip(
        {
          egressIPs: [`10.${(i >> 8) & 255}.${i & 255}.1`, `fd00::${i.toString(16)}`],
          namespaceSelector: { matchLabels: { env: "prod" } },
        },
        { labels: { app: "x" } },
      ),
    );
    for (const o of objs.slice(0, 1000)) validateObject(rt, o); // warm-up (JIT)
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    let errors = 0;
    for (const o of objs) errors += validateObject(rt, o).errors.length;
    const cpu = process.cpuUsage(c0);
    const ms = performance.now() - t0;
    console.log(
      `# validateObject: 10,000 EgressIPs in ${ms.toFixed(1)} ms wall, ${((cpu.user + cpu.system) / 1000).toFixed(1)} ms CPU (target < 500 ms)`,
    );
    assert.equal(errors, 0);
  });
});
