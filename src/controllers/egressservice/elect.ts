// EgressService host election (MISSION §3). For each EgressService: no host when its Service is
// not a LoadBalancer, has no ingress IP or has no endpoints; sourceIPBy Network → host "ALL" (no
// node label); LoadBalancerIP → one node that is Ready, reachable, matches spec.nodeSelector and,
// with externalTrafficPolicy Local, runs an endpoint. The current host is kept while it still
// qualifies; otherwise the qualifying node hosting the fewest egress services wins, ties by node
// name. Outputs status.host per service and the egress-service labels each node should carry.
// Candidates come from a NodeSelectorIndex (node-index.ts): each distinct selector is matched once,
// not once per service per node. Pure: no I/O; controllers translate objects in and labels/status
// out.
import type { LabelSelector } from "../../api/selector.js";
import { compareStrings, type DecisionEvent, Heap } from "../common/decision.js";
import { type ESNode, NodeSelectorIndex } from "./node-index.js";

export type { ESNode } from "./node-index.js";

export const EGRESS_SERVICE_LABEL_PREFIX = "egress-service.k8s.ovn.org/";
export const HOST_ALL = "ALL";

/** Node label marking the host of Service ns/name (value ""). */
export const egressServiceLabel = (namespace: string, name: string): string =>
  `${EGRESS_SERVICE_LABEL_PREFIX}${namespace}-${name}`;

export interface EgressServiceInput {
  namespace: string;
  name: string;
  sourceIPBy: "LoadBalancerIP" | "Network";
  nodeSelector?: LabelSelector;
  /** Current status.host ("" when none). */
  currentHost: string;
  service?: {
    type: string;
    /** status.loadBalancer.ingress[].ip */
    ingressIPs: string[];
    externalTrafficPolicy?: "Cluster" | "Local";
  };
  /** Nodes that run at least one ready endpoint of the Service. */
  endpointNodes: string[];
}

export type NoHostReason =
  | "ServiceNotFound"
  | "NotLoadBalancer"
  | "NoIngressIP"
  | "NoEndpoints"
  | "NoEligibleNode"
  | "InvalidNodeSelector";

export interface EgressServiceDecision {
  namespace: string;
  name: string;
  /** status.host: node name, "ALL" or "". */
  host: string;
  /** Why host is "" (absent otherwise). */
  reason?: NoHostReason;
}

export interface ElectResult {
  decisions: EgressServiceDecision[];
  /** node → egress-service label keys it must carry (nodes with none are absent). Labels with
   *  the prefix not listed here must be removed. */
  nodeLabels: Map<string, string[]>;
  events: DecisionEvent[];
}

/** Elects hosts for all EgressServices at once (so the "fewest hosted" tie-break sees every
 *  service). Kept hosts are counted first, then new elections run in namespace/name order. `nodes`
 *  is either the node list or an index of it kept up to date by the caller (same result). */
