// Multicast per project (MISSION §9): compiles the PolicyView into the node's `bridge egress-mcast`
// table, which filters IPv4 multicast on the node's pod bridge. The bridge floods multicast (snooping
// off) to every local pod port and to the VXLAN port that replicates it to the other nodes; this
// table then decides per copy: a copy reaches a pod only when the sender's and the receiver's
// namespaces both have multicast on and share a netid (netid 0 = global projects, only among
// themselves). Pure: no I/O; the agent's MulticastSync (src/agent/multicast.ts) applies the script.
// Design and limits: docs/policy.md, section "Multicast".
import { formatIPv4, parseIPv4 } from "../../api/ip.js";
import type { PolicyNamespace, PolicyView } from "./policy/types.js";
import type { CompileWarning } from "./types.js";

/** The table the multicast program owns completely (updated by generations like `inet egress-node`: docs/dataplane.md). */
export const MULTICAST_TABLE = { family: "bridge", name: "egress-mcast" } as const;

export interface MulticastLocal {
  /** The node's pod bridge (CNI bridge plugin), e.g. "cbr0". */
  bridge: string;
  /** The VXLAN port on that bridge that carries multicast to and from the other nodes. */
  vxlan: string;
  /** Host-side bridge port (veth) of each local pod, by pod address. */
  ports: { ip: string; ifname: string }[];
}

/** What the rules say, as data (tests assert on it; the script is rendered from it). */
export interface MulticastPlan {
  /** Receiving ports per key (netid), sorted; only keys with at least one local receiver. */
  receivers: { netid: number; ports: string[] }[];
  /** Local multicast-enabled pods (port, address, netid), sorted by address: they may send to the
   *  VXLAN port; those whose netid has local receivers also reach them. */
  localSenders: { ifname: string; ip: string; netid: number }[];
  /** Other nodes' multicast-enabled pods whose netid has local receivers, sorted by address. */
  remoteSenders: { ip: string; netid: number }[];
}

export interface MulticastProgram {
  table: typeof MULTICAST_TABLE;
  /** Whole-table script for `nft -f -` (create-if-absent, delete, full definition: one transaction). */
  nft: string;
  plan: MulticastPlan;
  warnings: CompileWarning[];
}

/** A node-level input the program cannot be built without (bridge or VXLAN port name). */
export class MulticastCompileError extends Error {
  override name = "MulticastCompileError";
  constructor(
    readonly field: string,
    readonly value: unknown,
    detail: string,
  ) {
    super(`${field}: Invalid value: ${JSON.stringify(value)}: ${detail}`);
  }
}

/** Linux interface names: 1–15 bytes, no '/', ':', whitespace or quotes (they go into nft strings). */
const IFNAME = /^[A-Za-z0-9_.@-]{1,15}$/;

/**
 * The multicast key of a namespace: its netid when multicast is on, else undefined. The same rule in
 * every mode (multitenant, networkpolicy, subnet): in networkpolicy mode each namespace has its own
 * netid, so the key is per namespace there unless netids were shared before the mode changed.
 */
export function multicastKey(ns: PolicyNamespace | undefined): number | undefined {
  if (!ns?.multicast || ns.netid === undefined) return undefined;
  return ns.netid;
}

