// The Whereabouts allocator: decides which address an attachment gets (lowest free address of each
// range, skipping exclusions, the gateway, addresses held in the pool and addresses reserved by an
// overlapping pool of the same network_name), and which records ADD, DEL and GC change. A pure
// function of plain data: it reads a store snapshot and returns the change to write; no I/O.
import { cidrContains, cidrLast, formatIP, type IP, parseIP } from "../api/ip.js";
import type { Attachment, IPRange } from "./config.js";
import {
  emptyPool,
  type IPAllocation,
  type IPPool,
  ipFromReservationName,
  type OverlappingRangeIPReservation,
  type Owner,
  reservationName,
} from "./model.js";

/** What the store hands to a transaction: the pools in scope (absent ones missing) and the network's
 *  overlapping-range reservations keyed by reservation name. */
export interface Snapshot {
  pools: ReadonlyMap<string, IPPool>;
  reservations: ReadonlyMap<string, OverlappingRangeIPReservation>;
  /** Set by an optimistic store after this transaction lost races for addresses: take the free
   *  address at this index (0 = lowest) instead of the lowest, so that contenders who all lost the
   *  same race do not all run for the same next address. When fewer free addresses exist, the last
   *  one found is taken. Absent = lowest free, as upstream. */
  pick?: number;
}

/** What a transaction writes. Pools are replaced whole and carry the resourceVersion they were read at
 *  (the store rejects the write when the stored version moved on). Reservation deletes are applied
 *  before creates, so a claim can be re-created under the same name in one change. */
export interface Change {
  pools: IPPool[];
  createReservations: OverlappingRangeIPReservation[];
  deleteReservations: string[];
  /** ADD: names of the reservations the result relies on (created here or already the
   *  attachment's), so a store can drop claims it made in earlier, lost attempts. */
  claims?: string[];
}

export const noChange = (): Change => ({ pools: [], createReservations: [], deleteReservations: [] });
export const isEmptyChange = (c: Change): boolean =>
  c.pools.length === 0 && c.createReservations.length === 0 && c.deleteReservations.length === 0;

export class PoolExhaustedError extends Error {
  constructor(readonly range: IPRange) {
    super(
      `no free address in ${range.field} ${formatIP({ family: range.family, value: range.cidr.network })}/${range.cidr.prefix} ` +
        `(usable ${formatIP({ family: range.family, value: range.first })} - ${formatIP({ family: range.family, value: range.last })})`,
    );
    this.name = "PoolExhaustedError";
  }
}

export interface Assigned {
  range: IPRange;
  ip: IP;
  /** True when the attachment already held the address (idempotent ADD). */
  existing: boolean;
}

/** ADD is idempotent per pod + interface (upstream matches podref + ifname); without pod args the
 *  container ID stands in for the pod. */
export function sameAttachment(a: IPAllocation, o: Owner): boolean {
  if (a.ifname !== o.ifName) return false;
  return o.podRef !== "" ? a.podref === o.podRef : a.podref === "" && a.id === o.containerID;
}

const offsetOf = (range: IPRange, ip: bigint): string => (ip - range.cidr.network).toString();
const ipAt = (range: IPRange, key: string): bigint | undefined => {
  if (!/^\d+$/.test(key)) return undefined;
  return range.cidr.network + BigInt(key);
};

/** The lowest address of `range` that is not excluded, not skipped and not `taken`. */
export function lowestFree(range: IPRange, taken: (ip: bigint) => boolean, pick = 0): bigint | undefined {
  let c = range.first;
  let found: bigint | undefined;
  let skip = pick;
  while (c <= range.last) {
    const ex = range.exclude.find((x) => cidrContains(x, { family: range.family, value: c }));
    if (ex) {
      c = cidrLast(ex) + 1n;
      continue;
    }
    if (!range.skip.includes(c) && !taken(c)) {
      if (skip-- <= 0) return c;
      found = c;
    }
    c++;
  }
  return found;
}

