// The `ip`/`arping`/sysctl steps that give the router its address on the egress interface and
// make EGRESS_GATEWAY its default route (upstream's setup_network). Pure: returns argv arrays;
// running them in the pod's namespace is the lab's adapter's job.

import type { EgressSource } from "../config/redirect.js";

export interface NetworkSetup {
  /** `ip` commands in order. */
  ip: string[][];
  /** Gratuitous ARP so neighbours forget a previous owner of the address (failover). */
  arping: string[];
  /** sysctls to set in the pod namespace (key → value). */
  sysctls: Record<string, string>;
}

export function networkSetup(
  source: EgressSource,
  gateway: string,
  egressInterface = "macvlan0",
  forwarding = true,
): NetworkSetup {
  const dev = egressInterface;
  return {
    ip: [
      // Without a prefix length the address is a /32: only the gateway (next line) is on-link.
      ["ip", "address", "add", `${source.address}/${source.prefixLength ?? 32}`, "dev", dev],
      ["ip", "link", "set", "dev", dev, "up"],
      ["ip", "route", "add", `${gateway}/32`, "dev", dev],
      ["ip", "route", "replace", "default", "via", gateway, "dev", dev],
    ],
    arping: ["arping", "-q", "-A", "-c", "1", "-I", dev, source.address],
    // Redirect mode forwards DNATed packets between interfaces; proxy modes do not.
    sysctls: forwarding ? { "net.ipv4.ip_forward": "1" } : {},
  };
}
