// NetworkPolicy resolution (networking.k8s.io/v1 semantics, MISSION §10): PolicyView → per local pod
// the traffic its policies allow, with selectors, namespaces, named ports and ipBlock excepts resolved
// into address ranges and port ranges (LocalPodPolicy). The policy compiler (compile.ts) renders the
// result into nftables; np-reference.ts is an independent per-packet evaluator of the same semantics
// used as the oracle in tests. Pure and deterministic (every list sorted); no I/O; never throws on
// bad input: a bad field becomes a CompileWarning and the peer / port / rule it belongs to allows
// nothing (fail closed). Design: docs/policy.md, section "NetworkPolicy".

import { ianaSvcNameErrors } from "../../../api/kinds/rules.js";
import {
  type LabelSelector,
  LabelSelectorError,
  labelSelectorAsSelector,
  type Selector,
  selectorMatches,
} from "../../../api/selector.js";
import { maskV4, parseV4, parseV4CIDR } from "../ipv4.js";
import type { CompileWarning } from "../types.js";
import type {
  AllowEntry,
  LocalPodPolicy,
  NetworkPolicyView,
  PolicyPod,
  PolicyProtocol,
  PolicyView,
  RuleOrigin,
  V4Range,
} from "./types.js";

export const NP_PROTOCOLS: readonly PolicyProtocol[] = ["TCP", "UDP", "SCTP"];

export interface ResolvedNetworkPolicies {
  pods: LocalPodPolicy[];
  warnings: CompileWarning[];
}

/** A pod of the view with its parsed address. */
interface AddrPod {
  pod: PolicyPod;
  ip: number;
}

/** One port entry of a rule after validation. */
type PortSpec =
  | { kind: "all"; protocol: PolicyProtocol }
  | { kind: "range"; protocol: PolicyProtocol; range: [number, number] }
  | { kind: "named"; protocol: PolicyProtocol; name: string };

/** A rule's peers after validation: any address, or each selector peer's pods (shared lists, see
 *  Resolver.peerCache) plus the rule's ipBlock ranges (merged). */
type PeerSet = { any: true } | { any: false; groups: AddrPod[][]; blocks: V4Range[] };

/** An entry with more peer components than this gets one merged component instead: the compiler
 *  renders one rule per component, so this bounds the rules per entry whatever a policy lists. */
export const NP_MAX_COMPONENTS = 4;

interface ResolvedRule {
  origin: RuleOrigin;
  /** Memo: the peers as merged ranges (the same for every selected pod). */
  addr?: V4Range[] | "any";
  /** Memo: AllowEntry.components of the rule's entries (undefined = `addr` is the only one). */
  components?: V4Range[][] | undefined;
  /** Memo: the pods of every selector peer, one per address. */
  pods?: AddrPod[];
  /** Memo: egress entries do not depend on the selected pod. */
  egressEntries?: AllowEntry[];
  peers: PeerSet;
  /** "all" = the rule has no ports (every protocol and port); [] = every port entry was bad. */
  ports: PortSpec[] | "all";
}

interface ResolvedPolicy {
  key: string;
  namespace: string;
  selector: Selector;
  /** Some ingress rule has a named port: its entries depend on the selected pod's own ports. */
  ingressNamed: boolean;
  ingress: ResolvedRule[] | undefined;
  egress: ResolvedRule[] | undefined;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

// ---------------------------------------------------------------------------------- range arithmetic

/** Sorts and merges overlapping or adjacent ranges. */
export function mergeRanges(ranges: readonly V4Range[]): V4Range[] {
  const sorted = [...ranges].sort((a, b) => a.start - b.start || a.end - b.end);
  const out: V4Range[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.start <= last.end + 1) {
      if (r.end > last.end) last.end = r.end;
    } else out.push({ start: r.start, end: r.end });
  }
  return out;
}

/** Union of two lists that are each sorted and merged (mergeRanges output): a linear merge. */
export function mergeSortedRanges(a: readonly V4Range[], b: readonly V4Range[]): V4Range[] {
  const out: V4Range[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const r = j >= b.length || (i < a.length && a[i]!.start <= b[j]!.start) ? a[i++]! : b[j++]!;
    const last = out[out.length - 1];
    if (last && r.start <= last.end + 1) {
      if (r.end > last.end) last.end = r.end;
    } else out.push({ start: r.start, end: r.end });
  }
  return out;
}

