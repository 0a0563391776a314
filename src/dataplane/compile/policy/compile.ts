// The policy compiler: PolicyView (what the API says) → PolicyProgram (table `inet egress-policy` as a
// structured IR, the nft script rendered from it, warnings). Pure and deterministic: the same view
// renders byte-identical text (every list is sorted). No I/O. Design: docs/policy.md.
//
// Base chain `forward` (filter hook forward), in this order:
//  a. multitenant (mode multitenant): every pod → pod packet, before conntrack, is checked by netid
//     with lookups: `ip saddr vmap @mt_src` → one chain per netid `ip daddr @mt_<netid> return; drop`;
//  b. mark POD_OUTSIDE_MARK on this node's pods' packets to destinations outside the cluster;
//  c. `ct state established,related accept`;
//  d. NetworkPolicy (mode networkpolicy): pod address → per-group chain (pods with equal allow lists
//     share one): one rule per allow entry and peer component, each component (a namespace's pods,
//     a rule's ipBlocks) one set shared by all chains; large groups get two disjoint lookups;
//  e. egress firewall: this node's pods' new flows to outside destinations; DNS to the resolvers first,
//     then pod address → per-namespace chain: first-match rules compiled into two disjoint verdict
//     maps (classify.ts), so the cost per flow does not grow with the number of rules; the maps hold
//     only the segments whose verdict differs from the chain's final (majority) verdict.
// Fail-closed guards (`meta nfproto != @live drop`, see LIVE_SET) sit before every accept that a
// packet outliving its generation can reach after a missed lookup.
// Per-packet cost never grows with the number of pods, projects, policies or firewall rules.
import { type LabelSelector, matchesLabelSelector } from "../../../api/selector.js";
import { containsV4, maskV4, parseV4, parseV4CIDR, type V4CIDR } from "../ipv4.js";
import { CompileError } from "../node-program.js";
import type { CompileWarning } from "../types.js";
import { type ClassRule, classify, unionRanges, V4_MAX } from "./classify.js";
import {
  type IrChain,
  type IrElement,
  type IrRule,
  type IrSet,
  type IrVerdict,
  type L4,
  L4_ORDER,
  l4Of,
  mergeAdjacent,
  type PolicyIR,
  type PolicyOrigin,
  renderPolicyIR,
} from "./ir.js";
import { type ResolvedNetworkPolicies, resolveNetworkPolicies } from "./networkpolicy.js";
import {
  ADMIN_CHAIN,
  ADMIN_TABLE,
  type AllowEntry,
  type EgressFirewallView,
  POD_OUTSIDE_MARK,
  POLICY_TABLE,
  type PolicyProgram,
  type PolicyView,
  type V4Range,
} from "./types.js";

export { CompileError };

/** The admin table's base chain (owned by the agent; `hook` itself is an nft keyword). */
export const ADMIN_HOOK_CHAIN = "admin-hook";
export const BASE_CHAIN = "forward";

/** 224.0.0.0/4 */
const MULTICAST: V4Range = { start: 0xe0000000, end: 0xefffffff };
const rangeOf = (c: V4CIDR): V4Range => ({ start: c.net, end: (c.net | ~maskV4(c.prefix)) >>> 0 });
const ALL: V4Range = { start: 0, end: V4_MAX };
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function requireCIDR(field: string, s: string): V4CIDR {
  const c = parseV4CIDR(s);
  if (!c) throw new CompileError(field, s, "must be an IPv4 CIDR");
  return c;
}

/** A NetworkPolicy group (pods with equal allow lists) with at most this many entries gets one rule
 *  per entry (peer sets shared across groups); a larger one gets two classified lookups. */
export const NP_INLINE_MAX = 16;

export interface PolicyCompileOptions {
  /** Overrides NP_INLINE_MAX (tests force either rendering). */
  npInlineMax?: number;
}

export function compilePolicyProgram(view: PolicyView, opts: PolicyCompileOptions = {}): PolicyProgram {
  const np = view.mode === "networkpolicy" ? resolveNetworkPolicies(view) : { pods: [], warnings: [] };
  return compileWithResolved(view, np, opts);
}

