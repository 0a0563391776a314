// LoadBalancer ingress addresses from MetalLB-style IPAddressPools (MetalLB-compatible subset).
// Pools: spec.addresses (CIDRs and `a-b` ranges), autoAssign (default true), avoidBuggyIPs
// (default false: every address, .0 and .255 included, is usable). A Service of type
// LoadBalancer gets one address per IP family it asks for, all from one pool: the requested
// address (spec.loadBalancerIP / metallb.universe.tf/loadBalancerIPs) if it is free, else the lowest
// free address of the pool named by metallb.universe.tf/address-pool, else of the first
// auto-assign pool (pool name order) that can serve it. Existing addresses are kept while still
// valid; addresses of deleted services are simply free (they are not in the input).
// Shared IPs (allow-shared-ip) are not supported: every address belongs to at most one Service.
// Pure: no I/O.
import { type Family, formatIP, parseCIDR, parseIP } from "../../api/ip.js";
import { compareByAge, compareStrings, type DecisionEvent } from "../common/decision.js";

export const ADDRESS_POOL_ANNOTATION = "metallb.universe.tf/address-pool";
export const LOAD_BALANCER_IPS_ANNOTATION = "metallb.universe.tf/loadBalancerIPs";

export interface AddressPool {
  name: string;
  addresses: string[];
  autoAssign?: boolean;
  avoidBuggyIPs?: boolean;
}

export interface LBService {
  namespace: string;
  name: string;
  creationTimestamp?: string;
  type: string;
  /** spec.ipFamilies; default ["IPv4"]. */
  ipFamilies?: ("IPv4" | "IPv6")[];
  /** spec.loadBalancerIP and/or the loadBalancerIPs annotation, split on ','. */
  requestedIPs?: string[];
  /** metallb.universe.tf/address-pool */
  pool?: string;
  /** Current status.loadBalancer.ingress[].ip */
  currentIPs: string[];
}

export interface LBAllocation {
  namespace: string;
  name: string;
  /** Desired ingress IPs ([] = none) and the pool they came from. */
  ips: string[];
  pool?: string;
}

export interface LBResult {
  allocations: LBAllocation[];
  /** namespace/name of services whose ingress IPs differ from currentIPs (as sets). */
  changed: string[];
  events: DecisionEvent[];
}

export class PoolAddressError extends Error {
  constructor(
    readonly pool: string,
    readonly index: number,
    readonly value: string,
    readonly detail: string,
  ) {
    super(
      `IPAddressPool ${pool}: spec.addresses[${index}]: Invalid value: ${JSON.stringify(value)}: ${detail}`,
    );
    this.name = "PoolAddressError";
  }
}

export interface AddressRange {
  family: Family;
  first: bigint;
  last: bigint;
}

/** Parses one spec.addresses entry: "10.0.0.0/24" or "10.0.0.10-10.0.0.20" (spaces allowed
 *  around '-'). Throws PoolAddressError. */
export function parsePoolAddress(pool: string, index: number, s: string): AddressRange {
  if (s.includes("-")) {
    const [a, b, ...rest] = s.split("-").map((x) => x.trim());
    const x = parseIP(a ?? "");
    const y = parseIP(b ?? "");
    if (rest.length > 0 || !x || !y) throw new PoolAddressError(pool, index, s, "range must be <ip>-<ip>");
    if (x.family !== y.family)
      throw new PoolAddressError(pool, index, s, "range ends are of different IP families");
    if (x.value > y.value) throw new PoolAddressError(pool, index, s, "range start is after range end");
    return { family: x.family, first: x.value, last: y.value };
  }
  const c = parseCIDR(s.trim());
  if (!c) throw new PoolAddressError(pool, index, s, "must be a CIDR or an <ip>-<ip> range");
  const bits = c.family === 4 ? 32 : 128;
  return { family: c.family, first: c.network, last: c.network | ((1n << BigInt(bits - c.prefix)) - 1n) };
}

/** MetalLB's avoidBuggyIPs test: IPv4 addresses ending in .0 or .255. */
const buggy = (f: Family, v: bigint): boolean => f === 4 && ((v & 0xffn) === 0n || (v & 0xffn) === 255n);

interface ParsedPool {
  pool: AddressPool;
  ranges: AddressRange[];
}

const famOf = (f: "IPv4" | "IPv6"): Family => (f === "IPv4" ? 4 : 6);
const ipKey = (f: Family, v: bigint): string => `${f}/${v}`;

function poolHas(p: ParsedPool, f: Family, v: bigint): boolean {
  return (
    p.ranges.some((r) => r.family === f && r.first <= v && v <= r.last) &&
    !(p.pool.avoidBuggyIPs && buggy(f, v))
  );
}

/** Lowest free address of one family in a pool (ranges in spec order), or undefined. `cursor`
 *  remembers per range the first address not yet found taken: within one allocation `used` only
 *  grows, so everything below it stays taken and 1,000 new Services cost one pass over the pool
 *  instead of one pass each (quadratic). */
function lowestFree(
  p: ParsedPool,
  f: Family,
  used: Set<string>,
  cursor: Map<AddressRange, bigint>,
): bigint | undefined {
  for (const r of p.ranges) {
    if (r.family !== f) continue;
    for (let v = cursor.get(r) ?? r.first; v <= r.last; v++) {
      if (used.has(ipKey(f, v)) || (p.pool.avoidBuggyIPs && buggy(f, v))) continue;
      cursor.set(r, v);
      return v;
    }
    cursor.set(r, r.last + 1n);
  }
  return undefined;
}

/** Allocates ingress IPs for every LoadBalancer Service. Invalid pools are skipped with an event.
 *  Kept addresses are settled first, oldest Service first (creationTimestamp, namespace, name),
 *  so an address claimed twice stays with the older Service. */
