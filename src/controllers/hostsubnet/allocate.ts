// HostSubnet allocation (MISSION §8, openshift-sdn): each Node gets a pod subnet carved from the
// ClusterNetwork: clusterNetworks[].cidr split into blocks of `hostSubnetLength` host bits (9 in a
// /14 → /23 blocks). Existing allocations are kept; a deleted Node's subnet is free again; no two
// HostSubnets overlap and none overlaps the serviceNetwork. New subnets are the lowest free block
// (cluster networks in order). Pure: no I/O.
import { type CIDR, cidrLast, cidrsOverlap, formatCIDR, parseCIDR } from "../../api/ip.js";
import { compareStrings, type DecisionEvent } from "../common/decision.js";

export interface ClusterNetworkConfig {
  clusterNetworks: { cidr: string; hostSubnetLength: number }[];
  serviceNetwork: string;
}

export interface HostSubnetState {
  /** HostSubnet name = node name. */
  name: string;
  subnet: string;
}

export interface HostSubnetResult {
  create: { node: string; subnet: string }[];
  /** HostSubnets whose node is gone, or that must be re-created (overlap): delete these names. */
  delete: string[];
  /** Final subnet of every node that has one. */
  subnets: Map<string, string>;
  events: DecisionEvent[];
}

export class ClusterNetworkError extends Error {
  constructor(
    readonly field: string,
    readonly value: unknown,
    readonly detail: string,
  ) {
    super(`ClusterNetwork ${field}: Invalid value: ${JSON.stringify(value)}: ${detail}`);
    this.name = "ClusterNetworkError";
  }
}

interface ParsedNet {
  cidr: CIDR;
  blockPrefix: number;
}

export function parseClusterNetwork(cfg: ClusterNetworkConfig): { nets: ParsedNet[]; service: CIDR } {
  const service = parseCIDR(cfg.serviceNetwork);
  if (!service) throw new ClusterNetworkError("serviceNetwork", cfg.serviceNetwork, "must be a CIDR");
  const nets: ParsedNet[] = [];
  if (cfg.clusterNetworks.length === 0)
    throw new ClusterNetworkError("clusterNetworks", [], "at least one is required");
  cfg.clusterNetworks.forEach((n, i) => {
    const cidr = parseCIDR(n.cidr);
    if (!cidr || cidr.network !== cidr.address)
      throw new ClusterNetworkError(
        `clusterNetworks[${i}].cidr`,
        n.cidr,
        "must be a network CIDR (no host bits set)",
      );
    const bits = cidr.family === 4 ? 32 : 128;
    const h = n.hostSubnetLength;
    if (!Number.isInteger(h) || h < 2 || bits - h < cidr.prefix)
      throw new ClusterNetworkError(
        `clusterNetworks[${i}].hostSubnetLength`,
        h,
        `must be an integer in 2..${bits - cidr.prefix} (host bits, at most the cluster network's ${bits - cidr.prefix})`,
      );
    if (cidrsOverlap(cidr, service))
      throw new ClusterNetworkError(
        `clusterNetworks[${i}].cidr`,
        n.cidr,
        `overlaps serviceNetwork ${cfg.serviceNetwork}`,
      );
    nets.forEach((o, j) => {
      if (cidrsOverlap(o.cidr, cidr))
        throw new ClusterNetworkError(`clusterNetworks[${i}].cidr`, n.cidr, `overlaps clusterNetworks[${j}]`);
    });
    nets.push({ cidr, blockPrefix: bits - h });
  });
  return { nets, service };
}

