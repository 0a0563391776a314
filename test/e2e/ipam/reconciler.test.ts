// The Whereabouts reconciler controller against the in-process API server, driven with kubectl: the
// schedule from ConfigMap openshift-multus/whereabouts-config (the seed's `*/15 * * * *`), a six-field
// expression rejected with a Warning Event while the previous schedule stays, a run on schedule
// (with a clock set just before a minute boundary), prompt release on pod deletion, and
// `egress ipam reconcile` printing what it removed.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { ipPoolType, overlappingRangeIPReservationType, podType } from "../../../src/api/kinds/index.js";
import type { KubeObject } from "../../../src/api/object.js";
import { IpamReconcilerController } from "../../../src/controllers/ipam/controller.js";
import { eventually, startTestControlPlane, type TestControlPlane } from "../support/control-plane.js";
import { EXAMPLES_DIR } from "../support/server.js";

/** Runs the CLI asynchronously: the API server lives in this process and must keep serving. */
function egress(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { encoding: "utf8" }, (err, stdout, stderr) => {
      resolve({ status: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout, stderr });
    });
  });
}
const CLI = fileURLToPath(new URL("../../../src/cli/ipam-entry.js", import.meta.url));
const NS = "kube-system";
// The controller's clock, moved by the test to 5 s before a minute boundary so that `* * * * *`
// fires 5 s later.
let offset = 0;
const justBeforeMinute = () => {
  offset = (((55_000 - (Date.now() % 60_000)) % 60_000) + 60_000) % 60_000;
};