/** compilePolicyProgram with the NetworkPolicy resolution given (tests drive random allow lists). */
export function compileWithResolved(
  view: PolicyView,
  np: ResolvedNetworkPolicies,
  opts: PolicyCompileOptions = {},
): PolicyProgram {
  const warnings: CompileWarning[] = [];
  const warn = (field: string, value: unknown, detail: string) => warnings.push({ field, value, detail });
  const sets: IrSet[] = [];
  const chains: IrChain[] = [];
  const stats: Record<string, number> = {};

  const podSubnet = requireCIDR("podSubnet", view.podSubnet);
  const clusterCIDRs = view.clusterCIDRs.map((c, i) => requireCIDR(`clusterCIDRs[${i}]`, c));
  const serviceCIDR = requireCIDR("serviceCIDR", view.serviceCIDR);
  const inCluster = (ip: number) => clusterCIDRs.some((c) => containsV4(c, ip));

  const nodeRanges: V4Range[] = [];
  view.nodes.forEach((n, i) => {
    n.ips.forEach((s, j) => {
      const ip = parseV4(s);
      if (ip === undefined) {
        if (!s.includes(":")) warn(`nodes[${i}].ips[${j}]`, s, "not an IPv4 address; skipped");
        return;
      }
      nodeRanges.push({ start: ip, end: ip });
    });
  });
  // Multicast never "leaves the cluster": the multicast table decides who receives it.
  const clusterDsts = unionRanges([
    ...clusterCIDRs.map(rangeOf),
    rangeOf(serviceCIDR),
    ...nodeRanges,
    MULTICAST,
  ]);
  // Egress firewalls filter everything outside the pod and service networks, node addresses
  // included (as OVN-Kubernetes: that is what `to.nodeSelector` rules are for). A pod's own node is
  // reached through the input hook and is never filtered here.
  const fwInside = unionRanges([...clusterCIDRs.map(rangeOf), rangeOf(serviceCIDR), MULTICAST]);
  const addrSet = (name: string, ranges: V4Range[], interval: boolean, origin?: PolicyOrigin): IrSet => ({
    name,
    key: "daddr",
    interval,
    map: false,
    elements: ranges.map((addr) => ({ addr, ...(origin ? { origin } : {}) })),
  });
  sets.push(addrSet("cluster_cidrs", unionRanges(clusterCIDRs.map(rangeOf)), true));
  sets.push(addrSet("cluster_dsts", clusterDsts, true));
  sets.push(addrSet("fw_inside", fwInside, true));

  // Pods on the pod network, one per address (the first by namespace/name wins a duplicate).
  const pods = [...view.pods].sort((a, b) =>
    a.namespace === b.namespace ? cmp(a.name, b.name) : cmp(a.namespace, b.namespace),
  );
  const podByIP = new Map<number, (typeof pods)[number]>();
  for (const p of pods) {
    const ip = parseV4(p.ip);
    if (ip === undefined) {
      warn(`pods[${p.namespace}/${p.name}].ip`, p.ip, "not an IPv4 address; pod skipped");
      continue;
    }
    if (!inCluster(ip)) continue; // host-network pod: not on the pod network
    const other = podByIP.get(ip);
    if (other) {
      warn(
        `pods[${p.namespace}/${p.name}].ip`,
        p.ip,
        `address also used by ${other.namespace}/${other.name}; skipped`,
      );
      continue;
    }
    podByIP.set(ip, p);
  }
  const podIPs = sortedAddrs(podByIP.keys());
  stats.pods = podIPs.length;

  const fwd: IrRule[] = [];
  // a. Multitenant isolation.
  if (view.mode === "multitenant") {
    const netids = new Map<string, number | undefined>(view.namespaces.map((n) => [n.name, n.netid]));
    const global: number[] = [];
    const byNetid = new Map<number, number[]>();
    const src: IrElement[] = [];
    for (const ip of podIPs) {
      const netid = netids.get(podByIP.get(ip)!.namespace);
      const one = { start: ip, end: ip };
      if (netid === 0) global.push(ip);
      else if (netid === undefined)
        src.push({
          addr: one,
          verdict: { kind: "drop" },
          origin: { kind: "multitenant", verdict: "drop", reason: "no-netid" },
        });
      else {
        let l = byNetid.get(netid);
        if (!l) {
          l = [];
          byNetid.set(netid, l);
        }
        l.push(ip);
        src.push({ addr: one, verdict: { kind: "goto", chain: `mt-${netid}` } });
      }
    }
    const gOrigin: PolicyOrigin = { kind: "multitenant", verdict: "allow", reason: "global" };
    sets.push(addrSet("mt_global", global.map(one), false));
    sets.push({ name: "mt_src", key: "saddr", interval: false, map: "verdict", elements: src });
    for (const [netid, ips] of byNetid) {
      sets.push(addrSet(`mt_${netid}`, ips.map(one), false));
      chains.push({
        name: `mt-${netid}`,
        rules: [
          {
            match: [{ kind: "lookup", key: "daddr", set: `mt_${netid}` }],
            action: verdict("return"),
            origin: { kind: "multitenant", verdict: "allow", reason: "same-netid", netid },
          },
          {
            match: [],
            action: verdict("drop"),
            origin: { kind: "multitenant", verdict: "drop", reason: "other-netid", netid },
          },
        ],
      });
    }
    chains.push({
      name: "multitenant",
      rules: [
        {
          match: [{ kind: "lookup", key: "saddr", set: "mt_global" }],
          action: verdict("return"),
          origin: gOrigin,
        },
        {
          match: [{ kind: "lookup", key: "daddr", set: "mt_global" }],
          action: verdict("return"),
          origin: gOrigin,
        },
        { match: [], action: { kind: "vmap", key: "saddr", map: "mt_src" } },
        {
          match: [],
          action: verdict("drop"),
          origin: { kind: "multitenant", verdict: "drop", reason: "unknown-pod" },
        },
      ],
    });
    const podToPod: IrRule["match"] = [
      { kind: "lookup", key: "saddr", set: "cluster_cidrs" },
      { kind: "lookup", key: "daddr", set: "cluster_cidrs" },
    ];
    fwd.push({
      match: podToPod,
      action: { kind: "verdict", verdict: { kind: "jump", chain: "multitenant" } },
    });
    // A stale packet may find the multitenant chain without rules (see LIVE_SET): it would return
    // here and an established one would be accepted by conntrack below, unchecked. Guarded.
    fwd.push(liveGuard(podToPod));
    stats.netids = byNetid.size;
  }

  // b. Mark this node's pods' packets to outside the cluster for the admin chain.
  const outside = [
    { kind: "prefix" as const, field: "saddr" as const, net: podSubnet.net, prefix: podSubnet.prefix },
    { kind: "lookup" as const, key: "daddr" as const, set: "cluster_dsts", neg: true },
  ];
  fwd.push({ match: outside, action: { kind: "markOr", bits: POD_OUTSIDE_MARK } });
  // Multicast: delivery per project is the multicast table's decision (docs/policy.md "Multicast");
  // NetworkPolicy and egress firewalls do not apply to it.
  fwd.push({
    match: [{ kind: "prefix", field: "daddr", net: MULTICAST.start, prefix: 4 }],
    action: verdict("accept"),
    origin: { kind: "multicast" },
  });
  // c. Established flows.
  fwd.push({
    match: [{ kind: "ctstate", states: ["established", "related"] }],
    action: verdict("accept"),
    origin: { kind: "conntrack" },
  });

  // d. NetworkPolicy.
  if (view.mode === "networkpolicy") {
    warnings.push(...np.warnings);
    const inlineMax = opts.npInlineMax ?? NP_INLINE_MAX;
    // One set per distinct peer component (a selector's pods, a rule's ipBlocks), shared by every
    // rule of every group that uses it: first by list identity (the resolver shares its lists),
    // then by content. Only single addresses: a hash set (cheaper to load than an interval set, and
    // one pod is one element); otherwise an interval set of the merged ranges.
    const peerSets = new Map<string, string>();
    const peerSetOf = new WeakMap<V4Range[], string>();
    const peerSet = (ranges: V4Range[]): string => {
      const known = peerSetOf.get(ranges);
      if (known !== undefined) return known;
      const single = ranges.every((r) => r.start === r.end);
      const elements = single
        ? sortedAddrs(new Set(ranges.map((r) => r.start))).map(one)
        : unionRanges(ranges);
      const key = `${single ? "h" : "i"}:${elements.map((r) => `${r.start}-${r.end}`).join(",")}`;
      let name = peerSets.get(key);
      if (name === undefined) {
        name = `np_peers_${peerSets.size}`;
        peerSets.set(key, name);
        sets.push({
          name,
          key: "daddr",
          interval: !single,
          map: false,
          elements: elements.map((addr) => ({ addr })),
        });
      }
      peerSetOf.set(ranges, name);
      return name;
    };
    // A run of port entries (all with a protocol) → the l4 matches of its rules: `meta l4proto tcp
    // th dport 80` for one port range, else a lookup in a shared `l4.dport` set.
    const portSets = new Map<string, string>();
    const portMatch = (run: AllowEntry[]): IrRule["match"] => {
      const en = run[0]!;
      if (!en.protocol) return [];
      const boxes: { l4: L4; ports: [number, number] }[] = [];
      for (const l4 of L4_ORDER) {
        const ranges = unionRanges(
          run
            .filter((e) => e.protocol !== undefined && l4Of(e.protocol) === l4)
            .map((e) => ({ start: e.ports?.[0] ?? 0, end: e.ports?.[1] ?? 65535 })),
        );
        for (const r of ranges) boxes.push({ l4, ports: [r.start, r.end] });
      }
      const only = boxes.length === 1 ? boxes[0] : undefined;
      if (only) {
        const m: IrRule["match"] = [{ kind: "l4proto", protos: [only.l4] }];
        if (only.ports[0] !== 0 || only.ports[1] !== 65535) m.push({ kind: "dport", ports: only.ports });
        return m;
      }
      const key = boxes.map((b) => `${b.l4}.${b.ports[0]}-${b.ports[1]}`).join(",");
      let name = portSets.get(key);
      if (name === undefined) {
        name = `np_ports_${portSets.size}`;
        portSets.set(key, name);
        sets.push({
          name,
          key: "l4.dport",
          interval: boxes.some((b) => b.ports[0] !== b.ports[1]),
          map: false,
          elements: boxes.map((b) => ({ addr: ALL, ...b })),
        });
      }
      return [{ kind: "lookup", key: "l4.dport", set: name }];
    };
    for (const direction of ["egress", "ingress"] as const) {
      const groups = new Map<string, { entries: AllowEntry[]; pods: number[] }>();
      // The resolver shares one list between the pods the same policies select: most pods find
      // their group by the list itself.
      const byList = new Map<AllowEntry[], { entries: AllowEntry[]; pods: number[] }>();
      const seen = new Set<number>();
      for (const p of np.pods) {
        if (!(direction === "egress" ? p.egressIsolated : p.ingressIsolated) || seen.has(p.ip)) continue;
        seen.add(p.ip);
        const entries = direction === "egress" ? p.egress : p.ingress;
        let g = byList.get(entries);
        if (!g) {
          // Cheap key (a hash of the peer ranges), confirmed by comparing the entries themselves.
          const base = entries.map(entryKey).join(";");
          for (let k = 0; ; k++) {
            const key = `${base}#${k}`;
            g = groups.get(key);
            if (!g) {
              g = { entries, pods: [] };
              groups.set(key, g);
            } else if (!sameEntries(g.entries, entries)) continue;
            break;
          }
          byList.set(entries, g);
        }
        g.pods.push(p.ip);
      }
      const ordered = [...groups.values()].map((g) => ({
        ...g,
        first: g.pods.reduce((m, x) => (x < m ? x : m)),
      }));
      ordered.sort((a, b) => a.first - b.first);
      const short = direction === "egress" ? "eg" : "in";
      const chainOf = new Map<number, IrVerdict>();
      ordered.forEach((g, n) => {
        const chain = `np-${short}-${n}`;
        const jump: IrVerdict = { kind: "jump", chain };
        for (const ip of g.pods) chainOf.set(ip, jump);
        const peer = direction === "egress" ? "daddr" : "saddr";
        const body: IrRule[] = [];
        if (g.entries.length <= inlineMax) {
          // Few entries: one rule each, peers in sets shared by every group (a namespace's pods are
          // one set however many groups allow them).
          // An entry whose peers have several components (e.g. a namespace's pods and an ipBlock)
          // is one rule per component, in a row: the first that matches decides, as the entry would.
          // Consecutive entries of one policy rule with the same peers and several ports (`ports:
          // [TCP 8080, UDP 53]`) share those rules, the ports as one set `np_ports_K` (shared too):
          // they have one origin, so whichever matches first reports the same.
          const entries = g.entries;
          for (let i = 0; i < entries.length; ) {
            const en = entries[i]!;
            let j = i + 1;
            if (en.protocol) while (j < entries.length && samePortRun(en, entries[j]!)) j++;
            const l4 = portMatch(entries.slice(i, j));
            i = j;
            const origin = npOrigin(en);
            if (en.peers === "any") {
              body.push({ match: l4, action: verdict("return"), origin });
              continue;
            }
            for (const c of en.components ?? [en.peers]) {
              if (c.length === 0) continue;
              const match: IrRule["match"] = [{ kind: "lookup", key: peer, set: peerSet(c) }, ...l4];
              body.push({ match, action: verdict("return"), origin });
            }
          }
          body.push({
            match: [],
            action: verdict("drop"),
            origin: { kind: "networkpolicy-isolation", direction },
          });
          chains.push({ name: chain, rules: body });
          return;
        }
        // Many entries: first-match classification into two disjoint lookups for this group.
        const rules: ClassRule[] = g.entries.map((en) => ({
          ranges: en.peers === "any" ? [ALL] : en.peers,
          ...(en.protocol ? { l4: [{ l4: l4Of(en.protocol), ports: en.ports ?? [0, 65535] }] } : {}),
        }));
        const c = classify(rules);
        if (c.ports.length > 0) {
          const name = `np_${short}_${n}_ports`;
          sets.push({
            name,
            key: `${peer}.l4.dport`,
            interval: true,
            map: false,
            elements: c.ports.map((b) => ({
              addr: b.addr,
              l4: b.l4,
              ports: b.ports,
              origin: npOrigin(g.entries[b.rule]!),
            })),
          });
          body.push({
            match: [
              { kind: "l4proto", protos: [...L4_ORDER] },
              { kind: "lookup", key: `${peer}.l4.dport`, set: name },
            ],
            action: verdict("return"),
          });
        }
        if (c.addr.length > 0) {
          const name = `np_${short}_${n}_addr`;
          sets.push({
            name,
            key: peer,
            interval: true,
            map: false,
            elements: c.addr.map((a) => ({ addr: a.addr, origin: npOrigin(g.entries[a.rule]!) })),
          });
          body.push({ match: [{ kind: "lookup", key: peer, set: name }], action: verdict("return") });
        }
        body.push({
          match: [],
          action: verdict("drop"),
          origin: { kind: "networkpolicy-isolation", direction },
        });
        chains.push({ name: chain, rules: body });
      });
      const mapName = `np_${direction}_pods`;
      const podMap: IrElement[] = sortedAddrs(chainOf.keys()).map((ip) => ({
        addr: one(ip),
        verdict: chainOf.get(ip)!,
      }));
      const key = direction === "egress" ? "saddr" : "daddr";
      sets.push({ name: mapName, key, interval: false, map: "verdict", elements: podMap });
      fwd.push({ match: [], action: { kind: "vmap", key, map: mapName } });
      stats[`np${direction === "egress" ? "Egress" : "Ingress"}Groups`] = ordered.length;
      stats[`np${direction === "egress" ? "Egress" : "Ingress"}Pods`] = podMap.length;
    }
    stats.npPeerSets = peerSets.size;
    stats.npPortSets = portSets.size;
  } else if (view.networkPolicies.length > 0) {
    warn(
      "networkPolicies",
      view.networkPolicies.length,
      `NetworkPolicy is not enforced in mode ${view.mode}; ignored`,
    );
  }

  // e. Egress firewall.
  const dns: number[] = [];
  view.dnsServers.forEach((s, i) => {
    const ip = parseV4(s);
    if (ip === undefined) {
      if (!s.includes(":")) warn(`dnsServers[${i}]`, s, "not an IPv4 address; skipped");
    } else dns.push(ip);
  });
  sets.push(addrSet("dns_servers", [...new Set(dns)].sort(byNumber).map(one), false));
  const fwRules: IrRule[] = [
    // The DNS accept is reachable after a missed NetworkPolicy map lookup: guarded (see LIVE_SET).
    liveGuard(),
    {
      match: [
        { kind: "lookup", key: "daddr", set: "dns_servers" },
        { kind: "l4proto", protos: ["tcp", "udp"] },
        { kind: "dport", ports: [53, 53] },
      ],
      action: verdict("accept"),
      origin: { kind: "dns" },
    },
  ];
  const fwPods: IrElement[] = [];
  const localByNs = new Map<string, number[]>();
  for (const ip of podIPs) {
    const p = podByIP.get(ip)!;
    if (!p.local || !containsV4(podSubnet, ip)) continue;
    let l = localByNs.get(p.namespace);
    if (!l) {
      l = [];
      localByNs.set(p.namespace, l);
    }
    l.push(ip);
  }
  const byNs = new Map<string, EgressFirewallView[]>();
  view.egressFirewalls.forEach((f, i) => {
    if (!DNS_LABEL.test(f.namespace) || f.namespace.length > 63) {
      warn(`egressFirewalls[${i}].namespace`, f.namespace, "not a namespace name; skipped");
      return;
    }
    if (f.effect === "Ignored") return;
    let l = byNs.get(f.namespace);
    if (!l) {
      l = [];
      byNs.set(f.namespace, l);
    }
    l.push(f);
  });
  let fwElements = 0;
  for (const ns of [...byNs.keys()].sort()) {
    // A namespace without pods on this node needs no chain here (its firewall is enforced at its pods' nodes).
    const local = localByNs.get(ns);
    if (!local) continue;
    const fws = byNs.get(ns)!.sort((a, b) => cmp(a.kind, b.kind) || cmp(a.name, b.name));
    const chain = `fw/${ns}`;
    const body: IrRule[] = [];
    const only = fws[0]!;
    if (fws.length > 1 || only.effect === "DropAll") {
      if (fws.length > 1 && fws.every((f) => f.effect === "Enforced"))
        warn(
          `egressFirewalls[${ns}]`,
          fws.map((f) => `${f.kind}/${f.name}`),
          "several egress firewalls in one namespace: all outside traffic of the namespace is dropped",
        );
      body.push({
        match: [],
        action: verdict("drop"),
        origin: {
          kind: "egressfirewall-dropall",
          namespace: ns,
          firewalls: fws.map((f) => `${f.kind}/${f.name}`),
        },
      });
    } else {
      const fwOrigin = { namespace: ns, firewallKind: only.kind, name: only.name };
      const { rules, origins } = firewallRules(view, only, warn);
      const c = classify(rules);
      const v = (rule: number): { verdict: IrVerdict; origin: PolicyOrigin } => ({
        verdict: { kind: origins[rule]!.type === "Allow" ? "accept" : "drop" },
        origin: {
          kind: "egressfirewall",
          ...fwOrigin,
          rule: origins[rule]!.index,
          type: origins[rule]!.type,
        },
      });
      // Address map: only the segments whose effective verdict (Allow → accept, Deny → drop, no
      // rule → accept) is the minority one are rendered; the final rule gives the majority verdict,
      // which is exactly that of every address not in the map. The left-out segments stay in the IR
      // (`omitted` on the final rule) for the tracer's attribution.
      const nomatch: PolicyOrigin = { kind: "egressfirewall-nomatch", ...fwOrigin };
      const split = splitByMajority(
        c.addr.map((a) => ({ addr: a.addr, ...v(a.rule) })),
        nomatch,
      );
      // Port map: a box whose verdict equals the effective address verdict over its whole address
      // range is left out too (a packet missing the port map gets that verdict from the rules after
      // it); kept for attribution (`omittedPorts` on the rules after it).
      const rendered: IrElement[] = [];
      const omittedPorts: NonNullable<IrRule["omittedPorts"]> = [];
      for (const b of c.ports) {
        const { verdict: bv, origin } = v(b.rule);
        const seg = segmentAt(split.effective, b.addr.start);
        if (seg && seg.end >= b.addr.end && seg.kind === bv.kind)
          omittedPorts.push({ addr: b.addr, l4: b.l4, ports: b.ports, origin });
        else rendered.push({ addr: b.addr, l4: b.l4, ports: b.ports, verdict: bv, origin });
      }
      const attribution = omittedPorts.length > 0 ? { omittedPorts } : {};
      if (rendered.length > 0) {
        const name = `fw_${ns}_ports`;
        sets.push({ name, key: "daddr.l4.dport", interval: true, map: "verdict", elements: rendered });
        body.push({
          match: [{ kind: "l4proto", protos: [...L4_ORDER] }],
          action: { kind: "vmap", key: "daddr.l4.dport", map: name },
        });
      }
      if (split.rendered.length > 0) {
        const name = `fw_${ns}_addr`;
        sets.push({ name, key: "daddr", interval: true, map: "verdict", elements: split.rendered });
        body.push({ match: [], action: { kind: "vmap", key: "daddr", map: name }, ...attribution });
      }
      // A final accept is the verdict of a map miss: guarded (see LIVE_SET).
      if (split.majority === "accept") body.push(liveGuard());
      body.push({
        match: [],
        action: verdict(split.majority),
        origin: nomatch,
        ...(split.omitted.length > 0 ? { omitted: split.omitted } : {}),
        ...attribution,
      });
      fwElements += sets
        .filter((x) => x.name === `fw_${ns}_addr` || x.name === `fw_${ns}_ports`)
        .reduce((n, x) => n + x.elements.length, 0);
    }
    chains.push({ name: chain, rules: body });
    for (const ip of local) fwPods.push({ addr: one(ip), verdict: { kind: "goto", chain } });
  }
  fwPods.sort((a, b) => a.addr.start - b.addr.start);
  sets.push({ name: "fw_pods", key: "saddr", interval: false, map: "verdict", elements: fwPods });
  fwRules.push({ match: [], action: { kind: "vmap", key: "saddr", map: "fw_pods" } });
  chains.push({ name: "egress-firewall", rules: fwRules });
  fwd.push({
    match: [
      { kind: "prefix", field: "saddr", net: podSubnet.net, prefix: podSubnet.prefix },
      { kind: "lookup", key: "daddr", set: "fw_inside", neg: true },
    ],
    action: { kind: "verdict", verdict: { kind: "jump", chain: "egress-firewall" } },
  });
  // Last: a packet reaching the chain's end (policy accept) has missed every lookup above.
  fwd.push(liveGuard());
  sets.push({
    name: LIVE_SET,
    key: "nfproto",
    interval: false,
    map: "mark",
    elements: (["ipv4", "ipv6"] as const).map((nfproto) => ({ addr: ALL, nfproto, mark: 1 })),
  });
  stats.fwNamespaces = byNs.size;
  stats.fwPods = fwPods.length;
  stats.fwElements = fwElements;

  sets.sort((a, b) => cmp(a.name, b.name));
  chains.sort((a, b) => cmp(a.name, b.name));
  const ir: PolicyIR = {
    family: POLICY_TABLE.family,
    table: POLICY_TABLE.name,
    sets,
    chains: [{ name: BASE_CHAIN, base: true, rules: fwd }, ...chains],
  };
  stats.chains = ir.chains.length;
  stats.elements = sets.reduce((n, s) => n + s.elements.length, 0);
  return { table: POLICY_TABLE, nft: renderPolicyIR(ir), ir, warnings, stats };
}

