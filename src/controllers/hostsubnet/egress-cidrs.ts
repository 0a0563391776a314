// Static per-project egress IPs (MISSION §8, openshift-sdn). Inputs: each NetNamespace's
// egressIPs (only the first is used), each node's HostSubnet.egressIPs (manual placement) or
// HostSubnet.egressCIDRs (automatic placement, which this module decides), node health.
// Automatic placement follows openshift-sdn's egress IP allocator: keep IPs where they are while
// their node is online and its egressCIDRs still contain them; place pending IPs that fit only one
// node first, then the rest on the node holding the fewest; rebalance only when some node holds
// fewer than half its fair share. Output: HostSubnet.egressIPs for automatic nodes and each
// project's egress state: normal (route via the hosting node), dropped (egress IP set but hosted
// nowhere: the project's external traffic is dropped), none. Pure: no I/O.
import { type CIDR, cidrContains, type IP, parseCIDR, parseIP } from "../../api/ip.js";
import { compareStrings, type DecisionEvent } from "../common/decision.js";

export interface SDNEgressNode {
  name: string;
  /** HostSubnet.hostIP */
  hostIP: string;
  /** Passed the egress health check (and Ready). */
  online: boolean;
  /** The node's primary subnet (manual egress IPs must be in it); optional. */
  primarySubnet?: string;
  /** HostSubnet.egressCIDRs: non-empty = automatic node. */
  egressCIDRs: string[];
  /** HostSubnet.egressIPs as currently stored. */
  egressIPs: string[];
}

export interface ProjectEgressSpec {
  /** NetNamespace name. */
  name: string;
  netid: number;
  egressIPs: string[];
}

export type ProjectEgressState =
  | { state: "normal"; egressIP: string; node: string; nodeIP: string }
  | { state: "dropped"; egressIP: string; reason: string }
  | { state: "none" };

export interface EgressCIDRResult {
  /** Desired HostSubnet.egressIPs of every automatic node (sorted numerically). Manual nodes are
   *  not listed: their egressIPs belong to the admin. */
  hostSubnetEgressIPs: Map<string, string[]>;
  /** Automatic nodes whose egressIPs change. */
  changed: string[];
  projects: Map<string, ProjectEgressState>;
  events: DecisionEvent[];
}

interface IPInfo {
  text: string;
  ip: IP;
  key: string;
  project: string;
}

const keyOf = (ip: IP) => `${ip.family}/${ip.value}`;
const cmpIP = (a: IP, b: IP) => a.family - b.family || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0);

