import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { KubeObject } from "../api/object.js";
import {
  buildNodeView,
  type ClusterSource,
  clusterStateOf,
  IncrementalNodeView,
  ViewError,
  type ViewKind,
} from "./view.js";

/** A fake informer cache: objects per kind in insertion order (an update keeps the position, as the
 *  client's cache does), immutable objects replaced on every change. */
class FakeCluster implements ClusterSource {
  nodeName = "n1";
  bridge = "br0";
  interfaces = [{ name: "eth0", address: "192.168.126.11/18" }];
  localPods: { namespace: string; name: string; ip: string }[] = [];
  readonly objs = new Map<ViewKind | "pods", Map<string, KubeObject>>();
  list(kind: ViewKind | "pods"): KubeObject[] {
    return [...(this.objs.get(kind)?.values() ?? [])];
  }
  pod(namespace: string, name: string): KubeObject | undefined {
    return this.objs.get("pods")?.get(`${namespace}/${name}`);
  }
  put(kind: ViewKind | "pods", o: KubeObject): void {
    let m = this.objs.get(kind);
    if (!m) {
      m = new Map();
      this.objs.set(kind, m);
    }
    m.set(`${o.metadata.namespace ?? ""}/${o.metadata.name}`, o);
  }
  del(kind: ViewKind | "pods", namespace: string, name: string): boolean {
    return this.objs.get(kind)?.delete(`${namespace}/${name}`) ?? false;
  }
}

const obj = (o: Record<string, unknown> & { metadata: KubeObject["metadata"] }): KubeObject =>
  ({ apiVersion: "v1", kind: "X", ...o }) as KubeObject;

function baseCluster(): FakeCluster {
  const c = new FakeCluster();
  for (let i = 1; i <= 3; i++) {
    c.put(
      "hostSubnets",
      obj({
        metadata: { name: `n${i}` },
        host: `n${i}`,
        hostIP: `192.168.126.1${i}`,
        subnet: `10.128.${i}.0/24`,
      }),
    );
    c.put(
      "nodes",
      obj({
        metadata: { name: `n${i}` },
        status: { addresses: [{ type: "InternalIP", address: `192.168.126.1${i}` }] },
      }),
    );
  }
  c.put(
    "clusterNetworks",
    obj({
      metadata: { name: "default" },
      clusterNetworks: [{ CIDR: "10.128.0.0/14" }],
      serviceNetwork: "172.30.0.0/16",
    }),
  );
  return c;
}

const NS = ["ns0", "ns1", "ns2", "ns3"];
const label = fc.constantFrom("a", "b", undefined);
const selector = fc.oneof(
  fc.constant({}),
  label.map((v) => (v ? { matchLabels: { env: v } } : {})),
  fc
    .constantFrom("a", "b")
    .map((v) => ({ matchExpressions: [{ key: "env", operator: "NotIn", values: [v] }] })),
  fc.constant({ matchExpressions: [{ key: "env", operator: "Bogus", values: [] }] }), // invalid: selects nothing
);
const podSel = fc.oneof(
  fc.constant(undefined),
  fc.constantFrom("web", "db").map((v) => ({ matchLabels: { app: v } })),
);

type Op =
  | { t: "pod"; ns: string; name: string; app?: string; ip?: string; phase: string; host: boolean }
  | { t: "delPod"; ns: string; name: string }
  | { t: "ns"; name: string; env?: string }
  | { t: "delNs"; name: string }
  | { t: "eip"; name: string; ts: number; nsSel: object; podSel?: object; holders: string[] }
  | { t: "eipStatus"; name: string; holders: string[] }
  | { t: "delEip"; name: string }
  | { t: "netns"; name: string; state?: "normal" | "dropped" | "junk" }
  | { t: "local"; ns: string; name: string; ip?: string }
  | { t: "localShuffle"; how: "reverse" | "dup" | "rotate" }
  | { t: "node"; i: number; ip: string }
  | { t: "svc"; name: string; ep: string }
  | { t: "sync" }
  | { t: "reset" };

