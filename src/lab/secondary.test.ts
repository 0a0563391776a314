import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { parseManifests } from "../cli/apply.js";
import { DEFAULT_TOPOLOGY, EXAMPLES_DIR } from "./paths.js";
import { buildSteps, type Step } from "./plan.js";
import { dhcpServerArgv, netmask, whereaboutsFlatFile, whereaboutsShim } from "./secondary.js";
import { parseTopology, TopologyError } from "./topology.js";
import { attachmentBridges, SEED_ATTACHMENT_POD, seedManifests } from "./up.js";

const MIN = `
networks:
  - name: host
    subnets: [192.168.126.0/18]
controlPlane: { network: host, address: 192.168.126.2 }
nodes:
  - name: node1
    interfaces: [{ network: host, address: 192.168.126.11 }]
  - name: node2
    interfaces: [{ network: host, address: 192.168.126.12 }]
`;

const SEC = `${MIN}secondaryNetworks:
  - name: lan
    bridge: br-lan
    nodes: [node2]
    hosts:
      - name: srv
        address: 10.9.0.1/24
        echo: { tcp: [7000] }
        dhcp: { range: 10.9.0.50-10.9.0.60, leaseSeconds: 300, renewSeconds: 5 }
`;

function errorsOf(text: string): string[] {
  try {
    parseTopology(text, "t.yaml");
  } catch (e) {
    assert.ok(e instanceof TopologyError, String(e));
    return e.causes.map(
      (c) => `${c.field}: ${c.detail}${c.value === undefined ? "" : ` (${JSON.stringify(c.value)})`}`,
    );
  }
  return [];
}

test("without the key a topology has no secondary networks; the default topology has seed 003's", () => {
  assert.deepEqual(parseTopology(MIN, "min.yaml").secondaryNetworks, []);
  assert.deepEqual(parseTopology(`${MIN}secondaryNetworks: []\n`, "t").secondaryNetworks, []);
  const t = parseTopology(readFileSync(DEFAULT_TOPOLOGY, "utf8"), DEFAULT_TOPOLOGY);
  const all = t.nodes.map((n) => n.name);
  assert.deepEqual(
    t.secondaryNetworks?.map((n) => [n.name, n.bridge, n.nodes]),
    [
      ["static-net", "br-static", all],
      ["dhcp-net", "br-dhcp", all],
      ["whereabouts-net", "br-wb", all],
      ["tenant-a", "br-ta", all],
      ["tenant-b", "br-tb", all],
      ["dual-stack", "br-ds", all],
    ],
  );
  const hosts = t.secondaryNetworks?.flatMap((n) => n.hosts) ?? [];
  assert.deepEqual(hosts, [
    { name: "staticgw", address: "191.168.1.1/24", echo: { tcp: [7000], udp: [7001], http: [8080] } },
    {
      name: "dhcpsrv",
      address: "10.20.0.1/24",
      dhcp: { rangeStart: "10.20.0.100", rangeEnd: "10.20.0.199", leaseSeconds: 120, renewSeconds: 10 },
    },
  ]);
});

test("the default covers every bridge 003-ipam.yaml's attachments name, and its static gateway", () => {
  const file = join(EXAMPLES_DIR, "003-ipam.yaml");
  const manifests = parseManifests(readFileSync(file, "utf8"), file);
  const bridges = attachmentBridges(manifests);
  assert.deepEqual(bridges, ["br-static", "br-dhcp", "br-wb", "br-ta", "br-tb", "br-ds"]);
  const t = parseTopology(readFileSync(DEFAULT_TOPOLOGY, "utf8"), DEFAULT_TOPOLOGY);
  assert.deepEqual(t.secondaryNetworks?.map((n) => n.bridge).sort(), [...bridges].sort());
  const nads = manifests.filter((m) => m.kind === "NetworkAttachmentDefinition").map((m) => m.metadata.name);
  assert.deepEqual([...SEED_ATTACHMENT_POD.networks].sort(), nads.sort(), "the seed pod uses every NAD");
  const gw = t.secondaryNetworks?.find((n) => n.bridge === "br-static")?.hosts[0]?.address;
  assert.equal(gw, "191.168.1.1/24");
});

test("a custom secondary network: nodes subset, a host with echo and DHCP", () => {
  const t = parseTopology(SEC, "sec.yaml");
  assert.deepEqual(t.secondaryNetworks, [
    {
      name: "lan",
      bridge: "br-lan",
      nodes: ["node2"],
      hosts: [
        {
          name: "srv",
          address: "10.9.0.1/24",
          echo: { tcp: [7000], udp: [], http: [] },
          dhcp: { rangeStart: "10.9.0.50", rangeEnd: "10.9.0.60", leaseSeconds: 300, renewSeconds: 5 },
        },
      ],
    },
  ]);
  const d = parseTopology(SEC.replace(", leaseSeconds: 300, renewSeconds: 5", ""), "t");
  assert.deepEqual(d.secondaryNetworks?.[0]?.hosts[0]?.dhcp, {
    rangeStart: "10.9.0.50",
    rangeEnd: "10.9.0.60",
    leaseSeconds: 120,
    renewSeconds: 60,
  });
});

