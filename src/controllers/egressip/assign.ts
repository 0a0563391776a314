// EgressIP assignment (MISSION §1): which node holds each egress IP. A pure function of the whole
// cluster (nodes, EgressIPs with their current status) that returns the desired status of every
// EgressIP, the events to record and, on clouds, the CloudPrivateIPConfig objects wanted.
// Rules: current holders keep their IPs while they stay valid (sticky; nothing is rebalanced),
// invalid items are removed first, then pending IPs go to the eligible node with the fewest
// assignments (ties: node name), never two IPs of one EgressIP on one node.
// It must not read or write API objects: controllers translate in and out.
// Two entry points with the same result: assignEgressIPs (from scratch, the reference) and
// EgressIPAssigner (keeps what it derived from unchanged nodes between calls, so a run after one
// node event does not redo 5,000 nodes; property-tested equal to assignEgressIPs).
import type { Family } from "../../api/ip.js";
import { type Addr, addrKey, maskedKey, type Net, netContains, parseAddr, parseNet } from "../common/addr.js";
import { type Aged, compareByAge, compareStrings, type DecisionEvent, Heap } from "../common/decision.js";
import {
  capacityLeft,
  cloudPrivateIPConfigName,
  EGRESS_ASSIGNABLE_LABEL,
  type EgressNode,
  isCloud,
  nodeIneligibility,
  type Platform,
} from "./node.js";

export interface EgressIPStatusItem {
  node: string;
  egressIP: string;
}

/** An EgressIP as the assigner sees it: spec IPs in spec order plus the current status. */
export interface EgressIPObject {
  name: string;
  creationTimestamp?: string;
  egressIPs: string[];
  status: EgressIPStatusItem[];
}

export interface AssignInput {
  nodes: EgressNode[];
  egressIPs: EgressIPObject[];
  platform: Platform;
}

export interface DesiredCloudPrivateIPConfig {
  /** Object name: IPv4 text, or IPv6 fully expanded with '.' separators. */
  name: string;
  ip: string;
  node: string;
  egressIP: string;
}

/** One IP whose node changed: `from` absent = newly placed, `to` absent = now unassigned. */
export interface EgressIPMove {
  egressIP: string;
  ip: string;
  from?: string;
  to?: string;
}

export interface AssignResult {
  /** Desired status.items per EgressIP name (every input EgressIP has an entry), in spec order. */
  status: Map<string, EgressIPStatusItem[]>;
  /** Names whose status differs from the input status as a set (write only these). */
  changed: string[];
  events: DecisionEvent[];
  /** Empty off cloud. Sorted by name. */
  cloudPrivateIPConfigs: DesiredCloudPrivateIPConfig[];
  moves: EgressIPMove[];
}

type Key = number | string;
const keyOf = addrKey;

/** A class, not spread object literals: one fixed shape keeps the per-node loops fast (spread
 *  copies measured 10–20x slower to read and write in the 5,000-node sync loop). */
class NodeState {
  readonly name: string;
  readonly eligible: boolean;
  /** Networks an egress IP may come from; only filled for eligible nodes (the only ones asked). */
  readonly nets: Net[];
  /** Assignments counted in the current run (zero between runs). */
  total = 0;
  v4 = 0;
  v6 = 0;
  /** EgressIPAssigner only: last run that saw this node, and its distinct own address keys. */
  seen = -1;
  own: Key[] = [];

  constructor(
    readonly node: EgressNode,
    platform: Platform,
  ) {
    this.name = node.name;
    this.eligible = nodeIneligibility(node, platform) === undefined;
    this.nets = this.eligible ? nodeNets(node, platform) : [];
  }
}

interface Entry {
  st: NodeState;
  key: number;
}
const entryLess = (a: Entry, b: Entry): boolean =>
  a.key < b.key || (a.key === b.key && a.st.name < b.st.name);

interface Group {
  family: Family;
  /** Eligible nodes with a network equal to this one, by name. */
  members: Map<string, NodeState>;
  /** Min-heap on (assignments, name), rebuilt lazily once per run (counts change between runs). */
  heap: Heap<Entry>;
  builtRun: number;
}

/** Index of eligible nodes by network: for each family and prefix length, network → group. An IP
 *  is looked up with one mask per distinct prefix length, not one test per node. Nodes can be
 *  removed again, so EgressIPAssigner keeps one index across runs. */