const ipArb = fc.integer({ min: 2, max: 12 }).map((n) => `10.128.${1 + (n % 3)}.${n}`);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record(
      {
        t: fc.constant("pod" as const),
        ns: fc.constantFrom(...NS),
        name: fc.constantFrom("p0", "p1", "p2", "p3", "p4"),
        app: fc.constantFrom("web", "db", undefined),
        ip: fc.option(ipArb, { nil: undefined }),
        phase: fc.constantFrom("Running", "Running", "Succeeded"),
        host: fc.constantFrom(false, false, true),
      },
      { requiredKeys: ["t", "ns", "name", "phase", "host"] },
    ),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant("delPod" as const),
      ns: fc.constantFrom(...NS),
      name: fc.constantFrom("p0", "p1", "p2", "p3", "p4"),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record(
      { t: fc.constant("ns" as const), name: fc.constantFrom(...NS), env: label },
      { requiredKeys: ["t", "name"] },
    ),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("delNs" as const), name: fc.constantFrom(...NS) }) },
  {
    weight: 2,
    arbitrary: fc.record(
      {
        t: fc.constant("eip" as const),
        name: fc.constantFrom("e0", "e1", "e2"),
        ts: fc.integer({ min: 0, max: 3 }),
        nsSel: selector,
        podSel,
        holders: fc.subarray(["n1", "n2", "n3", "n9"]),
      },
      { requiredKeys: ["t", "name", "ts", "nsSel", "holders"] },
    ),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant("eipStatus" as const),
      name: fc.constantFrom("e0", "e1", "e2"),
      holders: fc.subarray(["n1", "n2", "n3"]),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ t: fc.constant("delEip" as const), name: fc.constantFrom("e0", "e1", "e2") }),
  },
  {
    weight: 1,
    arbitrary: fc.record(
      {
        t: fc.constant("netns" as const),
        name: fc.constantFrom(...NS),
        state: fc.constantFrom("normal", "dropped", "junk", undefined),
      },
      { requiredKeys: ["t", "name"] },
    ),
  },
  {
    weight: 3,
    arbitrary: fc.record(
      {
        t: fc.constant("local" as const),
        ns: fc.constantFrom(...NS),
        name: fc.constantFrom("p0", "p1", "p2"),
        ip: fc.option(ipArb, { nil: undefined }),
      },
      { requiredKeys: ["t", "ns", "name"] },
    ),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant("node" as const),
      i: fc.integer({ min: 2, max: 3 }),
      ip: fc.constantFrom("192.168.126.50", "192.168.126.51"),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ t: fc.constant("svc" as const), name: fc.constantFrom("s0", "s1"), ep: ipArb }),
  },
  { weight: 4, arbitrary: fc.constant({ t: "sync" as const }) },
  { weight: 1, arbitrary: fc.constant({ t: "reset" as const }) },
);

