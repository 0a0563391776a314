// The datastore boundary of the Whereabouts IPAM: the IPAMStore interface every datastore implements
// (file now, kubernetes later), its typed errors, and the pure rule that applies a transaction's change
// to a network's state with optimistic version checks. No I/O here.
import type { CIDR } from "../api/ip.js";
import type { Change, Snapshot } from "./allocator.js";
import type { IPPool, OverlappingRangeIPReservation } from "./model.js";

/** What one transaction touches. Pools and reservations of different network_names never interact,
 *  so a store may lock, or shard, per network. */
export interface StoreScope {
  /** network_name; "" is upstream's unnamed network. */
  network: string;
  pools: readonly { name: string; range: CIDR }[];
  /** Whether the transaction reads the network's overlapping-range reservations. */
  reservations: boolean;
}

/** A Whereabouts datastore.
 *
 *  `transact` is one read-modify-write: the store reads the scope's pools (and reservations), calls
 *  `fn` with that snapshot, and writes the returned change only if none of the pools it replaces moved
 *  past the `resourceVersion` it was read at (and no reservation it creates exists already). On such a
 *  conflict an optimistic store (kubernetes: GET, then PUT with resourceVersion / POST of the
 *  reservation) calls `fn` again with fresh data; a locking store (file) never conflicts. So `fn` must
 *  be pure and may run several times. A store that cannot finish before its deadline throws
 *  StoreTimeoutError (CNI error 11, "try again later"). Errors thrown by `fn` pass through unchanged
 *  and nothing is written. */
export interface IPAMStore {
  read(scope: StoreScope): Promise<Snapshot>;
  transact<T>(scope: StoreScope, fn: (snap: Snapshot) => { result: T; change: Change }): Promise<T>;
  close(): Promise<void>;
}

/** The store stayed contended (locked, or conflicting) until the deadline. */
export class StoreTimeoutError extends Error {
  constructor(
    readonly what: string,
    readonly waitedMs: number,
  ) {
    super(`datastore busy: ${what} still contended after ${waitedMs} ms`);
    this.name = "StoreTimeoutError";
  }
}

/** A write lost a race: the object's stored version is not the one the change was computed from. */
export class StoreConflictError extends Error {
  constructor(
    readonly object: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`conflict on ${object}: read at version "${expected}", stored version is "${actual}"`);
    this.name = "StoreConflictError";
  }
}

/** Stored data that does not decode; names the file/object and what is wrong. */
export class StoreCorruptError extends Error {
  constructor(
    readonly where: string,
    readonly detail: string,
  ) {
    super(`datastore ${where} is unreadable: ${detail}`);
    this.name = "StoreCorruptError";
  }
}

/** All IPAM state of one network_name, as a locking store keeps it. */
export interface NetworkState {
  pools: Record<string, IPPool>;
  reservations: Record<string, OverlappingRangeIPReservation>;
}

export function snapshotOf(state: NetworkState, scope: StoreScope): Snapshot {
  const pools = new Map<string, IPPool>();
  for (const p of scope.pools) {
    const stored = state.pools[p.name];
    if (stored) pools.set(p.name, stored);
  }
  const reservations = new Map<string, OverlappingRangeIPReservation>(
    scope.reservations ? Object.entries(state.reservations) : [],
  );
  return { pools, reservations };
}

const nextVersion = (v: string): string => String((Number.parseInt(v, 10) || 0) + 1);

/** Applies a change with the optimistic checks a real API server would make. Returns a new state. */
export function applyChange(state: NetworkState, change: Change): NetworkState {
  const pools = { ...state.pools };
  const reservations = { ...state.reservations };
  for (const p of change.pools) {
    const actual = pools[p.name]?.resourceVersion ?? "";
    if (actual !== p.resourceVersion)
      throw new StoreConflictError(`IPPool ${p.name}`, p.resourceVersion, actual);
    pools[p.name] = { ...p, resourceVersion: nextVersion(actual) };
  }
  for (const name of change.deleteReservations) delete reservations[name];
  for (const r of change.createReservations) {
    if (reservations[r.name])
      throw new StoreConflictError(`OverlappingRangeIPReservation ${r.name}`, "", "exists");
    reservations[r.name] = r;
  }
  return { pools, reservations };
}
