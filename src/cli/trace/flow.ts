// `egress trace` composition: builds each involved node's PolicyView and NodeView from the listed
// objects as that node's agent would, compiles the programs and pushes a virtual packet through them
// (policy tables, egress path, NAT). Pure: no I/O; tested with in-memory objects.
import { buildPolicyView } from "../../agent/policy-view.js";
import { buildNodeView } from "../../agent/view.js";
import type { KubeObject } from "../../api/object.js";
import { containsV4, formatV4, parseV4, parseV4CIDR } from "../../dataplane/compile/ipv4.js";
import {
  compileNodeProgram,
  interfaceFor,
  MARK_MASK,
  MARK_SHIFT,
  NIC_MARK_SHIFT,
  ROUTE_TABLE_BASE,
  secondaryNicIds,
  TABLE_FAMILY,
  TABLE_NAME,
} from "../../dataplane/compile/node-program.js";
import { compilePolicyProgram } from "../../dataplane/compile/policy/compile.js";
import type { PolicyOrigin } from "../../dataplane/compile/policy/ir.js";
import {
  type PolicyTracePacket,
  type PolicyTraceResult,
  tracePolicy,
} from "../../dataplane/compile/policy/trace.js";
import type { PolicyProgram, PolicyProtocol, PolicyView } from "../../dataplane/compile/policy/types.js";
import type { NodeProgram, NodeView, UnderlayInterface } from "../../dataplane/compile/types.js";
import { FakeNft } from "../../dataplane/nft/fake.js";
import { traceChain } from "../../dataplane/nft/trace.js";

import { type PodRef, TraceInputError, type TraceTarget } from "./args.js";

// ------------------------------------------------------------------------------ policy tracer

/** What decided a packet in a policy program (the IR origin of the rule or map element). */
export type DecidedBy =
  | PolicyOrigin
  /** The policy let the packet through but the node program's egress path dropped it. */
  | { kind: "egress-path"; node: string; detail: string }
  /** To an address of the source pod's own node: delivered by the input hook, which neither the
   *  policy table (forward hook) nor the egress firewall filters. */
  | { kind: "node-local"; node: string; detail: string };

/** tracePolicy by default; tests substitute one. */
export type PolicyTracer = (program: PolicyProgram, packet: PolicyTracePacket) => PolicyTraceResult;

// ------------------------------------------------------------------------------------- composition

/** The objects the trace reads (one list each). */
export interface ClusterObjects {
  hostSubnets: KubeObject[];
  nodes: KubeObject[];
  clusterNetworks: KubeObject[];
  pods: KubeObject[];
  namespaces: KubeObject[];
  netNamespaces: KubeObject[];
  networkPolicies: KubeObject[];
  egressFirewalls: KubeObject[];
  egressNetworkPolicies: KubeObject[];
  egressIPs: KubeObject[];
  services: KubeObject[];
  endpoints: KubeObject[];
}

export interface Hop {
  node: string;
  /** policy-egress: the source node's policy table; policy-ingress: the destination pod's node's;
   *  policy: both pods on one node (one pass through its forward hook); egress-path: the node
   *  program (reroute to a holder, SNAT, masquerade, drop); service: ClusterIP → endpoint;
   *  service-nat: the source node's postrouting for the DNATed flow (masquerade between pods of one
   *  bridge); node-local: to the source node's own address (input hook). */
  stage:
    | "service"
    | "service-nat"
    | "policy"
    | "policy-egress"
    | "policy-ingress"
    | "egress-path"
    | "node-local";
  verdict: string;
  decidedBy?: DecidedBy;
  /** Policy hops: every decision on the way (multitenant allow, NetworkPolicy rule, final one). */
  steps?: PolicyOrigin[];
  detail?: string;
}

export interface SourceOut {
  /** pod: no NAT (cluster destination); egressIP / projectEgressIP: SNAT by the holder; node:
   *  masquerade to the node's address; dropped: the egress path drops it. */
  kind: "pod" | "egressIP" | "projectEgressIP" | "node" | "dropped";
  address?: string;
  node?: string;
  /** EgressIP name or project (namespace) of the egress IP. */
  owner?: string;
}

