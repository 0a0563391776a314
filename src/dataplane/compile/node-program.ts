// The node dataplane compiler: NodeView (what the API says) → NodeProgram (one nftables table,
// `ip` routes/rules/addresses, sysctls). Pure and deterministic: the same view renders the same text,
// so the agent can re-apply idempotently and diff programs. No I/O here.
//
// Packet path it programs (MISSION §1, §8; docs/dataplane.md):
//  - pod → other node's pod: main-table route <podSubnet> via <nodeIP> (proto ROUTE_PROTO), no NAT;
//  - pod → ClusterIP:port: DNAT in prerouting/output through a verdict map keyed by
//    daddr . l4proto . dport, one endpoint per flow chosen by `numgen random`;
//  - pod → outside, served by an egress IP held elsewhere: the first packet of the flow gets a ct mark
//    naming the holding node (chosen per flow among the holders), the mark is copied to the packet,
//    and `ip rule fwmark` sends it to a table whose default route is via that node;
//  - on the holding node (or locally when this node holds the chosen IP): SNAT to the egress IP through
//    one map per interface keyed by pod address (`oifname "eth0" snat ip to ip saddr map @...`);
//    when that interface is a secondary NIC, new flows found in its map (local pods' and other nodes'
//    pods') get a NIC mark and `ip rule fwmark` sends them to that NIC's own routing table (its
//    connected networks, its gateway or `unreachable default`), so they leave through that NIC;
//  - pods of a "dropped" project → outside: dropped;
//  - a REMOTE pod's flow → outside that this node cannot SNAT to an egress IP: dropped and counted
//    (counter REMOTE_EGRESS_DROP_COUNTER). Such a flow is here only because the pod's node rerouted it
//    for an EgressIP/project egress IP it believes this node holds; masquerading it would show this
//    node's IP, which is never a valid source for it (MISSION §1, §8);
//  - everything else from this node's pods → outside: masquerade.
//  - a packet still in a base chain when its generation's maps are deleted (two updates later) is
//    dropped, not let through by a missed lookup (`map live`, see renderTable).
// Every per-packet lookup is a set/map lookup keyed by address, so the cost does not grow with the
// number of pods or EgressIPs.
import { containsV4, formatV4, formatV4CIDR, parseV4, parseV4CIDR, type V4CIDR } from "./ipv4.js";
import type {
  AddressSpec,
  CompileWarning,
  IpProgram,
  NodeProgram,
  NodeView,
  RouteSpec,
  RuleSpec,
  ServiceEndpoint,
  SysctlSpec,
  UnderlayInterface,
} from "./types.js";

export const TABLE_FAMILY = "inet";
export const TABLE_NAME = "egress-node";
/** The conntrack/packet mark bits this program owns: 12 bits naming a remote egress holder. */
export const MARK_MASK = 0x0fff0000;
export const MARK_SHIFT = 16;
/** Routing table and rule priority of holder id N is ROUTE_TABLE_BASE + N (N in 1..4095). */
export const ROUTE_TABLE_BASE = 7000;
/** The conntrack/packet mark bits naming the secondary NIC a flow SNATed here leaves by (4 bits:
 *  NIC ids 1..15), outside MARK_MASK. A flow never carries both: NIC marks are set only on flows
 *  with no holder mark. */
export const NIC_MARK_MASK = 0xf0000000;
export const NIC_MARK_SHIFT = 28;
/** Routing table and rule priority of secondary NIC id N is NIC_TABLE_BASE + N (11101..11115): after
 *  every holder rule (7001..11095), before the main table's rule (32766). */
export const NIC_TABLE_BASE = 11100;
/** Priority of the chain that sets NIC marks: right after `egress-mark` (mangle = -150), so it sees
 *  the holder mark the path choice just set. */
export const NIC_CHAIN_PRIORITY = -149;
/** rtnetlink protocol number stamped on every route and rule the program owns. */
export const ROUTE_PROTO = 201;
/** Label suffix of egress addresses the program owns (label = `<dev>:eg`). */
export const ADDRESS_LABEL_SUFFIX = ":eg";
/** Named nft counter of new flows from other nodes' pods dropped because no SNAT entry here applied
 *  (`nft list counter inet egress-node remote_pod_egress_dropped`). */
export const REMOTE_EGRESS_DROP_COUNTER = "remote_pod_egress_dropped";

/** Packet/byte values to start the program's counters from (the table is replaced on every apply, so
 *  a caller that wants running totals reads them first and passes them back in). */
export interface CompileOptions {
  counters?: Partial<Record<typeof REMOTE_EGRESS_DROP_COUNTER, { packets: number; bytes: number }>>;
}

/** A required node-level field of the view is missing or malformed: nothing can be compiled. */
export class CompileError extends Error {
  constructor(
    readonly field: string,
    readonly value: unknown,
    detail: string,
  ) {
    super(`${field}: ${detail} (got ${JSON.stringify(value)})`);
    this.name = "CompileError";
  }
}

const hex = (n: number): string => `0x${n.toString(16).padStart(8, "0")}`;

const v4 = parseV4;
/** Linux interface names as they may appear quoted in nft and in `ip` arguments. */
const IFNAME = /^[A-Za-z0-9_.:-]{1,15}$/;

function requireCIDR(field: string, s: string): V4CIDR {
  const c = parseV4CIDR(s);
  if (!c) throw new CompileError(field, s, "must be an IPv4 CIDR");
  return c;
}

