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
import type { KubeObject } from "../api/object.js";
import type { ResourceType } from "../api/resource.js";
import { type ApiServer, startApiServer } from "../apiserver/server.js";
import { Client } from "../controllers/runtime/client.js";
import type { PolicyView } from "../dataplane/compile/policy/types.js";
import { FakeIp } from "../dataplane/ip/execer.js";
import type { NftExecer } from "../dataplane/nft/execer.js";
import { FakeNft } from "../dataplane/nft/fake.js";
import { logger } from "../util/log.js";
import { DataplaneSync, ensureBridgeNetfilter, type InformerSource } from "./dataplane-sync.js";

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
    // One whole update: its two transactions (generations.ts: prepare, then activate).
    assert.equal(policyScripts().length, 2);
    assert.match(policyScripts()[1]!, /chain forward \{/);
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
    assert.equal(policyScripts().length, 2);
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

/** One node n1 (HostSubnet 10.128.0.0/23) with pod a/web selected by EgressIP e1, whose only IP
 *  `egressIP` is held by n1. */
async function oneNodeCluster(srv: ApiServer, egressIP: string): Promise<Client> {
  const client = Client.fromFile(srv.kubeconfigPath);
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
    spec: { egressIPs: [egressIP], namespaceSelector: { matchLabels: { env: "x" } } },
    status: { items: [{ node: "n1", egressIP }] },
  });
  return client;
}

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
    const client = await oneNodeCluster(srv!, "192.0.2.100");
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