export interface TraceReport {
  from: { namespace: string; name: string; ip: string; node: string };
  to: {
    ip: string;
    port: number;
    protocol: PolicyProtocol;
    pod?: string;
    node?: string;
    outside: boolean;
    /** A ClusterIP destination: the service and the endpoint traced in its place (the forward hook
     *  sees the packet after DNAT). */
    service?: string;
    endpoint?: string;
  };
  verdict: "allowed" | "denied";
  decidedBy: DecidedBy;
  /** Every possible source address (several when the EgressIP has several holders: one per flow). */
  source: SourceOut[];
  hops: Hop[];
  warnings: string[];
}

export interface TraceOptions {
  dnsServers: string[];
  /** Default tracePolicy. */
  tracer?: PolicyTracer;
  /** The policy compiler (default compilePolicyProgram; tests substitute one). */
  compile?: (view: PolicyView) => PolicyProgram;
  /** Compiled programs shared by many traces over the same objects and options (batch mode). */
  cache?: TraceCache;
}

const key = (o: KubeObject) => `${o.metadata.namespace ?? ""}/${o.metadata.name ?? ""}`;
const podIPOf = (p: KubeObject): string | undefined => {
  const s = (p.status ?? {}) as { podIP?: string; phase?: string };
  return s.phase === "Succeeded" || s.phase === "Failed" ? undefined : s.podIP || undefined;
};
const nodeOf = (p: KubeObject): string | undefined => (p.spec as { nodeName?: string } | undefined)?.nodeName;

/** A node's underlay interfaces from what its agent publishes (names are synthetic: the API does not
 *  carry them): the primary address first, then the other host CIDRs. */
export function publishedInterfaces(
  node: KubeObject | undefined,
  fallbackIP: string | undefined,
): UnderlayInterface[] {
  const ann = node?.metadata.annotations ?? {};
  const out: UnderlayInterface[] = [];
  let primary: string | undefined;
  try {
    primary = (JSON.parse(ann["k8s.ovn.org/node-primary-ifaddr"] ?? "{}") as { ipv4?: string }).ipv4;
  } catch {
    primary = undefined;
  }
  if (primary && parseV4CIDR(primary) !== undefined) {
    out.push({ name: "primary", address: primary });
  }
  let hostCIDRs: unknown = [];
  try {
    hostCIDRs = JSON.parse(ann["k8s.ovn.org/host-cidrs"] ?? "[]");
  } catch {
    hostCIDRs = [];
  }
  let n = 1;
  for (const c of Array.isArray(hostCIDRs) ? hostCIDRs : []) {
    if (typeof c !== "string" || c === primary || parseV4(c.split("/")[0] ?? "") === undefined) continue;
    out.push({ name: `secondary${n++}`, address: c });
  }
  if (out.length === 0 && fallbackIP) out.push({ name: "primary", address: `${fallbackIP}/32` });
  return out;
}

/** The interface a packet to `daddr` leaves by: the one whose network contains it, else primary. */
function oifFor(ifaces: UnderlayInterface[], daddr: string): UnderlayInterface | undefined {
  const name = interfaceFor(ifaces, parseV4(daddr) ?? 0);
  return ifaces.find((i) => i.name === name) ?? ifaces[0];
}

/**
 * The interface a new flow from `saddr` to outside leaves `nft`'s node by when it is SNATed there:
 * a secondary NIC when the node's egress-nic chain marks the flow for that NIC's routing table (the
 * NIC's SNAT map holds the source), otherwise the interface `oifFor` picks by destination.
 */
function egressOif(
  nft: FakeNft,
  ifaces: UnderlayInterface[],
  saddr: string,
  daddr: string,
): UnderlayInterface | undefined {
  const ids = secondaryNicIds(ifaces);
  for (const rule of nft.rules(TABLE_FAMILY, TABLE_NAME, "egress-nic") ?? []) {
    const m = /^ct state new .* ip saddr @(\S+) ct mark set ct mark or (0x[0-9a-f]+)/.exec(rule);
    if (!m) continue;
    const keys = (nft.elements(TABLE_FAMILY, TABLE_NAME, m[1]!) ?? []).map((e) => e.split(" : ")[0]);
    if (!keys.includes(saddr)) continue;
    const id = Number(m[2]) >>> NIC_MARK_SHIFT;
    const dev = [...ids].find(([, v]) => v === id)?.[0];
    const nic = ifaces.find((i) => i.name === dev);
    if (nic) return nic;
  }
  return oifFor(ifaces, daddr);
}

