// Reference evaluator of NetworkPolicy (networking.k8s.io/v1) for one packet: reads the policies of
// the view as written and decides allow/deny directly, evaluating selectors, CIDRs and named ports at
// query time. It is deliberately naive (loops over every policy, rule, peer and port per packet) and
// shares no code with networkpolicy.ts, so tests can use it as the oracle for the resolver and the
// rendered nftables program. Not for the dataplane: far too slow. Pure; no I/O.
//
// Bad fields are treated exactly as networkpolicy.ts documents (fail closed: a bad peer or port entry
// matches nothing, a policy with a bad podSelector is ignored), but without warnings.
import { ianaSvcNameErrors } from "../../../api/kinds/rules.js";
import { type LabelSelector, labelSelectorAsSelector, selectorMatches } from "../../../api/selector.js";
import { containsV4, parseV4, parseV4CIDR } from "../ipv4.js";
import type { NetworkPolicyView, PolicyPod, PolicyProtocol, PolicyView, RuleOrigin } from "./types.js";

export interface NpPacket {
  /** Source and destination IPv4 addresses (pod addresses or outside addresses). */
  src: string;
  dst: string;
  /** ICMP (ping) is matched only by rules without ports. */
  protocol: PolicyProtocol | "ICMP";
  /** Destination port (ignored for ICMP). */
  dport?: number;
}

export interface NpVerdict {
  allowed: boolean;
  /** Every rule that matches the packet in an isolated direction (sorted); absent when neither end
   *  is isolated. */
  by?: RuleOrigin[];
  /** Why a packet is denied: the source's egress or the destination's ingress isolation. */
  denied?: "egress" | "ingress";
}

