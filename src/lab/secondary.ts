// Secondary networks of the lab (seed 003's NetworkAttachmentDefinitions): each is an L2 segment, a
// bridge in the fabric namespace that every listed node joins through a bridge of a given name inside
// its own namespace — the bridge the attachments' CNI configs name, so the reference bridge plugin
// finds it and plugs pods into it — linked by a veth uplink. Pods on different nodes on the same
// attachment therefore share L2. External hosts can sit on a segment (one interface, eth0) and run
// the lab's echo server and/or a dnsmasq DHCP server. This module holds the types,
// validation (errors name field and value) and the command lines of
// the hosts' services and of the lab's whereabouts shim. Pure: no I/O.
import { join } from "node:path";
import { type FieldError, invalid, required } from "../api/errors.js";
import { cidrContains, cidrLast, formatIPv4, maskOf, parseCIDR, parseIP } from "../api/ip.js";
import { DNSMASQ_BASE_ARGS } from "./plan.js";
import type { EchoPorts, Reader } from "./reader.js";

/** dnsmasq on a secondary host, serving DHCP on its eth0. */
export interface DhcpServer {
  /** First and last address handed out (inside the host's subnet). */
  rangeStart: string;
  rangeEnd: string;
  /** Lease time (dnsmasq enforces at least 120 s). */
  leaseSeconds: number;
  /** T1 (DHCP option 58) sent to clients: they renew this often, so short renewals can be observed
   *  without the two-minute minimum lease. */
  renewSeconds: number;
}

export interface SecondaryHost {
  name: string;
  /** eth0's address with prefix, e.g. "191.168.1.1/24". */
  address: string;
  echo?: EchoPorts;
  dhcp?: DhcpServer;
}

export interface SecondaryNetwork {
  name: string;
  /** Bridge inside every listed node's namespace (what the attachments' `"bridge"` names). */
  bridge: string;
  /** Nodes that join the segment (all nodes unless the topology lists some). */
  nodes: string[];
  hosts: SecondaryHost[];
}

/** dnsmasq's minimum lease time (shorter ones are raised to it silently; we refuse them instead). */
export const DHCP_MIN_LEASE_SECONDS = 120;

/** Interface names Linux accepts (≤ 15 characters, no '/', ':' or blanks); we keep to a safe set. */
const IFNAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;
/** Names a node namespace already uses or the agent makes: loopback, underlay NICs, the cluster
 *  network's bridge, the uplinks of secondary networks. */
const TAKEN_IN_NODE = /^(lo|eth\d+|cbr0|up-.*|x[0-9a-f]{8}-.*)$/;

export interface SecondaryContext {
  t: Reader;
  errs: FieldError[];
  /** Node names of the topology. */
  nodes: string[];
  /** Underlay network names (a secondary network may not reuse one). */
  networks: string[];
  /** Checks a host name (valid, not reserved, unique among nodes and all hosts). */
  hostName(raw: unknown, field: string): string | undefined;
}

/** Validates `secondaryNetworks` (absent: none; the default topology file lab/topology.yaml lists
 *  one segment per attachment of examples/seed/003-ipam.yaml). */