class NetworkIndex {
  private readonly byPrefix = new Map<number, Map<number | bigint, Group>>(); // key: family*1000+prefix
  private readonly prefixes: { 4: number[]; 6: number[] } = { 4: [], 6: [] };

  add(st: NodeState, c: Net): void {
    const k = c.family * 1000 + c.prefix;
    let m = this.byPrefix.get(k);
    if (!m) {
      m = new Map();
      this.byPrefix.set(k, m);
      this.prefixes[c.family].push(c.prefix);
    }
    let g = m.get(c.network);
    if (!g) {
      g = { family: c.family, members: new Map(), heap: new Heap(entryLess), builtRun: -1 };
      m.set(c.network, g);
    }
    g.members.set(st.name, st);
  }

  remove(st: NodeState, c: Net): void {
    const k = c.family * 1000 + c.prefix;
    const m = this.byPrefix.get(k);
    const g = m?.get(c.network);
    if (!m || !g || g.members.get(st.name) !== st) return;
    g.members.delete(st.name);
    g.builtRun = -1;
    if (g.members.size > 0) return;
    m.delete(c.network);
    if (m.size > 0) return;
    this.byPrefix.delete(k);
    const ps = this.prefixes[c.family];
    ps.splice(ps.indexOf(c.prefix), 1);
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

/** A parsed IP text and its key (the key of an IPv6 address is a string: built once). */
interface Parsed {
  ip: Addr;
  k: Key;
}
type ParseFn = (t: string) => Parsed | undefined;

function parser(cache: Map<string, Parsed | null>): ParseFn {
  return (t) => {
    let p = cache.get(t);
    if (p === undefined) {
      const ip = parseAddr(t);
      p = ip ? { ip, k: keyOf(ip) } : null;
      cache.set(t, p);
    }
    return p ?? undefined;
  };
}

/** An EgressIP's spec.egressIPs parsed: per entry its address (undefined: invalid) and whether an
 *  earlier entry has the same address; plus the set of valid keys. Depends on the spec alone. */
interface Spec {
  entries: { t: string; p: Parsed | undefined; dup: boolean }[];
  keys: Set<Key>;
}

function parseSpec(ips: string[], parse: ParseFn): Spec {
  const keys = new Set<Key>();
  const entries: Spec["entries"] = [];
  for (const t of ips) {
    const p = parse(t);
    const dup = p !== undefined && keys.has(p.k);
    if (p) keys.add(p.k);
    entries.push({ t, p, dup });
  }
  return { entries, keys };
}

/** A valid, unique, non-conflicting IP of one EgressIP, and the node it ends up on. */
interface Claim {
  ipText: string;
  ip: Addr;
  k: Key;
  node: string | undefined;
}

// Parsed networks and own addresses per node object. The controller hands in the same EgressNode
// objects while a Node is unchanged, so after one node fails only that node is parsed again (the
// parsing was a third of a run at 5,000 nodes). Inputs are treated as immutable, so this is not
// observable: the result is the same as parsing every time.
const netsMemo = new WeakMap<EgressNode, { cloud: boolean; nets: Net[] }>();
const ownMemo = new WeakMap<EgressNode, Addr[]>();

/** The networks an egress IP may come from (as node.ts egressNetworks, fast form). */
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

/** What a run needs to know about the nodes: built from scratch by assignEgressIPs, kept up to date
 *  per changed node by EgressIPAssigner. Assignment counts start at zero in every run. */
interface NodeModel {
  /** Distinguishes runs (group heaps are rebuilt once per run). */
  readonly run: number;
  readonly eligibleCount: number;
  state(name: string): NodeState | undefined;
  /** The node that owns this address (first by name), if any. */
  ownerOf(k: Key): string | undefined;
  /** Groups of eligible nodes whose network contains the IP. */
  groupsFor(ip: Addr): Group[];
  /** Filled by the run: every state whose counts it raised (so a kept model can reset them). */
  readonly counted: NodeState[];
}

function freshModel(nodes: EgressNode[], platform: Platform): NodeModel {
  const states = new Map<string, NodeState>();
  const owner = new Map<Key, string>();
  for (const n of [...nodes].sort((a, b) => compareStrings(a.name, b.name))) {
    states.set(n.name, new NodeState(n, platform));
    for (const ip of ownAddrs(n)) if (!owner.has(keyOf(ip))) owner.set(keyOf(ip), n.name);
  }
  const index = new NetworkIndex();
  let eligibleCount = 0;
  for (const st of states.values()) {
    if (!st.eligible) continue;
    eligibleCount++;
    for (const c of st.nets) index.add(st, c);
  }
  return {
    run: 0,
    eligibleCount,
    state: (name) => states.get(name),
    ownerOf: (k) => owner.get(k),
    groupsFor: (ip) => index.groupsFor(ip),
    counted: [],
  };
}

/** Recomputes every EgressIP's status. See the module header for the rules and
 *  docs/control-plane-decisions.md for tie-breaks. Deterministic and idempotent: feeding the
 *  result back in (as status) returns the same status and no moves. */
export function assignEgressIPs(input: AssignInput): AssignResult {
  const parse = parser(new Map());
  const model = freshModel(input.nodes, input.platform);
  return decide(model, [...input.egressIPs].sort(compareByAge), input.platform, parse, (e) =>
    parseSpec(e.egressIPs, parse),
  );
}

/**
 * assignEgressIPs with memory: between calls it keeps, per node, the derived data (eligibility,
 * parsed networks, own addresses), the owners of node addresses and the network index, and updates
 * them only for nodes whose EgressNode object is not the one of the previous call (added, removed or
 * replaced). The EgressIP part (claims, removals, placement of pending IPs, outputs) is cheap and
 * runs in full every time. `assign(input)` returns exactly `assignEgressIPs(input)` for any sequence
 * of inputs (property-tested), provided inputs are not mutated after being passed in (replace a
 * changed node's object instead). Not safe for concurrent use; one instance per controller.
 */
export class EgressIPAssigner {
  private platform: Platform | undefined;
  private states = new Map<string, NodeState>();
  /** Node address → names of the nodes owning it, sorted (the first one is the owner). */
  private owners = new Map<Key, string[]>();
  private index = new NetworkIndex();
  private eligibleCount = 0;
  private runs = 0;
  private counted: NodeState[] = [];
  private parsed = new Map<string, Parsed | null>();
  /** Parsed specs by spec array (the controller passes the same array while an EgressIP is
   *  unchanged). */
  private specs = new WeakMap<string[], Spec>();
  private times = new Map<string, number>();

  assign(input: AssignInput): AssignResult {
    const { platform } = input;
    if (platform !== this.platform) {
      this.reset();
      this.platform = platform;
    }
    this.resetCounts();
    const run = ++this.runs;
    // Duplicate names are not something a controller feeds in (informers are keyed by name); the
    // reference handles them by its own rules, so defer to it rather than model them here.
    if (!this.syncNodes(input.nodes, run, platform) || hasDuplicateNames(input.egressIPs)) {
      this.reset();
      this.platform = platform;
      return assignEgressIPs(input);
    }
    if (this.parsed.size > 100_000) {
      this.parsed.clear();
      this.specs = new WeakMap();
    }
    const parse = parser(this.parsed);
    const specOf = (e: EgressIPObject): Spec => {
      let sp = this.specs.get(e.egressIPs);
      if (!sp) {
        sp = parseSpec(e.egressIPs, parse);
        this.specs.set(e.egressIPs, sp);
      }
      return sp;
    };
    const { states, owners, index } = this;
    const model: NodeModel = {
      run,
      eligibleCount: this.eligibleCount,
      state: (name) => states.get(name),
      ownerOf: (k) => owners.get(k)?.[0],
      groupsFor: (ip) => index.groupsFor(ip),
      counted: this.counted,
    };
    const res = decide(model, this.byAge(input.egressIPs), platform, parse, specOf);
    this.resetCounts();
    return res;
  }

  private reset(): void {
    this.states = new Map();
    this.owners = new Map();
    this.index = new NetworkIndex();
    this.eligibleCount = 0;
    this.counted = [];
  }

  private resetCounts(): void {
    for (const st of this.counted) {
      st.total = 0;
      st.v4 = 0;
      st.v6 = 0;
    }
    this.counted.length = 0;
  }

  /** Brings the kept node data up to date. False when two nodes share a name. */
  private syncNodes(nodes: EgressNode[], run: number, platform: Platform): boolean {
    for (const n of nodes) {
      const st = this.states.get(n.name);
      if (st !== undefined && st.seen === run) return false;
      if (st !== undefined && st.node === n) {
        st.seen = run;
        continue;
      }
      if (st !== undefined) this.removeState(st);
      this.addState(n, run, platform);
    }
    if (this.states.size !== nodes.length)
      for (const st of [...this.states.values()]) if (st.seen !== run) this.removeState(st);
    return true;
  }

  private addState(n: EgressNode, run: number, platform: Platform): void {
    const own = [...new Set(ownAddrs(n).map(keyOf))];
    const st = new NodeState(n, platform);
    st.seen = run;
    st.own = own;
    this.states.set(n.name, st);
    if (st.eligible) {
      this.eligibleCount++;
      for (const c of st.nets) this.index.add(st, c);
    }
    for (const k of own) {
      const names = this.owners.get(k);
      if (!names) {
        this.owners.set(k, [n.name]);
        continue;
      }
      let lo = 0;
      let hi = names.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (names[mid]! < n.name) lo = mid + 1;
        else hi = mid;
      }
      names.splice(lo, 0, n.name);
    }
  }

  private removeState(st: NodeState): void {
    this.states.delete(st.name);
    if (st.eligible) {
      this.eligibleCount--;
      for (const c of st.nets) this.index.remove(st, c);
    }
    for (const k of st.own) {
      const names = this.owners.get(k);
      if (!names) continue;
      const i = names.indexOf(st.name);
      if (i >= 0) names.splice(i, 1);
      if (names.length === 0) this.owners.delete(k);
    }
  }

  /** compareByAge order with each timestamp parsed once (not once per comparison). */
  private byAge(eips: EgressIPObject[]): EgressIPObject[] {
    if (this.times.size > 100_000) this.times.clear();
    const time = (ts: string | undefined): number => {
      if (!ts) return Number.POSITIVE_INFINITY;
      let t = this.times.get(ts);
      if (t === undefined) {
        const p = Date.parse(ts);
        t = Number.isNaN(p) ? Number.POSITIVE_INFINITY : p;
        this.times.set(ts, t);
      }
      return t;
    };
    const keyed = eips.map((e) => {
      const a: Aged = e;
      return { e, t: time(a.creationTimestamp), ns: a.namespace ?? "" };
    });
    keyed.sort((a, b) =>
      a.t !== b.t ? (a.t < b.t ? -1 : 1) : compareStrings(a.ns, b.ns) || compareStrings(a.e.name, b.e.name),
    );
    return keyed.map((k) => k.e);
  }
}

function hasDuplicateNames(eips: EgressIPObject[]): boolean {
  return new Set(eips.map((e) => e.name)).size !== eips.length;
}

/** The decision proper, over EgressIPs already in compareByAge order. Per-EgressIP bookkeeping
 *  is in small arrays (an EgressIP has a handful of IPs): Maps and Sets per EgressIP were most of
 *  a run's cost at 1,000 EgressIPs. */
function decide(
  model: NodeModel,
  eips: EgressIPObject[],
  platform: Platform,
  parse: ParseFn,
  specOf: (e: EgressIPObject) => Spec,
): AssignResult {
  const events: DecisionEvent[] = [];
  const warn = (eip: string, reason: string, message: string) =>
    events.push({ type: "Warning", reason, message, object: { kind: "EgressIP", name: eip } });
  const count = (st: NodeState, ip: Addr) => {
    if (st.total === 0) model.counted.push(st);
    st.total++;
    if (ip.family === 4) st.v4++;
    else st.v6++;
  };
  const fits = (st: NodeState, ip: Addr) => st.nets.some((c) => netContains(c, ip));
  const specs = eips.map(specOf);

  // Who holds each IP: the EgressIP whose current status lists it (and whose spec still has it),
  // otherwise the oldest claimant. Later claimants get UnsupportedRequest.
  const holder = new Map<Key, string>();
  eips.forEach((e, i) => {
    const keys = specs[i]!.keys;
    for (const item of e.status) {
      const p = parse(item.egressIP);
      if (p && keys.has(p.k) && !holder.has(p.k)) holder.set(p.k, e.name);
    }
  });

  // Per EgressIP (same index as eips): valid unique non-conflicting claims in spec order.
  const claims: Claim[][] = [];
  eips.forEach((e, i) => {
    const mine: Claim[] = [];
    for (const { t, p, dup } of specs[i]!.entries) {
      if (!p) {
        warn(
          e.name,
          "InvalidEgressIP",
          `egress IP: ${t} for object EgressIP: ${e.name} is not a valid IP address`,
        );
        continue;
      }
      if (dup) continue;
      const owner = model.ownerOf(p.k);
      if (owner !== undefined) {
        warn(
          e.name,
          "EgressIPConflict",
          `Egress IP ${e.name} with IP ${t} is conflicting with a host (${owner}) IP address and will not be assigned`,
        );
        continue;
      }
      const h = holder.get(p.k);
      if (h !== undefined && h !== e.name) {
        warn(
          e.name,
          "UnsupportedRequest",
          `IP: ${t} for EgressIP: ${e.name} is already allocated for EgressIP: ${h}, the request is not supported`,
        );
        continue;
      }
      holder.set(p.k, e.name);
      mine.push({ ipText: t, ip: p.ip, k: p.k, node: undefined });
    }
    claims.push(mine);
  });

  // Removals first: keep current items that are still valid.
  const used: string[][] = []; // per EgressIP: nodes holding one of its IPs
  eips.forEach((e, i) => {
    const mine = claims[i]!;
    const on: string[] = [];
    for (const item of e.status) {
      const p = parse(item.egressIP);
      if (!p) continue;
      const c = mine.find((x) => x.k === p.k);
      if (!c || c.node !== undefined) continue;
      const st = model.state(item.node);
      if (!st?.eligible || on.includes(st.name) || !fits(st, p.ip)) continue;
      c.node = st.name;
      on.push(st.name);
      count(st, p.ip);
    }
    used.push(on);
  });

  // Additions: place pending IPs on the indexed eligible nodes.
  const ensureBuilt = (g: Group) => {
    if (g.builtRun === model.run) return;
    g.heap = new Heap(entryLess);
    for (const st of g.members.values()) g.heap.push({ st, key: st.total });
    g.builtRun = model.run;
  };
  const hasCapacity = (st: NodeState, f: Family) => capacityLeft(st.node, platform, f, st) > 0;
  /** Best valid entry of a group for this EgressIP, leaving the heap intact except for dropping
   *  nodes without capacity (they cannot regain it during one run) and refreshing stale keys. */
  const bestOf = (g: Group, exclude: string[]): NodeState | undefined => {
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
      if (exclude.includes(top.st.name)) {
        putBack.push(g.heap.pop()!);
        continue;
      }
      found = top.st;
      break;
    }
    for (const e of putBack) g.heap.push(e);
    return found;
  };