/** Splits a firewall's classified address segments (sorted, disjoint; addresses in none are "no
 *  rule" = accept) by effective verdict: the verdict whose segments would take more map elements
 *  (after merging adjacent ones) is the majority, left to the chain's final rule; the others are
 *  rendered, merged. A tie keeps `accept` as the final verdict. `omitted` lists the left-out
 *  segments that a rule decides (for attribution; the no-rule gaps are the final rule's origin). */
export function splitByMajority(
  segs: { addr: V4Range; verdict: IrVerdict; origin: PolicyOrigin }[],
  nomatch: PolicyOrigin,
): {
  majority: "accept" | "drop";
  /** The whole address space as maximal runs of one effective verdict, sorted. */
  effective: { start: number; end: number; kind: "accept" | "drop" }[];
  rendered: IrElement[];
  omitted: { addr: V4Range; origin: PolicyOrigin }[];
} {
  const accepts: IrElement[] = [];
  const drops: IrElement[] = [];
  let next = 0; // first address not yet covered
  const gap = (end: number) => {
    if (end >= next)
      accepts.push({ addr: { start: next, end }, verdict: { kind: "accept" }, origin: nomatch });
  };
  for (const s of segs) {
    gap(s.addr.start - 1);
    (s.verdict.kind === "drop" ? drops : accepts).push({
      addr: s.addr,
      verdict: s.verdict,
      origin: s.origin,
    });
    next = s.addr.end + 1;
  }
  if (next <= V4_MAX) gap(V4_MAX);
  const effective: { start: number; end: number; kind: "accept" | "drop" }[] = [];
  for (const e of [...accepts, ...drops].sort((x, y) => x.addr.start - y.addr.start)) {
    const kind = e.verdict?.kind === "drop" ? "drop" : "accept";
    const last = effective[effective.length - 1];
    if (last && last.kind === kind && last.end + 1 === e.addr.start) last.end = e.addr.end;
    else effective.push({ start: e.addr.start, end: e.addr.end, kind });
  }
  const mergedDrops = mergeAdjacent(drops);
  const mergedAccepts = mergeAdjacent(accepts);
  const majority = mergedDrops.length <= mergedAccepts.length ? "accept" : "drop";
  const left = majority === "accept" ? accepts : drops;
  return {
    majority,
    effective,
    rendered: majority === "accept" ? mergedDrops : mergedAccepts,
    omitted: left.filter((e) => e.origin !== nomatch).map((e) => ({ addr: e.addr, origin: e.origin! })),
  };
}

