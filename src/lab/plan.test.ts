import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { DEFAULT_TOPOLOGY } from "./paths.js";
import { buildSteps, dnsmasqArgv, echoArgs, renderHostsFile, type Step, stepCommand } from "./plan.js";
import { parseTopology } from "./topology.js";

const topo = parseTopology(readFileSync(DEFAULT_TOPOLOGY, "utf8"), DEFAULT_TOPOLOGY);
const steps = buildSteps("t1", topo);
const ipLines = (ns: string): string[] =>
  steps.flatMap((s: Step) => (s.kind === "ip" && s.netns === ns ? s.lines.map((l) => l.join(" ")) : []));

test("namespaces come first, every one named for the lab", () => {
  assert.equal(steps[0]!.kind, "netns");
  const ns = steps[0]!.kind === "netns" ? steps[0]!.namespaces.map((n) => n.name) : [];
  assert.deepEqual(ns, [
    "egl-t1-fabric",
    "egl-t1-cp",
    "egl-t1-node1",
    "egl-t1-node2",
    "egl-t1-node3",
    "egl-t1-router",
    "egl-t1-ext1",
    "egl-t1-web",
    // Hosts on the default secondary networks (seed 003).
    "egl-t1-staticgw",
    "egl-t1-dhcpsrv",
  ]);
  assert.equal(steps.filter((s) => s.kind === "netns").length, 1);
});

test("every command runs inside a lab namespace (never the root namespace)", () => {
  for (const s of steps) {
    const { argv } = stepCommand(s);
    if (s.kind === "netns") assert.deepEqual(argv, ["ip", "-batch", "-"]);
    else if (s.kind === "ip") assert.deepEqual(argv.slice(0, 3), ["ip", "-n", s.netns]);
    else assert.deepEqual(argv.slice(0, 4), ["ip", "netns", "exec", s.netns]);
    if (s.kind !== "netns") assert.match(s.netns, /^egl-t1-/);
  }
  assert.match(stepCommand(steps[0]!).input ?? "", /^netns add egl-t1-fabric\nnetns add egl-t1-cp\n/);
});

test("sysctls for nodes and the router precede the fabric (so interfaces inherit them)", () => {
  const firstIp = steps.findIndex((s) => s.kind === "ip");
  const sysctl = steps.flatMap((s, i) => (s.kind === "sysctl" ? [[s.netns, i] as const] : []));
  assert.deepEqual(
    sysctl.map(([ns]) => ns),
    ["egl-t1-node1", "egl-t1-node2", "egl-t1-node3", "egl-t1-router"],
  );
  for (const [, i] of sysctl) assert.ok(i < firstIp);
  const s = steps.find((x) => x.kind === "sysctl")!;
  assert.match(
    stepCommand(s).argv.join(" "),
    /net\.ipv4\.ip_forward=1 net\.ipv4\.conf\.all\.send_redirects=0 net\.ipv4\.conf\.default\.send_redirects=0$/,
  );
});

test("fabric: a bridge per network, a veth per interface created straight into its namespace", () => {
  const fab = ipLines("egl-t1-fabric");
  for (const br of ["br-host", "br-egress", "br-outside"])
    assert.ok(fab.includes(`link add ${br} type bridge`), br);
  assert.ok(fab.includes("link add node1-eth1 type veth peer name eth1 netns egl-t1-node1"));
  assert.ok(fab.includes("link set node1-eth1 master br-egress up"));
  assert.ok(fab.includes("link add cp-eth0 type veth peer name eth0 netns egl-t1-cp"));
  // cp, 6 node interfaces (every node has eth0 and the egress NIC), router 3, ext1, web; then the
  // six default secondary networks' uplinks of the three nodes and their two hosts.
  assert.equal(fab.filter((l) => l.includes("type veth")).length, 1 + 6 + 3 + 1 + 1 + 18 + 2);
});

test("hosts: addresses, default routes via their network's gateway, none on the router", () => {
  assert.deepEqual(ipLines("egl-t1-node1"), [
    "link set lo up",
    "addr add 192.168.126.11/18 dev eth0",
    "link set eth0 up",
    "addr add 192.168.12.11/24 dev eth1",
    "link set eth1 up",
    "route add default via 192.168.126.1",
    ...["static-net:br-static", "dhcp-net:br-dhcp"].flatMap((x) => {
      const [net, br] = x.split(":") as [string, string];
      return [
        `link add name ${br} type bridge`,
        `link set dev up-${net} master ${br}`,
        `link set dev up-${net} up`,
        `link set dev ${br} up`,
      ];
    }),
    "link add name br-wb type bridge",
    "link set dev x391aae2d-where master br-wb",
    "link set dev x391aae2d-where up",
    "link set dev br-wb up",
    ...["tenant-a:br-ta", "tenant-b:br-tb", "dual-stack:br-ds"].flatMap((x) => {
      const [net, br] = x.split(":") as [string, string];
      return [
        `link add name ${br} type bridge`,
        `link set dev up-${net} master ${br}`,
        `link set dev up-${net} up`,
        `link set dev ${br} up`,
      ];
    }),
  ]);
  assert.ok(ipLines("egl-t1-cp").includes("addr add 192.168.126.2/18 dev eth0"));
  assert.ok(ipLines("egl-t1-web").includes("route add default via 203.0.113.1"));
  assert.ok(!ipLines("egl-t1-router").some((l) => l.startsWith("route")));
});

test("DNS hosts file, dnsmasq and echo command lines", () => {
  assert.equal(
    renderHostsFile({ "www.foo.com": ["1.2.3.4"], "a.example.com": ["192.168.1.10", "192.168.1.11"] }),
    "# written by `egress lab up`; edit and send SIGHUP to dnsmasq to reload\n192.168.1.10 a.example.com\n192.168.1.11 a.example.com\n1.2.3.4 www.foo.com\n",
  );
  const argv = dnsmasqArgv("/usr/sbin/dnsmasq", "/s/dns/hosts", ["192.168.126.200"]);
  for (const a of [
    "--keep-in-foreground",
    "--conf-file=/dev/null",
    "--no-resolv",
    "--addn-hosts=/s/dns/hosts",
    "--listen-address=192.168.126.200",
    "--bind-interfaces",
  ])
    assert.ok(argv.includes(a), a);
  assert.ok(!argv.some((a) => a.startsWith("--local-ttl")), "dnsmasq's default TTL unless set");
  assert.ok(dnsmasqArgv("/d", "/h", [], 3).includes("--local-ttl=3"));
  assert.deepEqual(echoArgs({ tcp: [7000, 443], udp: [7001], http: [80] }), [
    "--tcp",
    "7000",
    "--tcp",
    "443",
    "--udp",
    "7001",
    "--http",
    "80",
  ]);
});