/** `from` minus every range of `minus` (both arbitrary); result sorted and merged. */
export function subtractRanges(from: readonly V4Range[], minus: readonly V4Range[]): V4Range[] {
  const cut = mergeRanges(minus);
  const out: V4Range[] = [];
  for (const r of mergeRanges(from)) {
    let start = r.start;
    for (const c of cut) {
      if (c.end < start || c.start > r.end) continue;
      if (c.start > start) out.push({ start, end: c.start - 1 });
      start = c.end + 1;
      if (start > r.end) break;
    }
    if (start <= r.end) out.push({ start, end: r.end });
  }
  return out;
}

export const cidrRange = (net: number, prefix: number): V4Range => ({
  start: net,
  end: (net | ~maskV4(prefix)) >>> 0,
});

// ---------------------------------------------------------------------------------------- resolving

class Resolver {
  readonly warnings: CompileWarning[] = [];
  readonly pods: AddrPod[] = [];
  private readonly podsByNs = new Map<string, AddrPod[]>();
  /** Selector peer → its pods sorted by address (shared, never mutated). */
  private readonly peerCache = new Map<string, AddrPod[]>();
  private readonly nsLabels = new Map<string, Record<string, string>>();

  constructor(readonly view: PolicyView) {
    for (const ns of view.namespaces) this.nsLabels.set(ns.name, ns.labels);
    view.pods.forEach((pod, i) => {
      const ip = parseV4(pod.ip);
      if (ip === undefined) {
        // IPv6-only pods cannot be matched by an IPv4 program; say so once per pod.
        this.warn(`pods[${i}] ${pod.namespace}/${pod.name}: ip`, pod.ip, "not an IPv4 address; pod ignored");
        return;
      }
      const ap = { pod, ip };
      this.pods.push(ap);
      const l = this.podsByNs.get(pod.namespace);
      if (l) l.push(ap);
      else this.podsByNs.set(pod.namespace, [ap]);
    });
  }

  warn(field: string, value: unknown, detail: string): void {
    this.warnings.push({ field, value, detail });
  }

  /** Namespace labels; a pod whose namespace is missing from the view is matched as unlabeled. */
  labelsOfNamespace(ns: string): Record<string, string> {
    return this.nsLabels.get(ns) ?? {};
  }

  /** Compiles a selector; null/undefined → `absent` (the caller decides what absent means). */
  selector(
    sel: unknown,
    where: string,
    absent: Selector | undefined,
    consequence: string,
  ): Selector | undefined {
    if (sel === undefined || sel === null) return absent;
    if (!isObject(sel)) {
      this.warn(where, sel, `not a label selector; ${consequence}`);
      return undefined;
    }
    try {
      return labelSelectorAsSelector(sel as LabelSelector, where);
    } catch (e) {
      const first = e instanceof LabelSelectorError ? e.errors[0] : undefined;
      if (first) this.warn(first.field, first.value, `${first.detail}; ${consequence}`);
      else this.warn(where, sel, `${String(e)}; ${consequence}`);
      return undefined;
    }
  }

  resolvePolicy(np: NetworkPolicyView): ResolvedPolicy | undefined {
    const key = `${np.namespace}/${np.name}`;
    const base = `networkpolicies/${key}: spec`;
    const spec: Record<string, unknown> = isObject(np.spec) ? np.spec : {};
    // spec.podSelector null/absent = {} = every pod of the namespace. A bad one: the policy is
    // skipped (as OVN-Kubernetes does when it cannot translate a selector); the API rejects it anyway.
    const selector = this.selector(
      spec.podSelector,
      `${base}.podSelector`,
      { requirements: [] },
      "policy skipped",
    );
    if (!selector) return undefined;
    let ingress = false;
    let egress = false;
    const types = Array.isArray(spec.policyTypes) ? spec.policyTypes : [];
    types.forEach((t, i) => {
      if (t === "Ingress") ingress = true;
      else if (t === "Egress") egress = true;
      else this.warn(`${base}.policyTypes[${i}]`, t, "not Ingress or Egress; ignored");
    });
    if (!ingress && !egress) {
      // Kubernetes defaulting: Ingress always, Egress when egress rules are given (len > 0).
      ingress = true;
      egress = Array.isArray(spec.egress) && spec.egress.length > 0;
    }
    const ingressRules = ingress ? this.resolveRules(np, spec, "ingress") : undefined;
    return {
      key,
      namespace: np.namespace,
      selector,
      ingressNamed: (ingressRules ?? []).some(
        (r) => r.ports !== "all" && r.ports.some((p) => p.kind === "named"),
      ),
      ingress: ingressRules,
      egress: egress ? this.resolveRules(np, spec, "egress") : undefined,
    };
  }

