// The EgressIP controller against `egress server`, driven with real kubectl as a user would:
// the seed EgressIP on three labelled Ready nodes, failover on NotReady, stickiness on recovery,
// events, reachability probing through local health endpoints, and a simulated AWS cloud.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { cloudPrivateIPConfigType } from "../../../src/api/kinds/index.js";
import { CloudSimController } from "../../../src/controllers/egressip/cloud-sim.js";
import { EgressIPController } from "../../../src/controllers/egressip/controller.js";
import { eventually, startTestControlPlane, type TestControlPlane } from "../support/control-plane.js";
import { EXAMPLES_DIR } from "../support/server.js";
import {
  ASSIGNABLE,
  assignments,
  HEALTH,
  HealthServer,
  kubectlNode,
  kubectlSetReady,
  primaryIfAddr,
} from "./egressip-support.js";

const SEED = "egressips-prod";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until the EgressIP has exactly `n` assignments and returns them. */
function placed(tcp: TestControlPlane, name: string, n: number, ms = 10_000) {
  return eventually(
    async () => {
      const a = await assignments(tcp.client, name);
      return a.size === n ? a : undefined;
    },
    ms,
    `${name} to have ${n} assignments`,
  );
}

async function metric(tcp: TestControlPlane, name: string): Promise<number> {
  const text = await tcp.cp.metrics.metrics();
  const m = new RegExp(`^${name} ([0-9.e+-]+)$`, "m").exec(text);
  return m ? Number(m[1]) : Number.NaN;
}