/** The run holding `addr` in a sorted, disjoint list of runs (binary search). */
function segmentAt<T extends { start: number; end: number }>(runs: T[], addr: number): T | undefined {
  let lo = 0;
  let hi = runs.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const r = runs[mid]!;
    if (addr < r.start) hi = mid - 1;
    else if (addr > r.end) lo = mid + 1;
    else return r;
  }
  return undefined;
}

interface FirewallRuleOrigin {
  index: number;
  type: "Allow" | "Deny";
}

/** One enforced firewall's rules as classifier input (rules that match nothing are left out). */
function firewallRules(
  view: PolicyView,
  fw: EgressFirewallView,
  warn: (field: string, value: unknown, detail: string) => void,
): { rules: ClassRule[]; origins: FirewallRuleOrigin[] } {
  const rules: ClassRule[] = [];
  const origins: FirewallRuleOrigin[] = [];
  const where = `egressFirewalls[${fw.namespace}/${fw.name}].rules`;
  fw.rules.forEach((r, i) => {
    const field = `${where}[${i}]`;
    if (r.type !== "Allow" && r.type !== "Deny") {
      warn(`${field}.type`, r.type, "must be Allow or Deny; rule skipped");
      return;
    }
    const kinds = [r.cidrSelector, r.dnsName, r.nodeSelector].filter((x) => x !== undefined).length;
    if (kinds !== 1) {
      warn(`${field}.to`, r, "exactly one of cidrSelector, dnsName, nodeSelector; rule skipped");
      return;
    }
    const ranges: V4Range[] = [];
    if (r.cidrSelector !== undefined) {
      const c = parseV4CIDR(r.cidrSelector);
      if (!c) {
        warn(`${field}.to.cidrSelector`, r.cidrSelector, "not an IPv4 CIDR; rule skipped");
        return;
      }
      ranges.push(rangeOf(c));
    } else if (r.dnsName !== undefined) {
      (r.dnsAddresses ?? []).forEach((a, j) => {
        const ip = parseV4(a);
        if (ip === undefined) {
          if (!a.includes(":")) warn(`${field}.dnsAddresses[${j}]`, a, "not an IPv4 address; skipped");
        } else ranges.push(one(ip));
      });
    } else {
      let matches: (labels: Record<string, string>) => boolean;
      try {
        const sel = r.nodeSelector as LabelSelector;
        matchesLabelSelector(sel, {});
        matches = (labels) => matchesLabelSelector(sel, labels);
      } catch (e) {
        warn(
          `${field}.to.nodeSelector`,
          r.nodeSelector,
          `invalid selector (${(e as Error).message}); rule skipped`,
        );
        return;
      }
      for (const n of view.nodes)
        if (matches(n.labels))
          for (const s of n.ips) {
            const ip = parseV4(s);
            if (ip !== undefined) ranges.push(one(ip));
          }
    }
    let l4: ClassRule["l4"];
    if (r.ports && r.ports.length > 0) {
      l4 = [];
      r.ports.forEach((p, j) => {
        if (
          !["TCP", "UDP", "SCTP"].includes(p.protocol) ||
          !Number.isInteger(p.port) ||
          p.port < 1 ||
          p.port > 65535
        ) {
          warn(`${field}.ports[${j}]`, p, "protocol TCP/UDP/SCTP and port 1-65535 required; skipped");
          return;
        }
        l4!.push({ l4: l4Of(p.protocol), ports: [p.port, p.port] });
      });
      if (l4.length === 0) {
        warn(`${field}.ports`, r.ports, "no valid port; rule skipped");
        return;
      }
    }
    if (ranges.length === 0) return; // unresolved dnsName, no matching node: matches nothing
    rules.push({ ranges, ...(l4 ? { l4 } : {}) });
    origins.push({ index: i, type: r.type });
  });
  return { rules, origins };
}