function internalIP(n: KubeObject | undefined): string | undefined {
  const addrs =
    (n?.status as { addresses?: { type: string; address: string }[] } | undefined)?.addresses ?? [];
  return addrs.find((a) => a.type === "InternalIP")?.address;
}

async function loadProgram(script: string): Promise<FakeNft> {
  const nft = new FakeNft();
  await nft.apply(script);
  return nft;
}

/**
 * Programs compiled for one set of objects, per node, so that many traces over one listing (batch
 * mode) compile each node's programs once instead of once per query. Valid for one ClusterObjects
 * and one TraceOptions: traceFlow ignores a cache made for other objects. Without one, traceFlow
 * makes its own (a trace that passes a node twice still compiles it once).
 */
export class TraceCache {
  private readonly nodeViews = new Map<string, NodeView>();
  private readonly nodePrograms = new Map<string, { program: NodeProgram; nft: Promise<FakeNft> }>();
  private readonly policies = new Map<string, { program: PolicyProgram; warnings: string[] }>();

  constructor(readonly objects: ClusterObjects) {}

  nodeView(node: string): NodeView {
    let v = this.nodeViews.get(node);
    if (!v) {
      v = nodeViewFor(this.objects, node);
      this.nodeViews.set(node, v);
    }
    return v;
  }

  /** The node program and its rules loaded into a FakeNft (only read by the tracer afterwards). */
  nodeProgram(node: string): { program: NodeProgram; nft: Promise<FakeNft> } {
    let p = this.nodePrograms.get(node);
    if (!p) {
      const program = compileNodeProgram(this.nodeView(node));
      p = { program, nft: loadProgram(program.nft) };
      this.nodePrograms.set(node, p);
    }
    return p;
  }

  /** The policy program; its warnings are appended to `warnings` on every use. */
  policy(node: string, opts: TraceOptions, warnings: string[]): PolicyProgram {
    let p = this.policies.get(node);
    if (!p) {
      const w: string[] = [];
      p = { program: policyProgramFor(this.objects, node, opts, w), warnings: w };
      this.policies.set(node, p);
    }
    warnings.push(...p.warnings);
    return p.program;
  }
}

/** The pod bridge's name in the views the trace builds (the real name is not in the API; only the
 *  node program's bridge/non-bridge distinction matters). */
const BRIDGE = "cbr0";

/** The NodeView `node`'s agent would build from the API. */
function nodeViewFor(o: ClusterObjects, node: string): NodeView {
  const nodeObj = o.nodes.find((n) => n.metadata.name === node);
  const hs = o.hostSubnets.find((h) => ((h as { host?: string }).host ?? h.metadata.name) === node) as
    | { hostIP?: string }
    | undefined;
  return buildNodeView({
    nodeName: node,
    bridge: BRIDGE,
    interfaces: publishedInterfaces(nodeObj, hs?.hostIP ?? internalIP(nodeObj)),
    hostSubnets: o.hostSubnets,
    nodes: o.nodes,
    clusterNetworks: o.clusterNetworks,
    pods: o.pods,
    namespaces: o.namespaces,
    egressIPs: o.egressIPs,
    services: o.services,
    endpoints: o.endpoints,
    netNamespaces: o.netNamespaces,
    localPods: o.pods
      .filter((p) => nodeOf(p) === node && podIPOf(p))
      .map((p) => ({ namespace: p.metadata.namespace ?? "", name: p.metadata.name ?? "", ip: podIPOf(p)! })),
  });
}

function policyProgramFor(
  o: ClusterObjects,
  node: string,
  opts: TraceOptions,
  warnings: string[],
): PolicyProgram {
  const { view, warnings: w } = buildPolicyView({
    nodeName: node,
    hostSubnets: o.hostSubnets,
    nodes: o.nodes,
    clusterNetworks: o.clusterNetworks,
    pods: o.pods,
    namespaces: o.namespaces,
    netNamespaces: o.netNamespaces,
    networkPolicies: o.networkPolicies,
    egressFirewalls: o.egressFirewalls,
    egressNetworkPolicies: o.egressNetworkPolicies,
    localPods: [],
    dnsServers: opts.dnsServers,
  });
  const program = (opts.compile ?? compilePolicyProgram)(view);
  for (const x of [...w, ...program.warnings]) warnings.push(`${node}: ${x.field}: ${x.detail}`);
  return program;
}

