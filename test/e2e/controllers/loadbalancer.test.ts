// LoadBalancer address controller with real kubectl: auto-assign pools and `a-b` ranges,
// autoAssign: false pools reachable only by annotation or spec.loadBalancerIP, bad requests and
// unknown pools as Warning Events, release on type change, pending Services served when a pool
// grows, status written only on change, and MetalLB's allocator metrics.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { LoadBalancerController } from "../../../src/controllers/loadbalancer/controller.js";
import { eventually, startTestControlPlane, type TestControlPlane } from "../support/control-plane.js";
import type { Kubectl } from "../support/kubectl.js";

const NS = "lb-test";

function pool(name: string, addresses: string[], autoAssign = true): string {
  return JSON.stringify({
    apiVersion: "metallb.io/v1beta1",
    kind: "IPAddressPool",
    metadata: { name, namespace: "metallb-system" },
    spec: { addresses, autoAssign },
  });
}

function service(
  name: string,
  spec: Record<string, unknown> = {},
  annotations: Record<string, string> = {},
): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace: NS, annotations },
    spec: { type: "LoadBalancer", selector: { app: name }, ports: [{ port: 80 }], ...spec },
  });
}

describe("LoadBalancer controller", () => {
  let cp: TestControlPlane;
  let k: Kubectl;
  const ingress = (name: string) =>
    k.ok(["get", "svc", name, "-n", NS, "-o", "jsonpath={.status.loadBalancer.ingress[*].ip}"]);
  const expectIngress = (name: string, want: string) =>
    eventually(async () => ((await ingress(name)) === want ? true : undefined), 10_000, `${name} → ${want}`);
  const expectEvent = (name: string, re: RegExp) =>
    eventually(
      async () => {
        const d = await k.ok(["describe", "svc", name, "-n", NS]);
        return re.test(d) ? d : undefined;
      },
      10_000,
      `${name} event ${re}`,
    );

  before(async () => {
    cp = await startTestControlPlane([new LoadBalancerController()]);
    k = cp.kubectl;
    await k.ok(["create", "namespace", NS]);
    await k.ok(["apply", "-f", "-"], pool("range-pool", ["10.10.0.10-10.10.0.11"]));
    await k.ok(["apply", "-f", "-"], pool("manual-pool", ["10.20.0.0/30"], false));
  });
  after(async () => {
    await cp?.stop();
  });

  test("assignment rules: auto pools, requested IPs, annotation on a manual pool", async () => {
    const table: {
      name: string;
      spec?: Record<string, unknown>;
      ann?: Record<string, string>;
      want: string;
    }[] = [
      { name: "auto-1", want: "10.10.0.10" },
      { name: "requested", spec: { loadBalancerIP: "10.20.0.2" }, want: "10.20.0.2" },
      { name: "annotated", ann: { "metallb.universe.tf/address-pool": "manual-pool" }, want: "10.20.0.0" },
      { name: "auto-2", want: "10.10.0.11" },
    ];
    for (const row of table) {
      await k.ok(["apply", "-f", "-"], service(row.name, row.spec, row.ann));
      // One at a time: "lowest free address" depends on the order the Services arrive in.
      await expectIngress(row.name, row.want);
    }
    assert.match(await k.ok(["get", "svc", "auto-1", "-n", NS]), /LoadBalancer\s+\S+\s+10\.10\.0\.10/);
  });

  test("exhausted auto pools, unknown pools and addresses outside every pool → Warning Events", async () => {
    await k.ok(["apply", "-f", "-"], service("auto-3"));
    await k.ok(
      ["apply", "-f", "-"],
      service("unknown-pool", {}, { "metallb.universe.tf/address-pool": "nope" }),
    );
    await k.ok(["apply", "-f", "-"], service("outside", { loadBalancerIP: "192.0.2.1" }));
    const table: [string, RegExp][] = [
      ["auto-3", /Warning\s+AllocationFailed.*no available IPs/],
      ["unknown-pool", /Warning\s+AllocationFailed.*unknown pool "nope"/],
      ["outside", /Warning\s+AllocationFailed.*192\.0\.2\.1 is not allowed in config/],
    ];
    for (const [name, re] of table) {
      await expectEvent(name, re);
      assert.equal(await ingress(name), "");
    }
  });

  test("a pool that grows serves pending Services", async () => {
    await k.ok(["apply", "-f", "-"], pool("range-pool", ["10.10.0.10-10.10.0.11", "192.0.2.0/30"]));
    await expectIngress("outside", "192.0.2.1");
    await expectIngress("auto-3", "192.0.2.0");
    await expectEvent("auto-3", /Normal\s+IPAllocated/);
  });

  test("type change releases the address; the next Service gets it", async () => {
    // As against Kubernetes, a ClusterIP Service may not keep its node port.
    await k.ok([
      "patch",
      "svc",
      "auto-1",
      "-n",
      NS,
      "--type=json",
      "-p",
      '[{"op":"replace","path":"/spec/type","value":"ClusterIP"},{"op":"remove","path":"/spec/ports/0/nodePort"}]',
    ]);
    await expectIngress("auto-1", "");
    await k.ok(["apply", "-f", "-"], service("auto-4"));
    await expectIngress("auto-4", "10.10.0.10");
  });

  test("status is written only on change", async () => {
    const rv = () =>
      k.ok(["get", "svc", "requested", "-n", NS, "-o", "jsonpath={.metadata.resourceVersion}"]);
    const before = await rv();
    // Wake the allocator several times: a new Service and a pool change.
    await k.ok(["apply", "-f", "-"], service("auto-5"));
    await expectIngress("auto-5", "192.0.2.2");
    await k.ok(["delete", "svc", "auto-5", "-n", NS]);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(await rv(), before);
    assert.equal(await ingress("requested"), "10.20.0.2");
  });

  test("metrics: MetalLB's allocator gauges per pool", async () => {
    const text = await eventually(
      async () => {
        const t = await cp.cp.metrics.metrics();
        return /metallb_allocator_addresses_in_use_total\{pool="manual-pool"\} 2/.test(t) ? t : undefined;
      },
      5000,
      "metrics",
    );
    assert.match(text, /metallb_allocator_addresses_total\{pool="manual-pool"\} 4/);
    assert.match(text, /metallb_allocator_addresses_total\{pool="range-pool"\} 6/);
  });
});
