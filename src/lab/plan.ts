// Turns a topology into the ordered steps that build it: network namespaces, bridges in the
// fabric namespace, veth pairs created directly between lab namespaces (never in the root
// namespace), addresses, routes and sysctls, plus the long-running services and the DNS hosts
// file. Pure: no I/O; the executor (up.ts) runs the steps and records them first.

import {
  bridgeName,
  controlPlaneNetns,
  fabricNetns,
  fabricPortName,
  hostNetns,
  secondaryBridgeName,
  uplinkName,
} from "./names.js";
import type { NetnsRecord } from "./state.js";
import type { EchoPorts, Interface, Route, Topology } from "./topology.js";

export type Step =
  /** Record all, then `ip -batch` of `netns add` lines. */
  | { kind: "netns"; namespaces: NetnsRecord[] }
  /** `ip -n <netns> -batch -` with one `ip` command per line (aborts at the first failing line). */
  | { kind: "ip"; netns: string; lines: string[][] }
  /** `ip netns exec <netns> sysctl -w k=v …` */
  | { kind: "sysctl"; netns: string; settings: [string, string][] };

/** Sysctls of a node namespace: it forwards pod traffic, and must not send ICMP redirects when it
 *  forwards to a neighbour on the same segment (EgressIP on another node). */
export const NODE_SYSCTLS: [string, string][] = [
  ["net.ipv4.ip_forward", "1"],
  ["net.ipv4.conf.all.send_redirects", "0"],
  ["net.ipv4.conf.default.send_redirects", "0"],
];
export const ROUTER_SYSCTLS: [string, string][] = NODE_SYSCTLS;

/** The steps in order: namespaces; sysctls (before the interfaces exist, so the `default` values
 *  reach every new interface); the fabric (bridges, and every veth pair, created in the fabric
 *  with its peer put straight into the host's namespace); then each host's addresses and routes.
 *  Batches keep the number of processes small (one per namespace). */
export function buildSteps(id: string, topo: Topology): Step[] {
  const fabric = fabricNetns(id);
  const cp = controlPlaneNetns(id);
  const secondary = topo.secondaryNetworks ?? [];
  const namespaces: NetnsRecord[] = [
    { name: fabric, role: "fabric", host: "" },
    { name: cp, role: "control-plane", host: "" },
    ...topo.nodes.map((n): NetnsRecord => ({ name: hostNetns(id, n.name), role: "node", host: n.name })),
    ...topo.externals.map(
      (x): NetnsRecord => ({ name: hostNetns(id, x.name), role: "external", host: x.name }),
    ),
    ...secondary.flatMap((net) =>
      net.hosts.map((h): NetnsRecord => ({ name: hostNetns(id, h.name), role: "secondary", host: h.name })),
    ),
  ];
  const steps: Step[] = [{ kind: "netns", namespaces }];
  for (const n of topo.nodes)
    steps.push({ kind: "sysctl", netns: hostNetns(id, n.name), settings: NODE_SYSCTLS });
  for (const x of topo.externals)
    if (x.forwarding) steps.push({ kind: "sysctl", netns: hostNetns(id, x.name), settings: ROUTER_SYSCTLS });

  const fab: string[][] = [["link", "set", "lo", "up"]];
  for (const net of topo.networks) {
    fab.push(["link", "add", bridgeName(net.name), "type", "bridge"]);
    fab.push(["link", "set", bridgeName(net.name), "up"]);
  }
  steps.push({ kind: "ip", netns: fabric, lines: fab });

  const gatewayOf = (ifs: Interface[], explicit?: string): string | undefined =>
    explicit ?? topo.networks.find((n) => n.name === ifs[0]?.network)?.gateway;
  const hosts: {
    owner: string;
    netns: string;
    ifs: Interface[];
    gateway: string | undefined;
    routes: Route[];
  }[] = [];
  const cpIf: Interface = {
    name: "eth0",
    network: topo.controlPlane.network,
    addresses: [topo.controlPlane.address],
  };
  hosts.push({ owner: "cp", netns: cp, ifs: [cpIf], gateway: gatewayOf([cpIf]), routes: [] });
  for (const n of topo.nodes)
    hosts.push({
      owner: n.name,
      netns: hostNetns(id, n.name),
      ifs: n.interfaces,
      gateway: gatewayOf(n.interfaces, n.gateway),
      routes: [],
    });
  for (const x of topo.externals)
    hosts.push({
      owner: x.name,
      netns: hostNetns(id, x.name),
      ifs: x.interfaces,
      gateway: x.forwarding ? x.gateway : gatewayOf(x.interfaces, x.gateway),
      routes: x.routes,
    });

  for (const h of hosts)
    for (const i of h.ifs) {
      const port = fabricPortName(h.owner, i.name);
      fab.push(["link", "add", port, "type", "veth", "peer", "name", i.name, "netns", h.netns]);
      fab.push(["link", "set", port, "master", bridgeName(i.network), "up"]);
    }
  // Secondary networks: a fabric bridge each; per joining node a veth whose node end (up-<net>) is
  // enslaved to a bridge of the configured name in the node (made below, in the node's batch);
  // per host a veth that is its eth0.
  const secondaryHosts: { netns: string; address: string }[] = [];
  for (const net of secondary) {
    const sn = secondaryBridgeName(net.name);
    fab.push(["link", "add", "name", sn, "type", "bridge"]);
    fab.push(["link", "set", "dev", sn, "up"]);
    for (const node of net.nodes) {
      const port = fabricPortName(node, uplinkName(net.name));
      fab.push([
        "link",
        "add",
        port,
        "type",
        "veth",
        "peer",
        "name",
        uplinkName(net.name),
        "netns",
        hostNetns(id, node),
      ]);
      fab.push(["link", "set", "dev", port, "master", sn, "up"]);
    }
    for (const h of net.hosts) {
      const port = fabricPortName(h.name, "eth0");
      fab.push(["link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", hostNetns(id, h.name)]);
      fab.push(["link", "set", "dev", port, "master", sn, "up"]);
      secondaryHosts.push({ netns: hostNetns(id, h.name), address: h.address });
    }
  }

  for (const h of hosts) {
    const lines: string[][] = [["link", "set", "lo", "up"]];
    for (const i of h.ifs) {
      for (const a of i.addresses) lines.push(["addr", "add", a, "dev", i.name]);
      lines.push(["link", "set", i.name, "up"]);
    }
    const own = h.ifs.flatMap((i) => i.addresses.map((a) => a.split("/")[0]));
    if (h.gateway && !own.includes(h.gateway)) lines.push(["route", "add", "default", "via", h.gateway]);
    for (const r of h.routes) lines.push(["route", "add", r.to, "via", r.via]);
    // A node's bridges for secondary networks, named as the attachments expect (`name`/`dev`: a
    // bridge called e.g. "brd" would otherwise be read as a keyword).
    for (const net of secondary) {
      if (!net.nodes.includes(h.owner) || h.netns !== hostNetns(id, h.owner)) continue;
      const up = uplinkName(net.name);
      lines.push(["link", "add", "name", net.bridge, "type", "bridge"]);
      lines.push(["link", "set", "dev", up, "master", net.bridge]);
      lines.push(["link", "set", "dev", up, "up"]);
      lines.push(["link", "set", "dev", net.bridge, "up"]);
    }
    steps.push({ kind: "ip", netns: h.netns, lines });
  }
  for (const h of secondaryHosts)
    steps.push({
      kind: "ip",
      netns: h.netns,
      lines: [
        ["link", "set", "lo", "up"],
        ["addr", "add", h.address, "dev", "eth0"],
        ["link", "set", "eth0", "up"],
      ],
    });
  return steps;
}

