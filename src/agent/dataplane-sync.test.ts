// DataplaneSync's policy wiring against an in-process API server with fake nft/ip execers: the policy
// table is applied separately from the node table, re-applied only on change, the view reaches
// onPolicyView, and br_netfilter is switched on first. (Real packets: test/e2e/dataplane, lab.)
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  clusterNetworkType,
  egressIPType,
  hostSubnetType,
  namespaceType,
  networkPolicyType,
  nodeType,
  podType,
} from "../api/kinds/index.js";
import { type ApiServer, startApiServer } from "../apiserver/server.js";
import { Client } from "../controllers/runtime/client.js";
import type { PolicyView } from "../dataplane/compile/policy/types.js";
import { FakeIp } from "../dataplane/ip/execer.js";
import { FakeNft } from "../dataplane/nft/fake.js";
import { logger } from "../util/log.js";
import { DataplaneSync, ensureBridgeNetfilter } from "./dataplane-sync.js";

/** FakeNft models only whole-table scripts; the admin table's `add chain`/`flush chain` commands are
 *  recorded instead (their text is the compiler's, tested there and against the kernel). */
class TestNft extends FakeNft {
  readonly admin: string[] = [];
  override async apply(script: string): Promise<void> {
    if (script.startsWith("add table inet egress-admin")) {
      this.admin.push(script);
      return;
    }
    await super.apply(script);
  }
}

describe("ensureBridgeNetfilter", () => {
  let dir = "";
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "egress-brnf-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("on when 1, sets 1 when 0, missing when the file does not exist", async () => {
    const f = join(dir, "bridge-nf-call-iptables");
    await writeFile(f, "1\n");
    assert.equal(await ensureBridgeNetfilter(f), "on");
    await writeFile(f, "0\n");
    assert.equal(await ensureBridgeNetfilter(f), "enabled");
    assert.equal((await readFile(f, "utf8")).trim(), "1");
    assert.equal(await ensureBridgeNetfilter(join(dir, "nope")), "missing");
  });
});

