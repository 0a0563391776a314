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

/** Lowest block of `net` overlapping none of `taken` (sorted by family, then network): one sweep
 *  over the sorted allocations, so allocating N subnets costs O(N²) overall, not O(N³). */
function lowestFreeBlock(net: ParsedNet, taken: CIDR[]): CIDR | undefined {
  const bits = net.cidr.family === 4 ? 32 : 128;
  const size = 1n << BigInt(bits - net.blockPrefix);
  const end = cidrLast(net.cidr);
  const base = net.cidr.network;
  let cur = base;
  for (const t of taken) {
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
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const m = list[mid]!;
    if (m.family < c.family || (m.family === c.family && m.network < c.network)) lo = mid + 1;
    else hi = mid;
  }
  list.splice(lo, 0, c);
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
  const overlapsTaken = (c: CIDR) => taken.find((t) => cidrsOverlap(t, c));
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
  for (const node of [...nodeSet].sort(compareStrings)) {
    if (subnets.has(node)) continue;
    let block: CIDR | undefined;
    for (const n of nets) {
      block = lowestFreeBlock(n, taken);
      if (block) break;
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