describe("EgressIP on bare metal, probing off (--egressip-reachability-timeout 0)", () => {
  let tcp: TestControlPlane;
  before(async () => {
    tcp = await startTestControlPlane([new EgressIPController()], {
      options: { egressIPReachabilityTimeoutMs: 0 },
    });
    // No health endpoint on any node: with probing off, labelled + Ready is enough.
    await Promise.all([
      ...[1, 2, 3].map((i) =>
        kubectlNode(tcp.kubectl, {
          name: `node${i}`,
          labels: { [ASSIGNABLE]: "" },
          annotations: primaryIfAddr(`192.168.126.1${i}/18`),
          internalIP: `192.168.126.1${i}`,
        }),
      ),
      kubectlNode(tcp.kubectl, {
        name: "node0-unlabelled",
        annotations: primaryIfAddr("192.168.126.14/18"),
        internalIP: "192.168.126.14",
      }),
    ]);
  });
  after(async () => {
    await tcp?.stop();
  });

  it("places both seed IPs on two distinct labelled nodes, and moves one on NotReady only", async () => {
    await tcp.kubectl.ok(["apply", "-f", join(EXAMPLES_DIR, "000-egressip.yaml")]);
    const first = await placed(tcp, SEED, 2);
    const nodes = [...first.values()];
    assert.equal(new Set(nodes).size, 2, "two distinct nodes");
    for (const n of nodes) assert.match(n, /^node[123]$/);
    // Deterministic: least assigned, ties by node name, spec order.
    assert.deepEqual(Object.fromEntries(first), { "192.168.126.10": "node1", "192.168.126.102": "node2" });
    const table = await tcp.kubectl.ok(["get", "egressip", SEED]);
    assert.match(table, /192\.168\.126\.10/);
    assert.match(table, /node1/);
    assert.match(table, /node2/);
    assert.equal(await metric(tcp, "num_egress_ips"), 2);

    // node1 NotReady → its IP moves to node3 (node2 already holds one of this EgressIP).
    const t0 = performance.now();
    await kubectlSetReady(tcp.kubectl, "node1", false);
    const moved = await eventually(
      async () => {
        const a = await assignments(tcp.client, SEED);
        return a.get("192.168.126.10") === "node3" ? a : undefined;
      },
      10_000,
      "the IP to move to node3",
    );
    const failoverMs = performance.now() - t0;
    assert.equal(moved.get("192.168.126.102"), "node2", "the other IP did not move");
    assert.ok(failoverMs < 3000, `failover took ${failoverMs.toFixed(0)} ms (kubectl included)`);
    assert.ok((await metric(tcp, "egress_ips_rebalance_total")) >= 1);

    // Ready again: nothing moves back.
    await kubectlSetReady(tcp.kubectl, "node1", true);
    await sleep(300);
    assert.deepEqual(Object.fromEntries(await assignments(tcp.client, SEED)), {
      "192.168.126.10": "node3",
      "192.168.126.102": "node2",
    });
    const events = await tcp.kubectl.ok([
      "get",
      "events",
      "-A",
      "-o",
      'jsonpath={range .items[*]}{.involvedObject.name}/{.reason}{"\\n"}{end}',
    ]);
    assert.doesNotMatch(events, /node0-unlabelled/);
    assert.ok(![...(await assignments(tcp.client, SEED)).values()].includes("node0-unlabelled"));
  });

  it("an IP outside every node subnet gets NoMatchingNodeFound once, visible in describe", async () => {
    await tcp.kubectl.ok(
      ["apply", "-f", "-"],
      JSON.stringify({
        apiVersion: "k8s.ovn.org/v1",
        kind: "EgressIP",
        metadata: { name: "eip-outside" },
        spec: { egressIPs: ["10.99.0.1"], namespaceSelector: { matchLabels: { env: "nowhere" } } },
      }),
    );
    const out = await eventually(
      async () => {
        const d = await tcp.kubectl.ok(["describe", "egressip", "eip-outside"]);
        return /NoMatchingNodeFound/.test(d) ? d : undefined;
      },
      10_000,
      "the event in describe",
    );
    assert.match(out, /10\.99\.0\.1/);
    // More recomputations (node changes) must not repeat the event.
    await kubectlSetReady(tcp.kubectl, "node2", true);
    await tcp.kubectl.ok(["label", "node", "node0-unlabelled", "unrelated=1"]);
    await sleep(300);
    const counts = await tcp.kubectl.ok([
      "get",
      "events",
      "-A",
      "--field-selector",
      "involvedObject.name=eip-outside",
      "-o",
      'jsonpath={range .items[*]}{.reason}={.count}{"\\n"}{end}',
    ]);
    assert.deepEqual(counts.trim().split("\n"), ["NoMatchingNodeFound=1"]);
    assert.equal((await assignments(tcp.client, "eip-outside")).size, 0);
  });

  it("an unlabelled node never gets an IP, even when it is the only one with room", async () => {
    await tcp.kubectl.ok(
      ["apply", "-f", "-"],
      JSON.stringify({
        apiVersion: "k8s.ovn.org/v1",
        kind: "EgressIP",
        metadata: { name: "eip-four" },
        spec: {
          egressIPs: ["192.168.126.201", "192.168.126.202", "192.168.126.203", "192.168.126.204"],
          namespaceSelector: { matchLabels: { env: "four" } },
        },
      }),
    );
    const a = await placed(tcp, "eip-four", 3);
    assert.deepEqual([...a.values()].sort(), ["node1", "node2", "node3"]);
    const d = await eventually(
      async () => {
        const t = await tcp.kubectl.ok(["describe", "egressip", "eip-four"]);
        return /UnassignedRequest/.test(t) ? t : undefined;
      },
      10_000,
      "UnassignedRequest",
    );
    assert.match(d, /could be assigned/);
  });
  it("a pod selected by two EgressIPs: the newer one is standby, with one event", async () => {
    await tcp.kubectl.ok(
      ["apply", "-f", "-"],
      JSON.stringify({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "app", namespace: "namespace1", labels: { app: "web" } },
        spec: { containers: [{ name: "c", image: "registry.example/app:1" }] },
      }),
    );
    await tcp.kubectl.ok(
      ["apply", "-f", "-"],
      JSON.stringify({
        apiVersion: "k8s.ovn.org/v1",
        kind: "EgressIP",
        metadata: { name: "eip-standby" },
        spec: { egressIPs: ["192.168.126.150"], namespaceSelector: { matchLabels: { env: "prod" } } },
      }),
    );
    const d = await eventually(
      async () => {
        const t = await tcp.kubectl.ok(["describe", "egressip", "eip-standby"]);
        return /EgressIPStandby/.test(t) ? t : undefined;
      },
      10_000,
      "EgressIPStandby",
    );
    assert.match(d, /already served by the older EgressIP egressips-prod/);
    const seed = await tcp.kubectl.ok(["describe", "egressip", SEED]);
    assert.doesNotMatch(seed, /EgressIPStandby/);
  });
});

