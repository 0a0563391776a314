// The cluster DNS zone (`cluster.local`) and its answers, as the Kubernetes DNS specification names
// Services: `<svc>.<ns>.svc.<domain>` → the Service's cluster IPs (A/AAAA); a headless Service →
// its ready endpoint addresses, plus `<hostname>.<svc>.<ns>.svc.<domain>` for endpoints with a
// hostname; an ExternalName Service → a CNAME. Unknown names inside the zone are NXDOMAIN, names
// outside it are forwarded to the node's upstream resolvers. Pure: built from Service and Endpoints
// objects handed in; decides on parsed messages and never touches a socket.
import { parseIP } from "../../api/ip.js";
import type { KubeObject } from "../../api/object.js";
import {
  CLASS_ANY,
  CLASS_IN,
  canonicalName,
  type DnsMessage,
  type DnsRecord,
  OPCODE_QUERY,
  optRecord,
  RCODE,
  TYPE,
} from "./message.js";

export const DEFAULT_CLUSTER_DOMAIN = "cluster.local";
/** Short, so a Service created or changed is seen within seconds by resolvers that cache. */
export const DEFAULT_TTL_S = 5;
/** The UDP payload size advertised in our OPT record (the DNS flag day 2020 value). */
export const EDNS_UDP_SIZE = 1232;

export interface ZoneEntry {
  a: string[];
  aaaa: string[];
  cname?: string;
}

export interface ClusterZone {
  /** Lower case, no trailing dot. */
  domain: string;
  /** Every existing name (lower case) → its records; names with no records exist too (NODATA). */
  names: Map<string, ZoneEntry>;
}

interface ServiceSpec {
  type?: string;
  clusterIP?: string;
  clusterIPs?: string[];
  externalName?: string;
}