/** The admin table (MISSION §7): table and `admin-output` created only if absent (never flushed: it is
 *  the admins'), the agent's base chain flushed and refilled. Idempotent; one transaction. */
export function adminTableScript(): string {
  const T = `${ADMIN_TABLE.family} ${ADMIN_TABLE.name}`;
  const mark = `0x${POD_OUTSIDE_MARK.toString(16).padStart(8, "0")}`;
  return [
    `add table ${T}`,
    `add chain ${T} ${ADMIN_CHAIN}`,
    `add chain ${T} ${ADMIN_HOOK_CHAIN} { type filter hook forward priority filter + 10; policy accept; }`,
    `flush chain ${T} ${ADMIN_HOOK_CHAIN}`,
    `add rule ${T} ${ADMIN_HOOK_CHAIN} meta mark & ${mark} != 0 jump ${ADMIN_CHAIN}`,
    "",
  ].join("\n");
}

const peersHash = new WeakMap<V4Range[], string>();
function entryKey(e: AllowEntry): string {
  let peers = e.peers === "any" ? "any" : peersHash.get(e.peers);
  if (peers === undefined && e.peers !== "any") {
    let h = 0x811c9dc5;
    for (const r of e.peers) {
      h = Math.imul(h ^ r.start, 0x01000193);
      h = Math.imul(h ^ r.end, 0x01000193);
    }
    peers = `${e.peers.length}:${h >>> 0}`;
    peersHash.set(e.peers, peers);
  }
  const o = e.origin;
  return `${o.policy}/${o.direction}/${o.rule}/${e.protocol ?? ""}/${e.ports?.join("-") ?? ""}/${peers}`;
}