describe("DataplaneSync: egress IP on a secondary NIC", () => {
  let srv: ApiServer | undefined;
  let dir = "";
  let sync: DataplaneSync | undefined;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "egress-dpnic-"));
    srv = await startApiServer({ dataDir: join(dir, "data"), listen: "127.0.0.1:0" });
  });
  after(async () => {
    await sync?.stop();
    await srv?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("routes the NIC's SNATed flows by its own table, with the gateway the interfaces carry (re-read every second)", async () => {
    const client = await oneNodeCluster(srv!, "198.51.100.50");
    const ip = new FakeIp();
    const nft = new TestNft();
    let gateway: string | undefined = "198.51.100.1";
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
        readInterfaces: async () => [
          { name: "eth0", address: "192.0.2.11/24", gateway: "192.0.2.1" },
          { name: "eth1", address: "198.51.100.11/24", ...(gateway ? { gateway } : {}) },
        ],
        duplicateAddress: async () => false,
        renewLeases: async () => {},
      },
      logger("test"),
    );
    const table = () =>
      ip.state.routes.filter((r) => r.table === 11101).map(({ protocol: _p, table: _t, ...r }) => r);
    const until = async (what: string, ok: () => boolean) => {
      for (const end = Date.now() + 5000; !ok(); ) {
        if (Date.now() > end) assert.fail(`timed out waiting for ${what}: ${JSON.stringify(ip.state)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    await sync.start();
    await until("the NIC's rule", () => ip.state.rules.length === 1);
    assert.deepEqual(
      ip.state.addresses.map((a) => [a.dev, a.address]),
      [["eth1", "198.51.100.50/32"]],
    );
    assert.deepEqual(ip.state.rules, [
      { priority: 11101, fwmark: 0x10000000, fwmask: 0xf0000000, table: 11101, protocol: "201" },
    ]);
    await until("the gateway route", () => table().some((r) => r.via === "198.51.100.1"));
    assert.deepEqual(table(), [
      { dst: "198.51.100.0/24", dev: "eth1" },
      { dst: "default", via: "198.51.100.1", dev: "eth1" },
    ]);
    assert.ok(nft.rules("inet", "egress-node", "egress-nic")?.some((r) => r.includes("@egressip_snat_eth1")));
    assert.ok(ip.sysctls.get("net.ipv4.conf.eth1.rp_filter") === "2");

    // The default route through eth1 goes away: the next interface read turns it into unreachable.
    gateway = undefined;
    await until("the unreachable default", () => table().some((r) => r.type === "unreachable"));
    assert.deepEqual(table().at(-1), { dst: "default", type: "unreachable" });
  });
});

/** In-memory informer caches (the events a watch delivers), for the node sync's event wiring. */
class MemInformers implements InformerSource {
  private readonly m = new Map<ResourceType, MemInformer>();
  for(rt: ResourceType): MemInformer {
    let i = this.m.get(rt);
    if (!i) {
      i = new MemInformer();
      this.m.set(rt, i);
    }
    return i;
  }
  async startAll(): Promise<void> {}
  async restartAll(): Promise<void> {}
  async stopAll(): Promise<void> {}
}

class MemInformer {
  private readonly objects = new Map<string, KubeObject>();
  private readonly handlers: ((t: "add" | "update" | "delete", o: KubeObject) => void)[] = [];
  on(h: (t: "add" | "update" | "delete", o: KubeObject) => void): void {
    this.handlers.push(h);
  }
  list(): KubeObject[] {
    return [...this.objects.values()];
  }
  get(name: string, namespace?: string): KubeObject | undefined {
    return this.objects.get(`${namespace ?? ""}/${name}`);
  }
  put(o: Omit<KubeObject, "apiVersion" | "kind"> & Record<string, unknown>): void {
    const obj = { apiVersion: "v1", kind: "X", ...o } as KubeObject;
    const key = `${obj.metadata.namespace ?? ""}/${obj.metadata.name}`;
    const t = this.objects.has(key) ? "update" : "add";
    this.objects.set(key, obj);
    for (const h of this.handlers) h(t, obj);
  }
  delete(namespace: string, name: string): void {
    const obj = this.objects.get(`${namespace}/${name}`);
    if (!obj) return;
    this.objects.delete(`${namespace}/${name}`);
    for (const h of this.handlers) h("delete", obj);
  }
}

/** Accepts every script and records it (with the policy steps' ends) in order. */
class RecordingNft implements NftExecer {
  readonly log: string[] = [];
  async apply(script: string): Promise<void> {
    this.log.push(script);
  }
  async check(): Promise<void> {}
  async listJson(): Promise<unknown | undefined> {
    return undefined;
  }
}

describe("DataplaneSync: pod events through the incremental view", () => {
  let dir = "";
  let sync: DataplaneSync | undefined;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "egress-dppod-"));
  });
  after(async () => {
    await sync?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("a pod joining or leaving an EgressIP is one element delta, applied before the policy step", async () => {
    const kubeconfig = join(dir, "kubeconfig");
    await writeFile(
      kubeconfig,
      "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\nusers: [{name: u, user: {}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n",
    );
    const brnf = join(dir, "bridge-nf-call-iptables");
    await writeFile(brnf, "1\n");
    const inf = new MemInformers();
    inf.for(clusterNetworkType).put({
      metadata: { name: "default" },
      clusterNetworks: [{ CIDR: "10.128.0.0/14", hostSubnetLength: 9 }],
      serviceNetwork: "172.30.0.0/16",
    });
    for (const [n, ip, subnet] of [
      ["n1", "192.0.2.11", "10.128.0.0/23"],
      ["n2", "192.0.2.12", "10.128.2.0/23"],
    ] as const)
      inf.for(hostSubnetType).put({ metadata: { name: n }, host: n, hostIP: ip, subnet });
    inf.for(namespaceType).put({ metadata: { name: "a", labels: { team: "a" } } });
    inf.for(egressIPType).put({
      metadata: { name: "e1", creationTimestamp: "2024-01-01T00:00:00Z" },
      spec: { egressIPs: ["192.0.2.100"], namespaceSelector: { matchLabels: { team: "a" } } },
      status: { items: [{ node: "n2", egressIP: "192.0.2.100" }] },
    });
    inf.for(networkPolicyType).put({
      metadata: { namespace: "a", name: "same-namespace" },
      spec: { podSelector: {}, policyTypes: ["Ingress"], ingress: [{ from: [{ podSelector: {} }] }] },
    });
    const pod = (name: string, ip: string) => ({
      metadata: { namespace: "a", name, labels: { app: "web" } },
      spec: { nodeName: "n1", containers: [{ name: "c", image: "i" }] },
      status: { phase: "Running", podIP: ip },
    });
    inf.for(podType).put(pod("web", "10.128.0.5"));
    let local = [{ namespace: "a", name: "web", ip: "10.128.0.5" }];
    const nft = new RecordingNft();
    sync = new DataplaneSync(
      Client.fromFile(kubeconfig),
      {
        node: "n1",
        bridge: "egtestbr0",
        nft,
        ip: new FakeIp(),
        localPods: () => local,
        owned: new Set(),
        apiReachable: () => true,
        dnsServers: [],
        onPolicyView: async () => {
          nft.log.push("<policy step done>");
        },
        bridgeNfPath: brnf,
        probeSilence: () => undefined,
        readInterfaces: async () => [{ name: "eth0", address: "192.0.2.11/24" }],
        duplicateAddress: async () => false,
        renewLeases: async () => {},
        informers: inf,
      },
      logger("test"),
    );
    await sync.start();
    await sync.idle();
    assert.ok(
      nft.log.some((s) => s.includes("table inet egress-node {")),
      "first apply: the whole table",
    );
    const step = async (change: () => void): Promise<string[]> => {
      const from = nft.log.length;
      change();
      await sync!.idle();
      return nft.log.slice(from);
    };

    // A pod joins: one delta line naming it, before the policy step of the same event ends.
    let out = await step(() => {
      local = [...local, { namespace: "a", name: "web2", ip: "10.128.0.6" }];
      inf.for(podType).put(pod("web2", "10.128.0.6"));
    });
    const node = out.filter((s) => s.includes("egress-node"));
    assert.equal(node.length, 1, JSON.stringify(out));
    // Written for the live generation's names (src/dataplane/nft/generations.ts).
    assert.match(
      node[0]!,
      /^add element inet egress-node egress_pods\.g1 \{ 10\.128\.0\.6 : goto egress-via-\S+\.g1 \}\n$/,
    );
    assert.ok(out.indexOf(node[0]!) < out.indexOf("<policy step done>"), JSON.stringify(out));
    assert.ok(
      out.some((s) => s.includes("egress-policy")),
      "the policy table changed too (and came after)",
    );

    // It leaves again (deleted): the element goes.
    out = await step(() => {
      local = local.filter((p) => p.name !== "web2");
      inf.for(podType).delete("a", "web2");
    });
    assert.deepEqual(
      out.filter((s) => s.includes("egress-node")),
      ["delete element inet egress-node egress_pods.g1 { 10.128.0.6 }\n"],
    );

    // The namespace is relabelled: its last pod leaves the EgressIP (the chain goes: whole table).
    out = await step(() => inf.for(namespaceType).put({ metadata: { name: "a", labels: { team: "b" } } }));
    const table = out.filter((s) => s.includes("egress-node"));
    assert.equal(table.length, 2, "one whole update: prepare and activate");
    assert.ok(table[0]!.includes("table inet egress-node {") && !table[0]!.includes("10.128.0.5 :"));
    assert.ok(table[1]!.includes("flush chain inet egress-node"), "activate refills the base chains");
  });
});