export function allocateProjectEgressIPs(
  nodes: SDNEgressNode[],
  projects: ProjectEgressSpec[],
): EgressCIDRResult {
  const events: DecisionEvent[] = [];
  const nnEvent = (name: string, reason: string, message: string) =>
    events.push({ type: "Warning", reason, message, object: { kind: "NetNamespace", name } });
  const hsEvent = (name: string, reason: string, message: string) =>
    events.push({ type: "Warning", reason, message, object: { kind: "HostSubnet", name } });

  // The IP each project uses, and IPs claimed by more than one project (upstream: nobody uses them).
  const sortedProjects = [...projects].sort((a, b) => compareStrings(a.name, b.name));
  const used = new Map<string, IPInfo>(); // project → its IP
  const claimants = new Map<string, string[]>();
  for (const p of sortedProjects) {
    if (p.egressIPs.length === 0) continue;
    const first = p.egressIPs[0]!;
    if (p.egressIPs.length > 1)
      nnEvent(
        p.name,
        "EgressIPsIgnored",
        `only the first egress IP (${first}) is used; ignored: ${p.egressIPs.slice(1).join(", ")}`,
      );
    const ip = parseIP(first);
    if (!ip) {
      nnEvent(p.name, "InvalidEgressIP", `egressIPs[0]: ${JSON.stringify(first)} is not an IP address`);
      continue;
    }
    const info: IPInfo = { text: first, ip, key: keyOf(ip), project: p.name };
    used.set(p.name, info);
    claimants.set(info.key, [...(claimants.get(info.key) ?? []), p.name]);
  }
  const dup = new Set<string>();
  for (const [k, names] of claimants)
    if (names.length > 1) {
      dup.add(k);
      for (const n of names)
        nnEvent(
          n,
          "EgressIPConflict",
          `egress IP ${used.get(n)!.text} is claimed by several projects (${names.join(", ")}); none of them uses it`,
        );
    }

  const sortedNodes = [...nodes].sort((a, b) => compareStrings(a.name, b.name));
  const nodeIPs = new Set(
    sortedNodes
      .map((n) => parseIP(n.hostIP))
      .filter((x) => x !== undefined)
      .map(keyOf),
  );
  const wanted = new Map<string, IPInfo>(); // key → IP used by exactly one project
  for (const info of used.values()) if (!dup.has(info.key)) wanted.set(info.key, info);

  // Manual placement: nodes without egressCIDRs.
  const manualHost = new Map<string, string[]>(); // key → nodes listing it
  for (const n of sortedNodes) {
    if (n.egressCIDRs.length > 0) continue;
    const subnet = n.primarySubnet ? parseCIDR(n.primarySubnet) : undefined;
    for (const t of n.egressIPs) {
      const ip = parseIP(t);
      if (!ip) {
        hsEvent(n.name, "InvalidEgressIP", `egressIPs: ${JSON.stringify(t)} is not an IP address`);
        continue;
      }
      if (subnet && !cidrContains(subnet, ip)) {
        hsEvent(
          n.name,
          "EgressIPNotInSubnet",
          `egress IP ${t} is not in the node's subnet ${n.primarySubnet}; not hosted`,
        );
        continue;
      }
      manualHost.set(keyOf(ip), [...(manualHost.get(keyOf(ip)) ?? []), n.name]);
    }
  }
  for (const [k, ns] of manualHost)
    if (ns.length > 1)
      hsEvent(
        ns[0]!,
        "EgressIPConflict",
        `egress IP ${wanted.get(k)?.text ?? k} is listed on several nodes (${ns.join(", ")}); not hosted`,
      );

  // Automatic placement.
  const auto = sortedNodes.filter((n) => n.egressCIDRs.length > 0);
  const cidrsOf = new Map<string, CIDR[]>();
  for (const n of auto) {
    const cs: CIDR[] = [];
    for (const c of n.egressCIDRs) {
      const p = parseCIDR(c);
      if (p) cs.push(p);
      else hsEvent(n.name, "InvalidEgressCIDR", `egressCIDRs: ${JSON.stringify(c)} is not a CIDR`);
    }
    cidrsOf.set(n.name, cs);
  }
  const online = auto.filter((n) => n.online);
  const fitsOn = (n: SDNEgressNode, ip: IP) => cidrsOf.get(n.name)!.some((c) => cidrContains(c, ip));
  const alloc = new Map<string, IPInfo[]>(auto.map((n) => [n.name, []]));
  const placed = new Set<string>();
  const autoIPs = [...wanted.values()]
    .filter((i) => !manualHost.has(i.key) && !nodeIPs.has(i.key))
    .sort((a, b) => cmpIP(a.ip, b.ip));
  const autoKeys = new Set(autoIPs.map((i) => i.key));
  for (const n of online)
    for (const t of n.egressIPs) {
      const ip = parseIP(t);
      if (!ip || !autoKeys.has(keyOf(ip)) || placed.has(keyOf(ip)) || !fitsOn(n, ip)) continue;
      alloc.get(n.name)!.push(wanted.get(keyOf(ip))!);
      placed.add(keyOf(ip));
    }
  const candidates = (i: IPInfo) => online.filter((n) => fitsOn(n, i.ip));
  const fewest = (ns: SDNEgressNode[]) =>
    ns.reduce<SDNEgressNode | undefined>(
      (b, n) => (!b || alloc.get(n.name)!.length < alloc.get(b.name)!.length ? n : b),
      undefined,
    );
  for (const pass of ["single", "any"] as const)
    for (const i of autoIPs) {
      if (placed.has(i.key)) continue;
      const c = candidates(i);
      if (c.length === 0 || (pass === "single" && c.length > 1)) continue;
      const n = fewest(c)!;
      alloc.get(n.name)!.push(i);
      placed.add(i.key);
    }
  // Rebalance when a node holds fewer than half its fair share: move IPs to it from nodes holding
  // at least two more, as long as it is below its (floored) fair share. Repeated to a fixpoint (a
  // donor may itself fall below half); each move lowers the sum of squared counts, so this ends,
  // and a second run finds nothing to move.
  const total = online.reduce((s, n) => s + alloc.get(n.name)!.length, 0);
  const fair = online.length > 0 ? total / online.length : 0;
  for (let again = online.length > 1; again; ) {
    again = false;
    for (const u of online) {
      const mine = alloc.get(u.name)!;
      if (mine.length >= fair / 2) continue;
      while (mine.length < Math.floor(fair)) {
        let moved = false;
        const donors = online
          .filter((d) => d !== u && alloc.get(d.name)!.length > mine.length + 1)
          .sort(
            (a, b) => alloc.get(b.name)!.length - alloc.get(a.name)!.length || compareStrings(a.name, b.name),
          );
        for (const d of donors) {
          const theirs = alloc.get(d.name)!;
          const idx = theirs
            .map((i, j) => [i, j] as const)
            .filter(([i]) => fitsOn(u, i.ip))
            .sort(([a], [b]) => cmpIP(b.ip, a.ip))[0];
          if (!idx) continue;
          theirs.splice(idx[1], 1);
          mine.push(idx[0]);
          moved = true;
          again = true;
          break;
        }
        if (!moved) break;
      }
    }
  }
  for (const i of autoIPs)
    if (!placed.has(i.key))
      nnEvent(
        i.project,
        "EgressIPNotHosted",
        `no online node has an egressCIDR containing egress IP ${i.text}; the project's external traffic is dropped`,
      );

  // Outputs.
  const hostSubnetEgressIPs = new Map<string, string[]>();
  const changed: string[] = [];
  const hostOf = new Map<string, SDNEgressNode>();
  for (const n of auto) {
    const ips = alloc.get(n.name)!.sort((a, b) => cmpIP(a.ip, b.ip));
    for (const i of ips) hostOf.set(i.key, n);
    const texts = ips.map((i) => i.text);
    hostSubnetEgressIPs.set(n.name, texts);
    if (texts.length !== n.egressIPs.length || texts.some((t, j) => t !== n.egressIPs[j]))
      changed.push(n.name);
  }
  const byName = new Map(sortedNodes.map((n) => [n.name, n]));
  for (const [k, ns] of manualHost) if (ns.length === 1) hostOf.set(k, byName.get(ns[0]!)!);

  const out = new Map<string, ProjectEgressState>();
  for (const p of sortedProjects) {
    const info = used.get(p.name);
    if (p.egressIPs.length === 0) out.set(p.name, { state: "none" });
    else if (!info)
      out.set(p.name, { state: "dropped", egressIP: p.egressIPs[0]!, reason: "invalid egress IP" });
    else if (dup.has(info.key))
      out.set(p.name, {
        state: "dropped",
        egressIP: info.text,
        reason: "egress IP claimed by several projects",
      });
    else if (nodeIPs.has(info.key))
      out.set(p.name, { state: "dropped", egressIP: info.text, reason: "egress IP is a node's own IP" });
    else {
      const h = hostOf.get(info.key);
      if (!h) out.set(p.name, { state: "dropped", egressIP: info.text, reason: "not hosted on any node" });
      else if (!h.online)
        out.set(p.name, {
          state: "dropped",
          egressIP: info.text,
          reason: `hosting node ${h.name} is offline`,
        });
      else out.set(p.name, { state: "normal", egressIP: info.text, node: h.name, nodeIP: h.hostIP });
    }
  }
  return { hostSubnetEgressIPs, changed, projects: out, events };
}