  private resolveRules(
    np: NetworkPolicyView,
    spec: Record<string, unknown>,
    direction: "ingress" | "egress",
  ): ResolvedRule[] {
    const base = `networkpolicies/${np.namespace}/${np.name}: spec.${direction}`;
    const list = spec[direction];
    if (list === undefined || list === null) return [];
    if (!Array.isArray(list)) {
      this.warn(base, list, "not a list; nothing allowed");
      return [];
    }
    const peerField = direction === "ingress" ? "from" : "to";
    return list.map((raw, i): ResolvedRule => {
      // A null rule decodes as {} in Kubernetes: every peer, every port.
      const rule: Record<string, unknown> = isObject(raw) ? raw : {};
      const path = `${base}[${i}]`;
      return {
        origin: { policy: `${np.namespace}/${np.name}`, direction, rule: i },
        peers: this.resolvePeers(np.namespace, rule[peerField], `${path}.${peerField}`),
        ports: this.resolvePorts(rule.ports, `${path}.ports`),
      };
    });
  }

  private resolvePeers(policyNs: string, list: unknown, path: string): PeerSet {
    if (list === undefined || list === null) return { any: true };
    if (!Array.isArray(list)) {
      this.warn(path, list, "not a list; rule allows nothing");
      return { any: false, groups: [], blocks: [] };
    }
    if (list.length === 0) return { any: true };
    const groups: AddrPod[][] = [];
    const blocks: V4Range[] = [];
    list.forEach((raw, j) => {
      const p = `${path}[${j}]`;
      if (!isObject(raw)) {
        this.warn(p, raw, "not a peer; skipped");
        return;
      }
      const hasPod = raw.podSelector !== undefined && raw.podSelector !== null;
      const hasNs = raw.namespaceSelector !== undefined && raw.namespaceSelector !== null;
      const hasBlock = raw.ipBlock !== undefined && raw.ipBlock !== null;
      if (!hasPod && !hasNs && !hasBlock) {
        this.warn(p, raw, "must specify podSelector, namespaceSelector or ipBlock; skipped");
        return;
      }
      if (hasBlock && (hasPod || hasNs)) {
        this.warn(p, raw, "ipBlock may not be combined with a selector; skipped");
        return;
      }
      if (hasBlock) {
        const r = this.resolveIPBlock(raw.ipBlock, `${p}.ipBlock`);
        if (r) blocks.push(...r);
        return;
      }
      const podSel = hasPod
        ? this.selector(raw.podSelector, `${p}.podSelector`, undefined, "peer skipped")
        : undefined;
      const nsSel = hasNs
        ? this.selector(raw.namespaceSelector, `${p}.namespaceSelector`, undefined, "peer skipped")
        : undefined;
      if ((hasPod && !podSel) || (hasNs && !nsSel)) return;
      // Policies stamped from a project template repeat the same peers in every namespace: a
      // namespaceSelector peer resolves the same whatever the policy's namespace.
      const key = JSON.stringify([hasNs ? raw.namespaceSelector : `ns:${policyNs}`, raw.podSelector ?? null]);
      let found = this.peerCache.get(key);
      if (!found) {
        found = [];
        const namespaces = nsSel
          ? [...this.podsByNs.keys()].filter((ns) => selectorMatches(nsSel, this.labelsOfNamespace(ns)))
          : [policyNs];
        for (const ns of namespaces) {
          for (const ap of this.podsByNs.get(ns) ?? []) {
            if (!podSel || selectorMatches(podSel, ap.pod.labels)) found.push(ap);
          }
        }
        found.sort((a, b) => a.ip - b.ip);
        this.peerCache.set(key, found);
      }
      if (!groups.includes(found)) groups.push(found);
    });
    return { any: false, groups, blocks: mergeRanges(blocks) };
  }