export function compileMulticastProgram(view: PolicyView, local: MulticastLocal): MulticastProgram {
  if (!IFNAME.test(local.bridge))
    throw new MulticastCompileError("bridge", local.bridge, "not an interface name");
  if (!IFNAME.test(local.vxlan))
    throw new MulticastCompileError("vxlan", local.vxlan, "not an interface name");
  if (local.vxlan === local.bridge)
    throw new MulticastCompileError("vxlan", local.vxlan, "must differ from the bridge");
  const warnings: CompileWarning[] = [];

  const namespaces = new Map<string, PolicyNamespace>();
  view.namespaces.forEach((ns, i) => {
    if (namespaces.has(ns.name)) {
      warnings.push({
        field: `namespaces[${i}].name`,
        value: ns.name,
        detail: "duplicate namespace; first wins",
      });
      return;
    }
    namespaces.set(ns.name, ns);
    if (ns.multicast && ns.netid === undefined)
      warnings.push({
        field: `namespaces[${i}].netid`,
        value: ns.name,
        detail: "multicast enabled but the namespace has no netid yet; treated as off",
      });
  });

  // Port names by pod address; a name must be unique (two pods cannot share a veth).
  const portByIP = new Map<bigint, string>();
  const seenPorts = new Set<string>();
  local.ports.forEach((p, i) => {
    const ip = parseIPv4(p.ip);
    if (ip === undefined) {
      warnings.push({ field: `ports[${i}].ip`, value: p.ip, detail: "not an IPv4 address" });
      return;
    }
    if (!IFNAME.test(p.ifname) || p.ifname === local.vxlan || p.ifname === local.bridge) {
      warnings.push({ field: `ports[${i}].ifname`, value: p.ifname, detail: "not a usable pod port name" });
      return;
    }
    if (portByIP.has(ip) || seenPorts.has(p.ifname)) {
      warnings.push({ field: `ports[${i}]`, value: p, detail: "duplicate address or port; first wins" });
      return;
    }
    portByIP.set(ip, p.ifname);
    seenPorts.add(p.ifname);
  });

  const localSenders: { ifname: string; ip: bigint; netid: number }[] = [];
  const remote: { ip: bigint; netid: number }[] = [];
  const seenIPs = new Set<bigint>();
  view.pods.forEach((pod, i) => {
    const ip = parseIPv4(pod.ip);
    if (ip === undefined) {
      warnings.push({ field: `pods[${i}].ip`, value: pod.ip, detail: "not an IPv4 address; pod skipped" });
      return;
    }
    if (seenIPs.has(ip)) {
      warnings.push({
        field: `pods[${i}].ip`,
        value: pod.ip,
        detail: "address used by another pod; first wins",
      });
      return;
    }
    seenIPs.add(ip);
    const netid = multicastKey(namespaces.get(pod.namespace));
    if (netid === undefined) return;
    if (!pod.local) {
      remote.push({ ip, netid });
      return;
    }
    const ifname = portByIP.get(ip);
    if (ifname === undefined) {
      warnings.push({
        field: `pods[${i}]`,
        value: `${pod.namespace}/${pod.name}`,
        detail: "local pod has no known bridge port yet; it neither sends nor receives multicast",
      });
      return;
    }
    localSenders.push({ ifname, ip, netid });
  });

  const receiverPorts = new Map<number, string[]>();
  for (const s of localSenders) {
    const list = receiverPorts.get(s.netid) ?? [];
    list.push(s.ifname);
    receiverPorts.set(s.netid, list);
  }
  const byIP = (a: { ip: bigint }, b: { ip: bigint }) => (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0);
  const plan: MulticastPlan = {
    receivers: [...receiverPorts.entries()]
      .sort(([a], [b]) => a - b)
      .map(([netid, ports]) => ({ netid, ports: [...ports].sort() })),
    localSenders: [...localSenders]
      .sort(byIP)
      .map((s) => ({ ifname: s.ifname, ip: formatIPv4(s.ip), netid: s.netid })),
    remoteSenders: remote
      .filter((r) => receiverPorts.has(r.netid))
      .sort(byIP)
      .map((r) => ({ ip: formatIPv4(r.ip), netid: r.netid })),
  };
  return { table: MULTICAST_TABLE, nft: render(plan, local), plan, warnings };
}

const q = (s: string) => `"${s}"`;
const chainOf = (netid: number) => `netid-${netid}`;

function elements(items: string[]): string[] {
  return items.length === 0 ? [] : [`\t\telements = { ${items.join(",\n\t\t\t     ")} }`];
}

