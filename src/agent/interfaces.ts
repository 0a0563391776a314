// Reads the node's real interfaces (`ip -json addr`) and derives what the Node object publishes:
// InternalIP, `k8s.ovn.org/node-primary-ifaddr` and `k8s.ovn.org/host-cidrs`. Addresses the agent
// itself adds (egress IPs) are excluded so they never masquerade as node networks.
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
  const links = JSON.parse(r.stdout) as IpJsonAddr[];
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
