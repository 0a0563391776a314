// Node lifecycle through the API server with real kubectl: simulated agents post heartbeats every
// second; when one stops, its node goes Ready=Unknown after the grace period, gets the unreachable
// taints, and its pods are evicted (default toleration 0 s here) so the ReplicationController's
// replacement lands on the other Ready node. Also: taints removed when heartbeats resume, a pod's own
// tolerationSeconds, the user's NoExecute taints, Ready=False written by hand, and no evictions when
// every node goes silent at once (the control plane's outage, not the nodes').
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { after, before, describe, test } from "node:test";
import { eventType, nodeType, podType } from "../../../src/api/kinds/index.js";
import { NodeLifecycleController } from "../../../src/controllers/nodelifecycle/controller.js";
import { ReplicationControllerController } from "../../../src/controllers/workloads/replicationcontroller.js";
import { SchedulerController } from "../../../src/controllers/workloads/scheduler-controller.js";
import { eventually, startTestControlPlane, type TestControlPlane } from "../support/control-plane.js";

const NS = "lab";
const GRACE_MS = 3000;
const NODES = ["node-a", "node-b", "node-c"];
const UNREACHABLE = "node.kubernetes.io/unreachable";
const NOT_READY = "node.kubernetes.io/not-ready";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const iso = () => new Date().toISOString().replace(/\.\d+Z$/, "Z");