/** Who owns an egress address (for the report). */
function egressOwner(o: ClusterObjects, ip: string): Pick<SourceOut, "kind" | "owner"> {
  for (const e of o.egressIPs) {
    const items = (e.status as { items?: { egressIP: string }[] } | undefined)?.items ?? [];
    const spec = (e.spec as { egressIPs?: string[] } | undefined)?.egressIPs ?? [];
    if (items.some((i) => i.egressIP === ip) || spec.includes(ip))
      return { kind: "egressIP", owner: e.metadata.name ?? "" };
  }
  for (const nn of o.netNamespaces) {
    if (((nn as { egressIPs?: string[] }).egressIPs ?? []).includes(ip))
      return { kind: "projectEgressIP", owner: nn.metadata.name ?? "" };
  }
  return { kind: "egressIP" };
}

/** The egress path of a pod → outside packet: which node(s) it leaves by and with which source. */
async function egressPath(
  c: TraceCache,
  srcNode: string,
  saddr: string,
  daddr: string,
  hops: Hop[],
): Promise<SourceOut[]> {
  const o = c.objects;
  const { program, nft: loaded } = c.nodeProgram(srcNode);
  const nft = await loaded;
  const srcObj = o.nodes.find((n) => n.metadata.name === srcNode);
  const ifaces = publishedInterfaces(srcObj, internalIP(srcObj));
  const oif = oifFor(ifaces, daddr)?.name ?? "primary";
  const fwd = traceChain(nft, TABLE_FAMILY, TABLE_NAME, "forward", { saddr, daddr, oifname: oif });
  if (fwd.verdict === "drop" || fwd.verdict === "reject") {
    hops.push({
      node: srcNode,
      stage: "egress-path",
      verdict: fwd.verdict,
      detail: "project egress: dropped (no egress IP may be used)",
    });
    return [{ kind: "dropped", node: srcNode }];
  }
  // Rerouted to an egress IP holder? egress_pods maps the pod to a chain that sets the holder's mark.
  const entry = (nft.elements(TABLE_FAMILY, TABLE_NAME, "egress_pods") ?? [])
    .map((e) => e.split(" : "))
    .find(([k]) => k === saddr);
  if (entry) {
    const chain = (entry[1] ?? "").replace(/^goto /, "");
    const rules = nft.rules(TABLE_FAMILY, TABLE_NAME, chain) ?? [];
    const marks = [...(rules[0] ?? "").matchAll(/0x[0-9a-f]+/g)].map((m) => Number(m[0]));
    const out: SourceOut[] = [];
    for (const mark of marks) {
      const id = (mark & MARK_MASK) >>> MARK_SHIFT;
      const via = program.ip.routes.find((r) => r.table === ROUTE_TABLE_BASE + id)?.via;
      const holder = o.hostSubnets
        .map((h) => h as unknown as { metadata: { name?: string }; host?: string; hostIP?: string })
        .find(
          (h) =>
            h.hostIP === via ||
            internalIP(o.nodes.find((n) => n.metadata.name === (h.host ?? h.metadata.name))) === via,
        );
      const holderName = holder ? (holder.host ?? holder.metadata.name ?? "") : undefined;
      const local = traceChain(nft, TABLE_FAMILY, TABLE_NAME, "snat-postrouting", {
        saddr,
        daddr,
        oifname: oif,
        ctMark: mark,
      });
      hops.push({
        node: srcNode,
        stage: "egress-path",
        verdict: local.verdict === "accept" ? "reroute" : local.verdict,
        detail: `to egress IP holder ${holderName ?? via ?? "?"} (${via ?? "no route"})${marks.length > 1 ? `, one of ${marks.length} holders per flow` : ""}`,
      });
      if (!holderName) {
        out.push({ kind: "dropped", node: srcNode });
        continue;
      }
      out.push(...(await leave(c, holderName, saddr, daddr, hops)));
    }
    return out;
  }
  return leave(c, srcNode, saddr, daddr, hops);
}