/** Interface whose network contains `ip`, longest prefix first; undefined when none does. */
export function interfaceFor(ifaces: UnderlayInterface[], ip: number): string | undefined {
  let best: { name: string; prefix: number } | undefined;
  for (const i of ifaces) {
    const c = parseV4CIDR(i.address);
    if (c && containsV4(c, ip) && (!best || c.prefix > best.prefix))
      best = { name: i.name, prefix: c.prefix };
  }
  return best?.name;
}

/** Stable 12-bit id of a remote holder node from its address (low 12 bits; probing on collision), so a
 *  flow's ct mark keeps naming the same node across re-renders even when other nodes come and go. */
function holderIds(nodeIPs: number[]): Map<number, number> {
  const ids = new Map<number, number>();
  const used = new Set<number>();
  for (const ip of [...new Set(nodeIPs)].sort((a, b) => a - b)) {
    let id = ip & 0xfff || 1;
    while (used.has(id)) id = (id % 4095) + 1;
    used.add(id);
    ids.set(ip, id);
  }
  return ids;
}

/** Removes CIDRs contained in others (CIDRs never partially overlap), so an nft interval set accepts them. */
function normaliseIntervals(cidrs: V4CIDR[]): V4CIDR[] {
  const sorted = [...cidrs].sort((a, b) => a.net - b.net || a.prefix - b.prefix);
  const out: V4CIDR[] = [];
  for (const c of sorted) {
    const last = out[out.length - 1];
    if (last && containsV4(last, c.net)) continue;
    out.push(c);
  }
  return out;
}

const cidrText = (c: V4CIDR): string => (c.prefix === 32 ? formatV4(c.net) : formatV4CIDR(c));
const byNumber = (a: number, b: number): number => a - b;

/** One way out for a flow: 0 = leave from this node (SNAT here if this node holds the IP), else the
 *  holder id whose table routes to the holding node. */
export type Path = number;

/** How the pods of one holder list leave: their paths, their chain, and the SNAT here if any. */
export interface Plan {
  /** Sorted paths; undefined when every path is local (no mark needed). */
  paths?: Path[];
  chain: string;
  local?: { dev: string; eip: number; address: AddressSpec; key: string };
}

/** What one view entry (egressIPs[i], then projectEgress[j]) does with the pods it lists: serve them
 *  by a plan, claim them without serving (no holder: they masquerade), drop them (project egress
 *  "dropped"), or nothing (a skipped project: its pods stay unclaimed). "unplanned": serves, but no
 *  pod used its holders yet, so no plan was made (the incremental compiler then compiles afresh). */
export type ModelEntry = { kind: "serve"; plan: Plan } | { kind: "claim" | "drop" | "skip" | "unplanned" };

/** The node program as data. Everything but `shape`, `entries`, refs and `podLists` is rendered. */
export interface NodeModel {
  clusterCIDRs: V4CIDR[];
  clusterDsts: V4CIDR[];
  serviceCIDR: V4CIDR;
  podSubnet: V4CIDR;
  bridge: string;
  dropped: ReadonlySet<number>;
  /** Local pod → chain choosing its remote path. */
  egressPods: ReadonlyMap<number, string>;
  chains: ReadonlyMap<string, Path[]>;
  /** Interface → pod → egress IP. */
  snat: ReadonlyMap<string, ReadonlyMap<number, number>>;
  /** Secondary interface → its NIC id, for the interfaces with a SNAT map here (their flows are
   *  marked and routed by the interface's own table). */
  nicIds: ReadonlyMap<string, number>;
  svcKeys: RenderInput["svcKeys"];
  dropCounter: { packets: number; bytes: number };
  ip: IpProgram;
  sysctls: SysctlSpec[];
  warnings: CompileWarning[];
  remoteHolders: number;
  entries: ModelEntry[];
  /** Local pods using each chain; served pods using each egress address (`dev/ip/32`). */
  chainRefs: ReadonlyMap<string, number>;
  addrRefs: ReadonlyMap<string, number>;
  /** The view's pod lists by entry (same order as `entries`). */
  podLists: string[][];
  /** viewShape() of the view the model was built from. */
  shape: string;
}

/** NIC id (1..15) of each secondary interface: its rank among the node's distinct non-primary
 *  interface names, sorted. Depends on the interfaces only, so a flow's NIC mark keeps naming the
 *  same interface while egress IPs come and go; interfaces beyond the 15th get none. */
export function secondaryNicIds(ifaces: UnderlayInterface[]): Map<string, number> {
  const primary = ifaces[0]?.name;
  const names = [...new Set(ifaces.map((i) => i.name))].filter((n) => n !== primary).sort();
  const max = NIC_MARK_MASK >>> NIC_MARK_SHIFT;
  return new Map(names.slice(0, max).map((n, i) => [n, i + 1]));
}

/**
 * The egress routing table of secondary interface `dev`: a connected route per network of the
 * interface, the main-table routes through it that have a next hop (given in the view), and the
 * default route via its gateway — or `unreachable default` without one, so a flow that must leave
 * with an egress IP of this interface is refused rather than leaving by another interface (where
 * it would be masqueraded to the node's IP or dropped).
 */
