// Seed 003's secondary networks in the lab (root): `lab up --example seed` with its own lab id applies
// examples/seed/003-ipam.yaml unchanged and starts default/multinet with every attachment in it. Checked
// with real packets and real servers: the network-status annotation lists each attachment with its
// addresses (and the pod's interfaces carry them); static-net's 191.168.1.7 reaches the gateway host
// 191.168.1.1; dhcp-net's lease comes from the lab's dnsmasq, is in its lease file, gets renewed and is
// released when the pod is deleted; whereabouts-net hands out addresses of 192.0.2.192/27 outside the
// excluded ones and carries traffic between pods on different nodes; tenant-a and tenant-b hand out
// the same address (separate pools by network_name); dual-stack gets both families. Tests run in order
// and share the lab; `after` runs `lab down` also when a test fails, and checks nothing is left.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { podNetnsName } from "../../../src/lab/names.js";
import type { LabStatus } from "../../../src/lab/status.js";
import { labNamespaces, nodeIn, tcpProbe } from "./helpers.js";
import { Lab, labSkip, type PodInfo, sh, waitFor } from "./probe.js";

const SKIP = labSkip();
const opts = { skip: SKIP, timeout: 30_000 };
const lab = new Lab("s");
const NETWORKS = ["static-net", "dhcp-net", "whereabouts-net", "tenant-a", "tenant-b", "dual-stack"];

interface NetworkStatus {
  name: string;
  interface: string;
  ips: string[];
  mac?: string;
  dns?: Record<string, unknown>;
  default?: boolean;
}

let status: LabStatus | undefined;
let multinet: PodInfo | undefined;
let peer: PodInfo | undefined;
let attachments: NetworkStatus[] = [];
let peerAttachments: NetworkStatus[] = [];

interface PodView {
  node: string;
  phase: string;
  networkStatus: NetworkStatus[];
}

/** The pod as the API has it (no `lab status` per poll: that spawns a CLI loading the API client). */
async function getPod(name: string): Promise<PodView | undefined> {
  const pod = await (await lab.api())
    .request<{
      metadata?: { annotations?: Record<string, string> };
      spec?: { nodeName?: string };
      status?: { phase?: string };
    }>("GET", `/api/v1/namespaces/default/pods/${name}`)
    .catch(() => undefined);
  if (!pod) return undefined;
  const text = pod.metadata?.annotations?.["k8s.v1.cni.cncf.io/network-status"];
  return {
    node: pod.spec?.nodeName ?? "",
    phase: pod.status?.phase ?? "",
    networkStatus: text ? (JSON.parse(text) as NetworkStatus[]) : [],
  };
}

/** Waits until the pod runs and its network-status lists `count` entries (cluster network included). */
async function readyPod(
  name: string,
  count: number,
): Promise<{ pod: PodInfo; attachments: NetworkStatus[] }> {
  const v = await waitFor(
    `default/${name} Running with ${count} network-status entries`,
    async () => {
      const p = await getPod(name);
      return p && p.phase === "Running" && p.networkStatus.length === count ? p : undefined;
    },
    60_000,
    250,
  );
  return {
    pod: {
      namespace: "default",
      name,
      node: v.node,
      ip: "",
      phase: v.phase,
      netns: podNetnsName(lab.id, "default", name),
    },
    attachments: v.networkStatus.slice(1),
  };
}

const v4 = (s: string): number => s.split(".").reduce((a, o) => a * 256 + Number(o), 0);
const inV4 = (ip: string, cidr: string): boolean => {
  const [net, len] = cidr.split("/") as [string, string];
  const size = 2 ** (32 - Number(len));
  return ip.includes(".") && Math.floor(v4(ip) / size) === Math.floor(v4(net) / size);
};
const byName = (list: NetworkStatus[], net: string): NetworkStatus => {
  const s = list.find((x) => x.name === `default/${net}`);
  assert.ok(s, `no network-status entry for default/${net}: ${JSON.stringify(list)}`);
  return s;
};

/** Global addresses of `dev` in a network namespace, "addr/len". */
function addrs(netns: string, dev: string): string[] {
  const r = sh(["ip", "-j", "-n", netns, "addr", "show", "dev", dev]);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { addr_info: { local: string; prefixlen: number; scope: string }[] }[])
    .flatMap((l) => l.addr_info)
    .filter((a) => a.scope === "global")
    .map((a) => `${a.local}/${a.prefixlen}`);
}

/** dnsmasq lease file lines: `<expiry> <mac> <ip> <hostname> <client-id>`. */
function leases(file: string): { expiry: number; mac: string; ip: string }[] {
  const text = existsSync(file) ? readFileSync(file, "utf8") : "";
  return text
    .split("\n")
    .filter(Boolean)
    .map((l) => {
      const [expiry, mac, ip] = l.split(" ");
      return { expiry: Number(expiry), mac: mac ?? "", ip: ip ?? "" };
    });
}