function ownedBy(r: OverlappingRangeIPReservation, o: Owner): boolean {
  if (r.ifname !== o.ifName) return false;
  return o.podRef !== "" ? r.podref === o.podRef : r.podref === "" && r.containerid === o.containerID;
}

/** An address of `range` reserved for exactly this attachment (same container ID) but not recorded in
 *  the pool: left by an attempt that lost the pool write or was killed in between. */
function ownClaim(
  range: IPRange,
  owner: Owner,
  snap: Snapshot,
  held: ReadonlySet<bigint>,
  networkName: string,
): bigint | undefined {
  for (const r of snap.reservations.values()) {
    if (r.containerid !== owner.containerID || !ownedBy(r, owner)) continue;
    const ip = parseIP(r.ip || (ipFromReservationName(r.name, networkName) ?? ""));
    if (!ip || ip.family !== range.family || ip.value < range.first || ip.value > range.last) continue;
    if (held.has(ip.value) || range.skip.includes(ip.value)) continue;
    if (range.exclude.some((x) => cidrContains(x, ip))) continue;
    return ip.value;
  }
  return undefined;
}

/** Plans an ADD: one address per range, in order. Throws PoolExhaustedError. */
export function planAdd(
  ranges: readonly IPRange[],
  owner: Owner,
  snap: Snapshot,
  opts: { networkName: string; overlapping: boolean },
): { assigned: Assigned[]; change: Change } {
  const change = noChange();
  const assigned: Assigned[] = [];
  const newlyReserved = new Set<string>();
  for (const range of ranges) {
    const stored = snap.pools.get(range.pool) ?? emptyPool(range.pool, range.cidr);
    const pool: IPPool = { ...stored, allocations: { ...stored.allocations } };
    let found: bigint | undefined;
    for (const [key, a] of Object.entries(pool.allocations)) {
      if (!sameAttachment(a, owner)) continue;
      const v = ipAt(range, key);
      if (v === undefined) continue;
      found = v;
      if (a.id !== owner.containerID) {
        // A new sandbox of the same pod: the address moves to it, so the old sandbox's DEL (by its
        // container ID) no longer frees an address in use.
        pool.allocations[key] = { ...a, id: owner.containerID };
        change.pools.push(pool);
      }
      break;
    }
    let ip: IP;
    if (found !== undefined) {
      ip = { family: range.family, value: found };
      assigned.push({ range, ip, existing: true });
    } else {
      const held = new Set<bigint>();
      for (const key of Object.keys(pool.allocations)) {
        const v = ipAt(range, key);
        if (v !== undefined) held.add(v);
      }
      const claimed = opts.overlapping ? ownClaim(range, owner, snap, held, opts.networkName) : undefined;
      const taken = (v: bigint): boolean => {
        if (held.has(v)) return true;
        if (!opts.overlapping) return false;
        const name = reservationName({ family: range.family, value: v }, opts.networkName);
        if (newlyReserved.has(name)) return true;
        const r = snap.reservations.get(name);
        return r !== undefined && !ownedBy(r, owner);
      };
      // A claim this very attachment made in an earlier, interrupted attempt is used first.
      const v = claimed ?? lowestFree(range, taken, snap.pick);
      if (v === undefined) throw new PoolExhaustedError(range);
      ip = { family: range.family, value: v };
      pool.allocations[offsetOf(range, v)] = {
        id: owner.containerID,
        podref: owner.podRef,
        ifname: owner.ifName,
      };
      change.pools.push(pool);
      assigned.push({ range, ip, existing: false });
    }
    if (opts.overlapping) {
      const name = reservationName(ip, opts.networkName);
      change.claims = [...(change.claims ?? []), name];
      const r = snap.reservations.get(name);
      // A claim held by another attachment is left alone (the allocation above never picks such an
      // address; an existing allocation under a foreign claim is an inconsistency for the reconciler).
      if (!r || (ownedBy(r, owner) && r.containerid !== owner.containerID)) {
        newlyReserved.add(name);
        if (r) change.deleteReservations.push(name);
        change.createReservations.push({
          name,
          ip: formatIP(ip),
          containerid: owner.containerID,
          podref: owner.podRef,
          ifname: owner.ifName,
        });
      }
    }
  }
  return { assigned, change };
}