export function electEgressServiceHosts(
  services: EgressServiceInput[],
  nodes: readonly ESNode[] | NodeSelectorIndex,
): ElectResult {
  const index = nodes instanceof NodeSelectorIndex ? nodes : NodeSelectorIndex.of(nodes);
  const events: DecisionEvent[] = [];
  const sorted = [...services].sort(
    (a, b) => compareStrings(a.namespace, b.namespace) || compareStrings(a.name, b.name),
  );
  const load = new Map<string, number>();
  const decided = new Map<EgressServiceInput, EgressServiceDecision>();
  /** Per service still to elect: its eligible nodes, or (ETP Local) its endpoint nodes among them. */
  const candidates = new Map<EgressServiceInput, Iterable<string>>();

  for (const s of sorted) {
    const d: EgressServiceDecision = { namespace: s.namespace, name: s.name, host: "" };
    decided.set(s, d);
    const svc = s.service;
    if (!svc) d.reason = "ServiceNotFound";
    else if (svc.type !== "LoadBalancer") d.reason = "NotLoadBalancer";
    else if (svc.ingressIPs.length === 0) d.reason = "NoIngressIP";
    else if (s.endpointNodes.length === 0) d.reason = "NoEndpoints";
    if (d.reason) continue;
    if (s.sourceIPBy === "Network") {
      d.host = HOST_ALL;
      continue;
    }
    let ok: ReadonlySet<string>;
    try {
      ok = index.matching(s.nodeSelector);
    } catch (err) {
      d.reason = "InvalidNodeSelector";
      events.push({
        type: "Warning",
        reason: "InvalidNodeSelector",
        message: (err as Error).message,
        object: { kind: "EgressService", namespace: s.namespace, name: s.name },
      });
      continue;
    }
    const local = svc!.externalTrafficPolicy === "Local";
    const qualifies = (n: string) => ok.has(n) && (!local || s.endpointNodes.includes(n));
    if (s.currentHost && qualifies(s.currentHost)) {
      d.host = s.currentHost;
      load.set(d.host, (load.get(d.host) ?? 0) + 1);
      continue;
    }
    // ETP Local: the (few) endpoint nodes that are eligible; otherwise every eligible node.
    candidates.set(s, local ? s.endpointNodes.filter((n) => ok.has(n)) : ok);
  }
  /** Per large candidate set (the index's live set of one nodeSelector): a heap by (load, name). */
  const heaps = new Map<ReadonlySet<string>, LoadHeap>();
  for (const s of sorted) {
    const d = decided.get(s)!;
    const ok = candidates.get(s);
    if (!ok) continue;
    let best: string | undefined;
    let bl = Number.POSITIVE_INFINITY;
    if (ok instanceof Set && ok.size > HEAP_MIN_CANDIDATES) {
      // Same choice as the scan below, without looking at every eligible node for every service
      // (1,000 new services × 4,500 nodes on a new cluster).
      let h = heaps.get(ok);
      if (!h) {
        h = new LoadHeap(ok, load);
        heaps.set(ok, h);
      }
      const top = h.min(load);
      if (top) [best, bl] = top;
    } else
      for (const n of ok) {
        const l = load.get(n) ?? 0;
        if (l < bl || (l === bl && best !== undefined && n < best)) {
          best = n;
          bl = l;
        }
      }
    if (best === undefined) {
      d.reason = "NoEligibleNode";
      events.push({
        type: "Warning",
        reason: "NoEligibleNode",
        message: `no Ready, reachable node matches the nodeSelector${s.service?.externalTrafficPolicy === "Local" ? " and runs an endpoint (externalTrafficPolicy: Local)" : ""}`,
        object: { kind: "EgressService", namespace: s.namespace, name: s.name },
      });
      continue;
    }
    d.host = best;
    load.set(best, bl + 1);
    events.push({
      type: "Normal",
      reason: s.currentHost ? "HostReelected" : "HostElected",
      message: s.currentHost ? `host moved from ${s.currentHost} to ${best}` : `host ${best} elected`,
      object: { kind: "EgressService", namespace: s.namespace, name: s.name },
    });
  }
  index.endRound();
  const nodeLabels = new Map<string, string[]>();
  for (const s of sorted) {
    const d = decided.get(s)!;
    if (d.host === "" || d.host === HOST_ALL) continue;
    const l = nodeLabels.get(d.host) ?? [];
    l.push(egressServiceLabel(s.namespace, s.name));
    nodeLabels.set(d.host, l);
  }
  return { decisions: sorted.map((s) => decided.get(s)!), nodeLabels, events };
}

/** Label changes for one node: which egress-service labels to add and which to remove, given the
 *  node's current labels and the desired keys from ElectResult.nodeLabels. */
export function nodeLabelChanges(
  current: Record<string, string>,
  desired: readonly string[] | undefined,
): { add: string[]; remove: string[] } {
  const want = new Set(desired ?? []);
  const have = Object.keys(current).filter((k) => k.startsWith(EGRESS_SERVICE_LABEL_PREFIX));
  return {
    add: [...want].filter((k) => !Object.hasOwn(current, k) || current[k] !== "").sort(),
    remove: have.filter((k) => !want.has(k)).sort(),
  };
}

/** Candidate sets larger than this are searched with a LoadHeap instead of a scan. */
export const HEAP_MIN_CANDIDATES = 16;

/**
 * Min-heap of nodes by (hosted services, name) for the new elections of one run. Loads only grow
 * during a run, so entries are fixed lazily: an entry whose stored load is below the node's current
 * one can only be too small, and is corrected when it reaches the top. The top, once correct, is
 * the node the scan would pick (names are unique, ties by name with `<` as the scan).
 */
class LoadHeap {
  private readonly h = new Heap<{ load: number; name: string }>(
    (x, y) => x.load < y.load || (x.load === y.load && x.name < y.name),
  );

  constructor(nodes: Iterable<string>, load: ReadonlyMap<string, number>) {
    for (const name of nodes) this.h.push({ load: load.get(name) ?? 0, name });
  }

  min(load: ReadonlyMap<string, number>): [string, number] | undefined {
    for (;;) {
      const top = this.h.peek();
      if (!top) return undefined;
      const cur = load.get(top.name) ?? 0;
      if (cur === top.load) return [top.name, cur];
      this.h.pop();
      this.h.push({ load: cur, name: top.name });
    }
  }
}