function nicRoutes(
  ifaces: UnderlayInterface[],
  dev: string,
  table: number,
  warn: (field: string, value: unknown, detail: string) => void,
): RouteSpec[] {
  const out = new Map<string, RouteSpec>();
  let gateway: number | undefined;
  ifaces.forEach((i, n) => {
    if (i.name !== dev) return;
    const c = parseV4CIDR(i.address)!;
    const net = formatV4CIDR(c);
    if (c.prefix < 32) out.set(net, { table, dst: net, dev });
    if (i.gateway !== undefined) {
      const g = v4(i.gateway);
      if (g === undefined) warn(`node.interfaces[${n}].gateway`, i.gateway, "not an IPv4 address; ignored");
      else gateway ??= g;
    }
    (i.routes ?? []).forEach((r, k) => {
      const dst = parseV4CIDR(r.dst);
      const via = v4(r.via);
      if (!dst || via === undefined) {
        warn(
          `node.interfaces[${n}].routes[${k}]`,
          r,
          "dst must be an IPv4 CIDR and via an IPv4 address; ignored",
        );
        return;
      }
      const key = formatV4CIDR(dst);
      if (!out.has(key)) out.set(key, { table, dst: key, via: formatV4(via), dev });
    });
  });
  out.set(
    "default",
    gateway === undefined
      ? { table, dst: "default", type: "unreachable" }
      : { table, dst: "default", via: formatV4(gateway), dev },
  );
  return [...out.values()];
}

export function compileNodeProgram(view: NodeView, opts: CompileOptions = {}): NodeProgram {
  return programOf(buildNodeModel(view, opts));
}

/** Fingerprint of everything in the view but the pod lists (the incremental compiler's key). */
export function viewShape(view: NodeView): string {
  return JSON.stringify([
    view.node,
    view.nodes,
    view.clusterCIDRs,
    view.serviceCIDR,
    view.services,
    view.egressIPs.map((e) => [e.name, e.ips]),
    view.projectEgress.map((p) => [p.namespace, p.state]),
  ]);
}