  private resolveIPBlock(raw: unknown, path: string): V4Range[] | undefined {
    if (!isObject(raw) || typeof raw.cidr !== "string") {
      this.warn(`${path}.cidr`, isObject(raw) ? raw.cidr : raw, "must be a CIDR; peer skipped");
      return undefined;
    }
    if (raw.cidr.includes(":")) {
      this.warn(`${path}.cidr`, raw.cidr, "IPv6 ipBlock skipped: the cluster network is IPv4");
      return undefined;
    }
    // Non-canonical CIDRs (host bits set) are accepted and masked, as Kubernetes accepts them.
    const cidr = parseV4CIDR(raw.cidr);
    if (!cidr) {
      this.warn(`${path}.cidr`, raw.cidr, "not a valid IPv4 CIDR; peer skipped");
      return undefined;
    }
    const whole = cidrRange(cidr.net, cidr.prefix);
    const cut: V4Range[] = [];
    const except = raw.except ?? [];
    if (!Array.isArray(except)) {
      this.warn(`${path}.except`, except, "not a list; peer skipped");
      return undefined;
    }
    for (const [k, e] of except.entries()) {
      const ep = `${path}.except[${k}]`;
      if (typeof e === "string" && e.includes(":")) {
        // An IPv6 except cannot exclude an IPv4 address.
        this.warn(ep, e, "IPv6 except ignored in an IPv4 ipBlock");
        continue;
      }
      const c = typeof e === "string" ? parseV4CIDR(e) : undefined;
      if (!c) {
        // Without knowing what to exclude, allowing the CIDR would allow too much: fail closed.
        this.warn(ep, e, "not a valid IPv4 CIDR; peer skipped");
        return undefined;
      }
      const r = cidrRange(c.net, c.prefix);
      if (r.start < whole.start || r.end > whole.end)
        this.warn(ep, e, "not inside ipBlock.cidr; excluded anyway");
      cut.push(r);
    }
    return subtractRanges([whole], cut);
  }

  private resolvePorts(list: unknown, path: string): PortSpec[] | "all" {
    if (list === undefined || list === null) return "all";
    if (!Array.isArray(list)) {
      this.warn(path, list, "not a list; rule allows nothing");
      return [];
    }
    if (list.length === 0) return "all";
    const out: PortSpec[] = [];
    list.forEach((raw, j) => {
      const spec = parsePortEntry(raw, `${path}[${j}]`, (f, v, d) => this.warn(f, v, d));
      if (spec) out.push(spec);
    });
    return out;
  }
}

/** Validates one NetworkPolicyPort; undefined (after a warning) when it is bad. */
function parsePortEntry(
  raw: unknown,
  p: string,
  warn: (field: string, value: unknown, detail: string) => void,
): PortSpec | undefined {
  if (!isObject(raw)) {
    warn(p, raw, "not a port entry; skipped");
    return undefined;
  }
  const protocol = raw.protocol ?? "TCP";
  if (typeof protocol !== "string" || !(NP_PROTOCOLS as readonly string[]).includes(protocol)) {
    warn(`${p}.protocol`, raw.protocol, "supported: TCP, UDP, SCTP; port entry skipped");
    return undefined;
  }
  const proto = protocol as PolicyProtocol;
  const port = raw.port;
  const endPort = raw.endPort;
  const hasEnd = endPort !== undefined && endPort !== null;
  if (port === undefined || port === null) {
    if (hasEnd) {
      warn(`${p}.port`, port, "must be a number when endPort is given; port entry skipped");
      return undefined;
    }
    return { kind: "all", protocol: proto };
  }
  if (typeof port === "string") {
    if (hasEnd) {
      warn(`${p}.endPort`, endPort, "only allowed with a numeric port; port entry skipped");
      return undefined;
    }
    const errs = ianaSvcNameErrors(port);
    if (errs.length > 0) {
      warn(`${p}.port`, port, `not a port name (${errs.join("; ")}); port entry skipped`);
      return undefined;
    }
    return { kind: "named", protocol: proto, name: port };
  }
  if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) {
    warn(`${p}.port`, port, "must be a port number 1-65535 or a port name; port entry skipped");
    return undefined;
  }
  if (!hasEnd) return { kind: "range", protocol: proto, range: [port, port] };
  if (typeof endPort !== "number" || !Number.isInteger(endPort) || endPort < port || endPort > 65535) {
    warn(`${p}.endPort`, endPort, `must be a port number from port (${port}) to 65535; port entry skipped`);
    return undefined;
  }
  return { kind: "range", protocol: proto, range: [port, endPort] };
}

// ------------------------------------------------------------------------------------- entry building