export interface NpReferenceOptions {
  /** "node" (default): only pods with `local: true` are enforced, as one node's program does.
   *  "cluster": every pod of the view is enforced (the verdict of the whole cluster). */
  scope?: "node" | "cluster";
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const given = (v: unknown): boolean => v !== undefined && v !== null;

/** Does a selector object match these labels? `undefined` when the selector is invalid. */
function selects(sel: unknown, labels: Record<string, string>): boolean | undefined {
  if (!isObj(sel)) return undefined;
  try {
    return selectorMatches(labelSelectorAsSelector(sel as LabelSelector), labels);
  } catch {
    return undefined;
  }
}

function policyTypes(spec: Obj): { ingress: boolean; egress: boolean } {
  const types = Array.isArray(spec.policyTypes) ? spec.policyTypes : [];
  const ingress = types.includes("Ingress");
  const egress = types.includes("Egress");
  if (ingress || egress) return { ingress, egress };
  return { ingress: true, egress: Array.isArray(spec.egress) && spec.egress.length > 0 };
}

/** Is `pod` selected by the policy (same namespace, podSelector null = all)? */
function policySelects(np: NetworkPolicyView, pod: PolicyPod): boolean {
  if (np.namespace !== pod.namespace) return false;
  const spec: Obj = isObj(np.spec) ? np.spec : {};
  const sel = given(spec.podSelector) ? spec.podSelector : {};
  return selects(sel, pod.labels) === true;
}

interface Ctx {
  view: PolicyView;
  packet: NpPacket;
  dport: number;
  srcPod?: PolicyPod;
  dstPod?: PolicyPod;
}

/** Does one peer of a rule match the address `addr` (the peer pod `peerPod` if it is a pod)? Returns
 *  "pod" for a selector peer, "block" for an ipBlock peer, undefined for no match or a bad peer. */
function peerMatch(
  ctx: Ctx,
  policyNs: string,
  peer: unknown,
  addr: string,
  peerPod: PolicyPod | undefined,
): "pod" | "block" | undefined {
  if (!isObj(peer)) return undefined;
  const hasPod = given(peer.podSelector);
  const hasNs = given(peer.namespaceSelector);
  const hasBlock = given(peer.ipBlock);
  if (hasBlock) {
    if (hasPod || hasNs) return undefined;
    const block = peer.ipBlock;
    if (!isObj(block) || typeof block.cidr !== "string") return undefined;
    const cidr = parseV4CIDR(block.cidr);
    const ip = parseV4(addr);
    if (!cidr || ip === undefined) return undefined;
    const except = block.except ?? [];
    if (!Array.isArray(except)) return undefined;
    let excluded = false;
    for (const e of except) {
      if (typeof e === "string" && e.includes(":")) continue; // IPv6 except: excludes no IPv4 address
      const c = typeof e === "string" ? parseV4CIDR(e) : undefined;
      if (!c) return undefined; // a bad except makes the whole peer match nothing
      if (containsV4(c, ip)) excluded = true;
    }
    return containsV4(cidr, ip) && !excluded ? "block" : undefined;
  }
  if (!hasPod && !hasNs) return undefined;
  // Validate both selectors before looking at the address: a bad selector matches nothing at all.
  const nsLabels = peerPod
    ? (ctx.view.namespaces.find((n) => n.name === peerPod.namespace)?.labels ?? {})
    : {};
  const podOk = hasPod ? selects(peer.podSelector, peerPod?.labels ?? {}) : true;
  const nsOk = hasNs ? selects(peer.namespaceSelector, nsLabels) : peerPod?.namespace === policyNs;
  if (podOk === undefined || nsOk === undefined || !peerPod) return undefined;
  return podOk && nsOk ? "pod" : undefined;
}

/** Does one port entry match the packet? `target` is the pod whose named ports count (ingress: the
 *  selected destination pod; egress: the destination peer pod, if it is a pod). Returns "named" for a
 *  named-port match, "number" otherwise, undefined for no match or a bad entry. */
function portMatch(ctx: Ctx, entry: unknown, target: PolicyPod | undefined): "named" | "number" | undefined {
  if (!isObj(entry)) return undefined;
  const proto = entry.protocol ?? "TCP";
  if (proto !== "TCP" && proto !== "UDP" && proto !== "SCTP") return undefined;
  const { port, endPort } = entry;
  if (given(endPort)) {
    if (typeof port !== "number" || typeof endPort !== "number") return undefined;
    if (!Number.isInteger(endPort) || endPort < port || endPort > 65535) return undefined;
  }
  if (typeof port === "number" && (!Number.isInteger(port) || port < 1 || port > 65535)) return undefined;
  if (typeof port === "string" && ianaSvcNameErrors(port).length > 0) return undefined;
  if (given(port) && typeof port !== "number" && typeof port !== "string") return undefined;
  if (ctx.packet.protocol !== proto) return undefined;
  if (!given(port)) return "number";
  if (typeof port === "number") {
    const end = typeof endPort === "number" ? endPort : port;
    return ctx.dport >= port && ctx.dport <= end ? "number" : undefined;
  }
  const hit = target?.ports.some((cp) => cp.name === port && cp.protocol === proto && cp.port === ctx.dport);
  return hit ? "named" : undefined;
}

/** Does rule `i` of `direction` of `np` allow the packet? */
function ruleAllows(
  ctx: Ctx,
  np: NetworkPolicyView,
  rule: unknown,
  direction: "ingress" | "egress",
): boolean {
  const r: Obj = isObj(rule) ? rule : {};
  const peers = direction === "ingress" ? r.from : r.to;
  const peerAddr = direction === "ingress" ? ctx.packet.src : ctx.packet.dst;
  const peerPod = direction === "ingress" ? ctx.srcPod : ctx.dstPod;
  // The pod whose container port names a named port: always the destination.
  const target = ctx.dstPod;

  // Which kinds of peer match: "any" (no peers), "pod", "block".
  const peerKinds = new Set<string>();
  if (!given(peers) || (Array.isArray(peers) && peers.length === 0)) peerKinds.add("any");
  else if (Array.isArray(peers)) {
    for (const p of peers) {
      const m = peerMatch(ctx, np.namespace, p, peerAddr, peerPod);
      if (m) peerKinds.add(m);
    }
  }
  if (peerKinds.size === 0) return false;

  const ports = r.ports;
  if (!given(ports) || (Array.isArray(ports) && ports.length === 0)) return true;
  if (!Array.isArray(ports)) return false;
  for (const e of ports) {
    const m = portMatch(ctx, e, target);
    if (m === "number") return true;
    if (m === "named") {
      // Ingress: the named port is the selected pod's, any matching peer will do. Egress: the
      // destination must be a pod matched by a selector peer (or any peer): an ipBlock carries no names.
      if (direction === "ingress" || peerKinds.has("pod") || peerKinds.has("any")) return true;
    }
  }
  return false;
}

/** The origins allowing the packet in `direction` for `pod`, or undefined when `pod` is not isolated
 *  in that direction. */
function directionAllows(
  ctx: Ctx,
  pod: PolicyPod,
  direction: "ingress" | "egress",
): RuleOrigin[] | undefined {
  let isolated = false;
  const by: RuleOrigin[] = [];
  for (const np of ctx.view.networkPolicies) {
    if (!policySelects(np, pod)) continue;
    const spec: Obj = isObj(np.spec) ? np.spec : {};
    if (!policyTypes(spec)[direction]) continue;
    isolated = true;
    const rules = spec[direction];
    if (!Array.isArray(rules)) continue;
    rules.forEach((rule, i) => {
      if (ruleAllows(ctx, np, rule, direction))
        by.push({ policy: `${np.namespace}/${np.name}`, direction, rule: i });
    });
  }
  return isolated ? by : undefined;
}

function podAt(view: PolicyView, addr: string): PolicyPod | undefined {
  const ip = parseV4(addr);
  if (ip === undefined) return undefined;
  return view.pods.find((p) => parseV4(p.ip) === ip);
}

/**
 * Would NetworkPolicy let `packet` through (a new flow)? Checks the source pod's egress policies if it
 * is enforced here and the destination pod's ingress policies if it is enforced here. Modes other than
 * "networkpolicy" allow everything.
 */
export function networkPolicyAllows(
  view: PolicyView,
  packet: NpPacket,
  opts: NpReferenceOptions = {},
): NpVerdict {
  if (view.mode !== "networkpolicy") return { allowed: true };
  const cluster = opts.scope === "cluster";
  const srcPod = podAt(view, packet.src);
  const dstPod = podAt(view, packet.dst);
  const ctx: Ctx = {
    view,
    packet,
    dport: packet.protocol === "ICMP" ? -1 : (packet.dport ?? -1),
    ...(srcPod ? { srcPod } : {}),
    ...(dstPod ? { dstPod } : {}),
  };
  const enforced = (p: PolicyPod | undefined): p is PolicyPod => p !== undefined && (cluster || p.local);
  const egress = enforced(srcPod) ? directionAllows(ctx, srcPod, "egress") : undefined;
  const ingress = enforced(dstPod) ? directionAllows(ctx, dstPod, "ingress") : undefined;
  const by = [...(egress ?? []), ...(ingress ?? [])].sort(
    (a, b) =>
      (a.policy < b.policy ? -1 : a.policy > b.policy ? 1 : 0) ||
      (a.direction < b.direction ? -1 : a.direction > b.direction ? 1 : 0) ||
      a.rule - b.rule,
  );
  const out: NpVerdict = { allowed: true };
  if (egress !== undefined || ingress !== undefined) out.by = by;
  if (egress !== undefined && egress.length === 0) {
    out.allowed = false;
    out.denied = "egress";
  } else if (ingress !== undefined && ingress.length === 0) {
    out.allowed = false;
    out.denied = "ingress";
  }
  return out;
}