describe("EgressIP reachability probing", () => {
  let tcp: TestControlPlane;
  const health: HealthServer[] = [];
  before(async () => {
    for (let i = 0; i < 3; i++) health.push(await new HealthServer().start());
    tcp = await startTestControlPlane([new EgressIPController({ probeIntervalMs: 50, probeFailures: 1 })], {
      options: { egressIPReachabilityTimeoutMs: 100 },
    });
    await Promise.all([
      ...[1, 2, 3].map((i) =>
        kubectlNode(tcp.kubectl, {
          name: `node${i}`,
          labels: { [ASSIGNABLE]: "" },
          annotations: { ...primaryIfAddr(`192.168.126.1${i}/18`), [HEALTH]: health[i - 1]!.url },
          internalIP: `192.168.126.1${i}`,
        }),
      ),
      // Labelled and Ready but no health endpoint at all: never reachable.
      kubectlNode(tcp.kubectl, {
        name: "node0-silent",
        labels: { [ASSIGNABLE]: "" },
        annotations: primaryIfAddr("192.168.126.14/18"),
        internalIP: "192.168.126.14",
      }),
    ]);
  });
  after(async () => {
    await tcp?.stop();
    await Promise.all(health.map((h) => h.close()));
  });

  it("a node whose health endpoint stops answering loses its IP; a silent node gets none", async () => {
    await tcp.kubectl.ok(["apply", "-f", join(EXAMPLES_DIR, "000-egressip.yaml")]);
    const a = await placed(tcp, SEED, 2);
    assert.deepEqual(Object.fromEntries(a), { "192.168.126.10": "node1", "192.168.126.102": "node2" });
    health[0]!.mode = "hang"; // node1's agent stops answering (timeouts, not refusals)
    const t0 = performance.now();
    await eventually(
      async () =>
        (await assignments(tcp.client, SEED)).get("192.168.126.10") === "node3" ? true : undefined,
      5000,
      "the IP to leave the unreachable node",
    );
    const ms = performance.now() - t0;
    // Detection ≤ interval × failures + timeout = 150 ms, plus the recomputation and the write.
    assert.ok(ms < 1500, `unreachability failover took ${ms.toFixed(0)} ms`);
    assert.ok((await metric(tcp, "egress_ips_node_unreachable_total")) >= 1);
    // Back: nothing moves back.
    health[0]!.mode = "ok";
    await sleep(300);
    assert.equal((await assignments(tcp.client, SEED)).get("192.168.126.10"), "node3");
    assert.ok(![...(await assignments(tcp.client, SEED)).values()].includes("node0-silent"));
  });
});