export function validateSecondaryNetworks(raw: unknown, c: SecondaryContext): SecondaryNetwork[] {
  const { t, errs } = c;
  const base = "secondaryNetworks";
  const list = t.list(raw ?? [], base, false);
  const out: SecondaryNetwork[] = [];
  const names = new Set<string>();
  const bridges = new Map<string, string>();
  list.forEach((n, i) => {
    const f = `${base}[${i}]`;
    if (!t.record(n, f)) return;
    t.noUnknown(n, f, ["name", "bridge", "nodes", "hosts"]);
    const name = t.name(n.name, `${f}.name`);
    if (name && names.has(name)) errs.push(invalid(`${f}.name`, name, "duplicate secondary network name"));
    else if (name && c.networks.includes(name))
      errs.push(invalid(`${f}.name`, name, "already the name of an underlay network (networks[])"));
    if (name) names.add(name);

    let bridge: string | undefined;
    if (typeof n.bridge !== "string" || !IFNAME.test(n.bridge))
      errs.push(
        n.bridge === undefined
          ? required(`${f}.bridge`)
          : invalid(`${f}.bridge`, n.bridge, "expected an interface name: 1-15 of [A-Za-z0-9_.-]"),
      );
    else if (TAKEN_IN_NODE.test(n.bridge))
      errs.push(
        invalid(`${f}.bridge`, n.bridge, "taken in node namespaces (lo, eth<N>, cbr0, up-*, x<hash>-*)"),
      );
    else if (bridges.has(n.bridge))
      errs.push(invalid(`${f}.bridge`, n.bridge, `already the bridge of ${bridges.get(n.bridge)}`));
    else {
      bridge = n.bridge;
      bridges.set(bridge, f);
    }

    let nodes = c.nodes;
    if (n.nodes !== undefined) {
      nodes = [];
      t.list(n.nodes, `${f}.nodes`, false).forEach((x, j) => {
        if (typeof x !== "string" || !c.nodes.includes(x))
          errs.push(invalid(`${f}.nodes[${j}]`, x, `no such node (nodes: ${c.nodes.join(", ")})`));
        else if (nodes.includes(x)) errs.push(invalid(`${f}.nodes[${j}]`, x, "listed twice"));
        else nodes.push(x);
      });
    }

    const hosts: SecondaryHost[] = [];
    const addrs = new Map<string, string>();
    t.list(n.hosts, `${f}.hosts`, false).forEach((h, j) => {
      const g = `${f}.hosts[${j}]`;
      if (!t.record(h, g)) return;
      t.noUnknown(h, g, ["name", "address", "echo", "dhcp"]);
      const hname = c.hostName(h.name, `${g}.name`);
      const address = hostAddress(h.address, `${g}.address`, errs);
      if (address) {
        const ip = address.split("/")[0]!;
        const prev = addrs.get(ip);
        if (prev) errs.push(invalid(`${g}.address`, h.address, `address already used at ${prev}`));
        addrs.set(ip, `${g}.address`);
      }
      const echo = h.echo === undefined ? undefined : t.echo(h.echo, `${g}.echo`);
      const dhcp = h.dhcp === undefined ? undefined : dhcpServer(h.dhcp, `${g}.dhcp`, address, c);
      if (hname && address)
        hosts.push({ name: hname, address, ...(echo ? { echo } : {}), ...(dhcp ? { dhcp } : {}) });
    });
    if (name && bridge) out.push({ name, bridge, nodes, hosts });
  });
  return out;
}

/** "a.b.c.d/len": an IPv4 interface address (not the subnet's network or broadcast address). */
function hostAddress(v: unknown, field: string, errs: FieldError[]): string | undefined {
  const c = typeof v === "string" ? parseCIDR(v) : undefined;
  if (c?.family !== 4 || c.prefix > 30) {
    errs.push(invalid(field, v, "expected an IPv4 address with its prefix (/0-/30), e.g. 191.168.1.1/24"));
    return undefined;
  }
  if (c.address === c.network || c.address === cidrLast(c)) {
    errs.push(invalid(field, v, "is the network or broadcast address of its subnet"));
    return undefined;
  }
  return `${formatIPv4(c.address)}/${c.prefix}`;
}

