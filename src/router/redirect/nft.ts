// Renders redirect mode as the nftables script the router installs in its pod's network
// namespace: one table `ip egress-router`, DNAT per local port (then the fallback) for traffic
// arriving on the cluster interface, a refusal of every other port when there is no fallback,
// and SNAT to EGRESS_SOURCE for traffic leaving through the egress (macvlan) interface.
// Pure: returns text; loading it (`nft -f`) is an adapter's job.

import type { RedirectConfig } from "../config/env.js";

export const NFT_TABLE = "egress-router";

export interface RouterInterfaces {
  /** The pod's cluster-network interface, where clients' connections arrive. */
  cluster: string;
  /** The interface on the node's physical network (macvlan or the lab's equivalent). */
  egress: string;
}

export const DEFAULT_INTERFACES: RouterInterfaces = { cluster: "eth0", egress: "macvlan0" };

const quote = (s: string): string => JSON.stringify(s);

/** The rule lines of the prerouting chain, in evaluation order. */
export function dnatRules(config: RedirectConfig, ifs: RouterInterfaces = DEFAULT_INTERFACES): string[] {
  const iif = `iifname ${quote(ifs.cluster)}`;
  const out = config.destination.rules.map(
    (r) => `${iif} ${r.protocol} dport ${r.port} dnat to ${r.destination}:${r.remotePort}`,
  );
  if (config.destination.fallback !== null) out.push(`${iif} dnat to ${config.destination.fallback}`);
  return out;
}

/** The whole script. It first creates-then-deletes the table so that loading it replaces any
 *  earlier version atomically (one `nft -f` transaction), as a restarted router pod must. */
export function renderNftScript(config: RedirectConfig, ifs: RouterInterfaces = DEFAULT_INTERFACES): string {
  const lines: string[] = [
    `# egress router, mode ${config.mode}: source ${config.source.address}, gateway ${config.gateway}`,
    `table ip ${NFT_TABLE}`,
    `delete table ip ${NFT_TABLE}`,
    `table ip ${NFT_TABLE} {`,
    "\tchain prerouting {",
    "\t\ttype nat hook prerouting priority dstnat; policy accept;",
    ...dnatRules(config, ifs).map((r) => `\t\t${r}`),
    "\t}",
    "\tchain postrouting {",
    "\t\ttype nat hook postrouting priority srcnat; policy accept;",
    `\t\toifname ${quote(ifs.egress)} snat to ${config.source.address}`,
    "\t}",
  ];
  if (config.destination.fallback === null) {
    // Without a fallback, connections to unlisted ports are refused outright (TCP reset, ICMP
    // port unreachable) rather than left to whatever might listen in the pod.
    const iif = `iifname ${quote(ifs.cluster)}`;
    lines.push(
      "\tchain input {",
      "\t\ttype filter hook input priority filter; policy accept;",
      `\t\t${iif} ct state established,related accept`,
      `\t\t${iif} meta l4proto tcp reject with tcp reset`,
      `\t\t${iif} meta l4proto udp reject`,
      "\t}",
    );
  }
  lines.push("}");
  return `${lines.join("\n")}\n`;
}