describe("node lifecycle: grace, taints, taint-based eviction", () => {
  let cp: TestControlPlane;
  const k = () => cp.kubectl;
  /** Nodes whose simulated agent is beating. */
  const beating = new Set<string>();
  let beater: NodeJS.Timeout | undefined;

  const beat = async (name: string) => {
    await cp.client
      .patch(
        nodeType,
        "",
        name,
        {
          status: {
            conditions: [
              {
                type: "Ready",
                status: "True",
                reason: "AgentReady",
                lastHeartbeatTime: iso(),
                lastTransitionTime: iso(),
              },
            ],
          },
        },
        "merge",
        "status",
      )
      .catch(() => undefined);
  };
  const ready = (name: string) =>
    k().ok(["get", "node", name, "-o", 'jsonpath={.status.conditions[?(@.type=="Ready")].status}']);
  const taints = async (name: string) =>
    (
      await k().ok([
        "get",
        "node",
        name,
        "-o",
        'jsonpath={range .spec.taints[*]}{.key}:{.effect}:{.timeAdded}{"\\n"}{end}',
      ])
    )
      .split("\n")
      .filter((l) => l !== "");
  const podsOn = async (selector: string) =>
    (await cp.client.list(podType, NS, selector)).items
      .filter((p) => !p.metadata.deletionTimestamp)
      .map((p) => ({ name: p.metadata.name ?? "", node: (p.spec as { nodeName?: string }).nodeName ?? "" }));
  const podExists = async (name: string) =>
    (await k().run(["get", "pod", name, "-n", NS, "-o", "name"])).code === 0;
  const events = async (reason: string) =>
    (
      await cp.client.list<{ reason: string; message: string; involvedObject: { name: string } }>(
        eventType,
        "",
      )
    ).items.filter((e) => e.reason === reason);
  const bare = (name: string, node: string, tolerations: unknown[] = []) =>
    k().ok(
      ["create", "-f", "-"],
      JSON.stringify({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name, namespace: NS, labels: { app: "bare" } },
        spec: { nodeName: node, tolerations, containers: [{ name: "c", image: "openshift/origin-pod" }] },
      }),
    );

  before(async () => {
    cp = await startTestControlPlane([
      new NodeLifecycleController({ nodeMonitorGracePeriodMs: GRACE_MS, nodeMonitorPeriodMs: 200 }),
      new ReplicationControllerController(),
      new SchedulerController(),
    ]);
    for (const name of NODES) {
      await k().ok(
        ["create", "-f", "-"],
        JSON.stringify({ apiVersion: "v1", kind: "Node", metadata: { name } }),
      );
      if (name !== "node-c") await k().ok(["label", "node", name, "site=springfield-1"]);
      beating.add(name);
      await beat(name);
    }
    beater = setInterval(() => {
      for (const n of beating) void beat(n);
    }, 1000);
    await k().ok(["create", "namespace", NS]);
  });
  after(async () => {
    if (beater) clearInterval(beater);
    await cp?.stop();
  });

  test("a silent node goes Unknown after the grace, is tainted, and its RC pod moves", async () => {
    await k().ok(
      ["apply", "-n", NS, "-f", "-"],
      [
        "apiVersion: v1",
        "kind: ReplicationController",
        "metadata: {name: router}",
        "spec:",
        "  replicas: 1",
        "  selector: {name: router}",
        "  template:",
        "    metadata: {labels: {name: router}}",
        "    spec:",
        "      nodeSelector: {site: springfield-1}",
        "      containers: [{name: c, image: openshift/origin-pod}]",
      ].join("\n"),
    );
    const [first] = await eventually(
      async () => {
        const p = await podsOn("name=router");
        return p.length === 1 && p[0]?.node ? p : undefined;
      },
      10_000,
      "the RC pod bound",
    );
    const victim = first!.node;
    const other = victim === "node-a" ? "node-b" : "node-a";
    await sleep(1500);
    assert.equal(await ready(victim), "True", "heartbeats keep the node Ready");
    assert.deepEqual(await taints(victim), []);

    beating.delete(victim);
    const stopped = Date.now();
    await eventually(async () => ((await ready(victim)) === "Unknown" ? true : undefined), 10_000, "Unknown");
    const unknownAfter = Date.now() - stopped;
    // The last beat was up to 1 s before `stopped`; the check runs every 200 ms.
    assert.ok(
      unknownAfter >= GRACE_MS - 1100 && unknownAfter < GRACE_MS + 1500,
      `Unknown after ${unknownAfter} ms`,
    );
    const t = await eventually(
      async () => {
        const x = await taints(victim);
        return x.length === 2 ? x : undefined;
      },
      5000,
      "two taints",
    );
    assert.equal(t[0], `${UNREACHABLE}:NoSchedule:`);
    assert.match(t[1] ?? "", new RegExp(`^${UNREACHABLE}:NoExecute:\\d{4}-\\d\\d-\\d\\dT`));
    const moved = await eventually(
      async () => {
        const p = await podsOn("name=router");
        return p.length === 1 && p[0]?.name !== first!.name && p[0]?.node ? p[0] : undefined;
      },
      10_000,
      "the replacement bound",
    );
    assert.equal(moved.node, other);
    assert.equal(await podExists(first!.name), false);
    process.stdout.write(
      `# heartbeats stopped → Unknown ${unknownAfter} ms → replacement bound ${Date.now() - stopped} ms\n`,
    );
    assert.ok((await events("TaintManagerEviction")).some((e) => e.involvedObject.name === first!.name));
    assert.ok((await events("NodeNotReady")).some((e) => e.involvedObject.name === victim));

    // Back: Ready, taints gone, the replacement stays where it is.
    beating.add(victim);
    await beat(victim);
    await eventually(
      async () => ((await taints(victim)).length === 0 ? true : undefined),
      5000,
      "taints removed",
    );
    assert.equal(await ready(victim), "True");
    await sleep(500);
    assert.deepEqual(
      (await podsOn("name=router")).map((p) => p.name),
      [moved.name],
    );
    await k().ok(["delete", "rc", "router", "-n", NS, "--wait=false"]);
  });

  test("tolerationSeconds: a pod's own toleration delays or prevents its eviction", async () => {
    const tol = (seconds?: number) => ({
      key: UNREACHABLE,
      operator: "Exists",
      effect: "NoExecute",
      ...(seconds !== undefined ? { tolerationSeconds: seconds } : {}),
    });
    await bare("plain", "node-c");
    await bare("two-seconds", "node-c", [tol(2)]);
    await bare("forever", "node-c", [tol()]);
    await bare("everything", "node-c", [{ operator: "Exists" }]);
    await bare("elsewhere", "node-a");
    beating.delete("node-c");
    await eventually(
      async () =>
        (await taints("node-c")).some((x) => x.startsWith(`${UNREACHABLE}:NoExecute:`)) ? true : undefined,
      10_000,
      "node-c tainted",
    );
    const tainted = Date.now();
    await eventually(async () => ((await podExists("plain")) ? undefined : true), 3000, "plain evicted");
    assert.equal(await podExists("two-seconds"), true, "still tolerated");
    await eventually(
      async () => ((await podExists("two-seconds")) ? undefined : true),
      5000,
      "two-seconds evicted",
    );
    const after = Date.now() - tainted;
    assert.ok(after >= 900 && after < 4000, `two-seconds evicted ${after} ms after the taint`);
    await sleep(500);
    assert.equal(await podExists("forever"), true);
    assert.equal(await podExists("everything"), true);
    assert.equal(await podExists("elsewhere"), true);
    beating.add("node-c");
    await beat("node-c");
    await eventually(
      async () => ((await taints("node-c")).length === 0 ? true : undefined),
      5000,
      "node-c untainted",
    );
  });

  test("the user's NoExecute taint evicts at once; Ready=False by hand gives not-ready taints", async () => {
    await k().ok(["taint", "node", "node-a", "maintenance=yes:NoExecute"]);
    await eventually(
      async () => ((await podExists("elsewhere")) ? undefined : true),
      5000,
      "elsewhere evicted",
    );
    await k().ok(["taint", "node", "node-a", "maintenance=yes:NoExecute-"]);
    assert.deepEqual(await taints("node-a"), []);

    // A node written NotReady by hand (no agent heartbeat behind it).
    await k().ok(
      ["create", "-f", "-"],
      JSON.stringify({ apiVersion: "v1", kind: "Node", metadata: { name: "node-d" } }),
    );
    await bare("on-d", "node-d");
    await k().ok([
      "patch",
      "node",
      "node-d",
      "--subresource=status",
      "--type=merge",
      "-p",
      JSON.stringify({
        status: { conditions: [{ type: "Ready", status: "False", reason: "KubeletNotReady" }] },
      }),
    ]);
    await eventually(async () => ((await podExists("on-d")) ? undefined : true), 5000, "on-d evicted");
    const t = await taints("node-d");
    assert.deepEqual(
      t.map((x) => x.split(":").slice(0, 2).join(":")),
      [`${NOT_READY}:NoSchedule`, `${NOT_READY}:NoExecute`],
    );
    // Hand-written status carries no heartbeat: it is never turned Unknown.
    await sleep(GRACE_MS + 500);
    assert.equal(await ready("node-d"), "False");
    await k().ok(["delete", "node", "node-d"]);
  });

  test("a silent node whose host refuses the agent's port keeps its pods; a reachable one does not", async () => {
    // A closed loopback port: the host answers with a reset (up, agent down).
    const srv = createServer((c) => c.destroy());
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    const port = (srv.address() as { port: number }).port;
    await new Promise((r) => srv.close(r));
    await k().ok(
      ["create", "-f", "-"],
      JSON.stringify({ apiVersion: "v1", kind: "Node", metadata: { name: "node-e" } }),
    );
    await cp.client.patch(
      nodeType,
      "",
      "node-e",
      {
        status: {
          addresses: [{ type: "InternalIP", address: "127.0.0.1" }],
          daemonEndpoints: { kubeletEndpoint: { Port: port } },
        },
      },
      "merge",
      "status",
    );
    beating.add("node-e");
    await beat("node-e");
    await bare("on-e", "node-e");
    await sleep(1200);
    beating.delete("node-e");
    await eventually(
      async () => ((await ready("node-e")) === "Unknown" ? true : undefined),
      10_000,
      "node-e Unknown",
    );
    await sleep(1500);
    assert.deepEqual(
      await taints("node-e"),
      [`${UNREACHABLE}:NoSchedule:`],
      "agent down, host up: no NoExecute",
    );
    assert.equal(await podExists("on-e"), true);
    // Something answers on the port now: the agent runs but its status does not arrive.
    const agent = createServer((c) => c.destroy());
    await new Promise<void>((r) => agent.listen(port, "127.0.0.1", r));
    try {
      await eventually(async () => ((await podExists("on-e")) ? undefined : true), 8000, "on-e evicted");
      assert.ok((await taints("node-e")).some((x) => x.startsWith(`${UNREACHABLE}:NoExecute:`)));
    } finally {
      await new Promise((r) => agent.close(r));
    }
    await k().ok(["delete", "node", "node-e"]);
  });

  test("every agent silent at once: nodes go Unknown but nothing is evicted", async () => {
    for (const n of ["node-a", "node-b", "node-c"]) await bare(`stay-${n}`, n);
    beating.clear();
    for (const n of NODES)
      await eventually(
        async () => ((await ready(n)) === "Unknown" ? true : undefined),
        10_000,
        `${n} Unknown`,
      );
    await sleep(1000);
    for (const n of NODES) {
      const t = await taints(n);
      assert.deepEqual(t, [`${UNREACHABLE}:NoSchedule:`], `${n}: NoSchedule only`);
      assert.equal(await podExists(`stay-${n}`), true, `stay-${n} kept`);
    }
    // Recovery restarts every node's grace: the nodes come back and keep their pods.
    for (const n of NODES) {
      beating.add(n);
      await beat(n);
    }
    for (const n of NODES)
      await eventually(
        async () => ((await taints(n)).length === 0 ? true : undefined),
        5000,
        `${n} untainted`,
      );
    for (const n of NODES) assert.equal(await podExists(`stay-${n}`), true);
  });
});