/** Applies one event to the fake cache and tells the incremental view what changed. */
function apply(c: FakeCluster, v: IncrementalNodeView, op: Op): void {
  switch (op.t) {
    case "pod":
      c.put(
        "pods",
        obj({
          metadata: { namespace: op.ns, name: op.name, labels: op.app ? { app: op.app } : {} },
          spec: op.host ? { hostNetwork: true } : {},
          status: { phase: op.phase, ...(op.ip ? { podIP: op.ip } : {}) },
        }),
      );
      v.podChanged(op.ns, op.name);
      return;
    case "delPod":
      if (c.del("pods", op.ns, op.name)) v.podChanged(op.ns, op.name);
      return;
    case "ns":
      c.put("namespaces", obj({ metadata: { name: op.name, labels: op.env ? { env: op.env } : {} } }));
      v.changed("namespaces");
      return;
    case "delNs":
      if (c.del("namespaces", "", op.name)) v.changed("namespaces");
      return;
    case "eip":
      c.put(
        "egressIPs",
        obj({
          metadata: { name: op.name, creationTimestamp: `2024-01-0${op.ts + 1}T00:00:00Z` },
          spec: { namespaceSelector: op.nsSel, ...(op.podSel ? { podSelector: op.podSel } : {}) },
          status: { items: op.holders.map((n, k) => ({ node: n, egressIP: `192.168.126.${100 + k}` })) },
        }),
      );
      v.changed("egressIPs");
      return;
    case "eipStatus": {
      const old = c.list("egressIPs").find((e) => e.metadata.name === op.name);
      if (!old) return;
      c.put("egressIPs", {
        ...old,
        status: { items: op.holders.map((n, k) => ({ node: n, egressIP: `192.168.126.${110 + k}` })) },
      });
      v.changed("egressIPs");
      return;
    }
    case "delEip":
      if (c.del("egressIPs", "", op.name)) v.changed("egressIPs");
      return;
    case "netns": {
      const st =
        op.state === "normal"
          ? JSON.stringify({
              state: "normal",
              egressIP: "192.168.126.120",
              node: "n2",
              nodeIP: "192.168.126.12",
            })
          : op.state === "dropped"
            ? JSON.stringify({ state: "dropped" })
            : op.state === "junk"
              ? "{not json"
              : undefined;
      c.put(
        "netNamespaces",
        obj({
          metadata: {
            name: op.name,
            ...(st ? { annotations: { "network.openshift.io/egress-ip-state": st } } : {}),
          },
        }),
      );
      v.changed("netNamespaces");
      return;
    }
    case "local": {
      // The kubelet hands out a new list on every call.
      const rest = c.localPods.filter((p) => !(p.namespace === op.ns && p.name === op.name));
      c.localPods = op.ip ? [...rest, { namespace: op.ns, name: op.name, ip: op.ip }] : rest;
      return;
    }
    case "localShuffle": {
      const l = [...c.localPods];
      if (op.how === "reverse") l.reverse();
      else if (op.how === "dup" && l[0]) l.push({ ...l[0], ip: "10.128.1.99" });
      else if (l.length > 0) l.push(l.shift()!);
      c.localPods = l;
      return;
    }
    case "node":
      c.put(
        "nodes",
        obj({
          metadata: { name: `n${op.i}` },
          status: { addresses: [{ type: "InternalIP", address: op.ip }] },
        }),
      );
      c.del("hostSubnets", "", `n${op.i}`);
      c.put(
        "hostSubnets",
        obj({ metadata: { name: `n${op.i}` }, host: `n${op.i}`, subnet: `10.128.${op.i}.0/24` }),
      );
      v.changed("nodes");
      v.changed("hostSubnets");
      return;
    case "svc":
      c.put(
        "services",
        obj({
          metadata: { namespace: "ns0", name: op.name },
          spec: { clusterIP: `172.30.0.${op.name === "s0" ? 10 : 11}`, ports: [{ port: 80 }] },
        }),
      );
      c.put(
        "endpoints",
        obj({
          metadata: { namespace: "ns0", name: op.name },
          subsets: [{ addresses: [{ ip: op.ep }], ports: [{ port: 8080 }] }],
        }),
      );
      v.changed("services");
      v.changed("endpoints");
      return;
    case "reset":
      v.reset();
      return;
    case "sync":
      return;
  }
}