/** Removes from every range's pool the allocations `drop` selects, with their reservations. */
function planRemove(
  ranges: readonly IPRange[],
  snap: Snapshot,
  networkName: string,
  drop: (a: IPAllocation) => boolean,
): { released: IP[]; change: Change } {
  const change = noChange();
  const released: IP[] = [];
  for (const range of ranges) {
    const stored = snap.pools.get(range.pool);
    if (!stored) continue;
    const allocations: Record<string, IPAllocation> = {};
    let removed = false;
    for (const [key, a] of Object.entries(stored.allocations)) {
      if (!drop(a)) {
        allocations[key] = a;
        continue;
      }
      removed = true;
      const v = ipAt(range, key);
      if (v === undefined) continue;
      const ip: IP = { family: range.family, value: v };
      released.push(ip);
      const name = reservationName(ip, networkName);
      const r = snap.reservations.get(name);
      // Only the holder's reservation goes; another pool's claim on the same address stays.
      if (r && r.containerid === a.id && r.ifname === a.ifname && !change.deleteReservations.includes(name)) {
        change.deleteReservations.push(name);
      }
    }
    if (removed) change.pools.push({ ...stored, allocations });
  }
  return { released, change };
}

/** Plans a DEL: the attachment's allocations, matched by container ID + interface. Repeatable. */
export function planDel(
  ranges: readonly IPRange[],
  containerID: string,
  ifName: string,
  snap: Snapshot,
  networkName: string,
): { released: IP[]; change: Change } {
  return planRemove(ranges, snap, networkName, (a) => a.id === containerID && a.ifname === ifName);
}

/** Plans a GC: every allocation of the config's pools not held by a still-valid attachment goes. */
export function planGC(
  ranges: readonly IPRange[],
  valid: readonly Attachment[],
  snap: Snapshot,
  networkName: string,
): { released: IP[]; change: Change } {
  const keep = new Set(valid.map((v) => `${v.containerID}\u0000${v.ifname}`));
  return planRemove(ranges, snap, networkName, (a) => !keep.has(`${a.id}\u0000${a.ifname}`));
}

/** CHECK: the address each range holds for container ID + interface, or the range that holds none. */
export function findAllocations(
  ranges: readonly IPRange[],
  containerID: string,
  ifName: string,
  snap: Snapshot,
): { found: Assigned[]; missing: IPRange[] } {
  const found: Assigned[] = [];
  const missing: IPRange[] = [];
  for (const range of ranges) {
    const pool = snap.pools.get(range.pool);
    const hit = pool
      ? Object.entries(pool.allocations).find(([, a]) => a.id === containerID && a.ifname === ifName)
      : undefined;
    const v = hit ? ipAt(range, hit[0]) : undefined;
    if (v === undefined) missing.push(range);
    else found.push({ range, ip: { family: range.family, value: v }, existing: true });
  }
  return { found, missing };
}

/** STATUS: the ranges in which no address is left for a new attachment. */
export function exhaustedRanges(
  ranges: readonly IPRange[],
  snap: Snapshot,
  opts: { networkName: string; overlapping: boolean },
): IPRange[] {
  const nobody: Owner = { containerID: "", podRef: "\u0000", ifName: "\u0000" };
  return ranges.filter((range) => {
    try {
      planAdd([range], nobody, snap, opts);
      return false;
    } catch (e) {
      if (e instanceof PoolExhaustedError) return true;
      throw e;
    }
  });
}
