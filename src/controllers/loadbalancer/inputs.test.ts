import assert from "node:assert/strict";
import { test } from "node:test";
import type { KubeObject } from "../../api/object.js";
import { concernsAllocator, ingressIPs, serviceFingerprint, toAddressPool, toLBService } from "./inputs.js";

const svc = (
  spec: Record<string, unknown>,
  annotations: Record<string, string> = {},
  ingress: { ip?: string; hostname?: string }[] = [],
): KubeObject => ({
  apiVersion: "v1",
  kind: "Service",
  metadata: { name: "s", namespace: "ns", annotations, creationTimestamp: "2024-01-01T00:00:00Z" },
  spec,
  status: { loadBalancer: { ingress } },
});

test("toLBService: requests from spec.loadBalancerIP and the annotation, pool, families", () => {
  const s = toLBService(
    svc(
      { type: "LoadBalancer", loadBalancerIP: "10.0.0.5", ipFamilies: ["IPv4", "IPv6"] },
      {
        "metallb.universe.tf/loadBalancerIPs": "10.0.0.5, fd00::5",
        "metallb.universe.tf/address-pool": "p1",
      },
      [{ ip: "10.0.0.5" }, { hostname: "lb.example" }],
    ),
  );
  assert.deepEqual(s, {
    namespace: "ns",
    name: "s",
    type: "LoadBalancer",
    currentIPs: ["10.0.0.5"],
    creationTimestamp: "2024-01-01T00:00:00Z",
    ipFamilies: ["IPv4", "IPv6"],
    requestedIPs: ["10.0.0.5", "fd00::5"],
    pool: "p1",
  });
  assert.deepEqual(toLBService(svc({})).type, "ClusterIP");
  assert.equal(
    toLBService(svc({ type: "LoadBalancer" }, { "metallb.universe.tf/address-pool": "" })).pool,
    undefined,
  );
});

test("concernsAllocator: LoadBalancers and services still holding ingress, never foreign classes", () => {
  const table: [KubeObject, boolean][] = [
    [svc({ type: "LoadBalancer" }), true],
    [svc({ type: "ClusterIP" }), false],
    [svc({ type: "ClusterIP" }, {}, [{ ip: "10.0.0.1" }]), true],
    [svc({ type: "LoadBalancer", loadBalancerClass: "other.io/lb" }), false],
  ];
  for (const [s, want] of table) assert.equal(concernsAllocator(s), want, JSON.stringify(s.spec));
  assert.deepEqual(ingressIPs(svc({}, {}, [{ hostname: "h" }])), []);
});

test("serviceFingerprint changes with what allocation reads only", () => {
  const a = svc({ type: "LoadBalancer", ports: [{ port: 80 }] });
  const b = svc({ type: "LoadBalancer", ports: [{ port: 81 }] });
  const c = svc({ type: "LoadBalancer", loadBalancerIP: "10.0.0.1" });
  assert.equal(serviceFingerprint(a), serviceFingerprint(b));
  assert.notEqual(serviceFingerprint(a), serviceFingerprint(c));
});

test("toAddressPool", () => {
  const p: KubeObject = {
    apiVersion: "metallb.io/v1beta1",
    kind: "IPAddressPool",
    metadata: { name: "p", namespace: "metallb-system" },
    spec: { addresses: ["10.0.0.0/30"], autoAssign: false },
  };
  assert.deepEqual(toAddressPool(p), { name: "p", addresses: ["10.0.0.0/30"], autoAssign: false });
});