interface EndpointAddress {
  ip?: string;
  hostname?: string;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

function sortedUnique(xs: string[]): string[] {
  return [...new Set(xs)].sort();
}

/** Builds the zone from the informer caches' Services and Endpoints (any order). */
export function buildClusterZone(
  services: KubeObject[],
  endpoints: KubeObject[],
  domain = DEFAULT_CLUSTER_DOMAIN,
): ClusterZone {
  const zone = canonicalName(domain);
  const names = new Map<string, ZoneEntry>();
  const entry = (name: string): ZoneEntry => {
    let e = names.get(name);
    if (!e) {
      e = { a: [], aaaa: [] };
      names.set(name, e);
    }
    return e;
  };
  entry(zone);
  entry(`svc.${zone}`);
  const eps = new Map(endpoints.map((e) => [`${e.metadata.namespace}/${e.metadata.name}`, e]));
  for (const s of services) {
    const ns = s.metadata.namespace ?? "";
    const name = s.metadata.name ?? "";
    if (!DNS_LABEL.test(ns) || !DNS_LABEL.test(name)) continue;
    const spec = (s.spec ?? {}) as ServiceSpec;
    const fqdn = `${name}.${ns}.svc.${zone}`;
    entry(`${ns}.svc.${zone}`);
    const e = entry(fqdn);
    if (spec.type === "ExternalName") {
      if (spec.externalName) e.cname = canonicalName(spec.externalName);
      continue;
    }
    const ips =
      spec.clusterIPs && spec.clusterIPs.length > 0
        ? spec.clusterIPs
        : spec.clusterIP
          ? [spec.clusterIP]
          : [];
    if (ips.includes("None")) {
      // Headless: the ready endpoints (the endpoints controller lists not-ready ones under
      // `addresses` too when the Service publishes them).
      const subsets = ((
        eps.get(`${ns}/${name}`) as { subsets?: { addresses?: EndpointAddress[] }[] } | undefined
      )?.subsets ?? []) as { addresses?: EndpointAddress[] }[];
      for (const a of subsets.flatMap((ss) => ss.addresses ?? [])) {
        const ip = a.ip ? parseIP(a.ip) : undefined;
        if (!ip) continue;
        const targets = [e];
        if (a.hostname && DNS_LABEL.test(a.hostname)) targets.push(entry(`${a.hostname}.${fqdn}`));
        for (const t of targets) (ip.family === 4 ? t.a : t.aaaa).push(a.ip!);
      }
    } else {
      for (const s of ips) {
        const ip = parseIP(s);
        if (ip) (ip.family === 4 ? e.a : e.aaaa).push(s);
      }
    }
  }
  for (const e of names.values()) {
    e.a = sortedUnique(e.a);
    e.aaaa = sortedUnique(e.aaaa);
  }
  return { domain: zone, names };
}

export type DnsDecision =
  | { kind: "reply"; response: DnsMessage }
  /** Not ours: send the query as it is to the upstream resolvers. */
  | { kind: "forward" }
  /** Not a query (a response sent to us): no reply at all. */
  | { kind: "drop" };

export interface AnswerOptions {
  ttl?: number;
}

export function inZone(name: string, zone: string): boolean {
  const n = canonicalName(name);
  return n === zone || n.endsWith(`.${zone}`);
}

/** The zone's SOA, sent with negative answers: its minimum bounds how long they are cached. */
function soa(zone: string, ttl: number): DnsRecord {
  return {
    name: zone,
    type: TYPE.SOA,
    class: CLASS_IN,
    ttl,
    data: {
      kind: "SOA",
      mname: `ns.dns.${zone}`,
      rname: `hostmaster.${zone}`,
      serial: 1,
      refresh: 7200,
      retry: 1800,
      expire: 86400,
      minimum: ttl,
    },
  };
}

/** A response skeleton for `query`: id, question and RD/CD copied, RA set (we recurse by forwarding). */
export function replyTo(query: DnsMessage, rcode: number, authoritative = false): DnsMessage {
  const opt = optRecord(query);
  return {
    id: query.id,
    flags: {
      qr: true,
      opcode: query.flags.opcode,
      aa: authoritative,
      tc: false,
      rd: query.flags.rd,
      ra: true,
      ad: false,
      cd: query.flags.cd,
      rcode,
    },
    questions: query.questions.length === 1 ? [...query.questions] : [],
    answers: [],
    authorities: [],
    additionals: opt
      ? [
          {
            name: "",
            type: TYPE.OPT,
            class: EDNS_UDP_SIZE,
            ttl: 0,
            data: { kind: "raw", bytes: new Uint8Array() },
          },
        ]
      : [],
  };
}

/** What the cluster DNS does with one parsed message. */
export function answerQuery(query: DnsMessage, zone: ClusterZone, opts: AnswerOptions = {}): DnsDecision {
  const ttl = opts.ttl ?? DEFAULT_TTL_S;
  if (query.flags.qr) return { kind: "drop" };
  if (query.flags.opcode !== OPCODE_QUERY) return { kind: "reply", response: replyTo(query, RCODE.NOTIMP) };
  const q = query.questions[0];
  if (!q || query.questions.length !== 1) return { kind: "reply", response: replyTo(query, RCODE.FORMERR) };
  if (!inZone(q.name, zone.domain)) return { kind: "forward" };
  if (q.class !== CLASS_IN && q.class !== CLASS_ANY)
    return { kind: "reply", response: replyTo(query, RCODE.REFUSED) };
  const e = zone.names.get(canonicalName(q.name));
  if (!e) {
    const r = replyTo(query, RCODE.NXDOMAIN, true);
    r.authorities.push(soa(zone.domain, ttl));
    return { kind: "reply", response: r };
  }
  const r = replyTo(query, RCODE.NOERROR, true);
  const rr = (type: number, data: DnsRecord["data"]): DnsRecord => ({
    name: q.name,
    type,
    class: CLASS_IN,
    ttl,
    data,
  });
  if (e.cname !== undefined) {
    // An alias answers every type with the CNAME; the client (or its resolver) follows it.
    r.answers.push(rr(TYPE.CNAME, { kind: "CNAME", target: e.cname }));
    return { kind: "reply", response: r };
  }
  const any = q.type === TYPE.ANY;
  if (q.type === TYPE.A || any) for (const a of e.a) r.answers.push(rr(TYPE.A, { kind: "A", address: a }));
  if (q.type === TYPE.AAAA || any)
    for (const a of e.aaaa) r.answers.push(rr(TYPE.AAAA, { kind: "AAAA", address: a }));
  if (q.type === TYPE.SOA && canonicalName(q.name) === zone.domain) r.answers.push(soa(zone.domain, ttl));
  // No record of that type (AAAA of an IPv4-only Service, a headless Service without ready
  // endpoints, the zone's empty intermediate names): NODATA with the SOA.
  if (r.answers.length === 0) r.authorities.push(soa(zone.domain, ttl));
  return { kind: "reply", response: r };
}

/** The largest UDP reply the querier accepts: its EDNS size (at least 512, at most ours), else 512. */
export function udpLimit(query: DnsMessage): number {
  const opt = optRecord(query);
  return opt ? Math.max(512, Math.min(opt.class, EDNS_UDP_SIZE)) : 512;
}
