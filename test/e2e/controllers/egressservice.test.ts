// The seed's EgressService example (002) end to end with real kubectl: the LoadBalancer controller
// gives the Service 172.19.0.100, the EgressService controller elects a worker, labels it, moves
// host and label when the host goes NotReady, honours externalTrafficPolicy Local and sourceIPBy
// Network, removes the label on delete; a second Service on the /32 pool gets a Warning Event and
// the address once the first Service is deleted.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { EgressServiceController } from "../../../src/controllers/egressservice/controller.js";
import { LoadBalancerController } from "../../../src/controllers/loadbalancer/controller.js";
import { eventually, startTestControlPlane, type TestControlPlane } from "../support/control-plane.js";
import type { Kubectl } from "../support/kubectl.js";
import { EXAMPLES_DIR } from "../support/server.js";

const NS = "example-namespace";
const LABEL = "egress-service.k8s.ovn.org/example-namespace-example-service";
const WORKERS = ["worker-a", "worker-b", "worker-c"];

async function setReady(k: Kubectl, node: string, ready: boolean): Promise<void> {
  const cond = {
    type: "Ready",
    status: ready ? "True" : "False",
    reason: ready ? "KubeletReady" : "KubeletNotReady",
  };
  await k.ok([
    "patch",
    "node",
    node,
    "--subresource=status",
    "--type=merge",
    "-p",
    JSON.stringify({ status: { conditions: [cond] } }),
  ]);
}

async function createNode(k: Kubectl, name: string, labels: Record<string, string>): Promise<void> {
  await k.ok(
    ["apply", "-f", "-"],
    JSON.stringify({ apiVersion: "v1", kind: "Node", metadata: { name, labels } }),
  );
  await setReady(k, name, true);
}

/** Endpoints of example-service with one ready address per given node. */
async function setEndpoints(k: Kubectl, nodes: string[]): Promise<void> {
  await k.ok(
    ["apply", "-f", "-"],
    JSON.stringify({
      apiVersion: "v1",
      kind: "Endpoints",
      metadata: { name: "example-service", namespace: NS },
      subsets: [
        {
          addresses: nodes.map((n, i) => ({ ip: `10.128.${i}.10`, nodeName: n })),
          ports: [{ name: "http", port: 8080, protocol: "TCP" }],
        },
      ],
    }),
  );
}

