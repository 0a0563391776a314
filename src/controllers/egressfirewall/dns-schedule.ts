// DNS names of egress firewall rules: what a lookup result does to the published addresses and when
// the name is resolved next. TTL respected (never below a minimum interval that protects the
// resolver), 30 minutes when no TTL can be read, old addresses kept while a lookup fails (retried
// with backoff). Pure: no I/O, no clock (time comes in as milliseconds).

/** One address family's lookup: records (ttl in seconds, when the resolver gave one), a negative
 *  answer (NXDOMAIN / no records of that family), or a failure (timeout, SERVFAIL, refused ...). */
export type FamilyLookup =
  | { ok: true; records: { address: string; ttl?: number }[] }
  | { ok: false; negative: true; code: string }
  | { ok: false; negative: false; code: string };

export interface DnsScheduleOptions {
  /** Used when no TTL can be read (upstream: 30 minutes). */
  defaultIntervalMs: number;
  /** Never re-resolve a name more often than this (TTL 0, tiny TTLs). */
  minIntervalMs: number;
  /** Longest wait between retries of a failing name. */
  maxRetryMs: number;
}

export const defaultDnsScheduleOptions: DnsScheduleOptions = {
  defaultIntervalMs: 30 * 60_000,
  minIntervalMs: 2_000,
  maxRetryMs: 5 * 60_000,
};

export interface DnsNameState {
  ipv4: string[];
  ipv6: string[];
  /** When the name is due for its next lookup (ms since epoch). */
  nextResolveAt: number;
  /** Consecutive failed lookups (0 after a full answer). */
  failures: number;
  /** The last failure's codes ("A: ETIMEOUT"), while failing. */
  error?: string;
  /** The TTL (s) used for the schedule, when one was read. */
  ttl?: number;
}

/** Addresses agents should use: IPv4 then IPv6, each sorted and unique. */
export function addressesOf(s: DnsNameState): string[] {
  return [...s.ipv4, ...s.ipv6];
}

const uniqSorted = (xs: string[]) => [...new Set(xs)].sort();

/** The state after a lookup of both families at `now`. */
export function applyLookup(
  prev: DnsNameState | undefined,
  v4: FamilyLookup,
  v6: FamilyLookup,
  now: number,
  opts: DnsScheduleOptions = defaultDnsScheduleOptions,
): DnsNameState {
  const pick = (r: FamilyLookup, old: string[] | undefined) =>
    r.ok ? uniqSorted(r.records.map((x) => x.address)) : r.negative ? [] : (old ?? []);
  const ipv4 = pick(v4, prev?.ipv4);
  const ipv6 = pick(v6, prev?.ipv6);
  const failed = [
    ...(!v4.ok && !v4.negative ? [`A: ${v4.code}`] : []),
    ...(!v6.ok && !v6.negative ? [`AAAA: ${v6.code}`] : []),
  ];
  if (failed.length > 0) {
    const failures = (prev?.failures ?? 0) + 1;
    const backoff = Math.min(opts.maxRetryMs, opts.minIntervalMs * 2 ** Math.min(failures - 1, 20));
    return { ipv4, ipv6, nextResolveAt: now + backoff, failures, error: failed.join(", ") };
  }
  const ttls = [v4, v6].flatMap((r) =>
    r.ok ? r.records.map((x) => x.ttl).filter((t): t is number => t !== undefined && t >= 0) : [],
  );
  const ttl = ttls.length > 0 ? Math.min(...ttls) : undefined;
  const wait = ttl === undefined ? opts.defaultIntervalMs : Math.max(ttl * 1000, opts.minIntervalMs);
  return { ipv4, ipv6, nextResolveAt: now + wait, failures: 0, ...(ttl !== undefined ? { ttl } : {}) };
}

/** Whether agents must be told: the addresses or the failing state changed. */
export function publishedChanged(a: DnsNameState | undefined, b: DnsNameState): boolean {
  if (!a) return true;
  return (
    addressesOf(a).join(",") !== addressesOf(b).join(",") ||
    (a.error === undefined) !== (b.error === undefined)
  );
}

/** Names due at `now`, and when the next one falls due (undefined: none tracked). */
export function dueNames(
  states: ReadonlyMap<string, DnsNameState>,
  now: number,
): { due: string[]; nextAt: number | undefined } {
  const due: string[] = [];
  let nextAt: number | undefined;
  for (const [name, s] of states) {
    if (s.nextResolveAt <= now) due.push(name);
    else if (nextAt === undefined || s.nextResolveAt < nextAt) nextAt = s.nextResolveAt;
  }
  return { due: due.sort(), nextAt };
}

/** The name to look up for a rule's dnsName: lower case, no trailing dot. Wildcards
 *  (`*.example.com`, EgressFirewall only) cannot be resolved to a finite address list: undefined. */
export function lookupName(dnsName: string): string | undefined {
  if (dnsName.startsWith("*")) return undefined;
  const n = dnsName.toLowerCase();
  return n.endsWith(".") ? n.slice(0, -1) : n;
}