describe("DataplaneSync: policy program", () => {
  let srv: ApiServer | undefined;
  let dir = "";
  let sync: DataplaneSync | undefined;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "egress-dpsync-"));
    srv = await startApiServer({ dataDir: join(dir, "data"), listen: "127.0.0.1:0" });
  });
  after(async () => {
    await sync?.stop();
    await srv?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("applies the policy table on its own, on change only, and hands the view on", async () => {
    const client = Client.fromFile(srv!.kubeconfigPath);
    await client.create(clusterNetworkType, {
      apiVersion: "network.openshift.io/v1",
      kind: "ClusterNetwork",
      metadata: { name: "default" },
      clusterNetworks: [{ CIDR: "10.128.0.0/14", hostSubnetLength: 9 }],
      serviceNetwork: "172.30.0.0/16",
      pluginName: "redhat/openshift-ovs-networkpolicy",
    });
    await client.create(hostSubnetType, {
      apiVersion: "network.openshift.io/v1",
      kind: "HostSubnet",
      metadata: { name: "n1" },
      host: "n1",
      hostIP: "192.0.2.11",
      subnet: "10.128.0.0/23",
    });
    await client.create(namespaceType, { apiVersion: "v1", kind: "Namespace", metadata: { name: "a" } });
    await client.create(podType, {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { namespace: "a", name: "web", labels: { app: "web" } },
      spec: { nodeName: "n1", containers: [{ name: "c", image: "i" }] },
    });
    const brnf = join(dir, "bridge-nf-call-iptables");
    await writeFile(brnf, "0\n");
    const nft = new TestNft();
    const views: PolicyView[] = [];
    sync = new DataplaneSync(
      client,
      {
        node: "n1",
        bridge: "egtestbr0",
        nft,
        ip: new FakeIp(),
        localPods: () => [{ namespace: "a", name: "web", ip: "10.128.0.5" }],
        owned: new Set(),
        apiReachable: () => true,
        dnsServers: ["192.0.2.53"],
        onPolicyView: async (v) => {
          views.push(v);
        },
        bridgeNfPath: brnf,
      },
      logger("test"),
    );
    await sync.start();
    await sync.idle();
    assert.equal((await readFile(brnf, "utf8")).trim(), "1");
    assert.equal(nft.admin.length, 1, "admin table ensured once");
    assert.match(nft.admin[0]!, /admin-output/);
    assert.ok(nft.hasTable("inet", "egress-policy"), "policy table applied");
    assert.ok(nft.hasTable("inet", "egress-node"), "node table still applied");
    const policyScripts = () => nft.applied.filter((s) => s.includes("table inet egress-policy"));
    assert.equal(policyScripts().length, 1);
    // The node table is applied by its own script, never in the policy transaction.
    assert.ok(policyScripts().every((s) => !s.includes("egress-node")));
    const last = views.at(-1)!;
    assert.equal(last.mode, "networkpolicy");
    // The node's cluster DNS (first address of its pod subnet), then the upstream resolvers.
    assert.deepEqual(last.dnsServers, ["10.128.0.1", "192.0.2.53"]);
    assert.deepEqual(
      last.pods.map((p) => [p.name, p.ip, p.local]),
      [["web", "10.128.0.5", true]],
    );

    // A re-sync without changes hands the view on again but does not re-apply the same program.
    const before = views.length;
    sync.trigger();
    await sync.idle();
    assert.ok(views.length > before);
    assert.equal(policyScripts().length, 1);
    assert.equal(sync.policyAppliedCount, 1);
    assert.equal(nft.admin.length, 1);

    // A NetworkPolicy reaches the view through the new informer.
    await client.create(networkPolicyType, {
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: { namespace: "a", name: "deny" },
      spec: { podSelector: {}, policyTypes: ["Ingress"] },
    });
    const settle = async () => {
      await new Promise((r) => setTimeout(r, 20));
      await sync!.idle();
    };
    for (const end = Date.now() + 5000; !views.at(-1)?.networkPolicies.length && Date.now() < end; )
      await settle();
    assert.deepEqual(
      views.at(-1)?.networkPolicies.map((p) => `${p.namespace}/${p.name}`),
      ["a/deny"],
    );

    // Another node: a heartbeat (conditions only) triggers nothing, a label change does.
    await client.create(nodeType, { apiVersion: "v1", kind: "Node", metadata: { name: "n2" }, spec: {} });
    const hasN2 = () => views.at(-1)?.nodes.some((n) => n.name === "n2") === true;
    for (const end = Date.now() + 5000; !hasN2() && Date.now() < end; ) await settle();
    assert.ok(hasN2());
    const heartbeat = (t: string) =>
      client.patch(
        nodeType,
        "",
        "n2",
        { status: { conditions: [{ type: "Ready", status: "True", lastHeartbeatTime: t }] } },
        "merge",
        "status",
      );
    // Let syncs already queued (the node creation, retries) finish before counting.
    for (let last = -1, end = Date.now() + 5000; views.length !== last && Date.now() < end; ) {
      last = views.length;
      await new Promise((r) => setTimeout(r, 300));
      await sync.idle();
    }
    const quiet = views.length;
    await heartbeat("2026-01-01T00:00:01Z");
    await heartbeat("2026-01-01T00:00:02Z");
    await new Promise((r) => setTimeout(r, 300));
    await sync.idle();
    assert.equal(views.length, quiet, "heartbeats of other nodes do not resync");
    await client.patch(nodeType, "", "n2", { metadata: { labels: { role: "infra" } } });
    const labelled = () => views.at(-1)?.nodes.find((n) => n.name === "n2")?.labels.role === "infra";
    for (const end = Date.now() + 5000; !labelled() && Date.now() < end; ) await settle();
    assert.ok(labelled(), "a label change of another node reaches the view");
  });
});

