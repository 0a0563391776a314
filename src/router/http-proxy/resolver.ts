// How the HTTP proxy turns a host name into addresses. An interface so tests inject answers;
// production uses node:dns (getaddrinfo, so /etc/hosts applies as for any program in the pod).
// Names reaching a resolver have been validated as host names (never numeric forms), so
// getaddrinfo cannot reinterpret them as inet_aton literals.

import { lookup } from "node:dns/promises";
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