describe("ipam reconciler controller", { timeout: 60_000 }, () => {
  let tcp: TestControlPlane;
  const ctl = new IpamReconcilerController({ graceMs: 0, now: () => Date.now() + offset });
  before(async () => {
    tcp = await startTestControlPlane([ctl]);
  });
  after(async () => {
    await tcp?.stop();
  });

  const pool = (name: string, allocations: Record<string, { id: string; podref: string; ifname: string }>) =>
    tcp.client.create(ipPoolType, {
      apiVersion: "whereabouts.cni.cncf.io/v1alpha1",
      kind: "IPPool",
      metadata: { name, namespace: NS },
      spec: { range: "10.9.0.0/24", allocations },
    } as KubeObject);
  const reservation = (name: string, containerid: string, podref: string) =>
    tcp.client.create(overlappingRangeIPReservationType, {
      apiVersion: "whereabouts.cni.cncf.io/v1alpha1",
      kind: "OverlappingRangeIPReservation",
      metadata: { name, namespace: NS },
      spec: { containerid, podref, ifname: "net1" },
    } as KubeObject);
  const pod = (name: string, ips: string[]) =>
    tcp.client.create(podType, {
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name,
        namespace: "default",
        annotations: {
          "k8s.v1.cni.cncf.io/network-status": JSON.stringify([
            { name: "default/n", interface: "net1", ips },
          ]),
        },
      },
      spec: { containers: [{ name: "c", image: "busybox" }] },
    } as KubeObject);
  const allocations = async (name: string) =>
    Object.keys(
      ((await tcp.client.get<KubeObject>(ipPoolType, NS, name)).spec as { allocations: object }).allocations,
    );
  const events = (reason: string) =>
    tcp.kubectl.ok([
      "get",
      "events",
      "-n",
      "openshift-multus",
      "-o",
      `jsonpath={range .items[?(@.reason=="${reason}")]}{.message}{"\\n"}{end}`,
    ]);

  it("reads the schedule from the seed's ConfigMap; a six-field expression is rejected with an Event", async () => {
    assert.equal(ctl.expression, "30 4 * * *", "upstream default before the ConfigMap exists");
    const seed = await readFile(join(EXAMPLES_DIR, "003-ipam.yaml"), "utf8");
    const cm = seed.slice(seed.indexOf("apiVersion: v1\nkind: ConfigMap"));
    await tcp.kubectl.ok(["apply", "-f", "-"], cm);
    await eventually(() => (ctl.expression === "*/15 * * * *" ? true : undefined), 10_000, "schedule */15");
    const min = ctl.nextRun?.getUTCMinutes();
    assert.ok(min !== undefined && min % 15 === 0, `next run ${ctl.nextRun?.toISOString()}`);

    await tcp.kubectl.ok([
      "patch",
      "configmap",
      "whereabouts-config",
      "-n",
      "openshift-multus",
      "--type=merge",
      "-p",
      '{"data":{"reconciler_cron_expression":"0 */15 * * * *"}}',
    ]);
    const warning = await eventually(
      async () => {
        const out = (await events("InvalidCronExpression")).trim();
        return out === "" ? undefined : out;
      },
      10_000,
      "InvalidCronExpression event",
    );
    assert.match(
      warning,
      /"0 \*\/15 \* \* \* \*".*6 fields.*seconds.*keeping the schedule "\*\/15 \* \* \* \*"/,
    );
    assert.equal(ctl.expression, "*/15 * * * *");
  });

  it("runs on schedule without restart and removes allocations of gone pods", async () => {
    await pod("alive", ["10.9.0.2"]);
    await pool("n-10.9.0.0-24", {
      "2": { id: "c-alive", podref: "default/alive", ifname: "net1" },
      "3": { id: "c-gone", podref: "default/gone", ifname: "net1" },
    });
    await reservation("n-10.9.0.2", "c-alive", "default/alive");
    await reservation("n-10.9.0.3", "c-gone", "default/gone");
    const runs = ctl.runs;
    justBeforeMinute();
    await tcp.kubectl.ok([
      "patch",
      "configmap",
      "whereabouts-config",
      "-n",
      "openshift-multus",
      "--type=merge",
      "-p",
      '{"data":{"reconciler_cron_expression":"* * * * *"}}',
    ]);
    // The pool entry is removed first and its reservation right after: wait for both.
    await eventually(
      async () =>
        (await allocations("n-10.9.0.0-24")).length === 1 &&
        (await tcp.client.list(overlappingRangeIPReservationType, NS)).items.length === 1
          ? true
          : undefined,
      20_000,
      "cron run",
    );
    assert.ok(ctl.runs > runs);
    assert.deepEqual(await allocations("n-10.9.0.0-24"), ["2"]);
    const res = (await tcp.client.list(overlappingRangeIPReservationType, NS)).items.map(
      (r) => r.metadata.name,
    );
    assert.deepEqual(res.sort(), ["n-10.9.0.2"]);
    // Back to a daily schedule so the next test sees only the pod-deletion path.
    await tcp.kubectl.ok([
      "patch",
      "configmap",
      "whereabouts-config",
      "-n",
      "openshift-multus",
      "--type=merge",
      "-p",
      '{"data":{"reconciler_cron_expression":"30 4 * * *"}}',
    ]);
    await eventually(() => (ctl.expression === "30 4 * * *" ? true : undefined), 10_000, "daily schedule");
  });

  it("frees a deleted pod's addresses at once", async () => {
    await tcp.kubectl.ok(["delete", "pod", "alive", "-n", "default"]);
    // The pool entry goes first, its reservation right after (reservations outlive allocations).
    await eventually(
      async () =>
        (await allocations("n-10.9.0.0-24")).length === 0 &&
        (await tcp.client.list(overlappingRangeIPReservationType, NS)).items.length === 0
          ? true
          : undefined,
      10_000,
      "prompt release of the allocation and its reservation",
    );
    assert.deepEqual((await tcp.client.list(overlappingRangeIPReservationType, NS)).items, []);
  });

  it("`egress ipam reconcile` runs once and prints what it removed", async () => {
    await pod("p1", ["10.9.1.9"]); // lists another address than the one it holds
    await pool("m-10.9.0.0-24", {
      "5": { id: "c1", podref: "default/p1", ifname: "net1" },
      "6": { id: "c2", podref: "default/nobody", ifname: "net1" },
    });
    const r = await egress([
      "ipam",
      "reconcile",
      "--kubeconfig",
      tcp.srv.kubeconfigPath,
      "--grace-period",
      "0",
    ]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(
      r.stdout,
      /removed IPPool kube-system\/m-10\.9\.0\.0-24 10\.9\.0\.5 \(pod default\/p1, container c1, net1\): not-in-network-status/,
    );
    assert.match(
      r.stdout,
      /removed IPPool kube-system\/m-10\.9\.0\.0-24 10\.9\.0\.6 \(pod default\/nobody, container c2, net1\): pod-gone/,
    );
    assert.match(r.stdout, /2 allocation\(s\), 0 reservation\(s\) removed/);
    assert.deepEqual(await allocations("m-10.9.0.0-24"), []);
    const bad = await egress([
      "ipam",
      "reconcile",
      "--kubeconfig",
      tcp.srv.kubeconfigPath,
      "--grace-period",
      "x",
    ]);
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /--grace-period: "x"/);
  });
});
