// Reads the node's real interfaces (`ip -json addr`) and derives what the Node object publishes:
// InternalIP, `k8s.ovn.org/node-primary-ifaddr` and `k8s.ovn.org/host-cidrs`. Addresses the agent
// itself adds (egress IPs) are excluded so they never masquerade as node networks. Also reads the
// main routing table's routes through each interface (gateway and next-hop routes), which the node
// program copies into a secondary NIC's egress routing table. Parsing and derivation are pure; only
// the two read functions spawn `ip`.
import { ROUTE_PROTO } from "../dataplane/compile/node-program.js";
import type { UnderlayInterface } from "../dataplane/compile/types.js";
import { ownsAddress } from "../dataplane/ip/diff.js";
import { run } from "./exec.js";

export interface InterfaceAddress {
  ifname: string;
  address: string;
  prefixLength: number;
  family: 4 | 6;
}

interface IpJsonAddr {
  ifname: string;
  flags?: string[];
  addr_info?: { family: string; local: string; prefixlen: number; scope?: string; label?: string }[];
}

export async function readAddresses(): Promise<InterfaceAddress[]> {
  const r = await run("ip", ["-json", "addr", "show"]);
  return parseAddressJson(JSON.parse(r.stdout) as IpJsonAddr[]);
}

function parseAddressJson(links: IpJsonAddr[]): InterfaceAddress[] {
  const out: InterfaceAddress[] = [];
  for (const l of links) {
    if (l.ifname === "lo") continue;
    for (const a of l.addr_info ?? []) {
      if (a.scope && a.scope !== "global") continue;
      // Egress IPs the agent added carry its label; they are never node networks, not even in the
      // moment between adding one and recording it as owned, nor after an agent restart.
      if (a.label && ownsAddress({ label: a.label })) continue;
      out.push({
        ifname: l.ifname,
        address: a.local,
        prefixLength: a.prefixlen,
        family: a.family === "inet6" ? 6 : 4,
      });
    }
  }
  return out;
}

export interface NodeAddressing {
  internalIP: string;
  primaryIfAddr: { ipv4?: string; ipv6?: string };
  hostCIDRs: string[];
}

/**
 * The primary interface's first IPv4 address is the node's InternalIP; every other global address
 * of the node's own networks is a host CIDR. `owned` are addresses the agent added (egress IPs,
 * bridge gateways) and are left out.
 */
export function nodeAddressing(
  addrs: InterfaceAddress[],
  primaryInterface: string,
  owned: ReadonlySet<string>,
  skipInterfaces: ReadonlySet<string>,
): NodeAddressing {
  const mine = addrs.filter((a) => !owned.has(a.address) && !skipInterfaces.has(a.ifname));
  const primary4 = mine.find((a) => a.ifname === primaryInterface && a.family === 4);
  const primary6 = mine.find((a) => a.ifname === primaryInterface && a.family === 6);
  if (!primary4 && !primary6) throw new Error(`primary interface ${primaryInterface} has no global address`);
  const primaryIfAddr: { ipv4?: string; ipv6?: string } = {};
  if (primary4) primaryIfAddr.ipv4 = `${primary4.address}/${primary4.prefixLength}`;
  if (primary6) primaryIfAddr.ipv6 = `${primary6.address}/${primary6.prefixLength}`;
  return {
    internalIP: (primary4 ?? primary6)!.address,
    primaryIfAddr,
    hostCIDRs: mine.map((a) => `${a.address}/${a.prefixLength}`),
  };
}

/** A main-table IPv4 route with a next hop through one interface (`ip -json route show table main`). */
export interface GatewayRoute {
  /** CIDR or "default". */
  dst: string;
  via: string;
  dev: string;
  metric: number;
}

/** Main-table IPv4 routes with a single next hop and an output interface; the node program's own
 *  routes (protocol ROUTE_PROTO: other nodes' pod subnets) and multipath routes are left out. */
export function parseGatewayRoutes(json: unknown): GatewayRoute[] {
  if (!Array.isArray(json)) return [];
  const out: GatewayRoute[] = [];
  for (const r of json as Record<string, unknown>[]) {
    if (typeof r !== "object" || r === null) continue;
    const { dst, gateway, dev, metric, protocol, type } = r;
    if (typeof dst !== "string" || typeof gateway !== "string" || typeof dev !== "string") continue;
    if (dst.includes(":") || gateway.includes(":")) continue;
    if (type !== undefined && type !== "unicast") continue;
    if (protocol !== undefined && String(protocol) === String(ROUTE_PROTO)) continue;
    out.push({
      dst: dst === "default" || dst.includes("/") ? dst : `${dst}/32`,
      via: gateway,
      dev,
      metric: typeof metric === "number" ? metric : 0,
    });
  }
  return out;
}

/**
 * The node's underlay interfaces as the compiler wants them: IPv4 addresses, not on the pod bridge,
 * not the egress addresses the agent holds (`owned`), in `ip addr` order (the first is the primary).
 * Each carries its gateway — the next hop of the lowest-metric default route through it (first one
 * listed on a tie) — and its other next-hop routes, for a secondary NIC's egress routing table.
 */
export function underlayInterfaces(
  addrs: InterfaceAddress[],
  routes: GatewayRoute[],
  skip: { bridge: string; owned: ReadonlySet<string> },
): UnderlayInterface[] {
  const gateway = new Map<string, GatewayRoute>();
  const others = new Map<string, { dst: string; via: string }[]>();
  for (const r of routes) {
    if (r.dst === "default") {
      const best = gateway.get(r.dev);
      if (!best || r.metric < best.metric) gateway.set(r.dev, r);
    } else {
      let l = others.get(r.dev);
      if (!l) {
        l = [];
        others.set(r.dev, l);
      }
      if (!l.some((x) => x.dst === r.dst)) l.push({ dst: r.dst, via: r.via });
    }
  }
  return addrs
    .filter((a) => a.family === 4 && a.ifname !== skip.bridge && !skip.owned.has(a.address))
    .map((a) => {
      const g = gateway.get(a.ifname);
      const more = others.get(a.ifname);
      return {
        name: a.ifname,
        address: `${a.address}/${a.prefixLength}`,
        ...(g ? { gateway: g.via } : {}),
        ...(more && more.length > 0 ? { routes: [...more].sort((x, y) => (x.dst < y.dst ? -1 : 1)) } : {}),
      };
    });
}

/** Addresses and main-table routes in one `ip -json -batch` (one process: it runs every second). */
export async function readAddressesAndRoutes(): Promise<{
  addresses: InterfaceAddress[];
  routes: GatewayRoute[];
}> {
  const r = await run("ip", ["-json", "-batch", "-"], { input: "addr show\nroute show table main\n" });
  // One JSON document per command, each on its own line.
  const docs = r.stdout
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.startsWith("["));
  if (docs.length !== 2) throw new Error(`ip -json -batch: expected 2 JSON documents, got ${docs.length}`);
  return {
    addresses: parseAddressJson(JSON.parse(docs[0]!) as IpJsonAddr[]),
    routes: parseGatewayRoutes(JSON.parse(docs[1]!) as unknown),
  };
}