describe("DataplaneSync: egress address of this node and the self-fence", () => {
  let srv: ApiServer | undefined;
  let dir = "";
  let sync: DataplaneSync | undefined;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "egress-dpfence-"));
    srv = await startApiServer({ dataDir: join(dir, "data"), listen: "127.0.0.1:0" });
  });
  after(async () => {
    await sync?.stop();
    await srv?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("takes the IP, drops it when probes stop (fenced), takes it back once they resume", async () => {
    const client = Client.fromFile(srv!.kubeconfigPath);
    await client.create(clusterNetworkType, {
      apiVersion: "network.openshift.io/v1",
      kind: "ClusterNetwork",
      metadata: { name: "default" },
      clusterNetworks: [{ CIDR: "10.128.0.0/14", hostSubnetLength: 9 }],
      serviceNetwork: "172.30.0.0/16",
      pluginName: "redhat/openshift-ovs-networkpolicy",
    });
    await client.create(hostSubnetType, {
      apiVersion: "network.openshift.io/v1",
      kind: "HostSubnet",
      metadata: { name: "n1" },
      host: "n1",
      hostIP: "192.0.2.11",
      subnet: "10.128.0.0/23",
    });
    await client.create(namespaceType, {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: "a", labels: { env: "x" } },
    });
    await client.create(podType, {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { namespace: "a", name: "web" },
      spec: { nodeName: "n1", containers: [{ name: "c", image: "i" }] },
    });
    await client.create(egressIPType, {
      apiVersion: "k8s.ovn.org/v1",
      kind: "EgressIP",
      metadata: { name: "e1" },
      spec: { egressIPs: ["192.0.2.100"], namespaceSelector: { matchLabels: { env: "x" } } },
      status: { items: [{ node: "n1", egressIP: "192.0.2.100" }] },
    });
    const ip = new FakeIp();
    const nft = new TestNft();
    let silence = { silentMs: 0, fenceAfterMs: 250 };
    const renewed: string[] = [];
    sync = new DataplaneSync(
      client,
      {
        node: "n1",
        bridge: "egtestbr0",
        nft,
        ip,
        localPods: () => [{ namespace: "a", name: "web", ip: "10.128.0.5" }],
        owned: new Set(),
        apiReachable: () => true,
        dnsServers: [],
        bridgeNfPath: join(dir, "bridge-nf"),
        probeSilence: () => silence,
        readInterfaces: async () => [{ name: "eth0", address: "192.0.2.11/24" }],
        duplicateAddress: async () => false,
        renewLeases: async (leases) => {
          renewed.push(...leases.map((l) => l.address));
        },
      },
      logger("test"),
    );
    const held = () => ip.state.addresses.filter((a) => a.label === "eth0:eg").map((a) => a.address);
    const snat = () => nft.elements("inet", "egress-node", "egressip_snat_eth0") ?? [];
    const until = async (what: string, ok: () => boolean) => {
      for (const end = Date.now() + 5000; !ok(); ) {
        if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    await sync.start();
    await until("the egress address", () => held().length === 1);
    assert.deepEqual(held(), ["192.0.2.100/32"]);
    assert.deepEqual(snat(), ["10.128.0.5 : 192.0.2.100"]);
    await until("its gratuitous ARP", () => ip.announced.length === 1);

    // Probes stop (the link is cut): the address goes without any sync of the API's state, then
    // the SNAT entry with the fenced resync; no renewal brings it back meanwhile.
    silence = { silentMs: 300, fenceAfterMs: 250 };
    await until("the self-fence", () => held().length === 0);
    await until("the fenced program", () => snat().length === 0);
    const renewals = renewed.length;
    await new Promise((r) => setTimeout(r, 1200));
    assert.deepEqual(held(), [], "still fenced");
    assert.equal(renewed.length, renewals, "no lease renewed while fenced");

    // Probes resume: watches restarted, the address and its SNAT entry come back.
    silence = { silentMs: 10, fenceAfterMs: 250 };
    await until("the address back", () => held().length === 1);
    await until("the SNAT entry back", () => snat().length === 1);
  });
});