/** The last node's postrouting: SNAT to an egress IP, masquerade, or drop. */
async function leave(
  c: TraceCache,
  node: string,
  saddr: string,
  daddr: string,
  hops: Hop[],
): Promise<SourceOut[]> {
  const o = c.objects;
  const nodeObj = o.nodes.find((n) => n.metadata.name === node);
  const nft = await c.nodeProgram(node).nft;
  const ifaces = publishedInterfaces(nodeObj, internalIP(nodeObj));
  const oif = egressOif(nft, ifaces, saddr, daddr);
  const v = traceChain(nft, TABLE_FAMILY, TABLE_NAME, "snat-postrouting", {
    saddr,
    daddr,
    oifname: oif?.name ?? "primary",
  });
  if (v.verdict === "snat") {
    const owner = egressOwner(o, v.to);
    hops.push({
      node,
      stage: "egress-path",
      verdict: "snat",
      detail: `source ${v.to} (${owner.kind}${owner.owner ? ` ${owner.owner}` : ""})${oif && oif !== ifaces[0] ? ` by ${oif.name}` : ""}`,
    });
    return [{ ...owner, address: v.to, node }];
  }
  if (v.verdict === "masquerade") {
    const addr = oif?.address.split("/")[0] ?? internalIP(nodeObj);
    hops.push({
      node,
      stage: "egress-path",
      verdict: "masquerade",
      detail: `source ${addr ?? "?"} (node address)`,
    });
    return [{ kind: "node", ...(addr ? { address: addr } : {}), node }];
  }
  if (v.verdict === "drop" || v.verdict === "reject") {
    hops.push({
      node,
      stage: "egress-path",
      verdict: v.verdict,
      detail: v.counters.length > 0 ? `counted in ${v.counters.join(", ")}` : "dropped by the node program",
    });
    return [{ kind: "dropped", node }];
  }
  hops.push({ node, stage: "egress-path", verdict: "accept", detail: "leaves without NAT" });
  return [{ kind: "pod", address: saddr, node }];
}

/** Traces the first packet of a new flow from `from` to `target` through the programs the involved
 *  nodes' agents would compile from `o`. Pure apart from in-memory program loading. */
