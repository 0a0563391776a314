// Node subnets and static per-project egress IPs end to end: the HostSubnet controller against
// `egress server`, driven with real kubectl (Nodes with addresses and Ready conditions, NetNamespace
// egressIPs, HostSubnet egressCIDRs / egressIPs).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { cidrsOverlap, parseCIDR } from "../../../src/api/ip.js";
import {
  EGRESS_IP_STATE_ANNOTATION,
  HostSubnetController,
} from "../../../src/controllers/hostsubnet/controller.js";
import { eventually, startTestControlPlane, type TestControlPlane } from "../support/control-plane.js";

const nodeYAML = (name: string) => `apiVersion: v1
kind: Node
metadata:
  name: ${name}
`;

async function addNode(tc: TestControlPlane, name: string, ip: string, ready = true): Promise<void> {
  await tc.kubectl.ok(["apply", "-f", "-"], nodeYAML(name));
  await setNode(tc, name, ip, ready);
}

async function setNode(tc: TestControlPlane, name: string, ip: string, ready: boolean): Promise<void> {
  const status = {
    status: {
      addresses: [
        { type: "InternalIP", address: ip },
        { type: "Hostname", address: name },
      ],
      conditions: [{ type: "Ready", status: ready ? "True" : "False", reason: "Test" }],
    },
  };
  await tc.kubectl.ok([
    "patch",
    "node",
    name,
    "--subresource=status",
    "--type=merge",
    "-p",
    JSON.stringify(status),
  ]);
}

async function hostSubnets(
  tc: TestControlPlane,
): Promise<Map<string, { hostIP: string; subnet: string; egressIPs: string }>> {
  const out = await tc.kubectl.ok([
    "get",
    "hostsubnets",
    "-o",
    'jsonpath={range .items[*]}{.metadata.name} {.hostIP} {.subnet} {.egressIPs}{"\\n"}{end}',
  ]);
  const m = new Map<string, { hostIP: string; subnet: string; egressIPs: string }>();
  for (const l of out.split("\n").filter((x) => x.trim() !== "")) {
    const [name, hostIP, subnet, ...rest] = l.split(" ");
    m.set(name!, { hostIP: hostIP!, subnet: subnet!, egressIPs: rest.join(" ") });
  }
  return m;
}

async function egressState(tc: TestControlPlane, ns: string): Promise<Record<string, string> | undefined> {
  const key = EGRESS_IP_STATE_ANNOTATION.replace(/\./g, "\\.");
  const raw = await tc.kubectl.ok([
    "get",
    "netnamespace",
    ns,
    "-o",
    `jsonpath={.metadata.annotations.${key}}`,
  ]);
  return raw === "" ? undefined : (JSON.parse(raw) as Record<string, string>);
}

const netNamespace = (name: string, netid: number, egressIPs: string[]) =>
  JSON.stringify({
    apiVersion: "network.openshift.io/v1",
    kind: "NetNamespace",
    metadata: { name },
    netname: name,
    netid,
    egressIPs,
  });

