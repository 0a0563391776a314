// The lab's workload controllers through the API server with real kubectl: the seed's
// ReplicationController (applied unchanged) keeps its pod on the labelled Ready node, replaces a
// deleted pod and follows scaling; an unmatched nodeSelector gives FailedScheduling; Endpoints follow
// pod IPs and readiness; a new namespace gets the project template's two NetworkPolicies.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { eventType } from "../../../src/api/kinds/index.js";
import { EndpointsController } from "../../../src/controllers/workloads/endpoints.js";
import { ProjectTemplateController } from "../../../src/controllers/workloads/project-template.js";
import { ReplicationControllerController } from "../../../src/controllers/workloads/replicationcontroller.js";
import { SchedulerController } from "../../../src/controllers/workloads/scheduler-controller.js";
import { eventually, startTestControlPlane, type TestControlPlane } from "../support/control-plane.js";
import { EXAMPLES_DIR } from "../support/server.js";

const NS = "lab";
const RC = "egress-demo-controller";

describe("workload controllers", () => {
  let cp: TestControlPlane;
  const k = () => cp.kubectl;
  const rcPods = async () => {
    const out = await k().ok([
      "get",
      "pods",
      "-n",
      NS,
      "-l",
      "name=egress-demo",
      "-o",
      'jsonpath={range .items[*]}{.metadata.name} {.spec.nodeName} {.metadata.ownerReferences[0].name} {.metadata.ownerReferences[0].controller} {.metadata.deletionTimestamp}{"\\n"}{end}',
    ]);
    return out
      .trim()
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => l.split(" "))
      .filter((f) => (f[4] ?? "") === "")
      .map(([name = "", node = "", owner = "", controller = ""]) => ({ name, node, owner, controller }));
  };
  const eventsFor = async (name: string, reason: string) => {
    const list = await cp.client.list<{ reason: string; message: string; involvedObject: { name: string } }>(
      eventType,
      NS,
    );
    return list.items.filter((e) => e.involvedObject.name === name && e.reason === reason);
  };

  before(async () => {
    cp = await startTestControlPlane([
      new ReplicationControllerController(),
      new SchedulerController(),
      new EndpointsController(),
      new ProjectTemplateController(),
    ]);
    for (const [name, labels] of [
      ["node-a", "site=springfield-1"],
      ["node-b", "site=shelbyville"],
    ] as const) {
      await k().ok(
        ["create", "-f", "-"],
        JSON.stringify({ apiVersion: "v1", kind: "Node", metadata: { name } }),
      );
      await k().ok(["label", "node", name, labels]);
      await k().ok([
        "patch",
        "node",
        name,
        "--subresource=status",
        "--type=merge",
        "-p",
        JSON.stringify({ status: { conditions: [{ type: "Ready", status: "True" }] } }),
      ]);
    }
    await k().ok(["create", "namespace", NS]);
  });
  after(async () => {
    await cp?.stop();
  });

  test("the seed RC gets one pod, bound to the node labelled site=springfield-1", async () => {
    await k().ok(["apply", "-n", NS, "-f", join(EXAMPLES_DIR, "004-egress-router-modes.yaml")]);
    const pods = await eventually(
      async () => {
        const p = await rcPods();
        return p.length === 1 && p[0]?.node ? p : undefined;
      },
      10_000,
      "one bound RC pod",
    );
    assert.equal(pods[0]?.node, "node-a");
    assert.equal(pods[0]?.owner, RC);
    assert.equal(pods[0]?.controller, "true");
    assert.match(pods[0]?.name ?? "", new RegExp(`^${RC}-[a-z0-9]{5}$`));
    // The seed's standalone pods are scheduled too; egress-1 only fits node-a.
    const node = await k().ok(["get", "pod", "egress-1", "-n", NS, "-o", "jsonpath={.spec.nodeName}"]);
    assert.equal(node, "node-a");
    await eventually(
      async () =>
        (await k().ok(["get", "rc", RC, "-n", NS, "-o", "jsonpath={.status.replicas}"])) === "1"
          ? true
          : undefined,
      5000,
      "status.replicas=1",
    );
    assert.ok((await eventsFor(pods[0]?.name ?? "", "Scheduled")).length === 1);
  });

  test("a deleted pod is replaced", async () => {
    const [old] = await rcPods();
    await k().ok(["delete", "pod", old?.name ?? "", "-n", NS, "--wait=false"]);
    const now = await eventually(
      async () => {
        const p = await rcPods();
        return p.length === 1 && p[0]?.name !== old?.name && p[0]?.node ? p : undefined;
      },
      10_000,
      "a replacement pod",
    );
    assert.equal(now[0]?.node, "node-a");
  });

  test("scaling up and down: pods follow spec.replicas", async () => {
    await k().ok(["patch", "rc", RC, "-n", NS, "--type=merge", "-p", '{"spec":{"replicas":3}}']);
    await eventually(async () => ((await rcPods()).length === 3 ? true : undefined), 10_000, "3 pods");
    await eventually(
      async () =>
        (await k().ok(["get", "rc", RC, "-n", NS, "-o", "jsonpath={.status.replicas}"])) === "3"
          ? true
          : undefined,
      5000,
      "status.replicas=3",
    );
    // Stays at 3 (no extra pods from event bursts).
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await rcPods()).length, 3);
    await k().ok(["patch", "rc", RC, "-n", NS, "--type=merge", "-p", '{"spec":{"replicas":1}}']);
    await eventually(async () => ((await rcPods()).length === 1 ? true : undefined), 10_000, "1 pod");
  });

  test("a pod whose nodeSelector matches no node gets FailedScheduling, once", async () => {
    await k().ok(
      ["create", "-n", NS, "-f", "-"],
      JSON.stringify({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "nowhere" },
        spec: { nodeSelector: { site: "ogdenville" }, containers: [{ name: "c", image: "busybox" }] },
      }),
    );
    const evs = await eventually(
      async () => {
        const e = await eventsFor("nowhere", "FailedScheduling");
        return e.length > 0 ? e : undefined;
      },
      5000,
      "FailedScheduling event",
    );
    assert.equal(
      evs[0]?.message,
      "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector.",
    );
    // Unrelated pod churn does not repeat the event.
    await k().ok(["label", "pod", "nowhere", "-n", NS, "touched=yes"]);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await eventsFor("nowhere", "FailedScheduling")).length, 1);
    assert.equal(await k().ok(["get", "pod", "nowhere", "-n", NS, "-o", "jsonpath={.spec.nodeName}"]), "");
    // A matching node appears → bound.
    await k().ok(["label", "node", "node-b", "site=ogdenville", "--overwrite"]);
    await eventually(
      async () =>
        (await k().ok(["get", "pod", "nowhere", "-n", NS, "-o", "jsonpath={.spec.nodeName}"])) === "node-b"
          ? true
          : undefined,
      5000,
      "pod bound after relabel",
    );
  });

  test("Endpoints follow pod IPs and readiness", async () => {
    const ep = () =>
      k().ok([
        "get",
        "endpoints",
        "egress-http-proxy",
        "-n",
        NS,
        "-o",
        "jsonpath={.subsets[*].addresses[*].ip}|{.subsets[*].notReadyAddresses[*].ip}|{.subsets[*].ports[*].port}|{.subsets[*].addresses[*].targetRef.name}|{.subsets[*].addresses[*].nodeName}",
      ]);
    const setStatus = (status: unknown) =>
      k().ok([
        "patch",
        "pod",
        "egress-http-proxy",
        "-n",
        NS,
        "--subresource=status",
        "--type=merge",
        "-p",
        JSON.stringify({ status }),
      ]);
    const node = await eventually(async () => {
      const n = await k().ok([
        "get",
        "pod",
        "egress-http-proxy",
        "-n",
        NS,
        "-o",
        "jsonpath={.spec.nodeName}",
      ]);
      return n || undefined;
    });
    await setStatus({ podIP: "10.128.0.5", conditions: [{ type: "Ready", status: "True" }] });
    await eventually(
      async () => ((await ep()) === `10.128.0.5||8080|egress-http-proxy|${node}` ? true : undefined),
      5000,
      "ready endpoint",
    );
    await setStatus({ podIP: "10.128.0.5", conditions: [{ type: "Ready", status: "False" }] });
    await eventually(
      async () => ((await ep()) === "|10.128.0.5|8080||" ? true : undefined),
      5000,
      "not ready",
    );
    await setStatus({ podIP: "10.128.0.9", conditions: [{ type: "Ready", status: "True" }] });
    await eventually(
      async () => ((await ep()) === `10.128.0.9||8080|egress-http-proxy|${node}` ? true : undefined),
      5000,
      "new IP",
    );
    await k().ok(["delete", "service", "egress-http-proxy", "-n", NS]);
    await eventually(
      async () =>
        (await k().run(["get", "endpoints", "egress-http-proxy", "-n", NS])).code !== 0 ? true : undefined,
      5000,
      "endpoints deleted with the service",
    );
  });

  test("a new namespace gets the project template's policies; system namespaces do not", async () => {
    await eventually(async () =>
      (await k().run(["get", "configmap", "project-template", "-n", "openshift-config"])).code === 0
        ? true
        : undefined,
    );
    await k().ok(["create", "namespace", "proj1"]);
    await k().ok(["create", "namespace", "kube-extra"]);
    const names = await eventually(async () => {
      const out = await k().ok([
        "get",
        "networkpolicy",
        "-n",
        "proj1",
        "-o",
        "jsonpath={.items[*].metadata.name}",
      ]);
      return out.split(" ").length === 2 ? out : undefined;
    });
    assert.equal(names, "allow-from-default-namespace allow-from-same-namespace");
    const sel = await k().ok([
      "get",
      "networkpolicy",
      "allow-from-default-namespace",
      "-n",
      "proj1",
      "-o",
      "jsonpath={.spec.ingress[0].from[0].namespaceSelector.matchLabels.name}",
    ]);
    assert.equal(sel, "default");
    // Deleting a template policy is the user's choice: it is not recreated.
    await k().ok(["delete", "networkpolicy", "allow-from-same-namespace", "-n", "proj1"]);
    await k().ok(["label", "namespace", "proj1", "touched=yes"]);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(
      await k().ok(["get", "networkpolicy", "-n", "proj1", "-o", "jsonpath={.items[*].metadata.name}"]),
      "allow-from-default-namespace",
    );
    assert.equal(
      await k().ok(["get", "networkpolicy", "-n", "kube-extra", "-o", "jsonpath={.items[*].metadata.name}"]),
      "",
    );
  });
});