test("secondary network errors name the field and the value", () => {
  const rows: [string, string, RegExp][] = [
    [
      "no bridge",
      SEC.replace("    bridge: br-lan\n", ""),
      /^secondaryNetworks\[0\]\.bridge: Required value$/,
    ],
    [
      "bridge too long",
      SEC.replace("br-lan", "br-a-very-long-name"),
      /^secondaryNetworks\[0\]\.bridge: expected an interface name.*\("br-a-very-long-name"\)/,
    ],
    [
      "bridge eth1",
      SEC.replace("br-lan", "eth1"),
      /^secondaryNetworks\[0\]\.bridge: taken in node namespaces.*\("eth1"\)/,
    ],
    ["bridge cbr0", SEC.replace("br-lan", "cbr0"), /bridge: taken in node namespaces/],
    [
      "duplicate bridge",
      `${SEC}  - name: lan2\n    bridge: br-lan\n`,
      /^secondaryNetworks\[1\]\.bridge: already the bridge of secondaryNetworks\[0\] \("br-lan"\)/,
    ],
    [
      "duplicate network",
      `${SEC}  - name: lan\n    bridge: br-x\n`,
      /^secondaryNetworks\[1\]\.name: duplicate secondary network name \("lan"\)/,
    ],
    [
      "underlay name",
      SEC.replace("name: lan", "name: host"),
      /^secondaryNetworks\[0\]\.name: already the name of an underlay network.*\("host"\)/,
    ],
    [
      "unknown node",
      SEC.replace("nodes: [node2]", "nodes: [node9]"),
      /^secondaryNetworks\[0\]\.nodes\[0\]: no such node \(nodes: node1, node2\) \("node9"\)/,
    ],
    [
      "host name clash",
      SEC.replace("name: srv", "name: node1"),
      /^secondaryNetworks\[0\]\.hosts\[0\]\.name: duplicate name among nodes and external hosts \("node1"\)/,
    ],
    ["reserved host", SEC.replace("name: srv", "name: cp"), /hosts\[0\]\.name: reserved/],
    [
      "address without prefix",
      SEC.replace("10.9.0.1/24", "10.9.0.1"),
      /^secondaryNetworks\[0\]\.hosts\[0\]\.address: expected an IPv4 address with its prefix.*\("10\.9\.0\.1"\)/,
    ],
    [
      "network address",
      SEC.replace("10.9.0.1/24", "10.9.0.0/24"),
      /hosts\[0\]\.address: is the network or broadcast address of its subnet \("10\.9\.0\.0\/24"\)/,
    ],
    [
      "range outside",
      SEC.replace("10.9.0.50-10.9.0.60", "10.9.1.50-10.9.1.60"),
      /^secondaryNetworks\[0\]\.hosts\[0\]\.dhcp\.range: not inside the host's subnet 10\.9\.0\.1\/24.*\("10\.9\.1\.50-10\.9\.1\.60"\)/,
    ],
    [
      "range reversed",
      SEC.replace("10.9.0.50-10.9.0.60", "10.9.0.60-10.9.0.50"),
      /dhcp\.range: expected FIRST-LAST, two IPv4 addresses in ascending order/,
    ],
    [
      "range holds the server",
      SEC.replace("10.9.0.50-10.9.0.60", "10.9.0.1-10.9.0.60"),
      /dhcp\.range: contains the host's own address 10\.9\.0\.1\/24/,
    ],
    [
      "lease too short",
      SEC.replace("leaseSeconds: 300", "leaseSeconds: 60"),
      /^secondaryNetworks\[0\]\.hosts\[0\]\.dhcp\.leaseSeconds: expected whole seconds 120-86400 \(dnsmasq's minimum lease is two minutes\) \(60\)/,
    ],
    [
      "renew not shorter than the lease",
      SEC.replace("renewSeconds: 5", "renewSeconds: 300"),
      /dhcp\.renewSeconds: expected whole seconds, at least 1 and shorter than leaseSeconds \(300\)/,
    ],
    [
      "unknown host field",
      SEC.replace("        echo:", "        colour: red\n        echo:"),
      /hosts\[0\]\.colour: unknown field/,
    ],
    ["not a list", `${MIN}secondaryNetworks: { a: 1 }\n`, /^secondaryNetworks: expected a list/],
  ];
  for (const [what, text, want] of rows) {
    const errs = errorsOf(text);
    assert.ok(
      errs.some((e) => want.test(e)),
      `${what}: expected ${want}, got:\n${errs.join("\n") || "(no error)"}`,
    );
  }
});

test("plan: fabric bridge, uplinks only for the listed nodes, the node's bridge, the host's eth0", () => {
  const steps = buildSteps("t2", parseTopology(SEC, "sec.yaml"));
  const lines = (ns: string): string[] =>
    steps.flatMap((s: Step) => (s.kind === "ip" && s.netns === ns ? s.lines.map((l) => l.join(" ")) : []));
  const ns = steps[0]?.kind === "netns" ? steps[0].namespaces : [];
  assert.deepEqual(ns.at(-1), { name: "egl-t2-srv", role: "secondary", host: "srv" });
  const fab = lines("egl-t2-fabric");
  assert.ok(fab.includes("link add name sn-lan type bridge"));
  assert.ok(fab.includes("link add node2-up-lan type veth peer name up-lan netns egl-t2-node2"));
  assert.ok(fab.includes("link set dev node2-up-lan master sn-lan up"));
  assert.ok(fab.includes("link add srv-eth0 type veth peer name eth0 netns egl-t2-srv"));
  assert.ok(fab.includes("link set dev srv-eth0 master sn-lan up"));
  assert.ok(!fab.some((l) => l.includes("node1-up-lan")), "node1 is not listed");
  assert.deepEqual(lines("egl-t2-node2").slice(-4), [
    "link add name br-lan type bridge",
    "link set dev up-lan master br-lan",
    "link set dev up-lan up",
    "link set dev br-lan up",
  ]);
  assert.ok(!lines("egl-t2-node1").some((l) => l.includes("br-lan")));
  assert.deepEqual(lines("egl-t2-srv"), [
    "link set lo up",
    "addr add 10.9.0.1/24 dev eth0",
    "link set eth0 up",
  ]);
});

test("dnsmasq as a DHCP server: range with netmask, lease, T1, no router/DNS option, lease file", () => {
  const t = parseTopology(SEC, "sec.yaml");
  const h = t.secondaryNetworks![0]!.hosts[0]!;
  const argv = dhcpServerArgv("/usr/sbin/dnsmasq", { ...h, dhcp: h.dhcp! }, "/s/dhcp/srv.leases");
  for (const a of [
    "--port=0",
    "--interface=eth0",
    "--bind-interfaces",
    "--dhcp-range=10.9.0.50,10.9.0.60,255.255.255.0,300",
    "--dhcp-option=option:T1,5",
    "--dhcp-option=option:router",
    "--dhcp-leasefile=/s/dhcp/srv.leases",
    "--conf-file=/dev/null",
  ])
    assert.ok(argv.includes(a), a);
  assert.equal(netmask(20), "255.255.240.0");
});

test("whereabouts shim and flat file", () => {
  const sh = whereaboutsShim("/usr/bin/node", "/x/it's/whereabouts.js", "/s/cni/w.conf", "/s/cni/locks");
  assert.match(sh, /^#!\/bin\/sh\n/);
  assert.ok(sh.includes("export WHEREABOUTS_FLATFILE='/s/cni/w.conf' WHEREABOUTS_LOCK_DIR='/s/cni/locks'"));
  assert.ok(sh.includes(`exec '/usr/bin/node' '/x/it'\\''s/whereabouts.js' "$@"`));
  assert.deepEqual(JSON.parse(whereaboutsFlatFile("/s/apiserver/kubeconfig")), {
    datastore: "kubernetes",
    kubernetes: { kubeconfig: "/s/apiserver/kubeconfig" },
  });
});

test("attachmentBridges reads plugins and plugin lists, and skips other kinds and bad JSON", () => {
  const nad = (config: string) => ({
    apiVersion: "k8s.cni.cncf.io/v1",
    kind: "NetworkAttachmentDefinition",
    metadata: { name: "x" },
    spec: { config },
  });
  assert.deepEqual(
    attachmentBridges([
      nad('{"type":"bridge","bridge":"br-a"}'),
      nad('{"plugins":[{"type":"bridge","bridge":"br-b"},{"type":"tuning"}]}'),
      nad("{not json"),
      { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c" }, spec: { config: '{"bridge":"br-c"}' } },
    ]),
    ["br-a", "br-b"],
  );
});

test("the seed pods include the attachment pod only when asked", () => {
  const pods = (text: string) =>
    parseManifests(text, "x")
      .filter((m) => m.kind === "Pod")
      .map((m) => `${m.metadata.namespace}/${m.metadata.name}`);
  assert.ok(pods(seedManifests()).includes("default/multinet"));
  assert.ok(!pods(seedManifests(false)).includes("default/multinet"));
  const m = parseManifests(seedManifests(), "x").find((x) => x.metadata.name === "multinet")!;
  assert.equal(
    (m.metadata as { annotations?: Record<string, string> }).annotations?.["k8s.v1.cni.cncf.io/networks"],
    "static-net,dhcp-net,whereabouts-net,tenant-a,tenant-b,dual-stack",
  );
});