const dhcpHost = () => {
  const h = status?.secondaryNetworks.find((n) => n.name === "dhcp-net")?.hosts.find((x) => x.dhcp);
  assert.ok(h?.dhcp, `no DHCP host on dhcp-net in ${JSON.stringify(status?.secondaryNetworks)}`);
  return { ...h, dhcp: h.dhcp };
};

before(
  async () => {
    if (SKIP) return;
    lab.up(["--example", "seed"]);
    status = lab.status();
    // A peer on another node than multinet's (the scheduler's choice) with only whereabouts-net
    // (static-net's address is fixed: one pod only). Created at once, so both come up together.
    const node = await waitFor(
      "default/multinet scheduled",
      async () => (await getPod("multinet"))?.node,
      30_000,
      100,
    );
    const other = ["node1", "node2", "node3"].find((n) => n !== node)!;
    await (await lab.api()).request("POST", "/api/v1/namespaces/default/pods", {
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name: "wbpeer",
        namespace: "default",
        annotations: { "k8s.v1.cni.cncf.io/networks": "whereabouts-net" },
      },
      spec: { nodeName: other, containers: [{ name: "main", image: "egress/client" }] },
    });
    const [m, p] = await Promise.all([readyPod("multinet", 1 + NETWORKS.length), readyPod("wbpeer", 2)]);
    ({ pod: multinet, attachments } = m);
    ({ pod: peer, attachments: peerAttachments } = p);
  },
  { timeout: 150_000 },
);

after(
  () => {
    if (SKIP) return;
    const down = lab.down();
    lab.removeBase();
    assert.equal(down.code, 0, `lab down: ${down.stderr}`);
    assert.deepEqual(labNamespaces(lab.id), [], "lab down leaves no namespace of the lab");
  },
  { timeout: 90_000 },
);

test(
  "network-status lists every attachment of 003-ipam.yaml, and the pod's interfaces carry the addresses",
  opts,
  () => {
    assert.deepEqual(
      attachments.map((a) => [a.name, a.interface]),
      NETWORKS.map((n, i) => [`default/${n}`, `net${i + 1}`]),
    );
    for (const a of attachments) {
      assert.ok(a.ips.length > 0, `${a.name} has no address`);
      assert.match(a.mac ?? "", /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/, a.name);
      const have = addrs(multinet!.netns, a.interface).map((x) => x.split("/")[0]);
      for (const ip of a.ips)
        assert.ok(have.includes(ip), `${a.name}: ${ip} not on ${a.interface} (${have})`);
    }
    const st = byName(attachments, "static-net");
    assert.deepEqual(st.ips, ["191.168.1.7"]);
    assert.deepEqual(st.dns, {
      nameservers: ["191.168.1.1"],
      domain: "example.com",
      search: ["example.com"],
    });
  },
);

test("whereabouts-net: addresses of 192.0.2.192/27 without the excluded ones", opts, () => {
  const excluded = ["192.0.2.192", "192.0.2.193", "192.0.2.194", "192.0.2.195", "192.0.2.196"];
  const mine = byName(attachments, "whereabouts-net").ips;
  const theirs = byName(peerAttachments, "whereabouts-net").ips;
  for (const ip of [...mine, ...theirs]) {
    assert.ok(inV4(ip, "192.0.2.192/27"), `${ip} outside the range`);
    assert.ok(!excluded.includes(ip) && ip !== "192.0.2.223", `${ip} is excluded or the broadcast address`);
  }
  assert.notEqual(mine[0], theirs[0], "two pods, two addresses");
  // Nothing else uses this pool: the two pods hold the two lowest usable addresses.
  assert.deepEqual([...mine, ...theirs].sort(), ["192.0.2.197", "192.0.2.198"]);
});

test("tenant-a and tenant-b hand out the same address (separate pools by network_name)", opts, () => {
  const a = byName(attachments, "tenant-a").ips;
  const b = byName(attachments, "tenant-b").ips;
  assert.equal(a.length, 1);
  assert.ok(inV4(a[0]!, "192.168.2.224/28"), a[0]);
  // With one pool both would be taken from it (.225 and .226); independent pools both start at .225.
  assert.deepEqual(a, ["192.168.2.225"]);
  assert.deepEqual(b, a);
});

test("dual-stack gets an IPv4 and an IPv6 address", opts, () => {
  const ips = byName(attachments, "dual-stack").ips;
  assert.equal(ips.length, 2, JSON.stringify(ips));
  assert.ok(inV4(ips[0]!, "192.168.10.0/24"), ips[0]);
  assert.match(ips[1]!, /^fd00:10::[0-9a-f:]+$/);
});