export async function traceFlow(
  o: ClusterObjects,
  from: PodRef,
  target: TraceTarget,
  opts: TraceOptions,
): Promise<TraceReport> {
  const warnings: string[] = [];
  const cache = opts.cache?.objects === o ? opts.cache : new TraceCache(o);
  const srcPod = o.pods.find((p) => key(p) === `${from.namespace}/${from.name}`);
  if (!srcPod) throw new TraceInputError(`--from: pod ${from.namespace}/${from.name} not found`);
  if ((srcPod.spec as { hostNetwork?: boolean } | undefined)?.hostNetwork)
    throw new TraceInputError(
      `--from: pod ${from.namespace}/${from.name} uses the host network: no pod policy applies`,
    );
  const saddr = podIPOf(srcPod);
  const srcNode = nodeOf(srcPod);
  if (!saddr || !srcNode)
    throw new TraceInputError(`--from: pod ${from.namespace}/${from.name} has no address or node yet`);

  let daddr: string;
  let dport = target.port;
  let dstPod: KubeObject | undefined;
  const hops: Hop[] = [];
  let service: { name: string; endpoint?: string } | undefined;
  if (target.dst.kind === "pod") {
    const ref = target.dst;
    dstPod = o.pods.find((p) => key(p) === `${ref.namespace}/${ref.name}`);
    if (!dstPod) throw new TraceInputError(`--to: pod ${ref.namespace}/${ref.name} not found`);
    const ip = podIPOf(dstPod);
    if (!ip || !nodeOf(dstPod))
      throw new TraceInputError(`--to: pod ${ref.namespace}/${ref.name} has no address or node yet`);
    daddr = ip;
  } else {
    daddr = target.dst.ip;
    // A ClusterIP is DNATed to one endpoint before the forward hook: trace that endpoint.
    const svc = cache.nodeView(srcNode).services.find((v) => v.clusterIP === daddr);
    if (svc) {
      const port = svc.ports.find((p) => p.port === dport && p.protocol === target.protocol);
      // A port the service does not have is not DNATed: the forward chain rejects it.
      const eps = (port ? (port.endpoints ?? svc.endpoints ?? []) : [])
        .map((e) => ({ ip: e.ip, port: e.port ?? port?.targetPort ?? dport }))
        .sort((a, b) => a.ip.localeCompare(b.ip) || a.port - b.port);
      const name = `${svc.namespace}/${svc.name}`;
      const ep = eps[0];
      if (!ep) {
        const detail = `service ${name} has no endpoint for ${dport}/${target.protocol.toLowerCase()}: rejected`;
        hops.push({ node: srcNode, stage: "service", verdict: "reject", detail });
        return {
          from: { namespace: from.namespace, name: from.name, ip: saddr, node: srcNode },
          to: { ip: daddr, port: dport, protocol: target.protocol, outside: false, service: name },
          verdict: "denied",
          decidedBy: { kind: "egress-path", node: srcNode, detail },
          source: [],
          hops,
          warnings,
        };
      }
      service = { name, endpoint: `${ep.ip}:${ep.port}` };
      hops.push({
        node: srcNode,
        stage: "service",
        verdict: "dnat",
        detail: `${name} → ${ep.ip}:${ep.port}${eps.length > 1 ? ` (one of ${eps.length} endpoints, chosen per flow)` : ""}`,
      });
      daddr = ep.ip;
      dport = ep.port;
    }
    // An address that is a pod's is traced as that pod (its node decides ingress).
    dstPod = o.pods.find(
      (p) => podIPOf(p) === daddr && !(p.spec as { hostNetwork?: boolean } | undefined)?.hostNetwork,
    );
  }
  const dstNode = dstPod ? nodeOf(dstPod) : undefined;

  const own = dstPod ? undefined : ownNodeAddress(o, srcNode, daddr);
  if (own) {
    const detail = `${daddr} is ${own} of ${srcNode}, the pod's own node: delivered by its input hook, which no NetworkPolicy or egress firewall filters`;
    hops.push({ node: srcNode, stage: "node-local", verdict: "accept", detail });
    return {
      from: { namespace: from.namespace, name: from.name, ip: saddr, node: srcNode },
      to: { ip: daddr, port: target.port, protocol: target.protocol, node: srcNode, outside: false },
      verdict: "allowed",
      decidedBy: { kind: "node-local", node: srcNode, detail },
      source: [{ kind: "pod", address: saddr, node: srcNode }],
      hops,
      warnings,
    };
  }

  const policy = cache.policy(srcNode, opts, warnings);
  const pkt: PolicyTracePacket = {
    src: saddr,
    dst: daddr,
    protocol: target.protocol,
    dport,
    state: "new",
  };
  const tracer = opts.tracer ?? tracePolicy;
  const policyHop = (node: string, stage: Hop["stage"], r: PolicyTraceResult): Hop => ({
    node,
    stage,
    verdict: r.verdict,
    decidedBy: r.decidedBy,
    steps: r.steps,
    ...(r.marked && r.verdict === "accept"
      ? { detail: "leaves the cluster: the admin chain (inet egress-admin admin-output) sees it next" }
      : {}),
  });
  const first = tracer(policy, pkt);
  const sameNode = dstNode === srcNode;
  hops.push(policyHop(srcNode, sameNode ? "policy" : "policy-egress", first));
  let decision = first;
  if (first.verdict === "accept" && dstNode && !sameNode) {
    const second = tracer(cache.policy(dstNode, opts, warnings), pkt);
    hops.push(policyHop(dstNode, "policy-ingress", second));
    decision = second;
  }

  const outside = !dstPod && !isClusterDestination(o, daddr);
  let source: SourceOut[] = [];
  if (decision.verdict === "accept") {
    source = outside
      ? await egressPath(cache, srcNode, saddr, daddr, hops)
      : service
        ? await serviceSource(cache, srcNode, saddr, daddr, sameNode, hops)
        : [{ kind: "pod", address: saddr, node: srcNode }];
  }
  const delivered = decision.verdict === "accept" && source.some((s) => s.kind !== "dropped");
  const egressDrop = decision.verdict === "accept" && !delivered;
  return {
    from: { namespace: from.namespace, name: from.name, ip: saddr, node: srcNode },
    to: {
      ip: service ? (target.dst.kind === "ip" ? target.dst.ip : daddr) : daddr,
      port: target.port,
      protocol: target.protocol,
      ...(service ? { service: service.name, endpoint: service.endpoint } : {}),
      ...(dstPod ? { pod: key(dstPod) } : {}),
      ...(dstNode ? { node: dstNode } : {}),
      outside,
    },
    verdict: delivered ? "allowed" : "denied",
    decidedBy: egressDrop
      ? { kind: "egress-path", node: hops.at(-1)?.node ?? srcNode, detail: hops.at(-1)?.detail ?? "dropped" }
      : decision.decidedBy,
    source,
    hops,
    warnings,
  };
}

/** The source address of a flow DNATed to a service endpoint, from the source node's postrouting:
 *  between pods of one bridge the node program masquerades it to the bridge's address (else the
 *  endpoint would answer the client directly, past the node's conntrack); otherwise the pod's. */
