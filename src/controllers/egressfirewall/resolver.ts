// The DNS adapter of the egress-firewall controller: looks names up with the node's resolver
// (node:dns, c-ares, reading TTLs) and classifies the result for dns-schedule.ts. The interface is
// injectable so tests can point it at their own DNS server. Must not decide anything.
import { promises as dns } from "node:dns";
import type { FamilyLookup } from "./dns-schedule.js";

export interface DnsResolver {
  lookup(name: string, family: 4 | 6): Promise<FamilyLookup>;
}

/** Answers that say "no such records" rather than "could not ask". */
const NEGATIVE = new Set(["ENODATA", "ENOTFOUND"]);

export interface NodeDnsResolverOptions {
  /** "ip[:port]" servers; default: the node's /etc/resolv.conf. */
  servers?: string[];
  timeoutMs?: number;
  tries?: number;
}

export class NodeDnsResolver implements DnsResolver {
  private readonly r: dns.Resolver;
  constructor(opts: NodeDnsResolverOptions = {}) {
    this.r = new dns.Resolver({ timeout: opts.timeoutMs ?? 2000, tries: opts.tries ?? 2 });
    if (opts.servers && opts.servers.length > 0) this.r.setServers(opts.servers);
  }

  async lookup(name: string, family: 4 | 6): Promise<FamilyLookup> {
    try {
      const recs =
        family === 4
          ? await this.r.resolve4(name, { ttl: true })
          : await this.r.resolve6(name, { ttl: true });
      return { ok: true, records: recs.map((x) => ({ address: x.address, ttl: x.ttl })) };
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      const c = typeof code === "string" ? code : String(e);
      return NEGATIVE.has(c)
        ? { ok: false, negative: true, code: c }
        : { ok: false, negative: false, code: c };
    }
  }
}