test("static-net: 191.168.1.7 reaches the gateway host 191.168.1.1", opts, () => {
  const host = status?.secondaryNetworks.find((n) => n.name === "static-net")?.hosts[0];
  assert.equal(host?.address, "191.168.1.1/24");
  const r = nodeIn(multinet!.netns, tcpProbe("191.168.1.1", 7000));
  // The echo server reports the source it saw: the static address, over net1.
  assert.match(r.stdout, /^191\.168\.1\.7:\d+$/, `${r.stdout} ${r.stderr}`);
});

test("whereabouts-net: pods on different nodes reach each other over the secondary network", opts, () => {
  assert.notEqual(peer!.node, multinet!.node);
  const target = byName(attachments, "whereabouts-net").ips[0]!;
  const src = byName(peerAttachments, "whereabouts-net").ips[0]!;
  const r = nodeIn(peer!.netns, tcpProbe(target, 7000));
  // multinet runs egress/echo: it answers with the source it saw, the peer's whereabouts address
  // (over the cluster network it would be the peer's 10.128.x address).
  assert.match(r.stdout, new RegExp(`^${src.replaceAll(".", "\\.")}:\\d+$`), `${r.stdout} ${r.stderr}`);
});

test(
  "dhcp-net: the lease comes from dnsmasq's range, is in its lease file and gets renewed",
  opts,
  async () => {
    const h = dhcpHost();
    assert.equal(
      status?.processes.find((p) => p.name === `dhcp/${h.name}`)?.running,
      true,
      "dnsmasq runs on the DHCP host",
    );
    const st = byName(attachments, "dhcp-net");
    const ip = st.ips[0]!;
    assert.ok(v4(ip) >= v4(h.dhcp.rangeStart) && v4(ip) <= v4(h.dhcp.rangeEnd), `${ip} outside the range`);
    const first = leases(h.dhcp.leaseFile).find((l) => l.ip === ip);
    assert.ok(first, `${ip} not in ${h.dhcp.leaseFile}: ${JSON.stringify(leases(h.dhcp.leaseFile))}`);
    assert.equal(first.mac, st.mac, "the lease is the pod's interface's");
    // dnsmasq sends T1 = renewSeconds (10 s): the daemon renews and dnsmasq moves the expiry on.
    const renewed = await waitFor(
      "a renewal (later expiry) in the lease file",
      () => leases(h.dhcp.leaseFile).find((l) => l.ip === ip && l.expiry > first.expiry),
      (h.dhcp.renewSeconds + 12) * 1000,
      500,
    );
    assert.ok(renewed.expiry - first.expiry >= 1);
  },
);

test("lab status --output json lists the secondary networks and their hosts", opts, () => {
  const s = status!;
  assert.deepEqual(
    s.secondaryNetworks.map((n) => [n.name, n.bridge, n.nodes]),
    NETWORKS.map((n, i) => [
      n,
      ["br-static", "br-dhcp", "br-wb", "br-ta", "br-tb", "br-ds"][i],
      ["node1", "node2", "node3"],
    ]),
  );
  const hosts = s.secondaryNetworks.flatMap((n) => n.hosts);
  assert.deepEqual(
    hosts.map((h) => [h.name, h.address, h.echo?.running ?? null, h.dhcp?.running ?? null]),
    [
      ["staticgw", "191.168.1.1/24", true, null],
      ["dhcpsrv", "10.20.0.1/24", null, true],
    ],
  );
  // Each node has the bridge the attachments name, with its uplink into the fabric bridge.
  for (const node of ["node1", "node2", "node3"]) {
    const links = JSON.parse(
      sh(["ip", "-j", "-n", lab.ns(node), "link", "show", "type", "bridge"]).stdout,
    ) as {
      ifname: string;
    }[];
    for (const br of ["br-static", "br-dhcp", "br-wb", "br-ta", "br-tb", "br-ds"])
      assert.ok(
        links.some((l) => l.ifname === br),
        `${br} missing on ${node}`,
      );
  }
});

test("dhcp-net: deleting the pod releases its lease (gone from dnsmasq's lease file)", opts, async () => {
  const h = dhcpHost();
  const ip = byName(attachments, "dhcp-net").ips[0]!;
  assert.ok(
    leases(h.dhcp.leaseFile).some((l) => l.ip === ip),
    "leased before the delete",
  );
  await (await lab.api()).request("DELETE", "/api/v1/namespaces/default/pods/multinet");
  await waitFor(
    `lease of ${ip} released`,
    () => !leases(h.dhcp.leaseFile).some((l) => l.ip === ip),
    20_000,
    250,
  );
});