/** Merged /32 ranges of pods; memoized per (shared, cached) pod list. */
const rangesOfPods = new WeakMap<readonly AddrPod[], V4Range[]>();
function podRanges(pods: readonly AddrPod[]): V4Range[] {
  let r = rangesOfPods.get(pods);
  if (!r) {
    // The shared selector lists are sorted by address already: merge in one pass.
    const sorted = pods.every((p, i) => i === 0 || pods[i - 1]!.ip <= p.ip)
      ? pods
      : [...pods].sort((a, b) => a.ip - b.ip);
    r = [];
    for (const p of sorted) {
      const last = r[r.length - 1];
      if (last && p.ip <= last.end + 1) {
        if (p.ip > last.end) last.end = p.ip;
      } else r.push({ start: p.ip, end: p.ip });
    }
    rangesOfPods.set(pods, r);
  }
  return r;
}

/** The pods' addresses as single-address ranges, sorted, each once (a peer component: rendered as a
 *  hash set, where adding or removing one pod is one element); memoized per shared pod list. */
const addrsOfPods = new WeakMap<readonly AddrPod[], V4Range[]>();
function podAddrs(pods: readonly AddrPod[]): V4Range[] {
  let r = addrsOfPods.get(pods);
  if (!r) {
    r = [];
    const sorted = [...pods].sort((a, b) => a.ip - b.ip);
    for (const p of sorted) if (r[r.length - 1]?.start !== p.ip) r.push({ start: p.ip, end: p.ip });
    addrsOfPods.set(pods, r);
  }
  return r;
}

/** The pods of every group, one per address (the last group's pod wins an address used twice). */
function unionPods(groups: AddrPod[][]): AddrPod[] {
  if (groups.length === 1) return groups[0]!;
  const union = new Map<number, AddrPod>();
  for (const g of groups) for (const ap of g) union.set(ap.ip, ap);
  return [...union.values()].sort((a, b) => a.ip - b.ip);
}

/** A rule's peer components (AllowEntry.components); undefined when there are more than
 *  NP_MAX_COMPONENTS (the merged peers are then the only component). */
function peerComponents(peers: PeerSet): V4Range[][] | undefined {
  if (peers.any) return undefined;
  const out: V4Range[][] = [];
  for (const g of peers.groups) if (g.length > 0) out.push(podAddrs(g));
  if (peers.blocks.length > 0) out.push(peers.blocks);
  return out.length <= NP_MAX_COMPONENTS ? out : undefined;
}

/** Container ports of `pod` named `name` with `protocol` (normally at most one). */
const namedPorts = (pod: PolicyPod, name: string, protocol: PolicyProtocol): number[] =>
  pod.ports.filter((cp) => cp.name === name && cp.protocol === protocol).map((cp) => cp.port);

function ruleEntries(rule: ResolvedRule, self: PolicyPod, allPods: readonly AddrPod[]): AllowEntry[] {
  if (rule.egressEntries) return rule.egressEntries;
  const { peers, origin } = rule;
  if (rule.addr === undefined) {
    rule.pods = peers.any ? [] : unionPods(peers.groups);
    rule.addr = peers.any
      ? "any"
      : peers.blocks.length === 0
        ? podRanges(rule.pods)
        : mergeSortedRanges(podRanges(rule.pods), peers.blocks);
    rule.components = peerComponents(peers);
  }
  const addrPeers = rule.addr;
  const out: AllowEntry[] = [];
  const push = (
    p: V4Range[] | "any",
    components: V4Range[][] | undefined,
    protocol?: PolicyProtocol,
    ports?: [number, number],
  ) => {
    if (p !== "any" && p.length === 0) return;
    out.push({
      peers: p,
      ...(components && p !== "any" ? { components } : {}),
      ...(protocol ? { protocol } : {}),
      ...(ports ? { ports } : {}),
      origin,
    });
  };
  const comps = rule.components;
  if (rule.ports === "all") {
    push(addrPeers, comps);
    if (origin.direction === "egress") rule.egressEntries = out;
    return out;
  }
  for (const ps of rule.ports) {
    if (ps.kind === "all") push(addrPeers, comps, ps.protocol);
    else if (ps.kind === "range") push(addrPeers, comps, ps.protocol, ps.range);
    else if (origin.direction === "ingress") {
      // The named port is the selected (destination) pod's own container port.
      for (const n of namedPorts(self, ps.name, ps.protocol)) push(addrPeers, comps, ps.protocol, [n, n]);
    } else {
      // Egress: the destination is the peer; each peer pod may number the name differently, so
      // group peer pods by their number. ipBlock peers cannot carry a named port: they match nothing.
      const candidates = peers.any ? allPods : rule.pods!;
      const byPort = new Map<number, AddrPod[]>();
      for (const ap of candidates) {
        for (const n of namedPorts(ap.pod, ps.name, ps.protocol)) {
          const l = byPort.get(n);
          if (l) l.push(ap);
          else byPort.set(n, [ap]);
        }
      }
      for (const [n, pods] of byPort) push(podRanges(pods), [podAddrs(pods)], ps.protocol, [n, n]);
    }
  }
  if (origin.direction === "egress") rule.egressEntries = out;
  return out;
}

