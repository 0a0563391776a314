// How the HTTP proxy turns a host name into addresses. An interface so tests inject answers;
// production uses node:dns (getaddrinfo, so /etc/hosts applies as for any program in the pod), or
// explicit name servers (`--dns-server`, the pod's DNS as the lab kubelet passes it).
// Names reaching a resolver have been validated as host names (never numeric forms), so
// getaddrinfo cannot reinterpret them as inet_aton literals.

import { lookup, Resolver } from "node:dns/promises";
import type { IP } from "../../api/ip.js";
import { parseAddress } from "../config/host.js";

export interface HostResolver {
  /** All addresses of `name`; an empty list or a rejection means "cannot resolve". */
  resolve(name: string): Promise<IP[]>;
}

export const systemResolver: HostResolver = {
  async resolve(name) {
    const answers = await lookup(name, { all: true, verbatim: true });
    return answers.map((a) => parseAddress(a.address)).filter((ip): ip is IP => ip !== undefined);
  },
};

/** A fixed table (name → address texts). Unknown names do not resolve. Used by tests and by
 *  `egress router http-proxy --check --resolve NAME=IP`. */
export function staticResolver(table: Readonly<Record<string, readonly string[]>>): HostResolver {
  return {
    async resolve(name) {
      const texts = table[name.toLowerCase()] ?? [];
      return texts.map((t) => parseAddress(t)).filter((ip): ip is IP => ip !== undefined);
    },
  };
}

/** Asks the given name servers directly (A and AAAA). A name with no address of either family
 *  does not resolve; one family failing alone (no AAAA record) is not an error. */
export function serverResolver(servers: readonly string[]): HostResolver {
  const r = new Resolver({ timeout: 2000, tries: 2 });
  r.setServers([...servers]);
  return {
    async resolve(name) {
      const [a4, a6] = await Promise.allSettled([r.resolve4(name), r.resolve6(name)]);
      if (a4.status === "rejected" && a6.status === "rejected") throw a4.reason;
      const texts = [
        ...(a4.status === "fulfilled" ? a4.value : []),
        ...(a6.status === "fulfilled" ? a6.value : []),
      ];
      return texts.map((t) => parseAddress(t)).filter((ip): ip is IP => ip !== undefined);
    },
  };
}
