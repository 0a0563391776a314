// Test oracle: a frozen copy of assignEgressIPs as of commit 09e7551, before the decision was split
// into a node model and the EgressIP phases to make it incremental. Only tests import it (they
// check that assignEgressIPs and EgressIPAssigner still give exactly its results); production code
// must not. Do not "fix" it along with assign.ts: if a rule changes on purpose, change both.
import type { Family } from "../../api/ip.js";
import { type Addr, addrKey, maskedKey, type Net, netContains, parseAddr, parseNet } from "../common/addr.js";
import { compareByAge, compareStrings, type DecisionEvent, Heap } from "../common/decision.js";
import type {
  AssignInput,
  AssignResult,
  DesiredCloudPrivateIPConfig,
  EgressIPMove,
  EgressIPObject,
  EgressIPStatusItem,
} from "./assign.js";
import {
  capacityLeft,
  cloudPrivateIPConfigName,
  EGRESS_ASSIGNABLE_LABEL,
  type EgressNode,
  isCloud,
  nodeIneligibility,
  type Platform,
} from "./node.js";

type Key = number | string;
const keyOf = addrKey;

interface NodeState {
  node: EgressNode;
  name: string;
  eligible: boolean;
  total: number;
  v4: number;
  v6: number;
}

interface Entry {
  st: NodeState;
  key: number;
}
const entryLess = (a: Entry, b: Entry): boolean =>
  a.key < b.key || (a.key === b.key && a.st.name < b.st.name);

interface Group {
  family: Family;
  heap: Heap<Entry>;
  members: NodeState[];
  memberNames: Set<string>;
  built: boolean;
}

/** Index of eligible nodes by network: for each family and prefix length, network → group. An IP
 *  is looked up with one mask per distinct prefix length, not one test per node. */
class NetworkIndex {
  private readonly byPrefix = new Map<number, Map<number | bigint, Group>>(); // key: family*1000+prefix
  private readonly prefixes: { 4: number[]; 6: number[] } = { 4: [], 6: [] };

  add(st: NodeState, family: Family, prefix: number, network: number | bigint): void {
    const k = family * 1000 + prefix;
    let m = this.byPrefix.get(k);
    if (!m) {
      m = new Map();
      this.byPrefix.set(k, m);
      this.prefixes[family].push(prefix);
    }
    let g = m.get(network);
    if (!g) {
      g = { family, heap: new Heap(entryLess), members: [], memberNames: new Set(), built: false };
      m.set(network, g);
    }
    if (!g.memberNames.has(st.name)) {
      g.memberNames.add(st.name);
      g.members.push(st);
    }
  }

  groupsFor(ip: Addr): Group[] {
    const out: Group[] = [];
    for (const p of this.prefixes[ip.family]) {
      const g = this.byPrefix.get(ip.family * 1000 + p)?.get(maskedKey(ip, p));
      if (g) out.push(g);
    }
    return out;
  }
}

interface Claim {
  eip: EgressIPObject;
  ipText: string;
  ip: Addr;
}

/** The networks an egress IP may come from on this node (as node.ts egressNetworks, fast form). */
// Parsed networks and own addresses per node object. The controller hands in the same EgressNode
// objects while a Node is unchanged, so after one node fails only that node is parsed again (the
// parsing was a third of a run at 5,000 nodes). Inputs are treated as immutable, so this is not
// observable: the result is the same as parsing every time.
const netsMemo = new WeakMap<EgressNode, { cloud: boolean; nets: Net[] }>();
const ownMemo = new WeakMap<EgressNode, Addr[]>();

function nodeNets(n: EgressNode, platform: Platform): Net[] {
  const cloud = isCloud(platform);
  const m = netsMemo.get(n);
  if (m && m.cloud === cloud) return m.nets;
  const nets = parseNodeNets(n, platform);
  netsMemo.set(n, { cloud, nets });
  return nets;
}

function ownAddrs(n: EgressNode): Addr[] {
  let a = ownMemo.get(n);
  if (!a) {
    a = parseOwnAddrs(n);
    ownMemo.set(n, a);
  }
  return a;
}

function parseNodeNets(n: EgressNode, platform: Platform): Net[] {
  const src = isCloud(platform)
    ? [n.cloudConfig?.ifaddr.ipv4, n.cloudConfig?.ifaddr.ipv6]
    : [n.primaryIfAddr?.ipv4, n.primaryIfAddr?.ipv6, ...(n.hostCIDRs ?? [])];
  const out: Net[] = [];
  for (const s of src) {
    const c = s === undefined ? undefined : parseNet(s);
    if (c) out.push(c);
  }
  return out;
}

/** The node's own addresses (as node.ts nodeOwnIPs, fast form). */
function parseOwnAddrs(n: EgressNode): Addr[] {
  const out: Addr[] = [];
  for (const s of n.addresses) {
    const a = parseAddr(s);
    if (a) out.push(a);
  }
  for (const s of [n.primaryIfAddr?.ipv4, n.primaryIfAddr?.ipv6, ...(n.hostCIDRs ?? [])]) {
    const c = s === undefined ? undefined : parseNet(s);
    if (c) out.push(c.address);
  }
  return out;
}