const cmp = (a: string | number, b: string | number): number => (a < b ? -1 : a > b ? 1 : 0);

function comparePeers(a: V4Range[] | "any", b: V4Range[] | "any"): number {
  if (a === "any" || b === "any") return a === b ? 0 : a === "any" ? -1 : 1;
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i]!;
    const y = b[i]!;
    const c = x.start - y.start || x.end - y.end;
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

/** Order of LocalPodPolicy.ingress/egress: origin (policy, direction, rule), peers, protocol, ports. */
export function compareAllowEntries(a: AllowEntry, b: AllowEntry): number {
  return (
    cmp(a.origin.policy, b.origin.policy) ||
    cmp(a.origin.direction, b.origin.direction) ||
    a.origin.rule - b.origin.rule ||
    comparePeers(a.peers, b.peers) ||
    cmp(a.protocol ?? "", b.protocol ?? "") ||
    (a.ports?.[0] ?? -1) - (b.ports?.[0] ?? -1) ||
    (a.ports?.[1] ?? -1) - (b.ports?.[1] ?? -1)
  );
}

function sortedUnique(entries: AllowEntry[]): AllowEntry[] {
  entries.sort(compareAllowEntries);
  return entries.filter((e, i) => i === 0 || compareAllowEntries(entries[i - 1]!, e) !== 0);
}

/**
 * Resolves every NetworkPolicy of the view for this node's (local) pods. Modes other than
 * "networkpolicy" return nothing (the compiler warns that policies are not enforced there).
 */
export function resolveNetworkPolicies(view: PolicyView): ResolvedNetworkPolicies {
  if (view.mode !== "networkpolicy") return { pods: [], warnings: [] };
  const r = new Resolver(view);
  const policies = [...view.networkPolicies]
    .sort((a, b) => cmp(a.namespace, b.namespace) || cmp(a.name, b.name))
    .map((np) => r.resolvePolicy(np))
    .filter((p): p is ResolvedPolicy => p !== undefined);
  const byNs = new Map<string, ResolvedPolicy[]>();
  for (const p of policies) {
    const l = byNs.get(p.namespace);
    if (l) l.push(p);
    else byNs.set(p.namespace, [p]);
  }
  // Pods selected by the same policies get the same allow lists (unless an ingress named port makes
  // them depend on the pod's own ports): resolve each distinct selection once and share the lists.
  const shared = new Map<string, Omit<LocalPodPolicy, "namespace" | "name" | "ip">>();
  const out: LocalPodPolicy[] = [];
  for (const { pod, ip } of r.pods) {
    if (!pod.local) continue;
    const candidates = byNs.get(pod.namespace) ?? [];
    const selected: ResolvedPolicy[] = [];
    let sig = `${pod.namespace}\0`;
    let named = false;
    candidates.forEach((p, i) => {
      if (!selectorMatches(p.selector, pod.labels)) return;
      selected.push(p);
      sig += `${i},`;
      if (p.ingressNamed) named = true;
    });
    if (named) sig += `\0${JSON.stringify(pod.ports)}`;
    let lists = shared.get(sig);
    if (!lists) {
      const res = {
        ingressIsolated: false,
        egressIsolated: false,
        ingress: [] as AllowEntry[],
        egress: [] as AllowEntry[],
      };
      for (const p of selected) {
        if (p.ingress) {
          res.ingressIsolated = true;
          for (const rule of p.ingress) for (const e of ruleEntries(rule, pod, r.pods)) res.ingress.push(e);
        }
        if (p.egress) {
          res.egressIsolated = true;
          for (const rule of p.egress) for (const e of ruleEntries(rule, pod, r.pods)) res.egress.push(e);
        }
      }
      res.ingress = sortedUnique(res.ingress);
      res.egress = sortedUnique(res.egress);
      lists = res;
      shared.set(sig, lists);
    }
    out.push({ namespace: pod.namespace, name: pod.name, ip, ...lists });
  }
  out.sort((a, b) => cmp(a.namespace, b.namespace) || cmp(a.name, b.name) || a.ip - b.ip);
  return { pods: out, warnings: r.warnings };
}