  eips.forEach((e, i) => {
    const on = used[i]!;
    let unassigned = 0;
    for (const c of claims[i]!) {
      if (c.node !== undefined) continue;
      if (model.eligibleCount === 0) {
        unassigned++;
        continue;
      }
      const groups = model.groupsFor(c.ip);
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
      c.node = best.name;
      on.push(best.name);
      count(best, c.ip);
    }
    if (model.eligibleCount === 0 && unassigned > 0)
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
  });

  // Outputs.
  const status = new Map<string, EgressIPStatusItem[]>();
  const changed: string[] = [];
  const moves: EgressIPMove[] = [];
  const cloud: DesiredCloudPrivateIPConfig[] = [];
  eips.forEach((e, i) => {
    const items: EgressIPStatusItem[] = [];
    const placed: Claim[] = [];
    for (const c of claims[i]!) {
      const node = c.node;
      if (node === undefined) continue;
      items.push({ node, egressIP: c.ipText });
      placed.push(c);
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
    // Same texts and nodes in the same order: nothing to compare further (the common case).
    if (
      e.status.length === items.length &&
      e.status.every((it, j) => it.egressIP === items[j]!.egressIP && it.node === items[j]!.node)
    )
      return;
    const before = new Map<Key, string>();
    for (const it of e.status) {
      const p = parse(it.egressIP);
      if (p) before.set(p.k, it.node);
    }
    const after = new Set(placed.map((c) => c.k));
    let diff = before.size !== items.length || e.status.length !== items.length;
    placed.forEach((c, j) => {
      const it = items[j]!;
      const from = before.get(c.k);
      if (from !== it.node) {
        diff = true;
        moves.push(
          from === undefined
            ? { egressIP: e.name, ip: it.egressIP, to: it.node }
            : { egressIP: e.name, ip: it.egressIP, from, to: it.node },
        );
      }
    });
    for (const it of e.status) {
      const p = parse(it.egressIP);
      if (!p || !after.has(p.k)) {
        diff = true;
        moves.push({ egressIP: e.name, ip: it.egressIP, from: it.node });
      }
    }
    if (diff) changed.push(e.name);
  });
  cloud.sort((a, b) => compareStrings(a.name, b.name));
  return { status, changed, events, cloudPrivateIPConfigs: cloud, moves };
}
