// EgressIP on a secondary NIC (issue 4 point 4): in the default lab every node has eth1 on the
// `egress` network 192.168.12.0/24 (gateway: the lab router, 192.168.12.1), while the nodes' main
// default route goes through eth0 (192.168.126.1). An EgressIP 192.168.12.50 is placed on a node's
// eth1 by longest prefix; its pods' traffic to the outside servers (behind the router) and to ext1
// (on the host network) must leave through eth1 SNATed to 192.168.12.50 — from the holder's own pod
// and from pods on the other nodes. Without a gateway on eth1 the flows are refused (never shown with
// a node IP); with one (a low-priority default route through eth1, as a multi-homed node has) they
// leave through eth1: the servers see the egress IP (SNAT only happens out of eth1) and eth1's
// transmit counter grows with them while the main table still routes the destination via eth0.
// Brings up its own lab (random id, temporary state dir) and takes it down in `after`.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { type ConnectRecord, Lab, labSkip, type PodInfo, sh, shOk, waitFor } from "./probe.js";

const SKIP = labSkip();
const opts = { skip: SKIP, timeout: 90_000 };
const NS = "secnic";
const EIP = "192.168.12.50";
const WEB = "203.0.113.25";
const EXT1 = "192.168.126.200";
const PORT = 7000;
const NODES = ["node1", "node2", "node3"];
const NODE_IPS = [
  "192.168.126.11",
  "192.168.126.12",
  "192.168.126.13",
  "192.168.12.11",
  "192.168.12.12",
  "192.168.12.13",
];

const lab = new Lab("n");
const clients = new Map<string, PodInfo>();
let echo: PodInfo | undefined;
let holder = "";

before(async () => {
  if (SKIP) return;
  lab.up([]);
  const api = await lab.api();
  await api.request("POST", "/api/v1/namespaces", {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name: NS, labels: { egress: NS } },
  });
  await api.request("POST", "/apis/k8s.ovn.org/v1/egressips", {
    apiVersion: "k8s.ovn.org/v1",
    kind: "EgressIP",
    metadata: { name: NS },
    spec: { egressIPs: [EIP], namespaceSelector: { matchLabels: { egress: NS } } },
  });
  const pods = await Promise.all(NODES.map((n) => lab.createPod(NS, `client-${n}`, n)));
  for (const p of pods) clients.set(p.node, p);
  echo = await lab.createPod(NS, "echo", "node3", "egress/echo");
});

after(() => {
  if (SKIP) return;
  lab.down();
  lab.removeBase();
});

/** `count` connections in a row from a pod to host:PORT (each bounded by 2 s). */
async function connects(pod: PodInfo, count: number, host: string): Promise<ConnectRecord[]> {
  const p = lab.probe(pod.netns, "burst", host, PORT, count, 2000);
  await p.finished();
  return p.connects;
}

function eth1TxPackets(node: string): number {
  const j = JSON.parse(shOk(["ip", "-n", lab.ns(node), "-j", "-s", "link", "show", "eth1"])) as {
    stats64: { tx: { packets: number } };
  }[];
  return j[0]!.stats64.tx.packets;
}

test(
  "the EgressIP in 192.168.12.0/24 is placed on a node's eth1 (longest prefix over host-cidrs)",
  opts,
  async () => {
    holder = await waitFor(
      "192.168.12.50 assigned and on its holder's eth1",
      async () => {
        const items = await lab.egressIPStatus(NS);
        if (items.length !== 1) return undefined;
        const node = items[0]!.node;
        const r = sh(["ip", "-n", lab.ns(node), "-o", "-4", "addr", "show", "dev", "eth1"]);
        return r.stdout.includes(` inet ${EIP}/32 `) ? node : undefined;
      },
      30_000,
      250,
    );
    assert.deepEqual(lab.addressHolders(EIP), [holder]);
  },
);

test("without a gateway on eth1 the flows are refused, never shown with a node IP", opts, async () => {
  for (const c of clients.values()) {
    const recs = await connects(c, 3, WEB);
    const ok = recs.filter((r) => r.ok);
    assert.deepEqual(ok, [], `${c.name} on ${c.node}: ${JSON.stringify(recs)}`);
  }
  const table = sh(["ip", "-n", lab.ns(holder), "route", "show", "table", "11101"]).stdout;
  assert.match(table, /^unreachable default proto 201/m, table);
  assert.match(table, /^192\.168\.12\.0\/24 dev eth1 proto 201/m, table);
});

test(
  "with a gateway on eth1: every selected pod is seen as 192.168.12.50 and the flows leave through eth1",
  opts,
  async () => {
    // A multi-homed node's second default route: higher metric, so the main table still prefers eth0.
    for (const n of NODES)
      shOk([
        "ip",
        "-n",
        lab.ns(n),
        "route",
        "add",
        "default",
        "via",
        "192.168.12.1",
        "dev",
        "eth1",
        "metric",
        "500",
      ]);
    assert.match(shOk(["ip", "-n", lab.ns(holder), "route", "get", WEB]), /dev eth0/);
    // The agent reads its interfaces and routes every second and then rewrites the NIC's table; give
    // it time (without failing here: the assertions below show what the servers saw).
    await waitFor(
      "the holder's pod to be seen as the egress IP",
      async () => (await connects(clients.get(holder)!, 1, WEB))[0]?.src === EIP,
      20_000,
      250,
    ).catch(() => undefined);
    const txBefore = eth1TxPackets(holder);
    let total = 0;
    for (const c of clients.values()) {
      for (const host of [WEB, EXT1]) {
        const recs = await connects(c, 5, host);
        total += recs.length;
        assert.deepEqual(
          recs.map((r) => (r.ok ? r.src : r.err)),
          Array(5).fill(EIP),
          `${c.name} on ${c.node} (${c.node === holder ? "holder" : "remote"}) → ${host}`,
        );
      }
    }
    // Each connection sends at least SYN, ACK and FIN out of the holder's eth1.
    const sent = eth1TxPackets(holder) - txBefore;
    assert.ok(sent >= 3 * total, `eth1 sent ${sent} packets for ${total} connections`);
    assert.match(
      sh(["ip", "-n", lab.ns(holder), "route", "show", "table", "11101"]).stdout,
      /^default via 192\.168\.12\.1 dev eth1 proto 201/m,
    );
    assert.ok(!NODE_IPS.includes(EIP));
  },
);

test("pod → pod across nodes keeps the client pod's address", opts, async () => {
  for (const c of clients.values()) {
    if (c.node === echo!.node) continue;
    const recs = await connects(c, 3, echo!.ip);
    assert.deepEqual(
      recs.map((r) => (r.ok ? r.src : r.err)),
      Array(3).fill(c.ip),
      `${c.name} on ${c.node} → echo on ${echo!.node}`,
    );
  }
});