function render(plan: MulticastPlan, local: MulticastLocal): string {
  const T = `${MULTICAST_TABLE.family} ${MULTICAST_TABLE.name}`;
  const vx = q(local.vxlan);
  const withReceivers = new Set(plan.receivers.map((r) => r.netid));
  const out: string[] = [`table ${T} {}`, `delete table ${T}`, `table ${T} {`];
  const block = (head: string, body: string[]) => out.push(`\t${head} {`, ...body, "\t}");

  // Local senders are keyed by their port AND address, so a pod cannot borrow another project's
  // address to reach it; remote senders were checked the same way by their own node.
  block("map local_src", [
    "\t\ttype ifname . ipv4_addr : verdict",
    ...elements(
      plan.localSenders
        .filter((s) => withReceivers.has(s.netid))
        .map((s) => `${q(s.ifname)} . ${s.ip} : jump ${chainOf(s.netid)}`),
    ),
  ]);
  block("map remote_src", [
    "\t\ttype ipv4_addr : verdict",
    ...elements(plan.remoteSenders.map((s) => `${s.ip} : jump ${chainOf(s.netid)}`)),
  ]);
  block("set senders", [
    "\t\ttype ifname . ipv4_addr",
    ...elements(plan.localSenders.map((s) => `${q(s.ifname)} . ${s.ip}`)),
  ]);
  for (const r of plan.receivers)
    block(`chain ${chainOf(r.netid)}`, [`\t\toifname { ${r.ports.map(q).join(", ")} } accept`, "\t\tdrop"]);

  // br_netfilter (on in node namespaces) hands bridged IPv4 to the inet hooks, so multicast would get
  // conntrack entries and pass the node program's NAT chains, which take another node's pod source
  // for rerouted egress traffic and drop it. Multicast is never NATed: untracked, it skips the NAT
  // chains entirely (and costs no conntrack entry per flow and node). Runs before br_netfilter (0).
  block("chain prerouting", [
    "\t\ttype filter hook prerouting priority dstnat; policy accept;",
    "\t\tip daddr 224.0.0.0/4 notrack",
  ]);
  // Bridge-family `filter` priority (-200) runs before br_netfilter hands bridged IPv4 to the inet
  // hooks, so copies dropped here never reach conntrack or the policy tables.
  block("chain forward", [
    "\t\ttype filter hook forward priority filter; policy accept;",
    `\t\tiifname ${vx} jump from-vxlan`,
    `\t\toifname ${vx} jump to-vxlan`,
    // Between local ports only IPv4 multicast is ours; everything else is the policy tables' business.
    "\t\tip daddr 224.0.0.0/4 jump from-pod",
    // Each chain above ends in a verdict, so a live packet never comes back here. A packet still
    // running a deleted generation's rules finds those chains empty (the deletion flushes them) and
    // returns: without these it would reach the policy accept, i.e. any port of any project.
    `\t\tiifname ${vx} drop`,
    `\t\toifname ${vx} drop`,
    "\t\tip daddr 224.0.0.0/4 drop",
  ]);
  block("chain from-pod", ["\t\tiifname . ip saddr vmap @local_src", "\t\tdrop"]);
  // The VXLAN port carries IPv4 multicast only (MAC 01:00:5e/25 and daddr 224.0.0.0/4): no ARP, no
  // broadcast, no unknown unicast, no IPv6, so the overlay never becomes a second L2 path.
  const onlyV4Multicast = [
    "\t\tether daddr & ff:ff:ff:80:00:00 != 01:00:5e:00:00:00 drop",
    "\t\tmeta protocol != ip drop",
    "\t\tip daddr != 224.0.0.0/4 drop",
  ];
  block("chain to-vxlan", [...onlyV4Multicast, "\t\tiifname . ip saddr @senders accept", "\t\tdrop"]);
  block("chain from-vxlan", [...onlyV4Multicast, "\t\tip saddr vmap @remote_src", "\t\tdrop"]);
  // The node itself neither sends into the overlay nor takes anything from it.
  block("chain input", [
    "\t\ttype filter hook input priority filter; policy accept;",
    `\t\tiifname ${vx} drop`,
  ]);
  block("chain output", [
    "\t\ttype filter hook output priority filter; policy accept;",
    `\t\toifname ${vx} drop`,
  ]);
  out.push("}");
  return `${out.join("\n")}\n`;
}