describe("EgressIP on a simulated AWS cloud (capacity 1 per node)", () => {
  let tcp: TestControlPlane;
  const cfg = (cap: number) => ({
    "cloud.network.openshift.io/egress-ipconfig": JSON.stringify([
      { interface: "eni-1", ifaddr: { ipv4: "10.0.128.0/18" }, capacity: { ipv4: cap } },
    ]),
  });
  before(async () => {
    tcp = await startTestControlPlane(
      [new EgressIPController({ cloudRetryMs: 60_000 }), new CloudSimController()],
      {
        options: {
          platform: "AWS",
          simulateCloud: true,
          simulatedCloudCapacity: 1,
          egressIPReachabilityTimeoutMs: 0,
        },
      },
    );
    await Promise.all([
      kubectlNode(tcp.kubectl, {
        name: "worker-a",
        labels: { [ASSIGNABLE]: "" },
        annotations: cfg(14),
        internalIP: "10.0.128.5",
      }),
      // AWS control-plane nodes never host egress IPs.
      kubectlNode(tcp.kubectl, {
        name: "master-0",
        labels: { [ASSIGNABLE]: "", "node-role.kubernetes.io/master": "" },
        annotations: cfg(14),
        internalIP: "10.0.128.6",
      }),
    ]);
  });
  after(async () => {
    await tcp?.stop();
  });

  const eip = (name: string, ip: string) =>
    JSON.stringify({
      apiVersion: "k8s.ovn.org/v1",
      kind: "EgressIP",
      metadata: { name },
      spec: { egressIPs: [ip], namespaceSelector: { matchLabels: { app: name } } },
    });

  it("creates CloudPrivateIPConfigs, completes status once confirmed, refuses beyond capacity", async () => {
    await tcp.kubectl.ok(["apply", "-f", "-"], eip("eip-a", "10.0.128.10"));
    const a = await placed(tcp, "eip-a", 1);
    assert.equal(a.get("10.0.128.10"), "worker-a");
    const cpic = await tcp.kubectl.ok([
      "get",
      "cloudprivateipconfig",
      "10.0.128.10",
      "-o",
      "jsonpath={.spec.node}/{.status.node}/{.status.conditions[0].type}={.status.conditions[0].status}/{.metadata.annotations.k8s\\.ovn\\.org/egressip-owner-ref}",
    ]);
    assert.equal(cpic, "worker-a/worker-a/Assigned=True/eip-a");

    // Second IP: the controller's capacity (14) allows it on worker-a, the cloud (1) refuses it.
    await tcp.kubectl.ok(["apply", "-f", "-"], eip("eip-b", "10.0.128.11"));
    const d = await eventually(
      async () => {
        const t = await tcp.kubectl.ok(["describe", "egressip", "eip-b"]);
        return /CloudAssignmentFailed/.test(t) && /UnassignedRequest/.test(t) ? t : undefined;
      },
      10_000,
      "refusal events on eip-b",
    );
    assert.match(d, /capacity exhausted on node worker-a/);
    assert.equal((await assignments(tcp.client, "eip-b")).size, 0);
    await eventually(
      async () => {
        const l = await tcp.client.list(cloudPrivateIPConfigType);
        return l.items.length === 1 ? true : undefined;
      },
      5000,
      "the refused CloudPrivateIPConfig to be withdrawn",
    );

    // A new worker with room: the pending IP goes there and completes.
    await kubectlNode(tcp.kubectl, {
      name: "worker-b",
      labels: { [ASSIGNABLE]: "" },
      annotations: cfg(14),
      internalIP: "10.0.128.7",
    });
    const b = await placed(tcp, "eip-b", 1);
    assert.equal(b.get("10.0.128.11"), "worker-b");
    const names = (await tcp.client.list(cloudPrivateIPConfigType)).items.map((c) => c.metadata.name).sort();
    assert.deepEqual(names, ["10.0.128.10", "10.0.128.11"]);
    assert.equal((await assignments(tcp.client, "eip-a")).get("10.0.128.10"), "worker-a", "eip-a untouched");

    // Deleting the EgressIP releases its CloudPrivateIPConfig.
    await tcp.kubectl.ok(["delete", "egressip", "eip-b"]);
    await eventually(
      async () => ((await tcp.client.list(cloudPrivateIPConfigType)).items.length === 1 ? true : undefined),
      5000,
      "CloudPrivateIPConfig of eip-b deleted",
    );
  });
});