describe("EgressService and LoadBalancer controllers with the seed example", () => {
  let cp: TestControlPlane;
  let k: Kubectl;
  let es: EgressServiceController;
  const host = () =>
    k.ok(["get", "egressservice", "example-service", "-n", NS, "-o", "jsonpath={.status.host}"]);
  /** Nodes carrying the example's egress-service label. */
  const labelled = async () =>
    (await k.ok(["get", "nodes", "-l", LABEL, "-o", "jsonpath={.items[*].metadata.name}"]))
      .split(" ")
      .filter((s) => s !== "");
  /** Waits until status.host is `want` and exactly the nodes `labels` carry the label. */
  const expectHost = (want: string, labels: string[], what: string) =>
    eventually(
      async () => {
        const h = await host();
        const l = await labelled();
        return h === want && JSON.stringify(l) === JSON.stringify(labels) ? true : undefined;
      },
      10_000,
      what,
    );

  before(async () => {
    es = new EgressServiceController();
    cp = await startTestControlPlane([new LoadBalancerController(), es]);
    k = cp.kubectl;
    // As a user would: the seed's namespaces first (metallb-system exists already).
    await k.ok(["create", "namespace", NS]);
    await k.ok(["create", "namespace", "test-namespace"]);
    for (const w of WORKERS) await createNode(k, w, { "node-role.kubernetes.io/worker": "" });
    await createNode(k, "master-0", { "node-role.kubernetes.io/master": "" });
  });
  after(async () => {
    await cp?.stop();
  });

  test("apply 002: the Service gets 172.19.0.100 and the EgressService a worker host with the label", async () => {
    const out = await k.ok(["apply", "-f", join(EXAMPLES_DIR, "002-egress-service.yaml")]);
    assert.match(out, /egressservice.k8s.ovn.org\/example-service created/);
    await eventually(
      async () =>
        (await k.ok([
          "get",
          "svc",
          "example-service",
          "-n",
          NS,
          "-o",
          "jsonpath={.status.loadBalancer.ingress[*].ip}",
        ])) === "172.19.0.100"
          ? true
          : undefined,
      10_000,
      "ingress IP",
    );
    // No endpoints yet: no host, and the user is told why.
    await eventually(
      async () =>
        /NoEndpoints/.test(await k.ok(["describe", "egressservice", "example-service", "-n", NS]))
          ? true
          : undefined,
      10_000,
      "NoEndpoints event",
    );
    assert.equal(await host(), "");
    await setEndpoints(k, ["worker-b", "worker-c"]);
    // Least-loaded worker, ties by name; the master does not match the nodeSelector.
    await expectHost("worker-a", ["worker-a"], "host worker-a");
    const ext = await k.ok(["get", "svc", "example-service", "-n", NS]);
    assert.match(ext, /172\.19\.0\.100/);
    // The field example has no Service: no host, a Warning on it.
    const other = await k.ok(["describe", "egressservice", "test-egress-service", "-n", "test-namespace"]);
    assert.match(other, /ServiceNotFound/);
    assert.equal(
      await k.ok([
        "get",
        "egressservice",
        "test-egress-service",
        "-n",
        "test-namespace",
        "-o",
        "jsonpath={.status.host}",
      ]),
      "",
    );
  });

  test("host NotReady → another worker is elected and the label moves; Ready again → nothing moves back", async () => {
    const t0 = Date.now();
    await setReady(k, "worker-a", false);
    await expectHost("worker-b", ["worker-b"], "host worker-b");
    const elapsed = Date.now() - t0;
    assert.ok(elapsed < 10_000, `failover took ${elapsed} ms`);
    await setReady(k, "worker-a", true);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await host(), "worker-b");
    assert.deepEqual(await labelled(), ["worker-b"]);
    const ev = await k.ok(["describe", "egressservice", "example-service", "-n", NS]);
    assert.match(ev, /HostReelected.*host moved from worker-a to worker-b/);
  });

  test("a host that stops matching the nodeSelector loses the service", async () => {
    await k.ok(["label", "node", "worker-b", "node-role.kubernetes.io/worker-"]);
    await expectHost("worker-a", ["worker-a"], "host worker-a after unlabel");
    await k.ok(["label", "node", "worker-b", "node-role.kubernetes.io/worker="]);
  });

  test("externalTrafficPolicy Local → only nodes with endpoints", async () => {
    await setEndpoints(k, ["worker-c"]);
    await k.ok([
      "patch",
      "svc",
      "example-service",
      "-n",
      NS,
      "-p",
      '{"spec":{"externalTrafficPolicy":"Local"}}',
    ]);
    await expectHost("worker-c", ["worker-c"], "host worker-c (only endpoint node)");
    // The only endpoint moves to master-0, which the nodeSelector excludes: no host.
    await setEndpoints(k, ["master-0"]);
    await expectHost("", [], "no host without an eligible endpoint node");
    await eventually(
      async () =>
        /NoEligibleNode/.test(await k.ok(["describe", "egressservice", "example-service", "-n", NS]))
          ? true
          : undefined,
      10_000,
      "NoEligibleNode event",
    );
    await setEndpoints(k, ["worker-c"]);
    await expectHost("worker-c", ["worker-c"], "host worker-c again");
  });

  test("an Endpoints write that keeps the node set does not trigger a re-election; one that changes it does", async () => {
    // State from the previous test: externalTrafficPolicy Local, one endpoint on worker-c (host).
    const settle = () => new Promise((r) => setTimeout(r, 400));
    await es.idle();
    await settle();
    const before = es.electionRuns;
    // New pod IPs, a second endpoint on the same node, a not-ready address elsewhere: same nodes.
    await k.ok(
      ["apply", "-f", "-"],
      JSON.stringify({
        apiVersion: "v1",
        kind: "Endpoints",
        metadata: { name: "example-service", namespace: NS },
        subsets: [
          {
            addresses: [
              { ip: "10.128.9.10", nodeName: "worker-c" },
              { ip: "10.128.9.11", nodeName: "worker-c" },
            ],
            notReadyAddresses: [{ ip: "10.128.9.12", nodeName: "worker-a" }],
            ports: [{ name: "http", port: 8080, protocol: "TCP" }],
          },
        ],
      }),
    );
    await settle();
    await es.idle();
    assert.equal(es.electionRuns, before, "Endpoints write with the same nodes re-elected");
    // A label on the Service (nothing the election reads) does not either.
    await k.ok(["label", "svc", "example-service", "-n", NS, "churn=1"]);
    await settle();
    await es.idle();
    assert.equal(es.electionRuns, before, "Service label write re-elected");
    // Another endpoint node is a change the election must see.
    await setEndpoints(k, ["worker-c", "worker-a"]);
    await eventually(async () => (es.electionRuns > before ? true : undefined), 5_000, "a re-election");
    await expectHost("worker-c", ["worker-c"], "host kept on worker-c");
    await k.ok(["label", "svc", "example-service", "-n", NS, "churn-"]);
    await setEndpoints(k, ["worker-c"]);
  });

  test("sourceIPBy Network → host ALL and no node label", async () => {
    await k.ok([
      "patch",
      "egressservice",
      "example-service",
      "-n",
      NS,
      "--type=merge",
      "-p",
      '{"spec":{"sourceIPBy":"Network"}}',
    ]);
    await expectHost("ALL", [], "host ALL");
    await k.ok([
      "patch",
      "egressservice",
      "example-service",
      "-n",
      NS,
      "--type=merge",
      "-p",
      '{"spec":{"sourceIPBy":"LoadBalancerIP"}}',
    ]);
    await expectHost("worker-c", ["worker-c"], "host worker-c after LoadBalancerIP");
  });

  test("delete the EgressService → label removed", async () => {
    await k.ok(["delete", "egressservice", "example-service", "-n", NS]);
    await eventually(
      async () => ((await labelled()).length === 0 ? true : undefined),
      10_000,
      "label removed",
    );
    const labels = await k.ok(["get", "nodes", "-o", "jsonpath={.items[*].metadata.labels}"]);
    assert.doesNotMatch(labels, /egress-service\.k8s\.ovn\.org/);
  });

  test("pool exhaustion → Warning Event on the second Service; deleting the first frees the address", async () => {
    await k.ok(
      ["apply", "-f", "-"],
      JSON.stringify({
        apiVersion: "v1",
        kind: "Service",
        metadata: {
          name: "second-service",
          namespace: NS,
          annotations: { "metallb.universe.tf/address-pool": "example-pool" },
        },
        spec: { type: "LoadBalancer", selector: { app: "second" }, ports: [{ port: 80 }] },
      }),
    );
    const describe = await eventually(
      async () => {
        const d = await k.ok(["describe", "svc", "second-service", "-n", NS]);
        return /Warning\s+AllocationFailed/.test(d) ? d : undefined;
      },
      10_000,
      "AllocationFailed event",
    );
    assert.match(describe, /no available IPs/);
    assert.match(await k.ok(["get", "svc", "second-service", "-n", NS]), /<pending>/);
    await k.ok(["delete", "svc", "example-service", "-n", NS]);
    await eventually(
      async () =>
        (await k.ok([
          "get",
          "svc",
          "second-service",
          "-n",
          NS,
          "-o",
          "jsonpath={.status.loadBalancer.ingress[*].ip}",
        ])) === "172.19.0.100"
          ? true
          : undefined,
      10_000,
      "second service gets the freed address",
    );
    const events = await k.ok([
      "get",
      "events",
      "-n",
      NS,
      "--field-selector",
      "involvedObject.name=second-service,reason=AllocationFailed",
      "-o",
      "jsonpath={.items[*].count}",
    ]);
    assert.equal(events, "1", "the exhaustion event is recorded once, not on every sync");
  });
});