function sameEntries(a: AllowEntry[], b: AllowEntry[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  return a.every((x, i) => {
    const y = b[i]!;
    if (entryKey(x) !== entryKey(y)) return false;
    if (x.peers === "any" || y.peers === "any") return x.peers === y.peers;
    const yp = y.peers;
    return x.peers.every((r, j) => r.start === yp[j]!.start && r.end === yp[j]!.end);
  });
}

/** `b` may share `a`'s rules with a port set: same policy rule, same peers, both with a protocol. */
function samePortRun(a: AllowEntry, b: AllowEntry): boolean {
  if (!b.protocol || a.components !== b.components) return false;
  const o = a.origin;
  const p = b.origin;
  if (o.policy !== p.policy || o.direction !== p.direction || o.rule !== p.rule) return false;
  if (a.peers === b.peers) return true;
  if (a.peers === "any" || b.peers === "any" || a.peers.length !== b.peers.length) return false;
  const bp = b.peers;
  return a.peers.every((r, k) => r.start === bp[k]!.start && r.end === bp[k]!.end);
}

const npOrigin = (e: AllowEntry): PolicyOrigin => ({ kind: "networkpolicy", ...e.origin });
const one = (ip: number): V4Range => ({ start: ip, end: ip });
const byNumber = (a: number, b: number) => a - b;
/** IPv4 addresses (unsigned 32-bit) in ascending order; a typed-array sort is native and numeric. */
function sortedAddrs(addrs: Iterable<number>): number[] {
  const out = [...addrs];
  const t = new Uint32Array(out.length);
  for (let i = 0; i < out.length; i++) t[i] = out[i]!;
  t.sort();
  for (let i = 0; i < out.length; i++) out[i] = t[i]!;
  return out;
}
const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
/**
 * Fail closed for packets that outlive their generation (docs/policy.md, "Packets that outlive
 * their generation"). The agent writes each program as a new generation of the table's sets, maps
 * and chains and deletes a generation one update after it was replaced (nft/generations.ts). A
 * packet held up in the chains (a stalled vCPU) across two updates keeps its base chain's rules and
 * meets that generation's objects after they were deleted. Measured on Linux 6.18: its lookups into
 * deleted hash MAPS miss (deleting a map deactivates its elements: nft_delset →
 * nft_map_deactivate), but deleted SETS (hash or interval) keep their elements active and still
 * answer (an interval map was seen answering too). Not measured, from reading the kernel
 * (nft_do_chain reads a jumped-to chain's rules at the jump; the deleting transaction flushes the
 * chains first): a chain it jumps to after the deletion may have no rules and return at once. A
 * hash-map miss (`@mt_src`, `@np_*_pods`, `@fw_pods`) or an empty chain followed by an `accept`
 * would let a stale packet through. So each such accept is guarded by `meta nfproto != @live drop`,
 * `live` a hash map (`type nf_proto : mark`) holding `ipv4` and `ipv6`: while its generation exists
 * every packet finds its nfproto and passes; once the generation is deleted the lookup misses and
 * the packet is dropped. (The previous guard, an interval set holding 0.0.0.0/0, did not fire: a
 * straddling packet still found 0.0.0.0/0 in it.) Only the keys matter (the mark is never read; nft
 * allows a plain lookup in a named map). Placements: the base chain's end (its policy accept),
 * after the multitenant jump (an empty chain would leave an established packet to conntrack's
 * accept), the start of `egress-firewall` (its DNS accept is reachable after a missed NetworkPolicy
 * map), before a firewall chain's final accept. Answers from elements that were found (and from
 * deleted sets) are the old generation's: no guard needed. Cost: one 2-element hash lookup per new
 * flow, and per pod → pod packet in multitenant mode.
 */
export const LIVE_SET = "live";
const liveGuard = (match: IrRule["match"] = []): IrRule => ({
  match: [...match, { kind: "lookup", key: "nfproto", set: LIVE_SET, neg: true }],
  action: verdict("drop"),
});

const verdict = (kind: "accept" | "drop" | "return"): IrRule["action"] => ({
  kind: "verdict",
  verdict: { kind },
});
