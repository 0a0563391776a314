// `egress trace` as a user runs it: the real CLI against an in-process `egress server` with a small
// cluster (two nodes, pods, a NetworkPolicy, an EgressFirewall, an EgressIP). Checks the wiring
// (kubeconfig, listing, output formats, exit codes); the composition itself is unit-tested in
// src/cli/trace.test.ts. No root, no namespaces.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import {
  clusterNetworkType,
  egressFirewallType,
  egressIPType,
  hostSubnetType,
  namespaceType,
  networkPolicyType,
  nodeType,
  podType,
} from "../../../src/api/kinds/index.js";
import type { KubeObject } from "../../../src/api/object.js";
import { Client } from "../../../src/controllers/runtime/client.js";
import { startTestServer, type TestServer } from "../support/server.js";

const CLI = fileURLToPath(new URL("../../../src/cli/main.js", import.meta.url));
const run = promisify(execFile);

async function trace(
  kubeconfig: string,
  ...args: string[]
): Promise<{ code: number; out: string; err: string }> {
  try {
    const r = await run(process.execPath, [CLI, "trace", "--kubeconfig", kubeconfig, ...args], {
      timeout: 20_000,
    });
    return { code: 0, out: r.stdout, err: r.stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: x.code ?? -1, out: x.stdout ?? "", err: x.stderr ?? "" };
  }
}

describe("egress trace (CLI)", () => {
  let srv: TestServer | undefined;

  before(async () => {
    srv = await startTestServer();
    const c = Client.fromFile(srv.kubeconfigPath);
    const create = (rt: Parameters<Client["create"]>[0], obj: Record<string, unknown>) =>
      c.create(rt, obj as unknown as KubeObject);
    await create(clusterNetworkType, {
      apiVersion: "network.openshift.io/v1",
      kind: "ClusterNetwork",
      metadata: { name: "default" },
      clusterNetworks: [{ CIDR: "10.128.0.0/14", hostSubnetLength: 9 }],
      serviceNetwork: "172.30.0.0/16",
      pluginName: "redhat/openshift-ovs-networkpolicy",
    });
    for (const [name, ip, subnet] of [
      ["n1", "192.168.126.11", "10.128.0.0/23"],
      ["n2", "192.168.126.12", "10.128.2.0/23"],
    ] as const) {
      await create(hostSubnetType, {
        apiVersion: "network.openshift.io/v1",
        kind: "HostSubnet",
        metadata: { name },
        host: name,
        hostIP: ip,
        subnet,
      });
      await create(nodeType, {
        apiVersion: "v1",
        kind: "Node",
        metadata: {
          name,
          annotations: {
            "k8s.ovn.org/node-primary-ifaddr": JSON.stringify({ ipv4: `${ip}/24` }),
            "k8s.ovn.org/host-cidrs": JSON.stringify([`${ip}/24`]),
          },
        },
        spec: {},
      });
      await c.patch(
        nodeType,
        "",
        name,
        { status: { addresses: [{ type: "InternalIP", address: ip }] } },
        "merge",
        "status",
      );
    }
    for (const ns of ["a", "b"])
      await create(namespaceType, {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name: ns, labels: { team: ns } },
      });
    for (const [ns, name, node, ip] of [
      ["a", "web", "n1", "10.128.0.5"],
      ["b", "db", "n2", "10.128.2.7"],
    ] as const) {
      await create(podType, {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { namespace: ns, name, labels: { app: name } },
        spec: { nodeName: node, containers: [{ name: "c", image: "i" }] },
      });
      await c.patch(podType, ns, name, { status: { podIP: ip, phase: "Running" } }, "merge", "status");
    }
    await create(networkPolicyType, {
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: { namespace: "b", name: "db-from-a" },
      spec: {
        podSelector: { matchLabels: { app: "db" } },
        policyTypes: ["Ingress"],
        ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: "a" } } }], ports: [{ port: 5432 }] }],
      },
    });
    await create(egressFirewallType, {
      apiVersion: "k8s.ovn.org/v1",
      kind: "EgressFirewall",
      metadata: { namespace: "a", name: "default" },
      spec: {
        egress: [
          { type: "Allow", to: { cidrSelector: "198.51.100.0/24" } },
          { type: "Deny", to: { cidrSelector: "0.0.0.0/0" } },
        ],
      },
    });
    // EgressIP has no status subresource: its status is written with the object.
    await create(egressIPType, {
      apiVersion: "k8s.ovn.org/v1",
      kind: "EgressIP",
      metadata: { name: "eip-a" },
      spec: { egressIPs: ["192.168.126.100"], namespaceSelector: { matchLabels: { team: "a" } } },
      status: { items: [{ node: "n2", egressIP: "192.168.126.100" }] },
    });
  });
  after(async () => {
    await srv?.stop();
  });

  it("pod → pod allowed by a NetworkPolicy rule (json)", async () => {
    const r = await trace(srv!.kubeconfigPath, "--from", "a/web", "--to", "b/db:5432", "--output", "json");
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out) as {
      verdict: string;
      decidedBy: unknown;
      source: unknown;
      hops: { node: string }[];
    };
    assert.equal(j.verdict, "allowed");
    assert.deepEqual(j.decidedBy, {
      kind: "networkpolicy",
      policy: "b/db-from-a",
      direction: "ingress",
      rule: 0,
    });
    assert.deepEqual(j.source, { kind: "pod", address: "10.128.0.5", node: "n1" });
    assert.deepEqual(
      j.hops.map((h) => h.node),
      ["n1", "n2"],
    );
  });

  it("pod → pod on a port the policy does not allow: denied", async () => {
    const r = await trace(srv!.kubeconfigPath, "--from", "a/web", "--to", "b/db:22", "-o", "json");
    assert.equal(r.code, 0, r.err);
    assert.equal((JSON.parse(r.out) as { verdict: string }).verdict, "denied");
  });

  it("pod → outside allowed by the firewall leaves with the EgressIP from its holder (text)", async () => {
    const r = await trace(srv!.kubeconfigPath, "--from", "a/web", "--to", "198.51.100.9:443");
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /verdict: +allowed/);
    assert.match(
      r.out,
      /decided by: EgressFirewall a\/default: no rule matches|decided by: EgressFirewall a\/default spec\.egress\[0\] \(Allow\)/,
    );
    assert.match(r.out, /source out: 192\.168\.126\.100 \(EgressIP eip-a, leaves n2\)/);
  });

  it("pod → outside denied by the firewall's rule 1", async () => {
    const r = await trace(srv!.kubeconfigPath, "--from", "a/web", "--to", "93.184.216.34", "-o", "json");
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out) as { verdict: string; decidedBy: { kind: string; rule?: number } };
    assert.equal(j.verdict, "denied");
    assert.equal(j.decidedBy.kind, "egressfirewall");
    assert.equal(j.decidedBy.rule, 1);
  });

  it("bad arguments and unknown pods fail naming the argument", async () => {
    const bad = await trace(srv!.kubeconfigPath, "--from", "a/web", "--to", "b/db:99999");
    assert.equal(bad.code, 1);
    assert.match(bad.err, /--to "b\/db:99999": port "99999"/);
    const unknown = await trace(srv!.kubeconfigPath, "--from", "a/nope", "--to", "8.8.8.8");
    assert.equal(unknown.code, 1);
    assert.match(unknown.err, /--from: pod a\/nope not found/);
  });
});