describe("IncrementalNodeView", () => {
  it("equals the full rebuild after random event sequences (property)", () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 60 }), (ops) => {
        const c = baseCluster();
        const v = new IncrementalNodeView();
        v.view(c);
        for (const op of [...ops, { t: "sync" as const }]) {
          apply(c, v, op);
          if (op.t !== "sync") continue;
          const want = buildNodeView(clusterStateOf(c));
          assert.deepEqual(v.view(c), want);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("a pod event rebuilds only the EgressIP it joins; the others keep their objects", () => {
    const c = baseCluster();
    const v = new IncrementalNodeView();
    for (const ns of ["ns0", "ns1"]) apply(c, v, { t: "ns", name: ns, env: "a" });
    apply(c, v, {
      t: "eip",
      name: "e0",
      ts: 0,
      nsSel: { matchLabels: { env: "a" } },
      podSel: { matchLabels: { app: "web" } },
      holders: ["n2"],
    });
    apply(c, v, {
      t: "eip",
      name: "e1",
      ts: 1,
      nsSel: {},
      podSel: { matchLabels: { app: "db" } },
      holders: ["n1"],
    });
    apply(c, v, {
      t: "pod",
      ns: "ns0",
      name: "p0",
      app: "web",
      ip: "10.128.1.5",
      phase: "Running",
      host: false,
    });
    const first = v.view(c);
    apply(c, v, {
      t: "pod",
      ns: "ns1",
      name: "p1",
      app: "db",
      ip: "10.128.1.6",
      phase: "Running",
      host: false,
    });
    const second = v.view(c);
    assert.deepEqual(second, buildNodeView(clusterStateOf(c)));
    assert.equal(second.egressIPs[0], first.egressIPs[0]);
    assert.notEqual(second.egressIPs[1], first.egressIPs[1]);
    assert.deepEqual(second.egressIPs[1]!.podIPs, ["10.128.1.6"]);
  });

  it("a namespace relabel moves its pods; an EgressIP status change keeps the selection", () => {
    const c = baseCluster();
    const v = new IncrementalNodeView();
    apply(c, v, { t: "ns", name: "ns0", env: "a" });
    apply(c, v, { t: "eip", name: "e0", ts: 0, nsSel: { matchLabels: { env: "a" } }, holders: ["n2"] });
    apply(c, v, { t: "pod", ns: "ns0", name: "p0", ip: "10.128.1.5", phase: "Running", host: false });
    assert.deepEqual(v.view(c).egressIPs[0]!.podIPs, ["10.128.1.5"]);
    apply(c, v, { t: "eipStatus", name: "e0", holders: ["n3"] });
    const moved = v.view(c);
    assert.deepEqual(
      moved.egressIPs[0]!.ips.map((h) => h.node),
      ["n3"],
    );
    assert.deepEqual(moved.egressIPs[0]!.podIPs, ["10.128.1.5"]);
    apply(c, v, { t: "ns", name: "ns0", env: "b" });
    assert.deepEqual(v.view(c).egressIPs[0]!.podIPs, []);
  });

  it("the kubelet's list: appends, removals in place, large reorders and duplicates", () => {
    const c = baseCluster();
    const v = new IncrementalNodeView();
    apply(c, v, { t: "ns", name: "ns0", env: "a" });
    apply(c, v, { t: "eip", name: "e0", ts: 0, nsSel: {}, holders: ["n2"] });
    const ip = (i: number) => `10.128.1.${10 + i}`;
    for (let i = 0; i < 120; i++) {
      apply(c, v, { t: "pod", ns: "ns0", name: `q${i}`, phase: "Running", host: false });
      c.localPods.push({ namespace: "ns0", name: `q${i}`, ip: ip(i) });
    }
    const check = () => assert.deepEqual(v.view(c), buildNodeView(clusterStateOf(c)));
    check();
    c.localPods = [...c.localPods, { namespace: "ns0", name: "q200", ip: "10.128.1.250" }]; // append
    check();
    c.localPods = c.localPods.filter((p) => p.name !== "q50"); // removal in place
    check();
    c.localPods = [...c.localPods].reverse(); // more than MAX_LOCAL_DIFF entries moved
    check();
    c.localPods = [...c.localPods, { namespace: "ns0", name: "q7", ip: "10.128.1.251" }]; // a duplicate: the last wins
    check();
    assert.ok(v.view(c).egressIPs[0]!.podIPs.includes("10.128.1.251"));
    c.localPods = c.localPods.slice(0, -1); // the duplicate gone: the earlier entry counts again
    check();
    assert.ok(v.view(c).egressIPs[0]!.podIPs.includes(ip(7)));
  });

  it("a failed view (no HostSubnet for this node) rebuilds on the next call", () => {
    const c = baseCluster();
    const v = new IncrementalNodeView();
    c.del("hostSubnets", "", "n1");
    assert.throws(() => v.view(c), ViewError);
    c.put(
      "hostSubnets",
      obj({ metadata: { name: "n1" }, host: "n1", hostIP: "192.168.126.11", subnet: "10.128.1.0/24" }),
    );
    // No change was reported: the rebuild must still see the HostSubnet.
    assert.equal(v.view(c).node.podSubnet, "10.128.1.0/24");
  });
});