describe("HostSubnet controller", () => {
  let tc: TestControlPlane;
  before(async () => {
    tc = await startTestControlPlane([new HostSubnetController()], {
      options: { networkMode: "networkpolicy", egressIPReachabilityTimeoutMs: 0 },
    });
  });
  after(async () => {
    await tc?.stop();
  });

  test("ClusterNetwork default is created with OpenShift's defaults and the mode's plugin", async () => {
    const out = await eventually(
      async () => {
        const r = await tc.kubectl.run(["get", "clusternetwork", "default", "-o", "json"]);
        return r.code === 0 ? (JSON.parse(r.stdout) as Record<string, unknown>) : undefined;
      },
      10_000,
      "ClusterNetwork default",
    );
    assert.deepEqual(out.clusterNetworks, [{ CIDR: "10.128.0.0/14", hostSubnetLength: 9 }]);
    assert.equal(out.serviceNetwork, "172.30.0.0/16");
    assert.equal(out.pluginName, "redhat/openshift-ovs-networkpolicy");
  });

  test("a HostSubnet per Node, no overlap, shown with columns, deleted with the node", async () => {
    for (let i = 1; i <= 4; i++) await addNode(tc, `n${i}`, `192.168.1.${10 + i}`);
    const m = await eventually(
      async () => {
        const hs = await hostSubnets(tc);
        return hs.size === 4 ? hs : undefined;
      },
      10_000,
      "4 HostSubnets",
    );
    const cidrs = [...m.values()].map((h) => parseCIDR(h.subnet)!);
    for (const [i, a] of cidrs.entries()) {
      assert.equal(a.prefix, 23);
      assert.ok(cidrsOverlap(a, parseCIDR("10.128.0.0/14")!));
      for (const b of cidrs.slice(i + 1)) assert.ok(!cidrsOverlap(a, b), "no overlap");
    }
    assert.equal(m.get("n2")!.hostIP, "192.168.1.12");
    const table = await tc.kubectl.ok(["get", "hostsubnets"]);
    assert.match(table.split("\n")[0]!, /^NAME\s+HOST\s+HOST IP\s+SUBNET\s+EGRESS CIDRS\s+EGRESS IPS/);
    assert.match(
      table,
      new RegExp(`\\nn1\\s+n1\\s+192\\.168\\.1\\.11\\s+${m.get("n1")!.subnet.replace(/\./g, "\\.")}`),
    );
    await tc.kubectl.ok(["delete", "node", "n4"]);
    await eventually(async () => ((await hostSubnets(tc)).has("n4") ? undefined : true), 10_000, "n4 gone");
    // The freed subnet is the lowest free block again.
    await addNode(tc, "n5", "192.168.1.15");
    const after = await eventually(async () => (await hostSubnets(tc)).get("n5"), 10_000, "n5");
    assert.equal(after.subnet, m.get("n4")!.subnet);
  });

  test("automatic egress IPs: egressCIDRs place the IP on one node; NotReady moves it", async () => {
    for (const n of ["n1", "n2"])
      await tc.kubectl.ok([
        "patch",
        "hostsubnet",
        n,
        "--type=merge",
        "-p",
        '{"egressCIDRs":["192.168.1.0/24"]}',
      ]);
    await tc.kubectl.ok(["apply", "-f", "-"], netNamespace("proj-a", 100, ["192.168.1.100"]));
    const st = await eventually(
      async () => {
        const s = await egressState(tc, "proj-a");
        return s?.state === "normal" ? s : undefined;
      },
      10_000,
      "proj-a normal",
    );
    const first = st.node!;
    assert.ok(["n1", "n2"].includes(first));
    const hs = await hostSubnets(tc);
    assert.equal(hs.get(first)!.egressIPs, '["192.168.1.100"]');
    const other = first === "n1" ? "n2" : "n1";
    assert.equal(hs.get(other)!.egressIPs, "");
    assert.equal(st.nodeIP, hs.get(first)!.hostIP);

    await setNode(tc, first, hs.get(first)!.hostIP, false);
    const moved = await eventually(
      async () => {
        const s = await egressState(tc, "proj-a");
        return s?.node === other ? s : undefined;
      },
      10_000,
      "proj-a moved",
    );
    assert.equal(moved.state, "normal");
    const hs2 = await hostSubnets(tc);
    assert.equal(hs2.get(other)!.egressIPs, '["192.168.1.100"]');
    assert.equal(hs2.get(first)!.egressIPs, "");

    // Both NotReady: dropped.
    await setNode(tc, other, hs.get(other)!.hostIP, false);
    const dropped = await eventually(
      async () => {
        const s = await egressState(tc, "proj-a");
        return s?.state === "dropped" ? s : undefined;
      },
      10_000,
      "proj-a dropped",
    );
    assert.match(dropped.reason!, /not hosted|offline/);
    const ev = await eventually(
      async () => {
        const out = await tc.kubectl.ok([
          "get",
          "events",
          "-n",
          "default",
          "--field-selector",
          "involvedObject.name=proj-a,reason=EgressIPDropped",
          "-o",
          "jsonpath={.items[*].message}",
        ]);
        return out !== "" ? out : undefined;
      },
      5_000,
      "EgressIPDropped event",
    );
    assert.match(ev, /192\.168\.1\.100: .*external traffic is dropped/);
    for (const n of [first, other]) await setNode(tc, n, hs.get(n)!.hostIP, true);
    await eventually(async () => ((await egressState(tc, "proj-a"))?.state === "normal" ? true : undefined));
  });

  test("only the first NetNamespace egress IP is used; the rest gets an event", async () => {
    await tc.kubectl.ok(
      ["apply", "-f", "-"],
      netNamespace("proj-b", 101, ["192.168.1.101", "192.168.1.102"]),
    );
    const s = await eventually(
      async () => {
        const x = await egressState(tc, "proj-b");
        return x?.state === "normal" ? x : undefined;
      },
      10_000,
      "proj-b normal",
    );
    assert.equal(s.egressIP, "192.168.1.101");
    const all = [...(await hostSubnets(tc)).values()].map((h) => h.egressIPs).join(" ");
    assert.doesNotMatch(all, /192\.168\.1\.102/);
    const ev = await eventually(
      async () => {
        const out = await tc.kubectl.ok([
          "get",
          "events",
          "-n",
          "default",
          "--field-selector",
          "involvedObject.name=proj-b,reason=EgressIPsIgnored",
          "-o",
          "jsonpath={.items[*].message}",
        ]);
        return out !== "" ? out : undefined;
      },
      5_000,
      "EgressIPsIgnored event",
    );
    assert.match(ev, /ignored: 192\.168\.1\.102/);
  });

  test("manual HostSubnet.egressIPs are honoured and left as the admin wrote them", async () => {
    await tc.kubectl.ok([
      "patch",
      "hostsubnet",
      "n3",
      "--type=merge",
      "-p",
      '{"egressIPs":["192.168.1.200"]}',
    ]);
    await tc.kubectl.ok(["apply", "-f", "-"], netNamespace("proj-c", 102, ["192.168.1.200"]));
    const s = await eventually(
      async () => {
        const x = await egressState(tc, "proj-c");
        return x?.state === "normal" ? x : undefined;
      },
      10_000,
      "proj-c normal",
    );
    assert.equal(s.node, "n3");
    assert.equal(s.nodeIP, "192.168.1.13");
    await setNode(tc, "n3", "192.168.1.13", false);
    const d = await eventually(
      async () => {
        const x = await egressState(tc, "proj-c");
        return x?.state === "dropped" ? x : undefined;
      },
      10_000,
      "proj-c dropped",
    );
    assert.match(d.reason!, /n3 is offline/);
    assert.equal((await hostSubnets(tc)).get("n3")!.egressIPs, '["192.168.1.200"]', "manual list untouched");
    // No egress IP any more: the state annotation goes away.
    await tc.kubectl.ok([
      "patch",
      "netnamespace",
      "proj-c",
      "--type=json",
      "-p",
      '[{"op":"remove","path":"/egressIPs"}]',
    ]);
    await eventually(
      async () => ((await egressState(tc, "proj-c")) === undefined ? true : undefined),
      10_000,
    );
  });
});