function dhcpServer(
  v: unknown,
  f: string,
  address: string | undefined,
  c: SecondaryContext,
): DhcpServer | undefined {
  const { t, errs } = c;
  if (!t.record(v, f)) return undefined;
  t.noUnknown(v, f, ["range", "leaseSeconds", "renewSeconds"]);
  const subnet = address ? parseCIDR(address) : undefined;
  let range: [string, string] | undefined;
  const parts = typeof v.range === "string" ? v.range.split("-") : [];
  const [a, b] = parts.map((p) => parseIP(p.trim()));
  if (parts.length !== 2 || a?.family !== 4 || b?.family !== 4 || a.value > b.value)
    errs.push(
      v.range === undefined
        ? required(`${f}.range`)
        : invalid(`${f}.range`, v.range, "expected FIRST-LAST, two IPv4 addresses in ascending order"),
    );
  else if (subnet) {
    const inside = (x: bigint) =>
      x > subnet.network && x < cidrLast(subnet) && cidrContains(subnet, { family: 4, value: x });
    if (!inside(a.value) || !inside(b.value))
      errs.push(
        invalid(
          `${f}.range`,
          v.range,
          `not inside the host's subnet ${address} (without network and broadcast)`,
        ),
      );
    else if (subnet.address >= a.value && subnet.address <= b.value)
      errs.push(invalid(`${f}.range`, v.range, `contains the host's own address ${address}`));
    else range = [formatIPv4(a.value), formatIPv4(b.value)];
  }
  const int = (x: unknown, field: string, min: number, max: number, why: string): number | undefined => {
    if (typeof x === "number" && Number.isInteger(x) && x >= min && x <= max) return x;
    errs.push(invalid(field, x, why));
    return undefined;
  };
  const lease =
    v.leaseSeconds === undefined
      ? DHCP_MIN_LEASE_SECONDS
      : int(
          v.leaseSeconds,
          `${f}.leaseSeconds`,
          DHCP_MIN_LEASE_SECONDS,
          86_400,
          `expected whole seconds ${DHCP_MIN_LEASE_SECONDS}-86400 (dnsmasq's minimum lease is two minutes)`,
        );
  const renew =
    v.renewSeconds === undefined
      ? lease === undefined
        ? undefined
        : Math.floor(lease / 2)
      : int(
          v.renewSeconds,
          `${f}.renewSeconds`,
          1,
          (lease ?? DHCP_MIN_LEASE_SECONDS) - 1,
          "expected whole seconds, at least 1 and shorter than leaseSeconds",
        );
  if (!range || lease === undefined || renew === undefined) return undefined;
  return { rangeStart: range[0], rangeEnd: range[1], leaseSeconds: lease, renewSeconds: renew };
}

// ---------------------------------------------------------------------------------- build plan

/** dnsmasq's lease file of DHCP server host `host`, in the lab's state dir. */
export const dhcpLeaseFile = (stateDir: string, host: string): string =>
  join(stateDir, "dhcp", `${host}.leases`);

/** Netmask in dotted form for a prefix length (dnsmasq's --dhcp-range wants one). */
export function netmask(prefix: number): string {
  return formatIPv4(maskOf(4, prefix));
}

/** dnsmasq as a DHCP server only (port 0: no DNS) on the host's eth0: short lease, T1 = the renew
 *  interval, no router or DNS option (pods keep their cluster-network default route), leases in
 *  `leaseFile` (rewritten on every grant, renewal and release). */
export function dhcpServerArgv(
  binary: string,
  host: SecondaryHost & { dhcp: DhcpServer },
  leaseFile: string,
): string[] {
  const prefix = Number(host.address.split("/")[1]);
  const d = host.dhcp;
  return [
    binary,
    ...DNSMASQ_BASE_ARGS,
    "--port=0",
    "--interface=eth0",
    `--dhcp-range=${d.rangeStart},${d.rangeEnd},${netmask(prefix)},${d.leaseSeconds}`,
    `--dhcp-option=option:T1,${d.renewSeconds}`,
    "--dhcp-option=option:router",
    "--dhcp-option=option:dns-server",
    `--dhcp-leasefile=${leaseFile}`,
    "--dhcp-authoritative",
    "--log-dhcp",
    "--log-facility=-",
  ];
}

// ------------------------------------------------------------------------------- whereabouts

/** Single-quoted for /bin/sh. */
const shq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** The whereabouts flat file the lab writes for its nodes (what an installer puts in
 *  /etc/cni/net.d/whereabouts.d/whereabouts.conf): the kubernetes datastore through the kubeconfig
 *  the agents use, so NADs without `kubernetes.kubeconfig` (seed 003) work. */
export function whereaboutsFlatFile(kubeconfig: string): string {
  return `${JSON.stringify({ datastore: "kubernetes", kubernetes: { kubeconfig } }, null, 2)}\n`;
}

/** The `whereabouts` executable in the lab's CNI bin dir: names the flat file and a lock dir in the
 *  lab's state (never /etc or /tmp of the host) and runs the compiled plugin. */
export function whereaboutsShim(node: string, plugin: string, flatFile: string, lockDir: string): string {
  return [
    "#!/bin/sh",
    "# written by `egress lab up`: the lab's whereabouts IPAM plugin with the lab's flat file",
    `export WHEREABOUTS_FLATFILE=${shq(flatFile)} WHEREABOUTS_LOCK_DIR=${shq(lockDir)}`,
    `exec ${shq(node)} ${shq(plugin)} "$@"`,
    "",
  ].join("\n");
}