/** The command line of a step and its standard input (for the executor, logs and errors). */
export function stepCommand(s: Step): { argv: string[]; input?: string } {
  switch (s.kind) {
    case "netns":
      return {
        argv: ["ip", "-batch", "-"],
        input: s.namespaces.map((n) => `netns add ${n.name}\n`).join(""),
      };
    case "ip":
      return {
        argv: ["ip", "-n", s.netns, "-batch", "-"],
        input: s.lines.map((l) => `${l.join(" ")}\n`).join(""),
      };
    case "sysctl":
      return {
        argv: [
          "ip",
          "netns",
          "exec",
          s.netns,
          "sysctl",
          "-q",
          "-w",
          ...s.settings.map(([k, v]) => `${k}=${v}`),
        ],
      };
  }
}

/** The lab DNS hosts file (dnsmasq --addn-hosts): one `address name` line per record. */
export function renderHostsFile(records: Record<string, string[]>): string {
  const lines = ["# written by `egress lab up`; edit and send SIGHUP to dnsmasq to reload"];
  for (const name of Object.keys(records).sort())
    for (const a of records[name] ?? []) lines.push(`${a} ${name}`);
  return `${lines.join("\n")}\n`;
}

/** What every dnsmasq of the lab runs with: in the foreground (the lab records its pid), no system
 *  configuration, resolv.conf or /etc/hosts, no pid file, as root, bound to the given interfaces. */
export const DNSMASQ_BASE_ARGS: readonly string[] = [
  "--keep-in-foreground",
  "--conf-file=/dev/null",
  "--no-resolv",
  "--no-hosts",
  "--pid-file=",
  "--user=root",
  "--bind-interfaces",
];

/** dnsmasq command line: foreground, no system config or resolv.conf, answers only from the lab's
 *  hosts file on the given addresses; every other name is NXDOMAIN (no upstream server). */
export function dnsmasqArgv(binary: string, hostsFile: string, listen: string[], ttl?: number): string[] {
  return [
    binary,
    ...DNSMASQ_BASE_ARGS,
    `--addn-hosts=${hostsFile}`,
    ...listen.map((a) => `--listen-address=${a}`),
    "--port=53",
    "--log-facility=-",
    "--local=/#/",
    ...(ttl !== undefined ? [`--local-ttl=${ttl}`] : []),
  ];
}

export function echoArgs(e: EchoPorts): string[] {
  return [
    ...e.tcp.flatMap((p) => ["--tcp", String(p)]),
    ...e.udp.flatMap((p) => ["--udp", String(p)]),
    ...e.http.flatMap((p) => ["--http", String(p)]),
  ];
}