/** The program as data (sets and maps as Maps), before rendering. Immutable once built. */
export function buildNodeModel(view: NodeView, opts: CompileOptions = {}): NodeModel {
  const warnings: CompileWarning[] = [];
  const warn = (field: string, value: unknown, detail: string) => warnings.push({ field, value, detail });

  const me = view.node;
  const podSubnet = requireCIDR("node.podSubnet", me.podSubnet);
  const myIP = v4(me.nodeIP);
  if (myIP === undefined) throw new CompileError("node.nodeIP", me.nodeIP, "must be an IPv4 address");
  if (me.interfaces.length === 0) throw new CompileError("node.interfaces", me.interfaces, "at least one");
  me.interfaces.forEach((i, n) => {
    requireCIDR(`node.interfaces[${n}].address`, i.address);
    if (!IFNAME.test(i.name)) throw new CompileError(`node.interfaces[${n}].name`, i.name, "interface name");
  });
  const primary = me.interfaces[0]!.name;
  if (!IFNAME.test(me.bridge)) throw new CompileError("node.bridge", me.bridge, "interface name");
  const clusterCIDRs = view.clusterCIDRs.map((c, i) => requireCIDR(`clusterCIDRs[${i}]`, c));
  const serviceCIDR = requireCIDR("serviceCIDR", view.serviceCIDR);
  const devCache = new Map<number, string>();
  const devFor = (ip: number): string => {
    let dev = devCache.get(ip);
    if (dev === undefined) {
      dev = interfaceFor(me.interfaces, ip) ?? primary;
      devCache.set(ip, dev);
    }
    return dev;
  };

  // Destinations that are "inside the cluster": pod networks, services, every node's address.
  const nodeIPs: V4CIDR[] = [];
  const routes: RouteSpec[] = [];
  view.nodes.forEach((n, i) => {
    const ip = v4(n.nodeIP);
    if (ip === undefined) {
      warn(`nodes[${i}].nodeIP`, n.nodeIP, "not an IPv4 address; node skipped");
      return;
    }
    nodeIPs.push({ net: ip, prefix: 32 });
    if (n.name === me.name) return;
    const sub = parseV4CIDR(n.podSubnet);
    if (!sub) {
      warn(`nodes[${i}].podSubnet`, n.podSubnet, "not an IPv4 CIDR");
      return;
    }
    routes.push({ table: "main", dst: formatV4CIDR(sub), via: formatV4(ip), dev: devFor(ip) });
  });
  const clusterDsts = normaliseIntervals([...clusterCIDRs, serviceCIDR, ...nodeIPs]);

  // Which egress serves each pod address: EgressIPs first (in the given order), then project egress.
  interface Served {
    holders: { ip: number; node: string; nodeIP: number; dev?: string }[];
  }
  const served = new Map<number, Served>();
  const dropped = new Set<number>();
  const claimed = new Set<number>();
  const claim = (field: string, s: string): number | undefined => {
    const ip = v4(s);
    if (ip === undefined) {
      warn(field, s, "not an IPv4 address; skipped");
      return undefined;
    }
    if (claimed.has(ip)) return undefined; // served by an earlier EgressIP/project
    claimed.add(ip);
    return ip;
  };
  // What each view entry (EgressIPs, then project egress) does with its pods, by index.
  const entryKinds: ("serve" | "claim" | "drop" | "skip")[] = [];
  const entryHolders: (Served["holders"] | undefined)[] = [];
  view.egressIPs.forEach((e, ei) => {
    const holders: Served["holders"] = [];
    const seenNodes = new Set<string>();
    e.ips.forEach((h, hi) => {
      const ip = v4(h.ip);
      const nodeIP = v4(h.nodeIP);
      if (ip === undefined || nodeIP === undefined) {
        warn(`egressIPs[${ei}].ips[${hi}]`, h, "ip and nodeIP must be IPv4; skipped");
        return;
      }
      if (seenNodes.has(h.node)) {
        warn(`egressIPs[${ei}].ips[${hi}].node`, h.node, "a node holds at most one IP of an EgressIP");
        return;
      }
      seenNodes.add(h.node);
      if (h.interface !== undefined && !IFNAME.test(h.interface))
        warn(`egressIPs[${ei}].ips[${hi}].interface`, h.interface, "not an interface name; chosen by prefix");
      const dev = h.interface !== undefined && IFNAME.test(h.interface) ? h.interface : undefined;
      holders.push({ ip, node: h.node, nodeIP, ...(dev ? { dev } : {}) });
    });
    entryKinds.push(holders.length > 0 ? "serve" : "claim");
    entryHolders.push(holders.length > 0 ? holders : undefined);
    e.podIPs.forEach((p, pi) => {
      const ip = claim(`egressIPs[${ei}].podIPs[${pi}]`, p);
      if (ip !== undefined && holders.length > 0) served.set(ip, { holders });
    });
  });
  view.projectEgress.forEach((pe, i) => {
    const st = pe.state;
    let holders: Served["holders"] | undefined;
    if (st.kind === "normal") {
      const ip = v4(st.egressIP);
      const nodeIP = v4(st.nodeIP);
      if (ip === undefined || nodeIP === undefined) {
        warn(`projectEgress[${i}].state`, st, "egressIP and nodeIP must be IPv4; project skipped");
        entryKinds.push("skip");
        entryHolders.push(undefined);
        return;
      }
      if (st.interface !== undefined && !IFNAME.test(st.interface))
        warn(`projectEgress[${i}].state.interface`, st.interface, "not an interface name; chosen by prefix");
      const dev = st.interface !== undefined && IFNAME.test(st.interface) ? st.interface : undefined;
      holders = [{ ip, node: st.node, nodeIP, ...(dev ? { dev } : {}) }];
    }
    entryKinds.push(holders ? "serve" : "drop");
    entryHolders.push(holders);
    pe.podIPs.forEach((p, pi) => {
      const ip = claim(`projectEgress[${i}].podIPs[${pi}]`, p);
      if (ip === undefined) return;
      if (holders) served.set(ip, { holders });
      else if (containsV4(podSubnet, ip)) dropped.add(ip);
    });
  });

  // Holder side: SNAT entries (pod . oif → egress IP) and the addresses to add.
  const snat = new Map<string, Map<number, number>>(); // dev → pod → egress IP
  const addresses = new Map<string, AddressSpec>();
  // Sender side: per local pod, the list of paths (one per holder) to spread flows over.
  const remoteHolderIPs: number[] = [];
  for (const s of served.values())
    for (const h of s.holders) if (h.node !== me.name) remoteHolderIPs.push(h.nodeIP);
  const ids = holderIds(remoteHolderIPs);
  // Pods of one EgressIP share its holder list: work out the paths, chain and SNAT once per list.
  const plans = new Map<Served["holders"], Plan>();
  const planOf = (holders: Served["holders"]): Plan => {
    let plan = plans.get(holders);
    if (plan) return plan;
    const paths: Path[] = [];
    let local: Plan["local"];
    for (const h of holders) {
      if (h.node === me.name) {
        const dev = h.dev ?? devFor(h.ip);
        const address = `${formatV4(h.ip)}/32`;
        local = {
          dev,
          eip: h.ip,
          address: { dev, address, label: `${dev}${ADDRESS_LABEL_SUFFIX}` },
          key: `${dev}/${address}`,
        };
        paths.push(0);
      } else paths.push(ids.get(h.nodeIP)!);
    }
    paths.sort((a, b) => a - b);
    const remote = paths.some((p) => p !== 0);
    plan = {
      ...(remote ? { paths } : {}),
      chain: `egress-via-${paths.map((p) => p.toString(16)).join("-")}`,
      ...(local ? { local } : {}),
    };
    plans.set(holders, plan);
    return plan;
  };
  const pathsOf = new Map<number, Plan>();
  // Reference counts the incremental compiler needs: local pods per chain, served pods per address.
  const chainRefs = new Map<string, number>();
  const addrRefs = new Map<string, number>();
  for (const [pod, s] of served) {
    const plan = planOf(s.holders);
    if (plan.local) {
      let m = snat.get(plan.local.dev);
      if (!m) {
        m = new Map();
        snat.set(plan.local.dev, m);
      }
      m.set(pod, plan.local.eip);
      addresses.set(plan.local.key, plan.local.address);
      addrRefs.set(plan.local.key, (addrRefs.get(plan.local.key) ?? 0) + 1);
    }
    // Only local pods need rerouting; a pod served only from here needs no mark at all.
    if (plan.paths && containsV4(podSubnet, pod)) {
      pathsOf.set(pod, plan);
      chainRefs.set(plan.chain, (chainRefs.get(plan.chain) ?? 0) + 1);
    }
  }

  // Routing tables and rules, one per remote holder actually used by a local pod.
  const rules: RuleSpec[] = [];
  const usedIds = new Set<number>();
  for (const plan of new Set(pathsOf.values())) for (const p of plan.paths!) if (p !== 0) usedIds.add(p);
  for (const [nodeIP, id] of [...ids].sort((a, b) => a[1] - b[1])) {
    if (!usedIds.has(id)) continue;
    const table = ROUTE_TABLE_BASE + id;
    routes.push({ table, dst: "default", via: formatV4(nodeIP), dev: devFor(nodeIP) });
    rules.push({ priority: table, fwmark: id << MARK_SHIFT, fwmask: MARK_MASK, table });
  }

  // Secondary NICs holding egress IPs: a routing table each, so what they SNAT leaves through them.
  const nicIds = new Map<string, number>();
  const nicIdOf = secondaryNicIds(me.interfaces);
  for (const dev of [...snat.keys()].sort()) {
    if (dev === primary) continue;
    const id = nicIdOf.get(dev);
    if (id === undefined) {
      warn(
        "node.interfaces",
        dev,
        me.interfaces.some((i) => i.name === dev)
          ? `more than ${NIC_MARK_MASK >>> NIC_MARK_SHIFT} secondary interfaces: egress traffic SNATed to ${dev} leaves by the main routing table`
          : `egress interface ${dev} is not an underlay interface of this node: its traffic leaves by the main routing table`,
      );
      continue;
    }
    nicIds.set(dev, id);
    const table = NIC_TABLE_BASE + id;
    routes.push(...nicRoutes(me.interfaces, dev, table, warn));
    rules.push({ priority: table, fwmark: (id << NIC_MARK_SHIFT) >>> 0, fwmask: NIC_MARK_MASK, table });
  }

  // Flows from a pod are spread over its paths; pods with the same path list share one chain.
  const chains = new Map<string, Path[]>();
  const egressPods = new Map<number, string>();
  for (const [pod, plan] of pathsOf) {
    chains.set(plan.chain, plan.paths!);
    egressPods.set(pod, plan.chain);
  }

  // Services.
  interface SvcKey {
    key: string;
    chain: string;
    proto: string;
    endpoints: { ip: string; port: number }[];
    sortKey: string;
  }
  const svcKeys: SvcKey[] = [];
  const seenSvc = new Set<string>();
  view.services.forEach((svc, si) => {
    const vip = v4(svc.clusterIP);
    if (vip === undefined) {
      warn(`services[${si}].clusterIP`, svc.clusterIP, "not an IPv4 address; skipped");
      return;
    }
    svc.ports.forEach((p, pi) => {
      const proto = p.protocol.toLowerCase();
      if (!["tcp", "udp", "sctp"].includes(proto) || !(p.port >= 1 && p.port <= 65535)) {
        warn(`services[${si}].ports[${pi}]`, p, "protocol TCP/UDP/SCTP and port 1-65535 required; skipped");
        return;
      }
      const key = `${formatV4(vip)} . ${proto} . ${p.port}`;
      if (seenSvc.has(key)) {
        warn(`services[${si}].ports[${pi}]`, key, "duplicate ClusterIP/port; skipped");
        return;
      }
      seenSvc.add(key);
      const eps: ServiceEndpoint[] = p.endpoints ?? svc.endpoints ?? [];
      const endpoints: { ip: string; port: number }[] = [];
      eps.forEach((ep, ei) => {
        const ip = v4(ep.ip);
        const port = ep.port ?? p.targetPort;
        if (ip === undefined || !(port >= 1 && port <= 65535)) {
          warn(`services[${si}].ports[${pi}].endpoints[${ei}]`, ep, "IPv4 address and port required");
          return;
        }
        endpoints.push({ ip: formatV4(ip), port });
      });
      const uniq = [...new Map(endpoints.map((e) => [`${e.ip}:${e.port}`, e])).values()].sort(
        (a, b) => v4(a.ip)! - v4(b.ip)! || a.port - b.port,
      );
      svcKeys.push({
        key,
        chain: `svc/${svc.namespace}/${svc.name}/${proto}/${p.port}`,
        proto,
        endpoints: uniq,
        sortKey: `${vip.toString().padStart(10, "0")}/${proto}/${String(p.port).padStart(5, "0")}`,
      });
    });
  });
  svcKeys.sort((a, b) => (a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : 0));

  const ifaceNames = [...new Set([...me.interfaces.map((i) => i.name), me.bridge])].sort();
  const sysctls: SysctlSpec[] = [
    { key: "net.ipv4.ip_forward", value: "1" },
    { key: "net.ipv4.conf.all.send_redirects", value: "0" },
    { key: "net.ipv4.conf.default.send_redirects", value: "0" },
    ...ifaceNames.map((n) => ({ key: `net.ipv4.conf.${n.replaceAll(".", "/")}.send_redirects`, value: "0" })),
    // Replies to flows that left by a secondary NIC's own table come back on that NIC from addresses
    // the main table routes elsewhere: strict reverse-path filtering would drop them. Loose mode on
    // every secondary interface (as OVN-Kubernetes does), written once, not when egress IPs move.
    ...[...new Set(me.interfaces.slice(1).map((i) => i.name))]
      .filter((n) => n !== primary)
      .sort()
      .map((n) => ({ key: `net.ipv4.conf.${n.replaceAll(".", "/")}.rp_filter`, value: "2" })),
  ];

  const routeKey = (r: RouteSpec) => `${String(r.table === "main" ? 0 : r.table).padStart(5, "0")}/${r.dst}`;
  return {
    clusterCIDRs: normaliseIntervals(clusterCIDRs),
    clusterDsts,
    serviceCIDR,
    podSubnet,
    bridge: me.bridge,
    dropped,
    egressPods,
    chains,
    snat,
    nicIds,
    svcKeys,
    dropCounter: counterValue(opts.counters?.[REMOTE_EGRESS_DROP_COUNTER]),
    ip: {
      routes: routes.sort((a, b) => (routeKey(a) < routeKey(b) ? -1 : routeKey(a) > routeKey(b) ? 1 : 0)),
      rules,
      addresses: [...addresses.values()].sort((a, b) =>
        a.dev === b.dev ? (a.address < b.address ? -1 : 1) : a.dev < b.dev ? -1 : 1,
      ),
    },
    sysctls,
    warnings,
    remoteHolders: usedIds.size,
    entries: entryKinds.map((kind, n): ModelEntry => {
      const h = entryHolders[n];
      if (kind !== "serve" || !h) return { kind: kind === "serve" ? "claim" : kind };
      // A holder list no pod used yet may name a node without a holder id: no plan without one
      // (ids are not handed out here, so adding an entry never renumbers the others).
      if (!plans.has(h) && h.some((x) => x.node !== me.name && !ids.has(x.nodeIP)))
        return { kind: "unplanned" };
      return { kind, plan: planOf(h) };
    }),
    chainRefs,
    addrRefs,
    podLists: [...view.egressIPs.map((e) => e.podIPs), ...view.projectEgress.map((p) => p.podIPs)],
    shape: viewShape(view),
  };
}