/** Index of the first entry of `list` (sorted by family, then network) not below (family, network). */
function lowerBound(list: readonly CIDR[], family: number, network: bigint): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const m = list[mid]!;
    if (m.family < family || (m.family === family && m.network < network)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** An entry of `taken` (sorted, non-overlapping) that overlaps `c`, by binary search. */
function overlapping(taken: readonly CIDR[], c: CIDR): CIDR | undefined {
  const i = lowerBound(taken, c.family, c.network);
  const before = taken[i - 1];
  if (before && before.family === c.family && cidrLast(before) >= c.network) return before;
  const at = taken[i];
  if (at && at.family === c.family && at.network <= cidrLast(c)) return at;
  return undefined;
}

/** Lowest block of `net` at or above `from` overlapping none of `taken` (sorted by family, then
 *  network, non-overlapping). The sweep starts at the allocation just before `from`, so handing out
 *  N blocks in one run (each search starting at the previous block) costs O(N log N), not O(N²). */
function lowestFreeBlock(net: ParsedNet, taken: CIDR[], from: bigint): CIDR | undefined {
  const bits = net.cidr.family === 4 ? 32 : 128;
  const size = 1n << BigInt(bits - net.blockPrefix);
  const end = cidrLast(net.cidr);
  const base = net.cidr.network;
  let cur = from > base ? from : base;
  for (let i = Math.max(0, lowerBound(taken, net.cidr.family, cur) - 1); i < taken.length; i++) {
    const t = taken[i]!;
    if (t.family !== net.cidr.family) continue;
    if (cur > end) return undefined;
    if (cidrLast(t) < cur) continue;
    if (t.network > cur + size - 1n) break;
    // Overlap: jump past the allocation, aligned to the block size.
    const after = cidrLast(t) + 1n;
    cur = ((after - base + size - 1n) / size) * size + base;
  }
  if (cur + size - 1n > end) return undefined;
  return { family: net.cidr.family, network: cur, prefix: net.blockPrefix, address: cur };
}

function insertSorted(list: CIDR[], c: CIDR): void {
  list.splice(lowerBound(list, c.family, c.network), 0, c);
}

/** Reconciles HostSubnets with Nodes. Throws ClusterNetworkError for an invalid config. */
export function allocateHostSubnets(
  cfg: ClusterNetworkConfig,
  nodes: string[],
  existing: HostSubnetState[],
): HostSubnetResult {
  const { nets, service } = parseClusterNetwork(cfg);
  const events: DecisionEvent[] = [];
  const nodeSet = new Set(nodes);
  const taken: CIDR[] = [service];
  // Kept subnets never overlap each other, so `taken` stays sorted and disjoint and one binary
  // search finds a clash (was: a scan of every kept subnet per subnet, O(N²) bigint tests per run).
  const overlapsTaken = (c: CIDR) => overlapping(taken, c);
  const subnets = new Map<string, string>();
  const del: string[] = [];
  for (const hs of [...existing].sort((a, b) => compareStrings(a.name, b.name))) {
    if (!nodeSet.has(hs.name)) {
      del.push(hs.name);
      continue;
    }
    const c = parseCIDR(hs.subnet);
    const clash = c ? overlapsTaken(c) : undefined;
    if (!c || clash) {
      // Broken state (hand-made object): the older name keeps its subnet, this one is re-created.
      events.push({
        type: "Warning",
        reason: "SubnetReallocated",
        message: !c
          ? `HostSubnet ${hs.name} has invalid subnet ${JSON.stringify(hs.subnet)}; allocating a new one`
          : `HostSubnet ${hs.name} subnet ${hs.subnet} overlaps ${formatCIDR(clash!)}; allocating a new one`,
        object: { kind: "HostSubnet", name: hs.name },
      });
      del.push(hs.name);
      continue;
    }
    if (!nets.some((n) => cidrsOverlap(n.cidr, c)))
      events.push({
        type: "Warning",
        reason: "SubnetOutsideClusterNetwork",
        message: `HostSubnet ${hs.name} subnet ${hs.subnet} is outside every clusterNetworks CIDR; kept`,
        object: { kind: "HostSubnet", name: hs.name },
      });
    insertSorted(taken, c);
    subnets.set(hs.name, hs.subnet);
  }
  const create: HostSubnetResult["create"] = [];
  // Per cluster network, where the next search may start: nothing below the last block handed out
  // in this run is free (blocks are handed out lowest first and none is freed meanwhile).
  const from = nets.map((n) => n.cidr.network);
  for (const node of [...nodeSet].sort(compareStrings)) {
    if (subnets.has(node)) continue;
    let block: CIDR | undefined;
    for (let k = 0; k < nets.length; k++) {
      block = lowestFreeBlock(nets[k]!, taken, from[k]!);
      if (block) {
        from[k] = block.network;
        break;
      }
    }
    if (!block) {
      events.push({
        type: "Warning",
        reason: "SubnetAllocationFailed",
        message: `no free host subnet left in the cluster network for node ${node}`,
        object: { kind: "Node", name: node },
      });
      continue;
    }
    insertSorted(taken, block);
    const s = formatCIDR(block);
    subnets.set(node, s);
    create.push({ node, subnet: s });
  }
  return { create, delete: del, subnets, events };
}