/** The from-scratch assignment as it was before EgressIPAssigner (commit 09e7551). */
export function assignEgressIPsReference(input: AssignInput): AssignResult {
  const { platform } = input;
  const events: DecisionEvent[] = [];
  const warn = (eip: string, reason: string, message: string) =>
    events.push({ type: "Warning", reason, message, object: { kind: "EgressIP", name: eip } });

  // Nodes: state, eligibility, own IPs (of every node, eligible or not).
  const states = new Map<string, NodeState>();
  const nodeIPOwner = new Map<Key, string>();
  const parsed = new Map<string, Addr | null>();
  const parseIP = (t: string): Addr | undefined => {
    let a = parsed.get(t);
    if (a === undefined) {
      a = parseAddr(t) ?? null;
      parsed.set(t, a);
    }
    return a ?? undefined;
  };
  for (const n of [...input.nodes].sort((a, b) => compareStrings(a.name, b.name))) {
    states.set(n.name, {
      node: n,
      name: n.name,
      eligible: nodeIneligibility(n, platform) === undefined,
      total: 0,
      v4: 0,
      v6: 0,
    });
    for (const ip of ownAddrs(n)) if (!nodeIPOwner.has(keyOf(ip))) nodeIPOwner.set(keyOf(ip), n.name);
  }
  const netsOf = new Map<string, Net[]>();
  const nets = (st: NodeState) => {
    let v = netsOf.get(st.name);
    if (!v) {
      v = nodeNets(st.node, platform);
      netsOf.set(st.name, v);
    }
    return v;
  };
  const fits = (st: NodeState, ip: Addr) => nets(st).some((c) => netContains(c, ip));

  const eips = [...input.egressIPs].sort(compareByAge);

  // Who holds each IP: the EgressIP whose current status lists it (and whose spec still has it),
  // otherwise the oldest claimant. Later claimants get UnsupportedRequest.
  const specKeys = new Map<string, Set<Key>>();
  for (const e of eips) {
    const s = new Set<Key>();
    for (const t of e.egressIPs) {
      const ip = parseIP(t);
      if (ip) s.add(keyOf(ip));
    }
    specKeys.set(e.name, s);
  }
  const holder = new Map<Key, string>();
  for (const e of eips)
    for (const item of e.status) {
      const ip = parseIP(item.egressIP);
      if (ip && specKeys.get(e.name)!.has(keyOf(ip)) && !holder.has(keyOf(ip))) holder.set(keyOf(ip), e.name);
    }

  const claims = new Map<string, Claim[]>(); // per EgressIP, valid unique non-conflicting claims in spec order
  for (const e of eips) {
    const mine: Claim[] = [];
    const seen = new Set<Key>();
    for (const t of e.egressIPs) {
      const ip = parseIP(t);
      if (!ip) {
        warn(
          e.name,
          "InvalidEgressIP",
          `egress IP: ${t} for object EgressIP: ${e.name} is not a valid IP address`,
        );
        continue;
      }
      const k = keyOf(ip);
      if (seen.has(k)) continue;
      seen.add(k);
      const owner = nodeIPOwner.get(k);
      if (owner !== undefined) {
        warn(
          e.name,
          "EgressIPConflict",
          `Egress IP ${e.name} with IP ${t} is conflicting with a host (${owner}) IP address and will not be assigned`,
        );
        continue;
      }
      const h = holder.get(k);
      if (h !== undefined && h !== e.name) {
        warn(
          e.name,
          "UnsupportedRequest",
          `IP: ${t} for EgressIP: ${e.name} is already allocated for EgressIP: ${h}, the request is not supported`,
        );
        continue;
      }
      holder.set(k, e.name);
      mine.push({ eip: e, ipText: t, ip });
    }
    claims.set(e.name, mine);
  }

  // Removals first: keep current items that are still valid.
  const assigned = new Map<string, Map<Key, string>>(); // eip → ip key → node
  const usedNodes = new Map<string, Set<string>>(); // eip → nodes holding one of its IPs
  for (const e of eips) {
    const keep = new Map<Key, string>();
    const on = new Set<string>();
    const wanted = new Map(claims.get(e.name)!.map((c) => [keyOf(c.ip), c]));
    for (const item of e.status) {
      const ip = parseIP(item.egressIP);
      if (!ip) continue;
      const k = keyOf(ip);
      const st = states.get(item.node);
      if (!wanted.has(k) || keep.has(k) || !st || !st.eligible || on.has(st.name) || !fits(st, ip)) continue;
      keep.set(k, st.name);
      on.add(st.name);
      st.total++;
      if (ip.family === 4) st.v4++;
      else st.v6++;
    }
    assigned.set(e.name, keep);
    usedNodes.set(e.name, on);
  }

  // Additions: index eligible nodes by network, then place pending IPs.
  const index = new NetworkIndex();
  let eligibleCount = 0;
  for (const st of states.values()) {
    if (!st.eligible) continue;
    eligibleCount++;
    for (const c of nets(st)) index.add(st, c.family, c.prefix, c.network);
  }
  const ensureBuilt = (g: Group) => {
    if (g.built) return;
    for (const st of g.members) g.heap.push({ st, key: st.total });
    g.built = true;
  };
  const hasCapacity = (st: NodeState, f: Family) => capacityLeft(st.node, platform, f, st) > 0;
  /** Best valid entry of a group for this EgressIP, leaving the heap intact except for dropping
   *  nodes without capacity (they cannot regain it during one run) and refreshing stale keys. */
  const bestOf = (g: Group, exclude: Set<string>): NodeState | undefined => {
    ensureBuilt(g);
    const putBack: Entry[] = [];
    let found: NodeState | undefined;
    for (;;) {
      const top = g.heap.peek();
      if (!top) break;
      if (!hasCapacity(top.st, g.family)) {
        g.heap.pop();
        continue;
      }
      if (top.key !== top.st.total) {
        g.heap.pop();
        top.key = top.st.total;
        g.heap.push(top);
        continue;
      }
      if (exclude.has(top.st.name)) {
        putBack.push(g.heap.pop()!);
        continue;
      }
      found = top.st;
      break;
    }
    for (const e of putBack) g.heap.push(e);
    return found;
  };

  for (const e of eips) {
    const keep = assigned.get(e.name)!;
    const on = usedNodes.get(e.name)!;
    let unassigned = 0;
    for (const c of claims.get(e.name)!) {
      const k = keyOf(c.ip);
      if (keep.has(k)) continue;
      if (eligibleCount === 0) {
        unassigned++;
        continue;
      }
      const groups = index.groupsFor(c.ip);
      if (groups.length === 0) {
        warn(
          e.name,
          "NoMatchingNodeFound",
          `no assignable node has a network containing egress IP: ${c.ipText} of EgressIP: ${e.name}`,
        );
        continue;
      }
      let best: NodeState | undefined;
      for (const g of groups) {
        const b = bestOf(g, on);
        if (b && (!best || b.total < best.total || (b.total === best.total && b.name < best.name))) best = b;
      }
      if (!best) {
        unassigned++;
        continue;
      }
      keep.set(k, best.name);
      on.add(best.name);
      best.total++;
      if (c.ip.family === 4) best.v4++;
      else best.v6++;
    }
    if (eligibleCount === 0 && unassigned > 0)
      warn(
        e.name,
        "NoMatchingNodeFound",
        `no assignable nodes for EgressIP: ${e.name}, please tag at least one node with label: ${EGRESS_ASSIGNABLE_LABEL}`,
      );
    else if (unassigned > 0)
      warn(
        e.name,
        "UnassignedRequest",
        `Not all egress IPs for EgressIP: ${e.name} could be assigned, please tag more nodes`,
      );
  }

  // Outputs.
  const status = new Map<string, EgressIPStatusItem[]>();
  const changed: string[] = [];
  const moves: EgressIPMove[] = [];
  const cloud: DesiredCloudPrivateIPConfig[] = [];
  for (const e of eips) {
    const keep = assigned.get(e.name)!;
    const items: EgressIPStatusItem[] = [];
    for (const c of claims.get(e.name)!) {
      const node = keep.get(keyOf(c.ip));
      if (node === undefined) continue;
      items.push({ node, egressIP: c.ipText });
      if (isCloud(platform))
        cloud.push({
          name: cloudPrivateIPConfigName(
            c.ip.family === 4 ? { family: 4, value: BigInt(c.ip.v4) } : { family: 6, value: c.ip.v6 },
          ),
          ip: c.ipText,
          node,
          egressIP: e.name,
        });
    }
    status.set(e.name, items);
    const before = new Map<Key, string>();
    for (const it of e.status) {
      const ip = parseIP(it.egressIP);
      if (ip) before.set(keyOf(ip), it.node);
    }
    const after = new Map(items.map((it) => [keyOf(parseIP(it.egressIP)!), it]));
    let diff = before.size !== items.length || e.status.length !== items.length;
    for (const [k, it] of after) {
      const from = before.get(k);
      if (from !== it.node) {
        diff = true;
        moves.push(
          from === undefined
            ? { egressIP: e.name, ip: it.egressIP, to: it.node }
            : { egressIP: e.name, ip: it.egressIP, from, to: it.node },
        );
      }
    }
    for (const it of e.status) {
      const ip = parseIP(it.egressIP);
      if (!ip || !after.has(keyOf(ip))) {
        diff = true;
        moves.push({ egressIP: e.name, ip: it.egressIP, from: it.node });
      }
    }
    if (diff) changed.push(e.name);
  }
  cloud.sort((a, b) => compareStrings(a.name, b.name));
  return { status, changed, events, cloudPrivateIPConfigs: cloud, moves };
}