/** A model as a NodeProgram; the script is rendered on first use (the incremental path may never
 *  need it) and cached. */
export function programOf(m: NodeModel): NodeProgram {
  let nft: string | undefined;
  const program = {
    table: { family: TABLE_FAMILY, name: TABLE_NAME },
    ip: m.ip,
    sysctls: m.sysctls,
    warnings: m.warnings,
    stats: {
      egressPods: m.egressPods.size,
      snatEntries: [...m.snat.values()].reduce((n, x) => n + x.size, 0),
      droppedPods: m.dropped.size,
      serviceKeys: m.svcKeys.length,
      remoteHolders: m.remoteHolders,
    },
  } as Omit<NodeProgram, "nft">;
  Object.defineProperty(program, "nft", {
    enumerable: true,
    get: () => {
      nft ??= renderModel(m);
      return nft;
    },
  });
  return program as NodeProgram;
}

/** Renders the whole-table script of a model (sorted: equal models give equal text). */
export function renderModel(m: NodeModel): string {
  return renderTable({
    clusterCIDRs: m.clusterCIDRs,
    clusterDsts: m.clusterDsts,
    serviceCIDR: m.serviceCIDR,
    podSubnet: m.podSubnet,
    bridge: m.bridge,
    dropped: [...m.dropped].sort(byNumber),
    egressPods: [...m.egressPods].sort((a, b) => a[0] - b[0]).map(([pod, chain]) => ({ pod, chain })),
    chains: m.chains,
    snat: snatMaps(m.snat),
    nicIds: m.nicIds,
    svcKeys: m.svcKeys,
    dropCounter: m.dropCounter,
  });
}