async function serviceSource(
  c: TraceCache,
  node: string,
  saddr: string,
  daddr: string,
  sameNode: boolean,
  hops: Hop[],
): Promise<SourceOut[]> {
  const nft = await c.nodeProgram(node).nft;
  const nodeObj = c.objects.nodes.find((n) => n.metadata.name === node);
  const oif = sameNode ? undefined : oifFor(publishedInterfaces(nodeObj, internalIP(nodeObj)), daddr);
  const v = traceChain(nft, TABLE_FAMILY, TABLE_NAME, "snat-postrouting", {
    saddr,
    daddr,
    oifname: sameNode ? BRIDGE : (oif?.name ?? "primary"),
    dnat: true,
  });
  if (v.verdict !== "masquerade") return [{ kind: "pod", address: saddr, node }];
  const address = sameNode ? bridgeGateway(c.objects, node) : oif?.address.split("/")[0];
  hops.push({
    node,
    stage: "service-nat",
    verdict: "masquerade",
    detail: `service flow between pods of one bridge: source ${address ?? "?"} (${sameNode ? "the pod bridge's gateway" : "node address"})`,
  });
  return [{ kind: "node", ...(address ? { address } : {}), node }];
}

const hostSubnetOf = (o: ClusterObjects, node: string) =>
  o.hostSubnets.find((h) => ((h as { host?: string }).host ?? h.metadata.name) === node) as
    | (KubeObject & { hostIP?: string; subnet?: string; egressIPs?: string[] })
    | undefined;

/** The pod bridge's address on `node`: the first address of its HostSubnet (the CNI gateway). */
function bridgeGateway(o: ClusterObjects, node: string): string | undefined {
  const subnet = parseV4CIDR(hostSubnetOf(o, node)?.subnet ?? "");
  return subnet ? formatV4(subnet.net + 1) : undefined;
}

/** What `daddr` is on `node` if it is one of that node's own addresses (as the API knows them:
 *  node addresses, published interface addresses, the pod bridge's gateway, egress IPs it holds). */
function ownNodeAddress(o: ClusterObjects, node: string, daddr: string): string | undefined {
  const nodeObj = o.nodes.find((n) => n.metadata.name === node);
  const hs = hostSubnetOf(o, node);
  const nodeAddrs = [
    ...((nodeObj?.status as { addresses?: { address?: string }[] } | undefined)?.addresses ?? []).map(
      (a) => a.address,
    ),
    hs?.hostIP,
    ...publishedInterfaces(nodeObj, undefined).map((i) => i.address.split("/")[0]),
  ];
  if (nodeAddrs.includes(daddr)) return "an address";
  if (bridgeGateway(o, node) === daddr) return "the pod bridge's gateway address";
  for (const e of o.egressIPs) {
    const items = (e.status as { items?: { node?: string; egressIP?: string }[] } | undefined)?.items ?? [];
    if (items.some((i) => i.node === node && i.egressIP === daddr))
      return `the egress IP of EgressIP ${e.metadata.name ?? ""} it holds`;
  }
  if ((hs?.egressIPs ?? []).includes(daddr)) return "a project egress IP it holds";
  return undefined;
}

/** Pod networks, the service network and every node address are inside the cluster. */
function isClusterDestination(o: ClusterObjects, daddr: string): boolean {
  const ip = parseV4(daddr);
  if (ip === undefined) return false;
  const cn = o.clusterNetworks.find((c) => c.metadata.name === "default") as
    | { clusterNetworks?: { CIDR?: string }[]; serviceNetwork?: string }
    | undefined;
  const cidrs = [...(cn?.clusterNetworks ?? []).map((c) => c.CIDR ?? ""), cn?.serviceNetwork ?? ""];
  if (
    cidrs.some((c) => {
      const p = parseV4CIDR(c);
      return p !== undefined && containsV4(p, ip);
    })
  )
    return true;
  const nodeAddrs = new Set<string>();
  for (const n of o.nodes) {
    for (const a of (n.status as { addresses?: { address?: string }[] } | undefined)?.addresses ?? [])
      if (a.address) nodeAddrs.add(a.address);
  }
  for (const h of o.hostSubnets) {
    const hip = (h as { hostIP?: string }).hostIP;
    if (hip) nodeAddrs.add(hip);
  }
  return nodeAddrs.has(daddr);
}