export function allocateLoadBalancerIPs(pools: AddressPool[], services: LBService[]): LBResult {
  const events: DecisionEvent[] = [];
  const parsed: ParsedPool[] = [];
  for (const pool of [...pools].sort((a, b) => compareStrings(a.name, b.name))) {
    try {
      parsed.push({ pool, ranges: pool.addresses.map((s, i) => parsePoolAddress(pool.name, i, s)) });
    } catch (err) {
      events.push({
        type: "Warning",
        reason: "InvalidPool",
        message: (err as Error).message,
        object: { kind: "IPAddressPool", name: pool.name },
      });
    }
  }
  const byName = new Map(parsed.map((p) => [p.pool.name, p]));
  const sorted = [...services].sort(compareByAge);
  const used = new Set<string>();
  const result = new Map<LBService, LBAllocation>();
  const svcRef = (s: LBService) => ({ kind: "Service", namespace: s.namespace, name: s.name });
  const fams = (s: LBService): Family[] => [
    ...new Set((s.ipFamilies?.length ? s.ipFamilies : ["IPv4" as const]).map(famOf)),
  ];
  const allowedPools = (s: LBService): ParsedPool[] =>
    s.pool !== undefined ? (byName.has(s.pool) ? [byName.get(s.pool)!] : []) : parsed;

  // Pass 1: keep current addresses that are still valid (one pool for all families).
  for (const s of sorted) {
    const alloc: LBAllocation = { namespace: s.namespace, name: s.name, ips: [] };
    result.set(s, alloc);
    if (s.type !== "LoadBalancer" || s.currentIPs.length === 0) continue;
    const want = fams(s);
    const cur = s.currentIPs.map((t) => parseIP(t));
    if (cur.some((c) => !c) || cur.length !== want.length) continue;
    const curSet = new Set(cur.map((c) => c!.family));
    if (want.some((f) => !curSet.has(f))) continue;
    const req = (s.requestedIPs ?? []).map((t) => parseIP(t)).filter((x) => x !== undefined);
    if (req.length > 0 && !req.every((r) => cur.some((c) => c!.family === r.family && c!.value === r.value)))
      continue;
    const pool = allowedPools(s).find((p) => cur.every((c) => poolHas(p, c!.family, c!.value)));
    if (!pool || cur.some((c) => used.has(ipKey(c!.family, c!.value)))) continue;
    if (s.pool === undefined && req.length === 0 && pool.pool.autoAssign === false) continue;
    for (const c of cur) used.add(ipKey(c!.family, c!.value));
    alloc.ips = cur.map((c) => formatIP(c!));
    alloc.pool = pool.pool.name;
  }

  // Pass 2: new allocations.
  const cursor = new Map<AddressRange, bigint>();
  for (const s of sorted) {
    const alloc = result.get(s)!;
    if (s.type !== "LoadBalancer" || alloc.ips.length > 0) continue;
    const want = fams(s);
    const fail = (why: string) =>
      events.push({
        type: "Warning",
        reason: "AllocationFailed",
        message: `Failed to allocate IP for "${s.namespace}/${s.name}": ${why}`,
        object: svcRef(s),
      });
    if (s.pool !== undefined && !byName.has(s.pool)) {
      fail(`unknown pool "${s.pool}"`);
      continue;
    }
    const req = s.requestedIPs ?? [];
    if (req.length > 0) {
      const ips = req.map((t) => parseIP(t.trim()));
      if (ips.some((x) => !x)) {
        fail(`invalid requested IP in ${JSON.stringify(req)}`);
        continue;
      }
      const pool = allowedPools(s).find((p) => ips.every((x) => poolHas(p, x!.family, x!.value)));
      if (!pool) {
        fail(`${req.join(",")} is not allowed in config`);
        continue;
      }
      const taken = ips.find((x) => used.has(ipKey(x!.family, x!.value)));
      if (taken) {
        fail(
          `can't change sharing key for "${s.namespace}/${s.name}", address ${formatIP(taken)} is already in use`,
        );
        continue;
      }
      for (const x of ips) used.add(ipKey(x!.family, x!.value));
      alloc.ips = ips.map((x) => formatIP(x!));
      alloc.pool = pool.pool.name;
    } else {
      const pools =
        s.pool !== undefined ? allowedPools(s) : parsed.filter((p) => p.pool.autoAssign !== false);
      let done = false;
      for (const p of pools) {
        const picks = want.map((f) => lowestFree(p, f, used, cursor));
        if (picks.some((v) => v === undefined)) continue;
        alloc.ips = picks.map((v, i) => formatIP({ family: want[i]!, value: v! }));
        alloc.pool = p.pool.name;
        picks.forEach((v, i) => {
          used.add(ipKey(want[i]!, v!));
        });
        done = true;
        break;
      }
      if (!done) {
        fail("no available IPs");
        continue;
      }
    }
    events.push({
      type: "Normal",
      reason: "IPAllocated",
      message: `Assigned IP ${JSON.stringify(alloc.ips)}`,
      object: svcRef(s),
    });
  }

  const changed: string[] = [];
  for (const s of sorted) {
    const a = result.get(s)!;
    const before = new Set(
      s.currentIPs.map((t) => parseIP(t)).map((x) => (x ? ipKey(x.family, x.value) : "?")),
    );
    const after = new Set(a.ips.map((t) => parseIP(t)!).map((x) => ipKey(x.family, x.value)));
    if (
      before.size !== after.size ||
      [...after].some((k) => !before.has(k)) ||
      s.currentIPs.length !== a.ips.length
    )
      changed.push(`${s.namespace}/${s.name}`);
  }
  return { allocations: sorted.map((s) => result.get(s)!), changed, events };
}