/** One SNAT map per interface holding egress IPs (name from the interface, made unique), sorted. */
export function snatMaps(byDev: ReadonlyMap<string, ReadonlyMap<number, number>>): SnatMap[] {
  return snatMapNames([...byDev.keys()]).map(({ dev, name }) => {
    const entries = [...byDev.get(dev)!].sort((a, b) => a[0] - b[0]);
    return { dev, name, entries };
  });
}

/** The SNAT map name of each interface (sorted by interface; names made unique). */
export function snatMapNames(devs: string[]): { dev: string; name: string }[] {
  const used = new Set<string>();
  return [...devs].sort().map((dev) => {
    let name = `egressip_snat_${dev.replace(/[^A-Za-z0-9_]/g, "_")}`;
    for (let i = 2; used.has(name); i++) name = `egressip_snat_${dev.replace(/[^A-Za-z0-9_]/g, "_")}_${i}`;
    used.add(name);
    return { dev, name };
  });
}

/** A counter start value made safe for the script (non-negative integers only; anything else = 0). */
function counterValue(c: { packets: number; bytes: number } | undefined): { packets: number; bytes: number } {
  const ok = (n: unknown): n is number => typeof n === "number" && Number.isSafeInteger(n) && n >= 0;
  return { packets: ok(c?.packets) ? c.packets : 0, bytes: ok(c?.bytes) ? c.bytes : 0 };
}

export interface SnatMap {
  dev: string;
  name: string;
  /** [pod, egress IP] sorted by pod. */
  entries: [number, number][];
}

interface RenderInput {
  clusterCIDRs: V4CIDR[];
  clusterDsts: V4CIDR[];
  serviceCIDR: V4CIDR;
  podSubnet: V4CIDR;
  bridge: string;
  dropped: number[];
  egressPods: { pod: number; chain: string }[];
  chains: ReadonlyMap<string, Path[]>;
  snat: SnatMap[];
  nicIds: ReadonlyMap<string, number>;
  svcKeys: { key: string; chain: string; proto: string; endpoints: { ip: string; port: number }[] }[];
  dropCounter: { packets: number; bytes: number };
}

function elements(items: string[]): string[] {
  if (items.length === 0) return [];
  return [
    "\t\telements = {",
    ...items.map((e, i) => `\t\t\t${e}${i < items.length - 1 ? "," : ""}`),
    "\t\t}",
  ];
}

/** Renders the whole table. Layout is fixed and every list is sorted, so equal input gives equal text. */
function renderTable(r: RenderInput): string {
  const T = `${TABLE_FAMILY} ${TABLE_NAME}`;
  const out: string[] = [`table ${T} {}`, `delete table ${T}`, `table ${T} {`];
  const block = (head: string, body: string[]) => out.push(`\t${head} {`, ...body, "\t}");
  const q = (s: string) => JSON.stringify(s);
  const markRoute = `ct mark and ${hex(MARK_MASK)}`;

  block(`counter ${REMOTE_EGRESS_DROP_COUNTER}`, [
    `\t\tpackets ${r.dropCounter.packets} bytes ${r.dropCounter.bytes}`,
  ]);
  block("set cluster_cidrs", [
    "\t\ttype ipv4_addr",
    "\t\tflags interval",
    ...elements(r.clusterCIDRs.map(cidrText)),
  ]);
  block("set cluster_dsts", [
    "\t\ttype ipv4_addr",
    "\t\tflags interval",
    ...elements(r.clusterDsts.map(cidrText)),
  ]);
  block("set dropped_pods", ["\t\ttype ipv4_addr", ...elements(r.dropped.map(formatV4))]);
  block("map egress_pods", [
    "\t\ttype ipv4_addr : verdict",
    ...elements(r.egressPods.map((e) => `${formatV4(e.pod)} : goto ${e.chain}`)),
  ]);
  for (const m of r.snat)
    block(`map ${m.name}`, [
      "\t\ttype ipv4_addr : ipv4_addr",
      ...elements(m.entries.map(([pod, eip]) => `${formatV4(pod)} : ${formatV4(eip)}`)),
    ]);
  block("map service_ips", [
    "\t\ttype ipv4_addr . inet_proto . inet_service : verdict",
    ...elements(r.svcKeys.map((s) => `${s.key} : goto ${s.chain}`)),
  ]);

  // Egress path choice: the first packet of a flow from a served local pod to outside the cluster picks
  // a path; later packets of the original direction carry it again (replies must not be rerouted).
  // Marks still in use: a flow whose mark names a holder no chain uses any more (the holder failed or
  // lost the IP) would follow a routing table that is gone and leave un-NATed; it is re-routed by
  // the pod's current path instead (the new holder picks the flow up mid-stream and SNATs it to the
  // same egress IP), or dropped when its path is now local (a flow cannot be NATed mid-stream here).
  const live = [...new Set([...r.chains.values()].flat().filter((p) => p !== 0))].sort(byNumber);
  block("set live_marks", ["\t\ttype mark", ...elements(live.map((p) => hex(p << MARK_SHIFT)))]);
  // Fail closed for packets that outlive their generation (docs/dataplane.md, "Packets that outlive
  // their generation"): a packet that entered a base chain two table updates ago still runs that
  // generation's rules. Its lookups into the deleted hash maps miss (the kernel deactivates a deleted
  // map's elements; a deleted set, or interval map, still answers with its old elements): a miss in
  // egress_pods would send an EgressIP pod's new flow out masqueraded to the node address, a miss in a
  // NIC's SNAT map out of the wrong interface, a miss in a SNAT map in snat-postrouting out
  // masqueraded. `live` is a hash map holding both nfproto values, so the guard never drops while its
  // generation exists and drops the stale packet once it is deleted. (An interval set holding
  // 0.0.0.0/0 does not work: measured on 6.18, a straddling packet still finds it.) `forward` is
  // guarded too (dropped_pods is a set, but a kernel that deactivated set elements would let a
  // dropped project out). Only new flows are checked: these chains see every packet.
  block("map live", ["\t\ttype nf_proto : mark", ...elements(["ipv4 : 0x00000001", "ipv6 : 0x00000001"])]);
  const guard = "\t\tct state new meta nfproto != @live drop";
  block("chain egress-mark", [
    "\t\ttype filter hook prerouting priority mangle; policy accept;",
    `\t\tct direction original ${markRoute} != 0 ${markRoute} @live_marks meta mark set ct mark return`,
    // A jump, not a goto: a stale packet finds egress-repath empty (deleting a generation flushes
    // its chains) and returns here instead of ending the base chain with its policy accept, which
    // would send the flow out by the main table with the pod's address. Live packets never return
    // unguarded: egress-repath ends in a verdict or a chain that ends guarded.
    `\t\tct direction original ${markRoute} != 0 jump egress-repath`,
    `\t\tct direction original ${markRoute} != 0 meta nfproto != @live drop`,
    "\t\tct state new ip daddr != @cluster_dsts ip saddr vmap @egress_pods",
    guard,
  ]);
  // No clearing of the dead mark before the lookup: the chains of egress_pods overwrite the whole ct
  // mark, and a miss must leave it, so every later packet of the flow comes here and is dropped too.
  // Cleared, the next packets would carry no mark, be accepted as established and leave by the main
  // table with the pod's address (no NAT is set up mid-flow).
  block("chain egress-repath", ["\t\tip daddr != @cluster_dsts ip saddr vmap @egress_pods", "\t\tdrop"]);
  // Flows SNATed here to an egress IP on a secondary NIC leave through that NIC: new flows from pods in
  // its SNAT map (this node's pods whose path is local, and other nodes' pods rerouted here) that no
  // holder mark sends elsewhere get the NIC's mark in conntrack; later packets of the original
  // direction get it back (replies are routed by the main table: to the pod).
  const nicMaps = r.snat.filter((m) => r.nicIds.has(m.dev));
  if (nicMaps.length > 0) {
    const nicRules: string[] = [];
    for (const m of nicMaps) {
      const mark = hex((r.nicIds.get(m.dev)! << NIC_MARK_SHIFT) >>> 0);
      nicRules.push(
        `\t\tct direction original ct mark and ${hex(NIC_MARK_MASK)} == ${mark} meta mark set meta mark or ${mark} return`,
      );
    }
    for (const m of nicMaps) {
      const mark = hex((r.nicIds.get(m.dev)! << NIC_MARK_SHIFT) >>> 0);
      nicRules.push(
        `\t\tct state new ${markRoute} == 0 ip daddr != @cluster_dsts ip saddr @${m.name} ct mark set ct mark or ${mark} meta mark set meta mark or ${mark}`,
      );
    }
    block("chain egress-nic", [
      `\t\ttype filter hook prerouting priority ${NIC_CHAIN_PRIORITY}; policy accept;`,
      ...nicRules,
      guard,
    ]);
  }
  // A chain is entered by a new flow (egress-mark) or by an established one whose holder is gone
  // (egress-repath). An established flow must not be given the local path (mark 0): it was not NATed
  // here, nothing NATs it mid-stream, and with mark 0 its packets would leave with the pod's address.
  // So when the paths mix this node and remote holders, established flows choose among the remote ones.
  const choose = (paths: Path[]): string => {
    const marks = paths.map((p) => hex(p << MARK_SHIFT));
    return marks.length === 1
      ? `ct mark set ${marks[0]}`
      : `ct mark set numgen random mod ${marks.length} map { ${marks.map((m, i) => `${i} : ${m}`).join(", ")} }`;
  };
  for (const name of [...r.chains.keys()].sort()) {
    const paths = r.chains.get(name)!;
    const remote = paths.filter((p) => p !== 0);
    const set =
      remote.length < paths.length && remote.length > 0
        ? [`\t\tct state new ${choose(paths)}`, `\t\tct state != new ${choose(remote)}`]
        : [`\t\t${choose(paths)}`];
    // Several holders: the anonymous map of the numgen choice is deleted with its generation, and a
    // stale miss would leave the flow without a mark, to be masqueraded by a later generation's nat
    // chain. The guard drops it instead (a single holder's constant mark needs no lookup).
    const tail = paths.length === 1 ? [] : ["\t\tmeta nfproto != @live drop"];
    block(`chain ${name}`, [...set, "\t\tmeta mark set ct mark", ...tail]);
  }

  block("chain services", ["\t\tip daddr . meta l4proto . th dport vmap @service_ips"]);
  block("chain dnat-prerouting", [
    "\t\ttype nat hook prerouting priority dstnat; policy accept;",
    "\t\tjump services",
  ]);
  block("chain dnat-output", ["\t\ttype nat hook output priority -100; policy accept;", "\t\tjump services"]);
  for (const s of r.svcKeys) {
    const n = s.endpoints.length;
    if (n === 0) {
      block(`chain ${s.chain}`, []); // no endpoint: left to the forward chain's reject
    } else if (n === 1) {
      block(`chain ${s.chain}`, [
        `\t\tmeta l4proto ${s.proto} dnat ip to ${s.endpoints[0]!.ip}:${s.endpoints[0]!.port}`,
      ]);
    } else {
      const ep = s.endpoints.map((_e, i) => `${i} : goto ${s.chain}/ep${i}`).join(", ");
      block(`chain ${s.chain}`, [`\t\tnumgen random mod ${n} vmap { ${ep} }`]);
      s.endpoints.forEach((e, i) => {
        block(`chain ${s.chain}/ep${i}`, [`\t\tmeta l4proto ${s.proto} dnat ip to ${e.ip}:${e.port}`]);
      });
    }
  }

  const local = formatV4CIDR(r.podSubnet);
  block("chain forward", [
    "\t\ttype filter hook forward priority filter; policy accept;",
    // A ClusterIP still being the destination here means no endpoint took it.
    `\t\tip daddr ${formatV4CIDR(r.serviceCIDR)} reject`,
    "\t\tip saddr @dropped_pods ip daddr != @cluster_dsts drop",
    guard,
  ]);
  block("chain snat-postrouting", [
    "\t\ttype nat hook postrouting priority srcnat; policy accept;",
    // Service traffic between pods of this bridge would answer past the node's conntrack: masquerade it.
    `\t\tct status dnat ip saddr ${local} ip daddr ${local} oifname ${q(r.bridge)} masquerade`,
    "\t\tip saddr != @cluster_cidrs return",
    "\t\tip daddr @cluster_dsts return",
    `\t\t${markRoute} != 0 return`,
    // SNAT only out of the interface that holds the egress IP (a pod missing from the map falls through).
    ...r.snat.map((m) => `\t\toifname ${q(m.dev)} snat ip to ip saddr map @${m.name}`),
    // Another node's pod leaving here was rerouted for an egress IP this node does not (yet, or any
    // more) SNAT: never show this node's IP instead. Dropping the first packet leaves no conntrack
    // entry, so a retransmission is NATed afresh once the SNAT entry is in place. Only new flows reach
    // a nat chain, so this costs one prefix comparison per flow.
    `\t\tip saddr != ${local} counter name ${q(REMOTE_EGRESS_DROP_COUNTER)} drop`,
    // A stale packet's SNAT-map lookups miss (see `live` above): never masquerade an EgressIP pod.
    "\t\tmeta nfproto != @live drop",
    `\t\toifname != ${q(r.bridge)} masquerade`,
  ]);
  out.push("}");
  return `${out.join("\n")}\n`;
}
