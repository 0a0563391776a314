// Which EgressIP serves each pod (MISSION §1): a pod in a namespace matched by namespaceSelector
// and matched by podSelector (absent/empty = all pods) is served by that EgressIP. A pod matched by
// several is served by the OLDEST (creationTimestamp, then name); the others are standby for it
// and get an event. hostNetwork pods are never served. Pure: no I/O.
import {
  type LabelSelector,
  labelSelectorAsSelector,
  type Selector,
  selectorMatches,
} from "../../api/selector.js";
import { compareByAge, compareStrings, type DecisionEvent } from "../common/decision.js";

export interface EgressIPSelectorSpec {
  name: string;
  creationTimestamp?: string;
  namespaceSelector: LabelSelector;
  podSelector?: LabelSelector;
}

export interface NamespaceInfo {
  name: string;
  labels: Record<string, string>;
}

export interface PodInfo {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  hostNetwork?: boolean;
}

export interface PodSelectionResult {
  /** "namespace/name" → EgressIP name serving the pod. */
  servedBy: Map<string, string>;
  /** EgressIP name → "namespace/name" of the pods it serves, sorted. */
  podsOf: Map<string, string[]>;
  /** Pods an EgressIP selects but another (older) one serves. */
  standby: { pod: string; egressIP: string; servedBy: string }[];
  events: DecisionEvent[];
}

/** Matches pods to EgressIPs. An EgressIP whose selectors are invalid selects nothing and gets an
 *  InvalidSelector event (the API server should have refused it). */
export function selectPodsForEgressIPs(
  egressIPs: EgressIPSelectorSpec[],
  namespaces: NamespaceInfo[],
  pods: PodInfo[],
): PodSelectionResult {
  const events: DecisionEvent[] = [];
  const compiled: { name: string; ns: Selector; pod: Selector }[] = [];
  for (const e of [...egressIPs].sort(compareByAge)) {
    try {
      compiled.push({
        name: e.name,
        ns: labelSelectorAsSelector(e.namespaceSelector, "spec.namespaceSelector"),
        pod: labelSelectorAsSelector(e.podSelector ?? {}, "spec.podSelector"),
      });
    } catch (err) {
      events.push({
        type: "Warning",
        reason: "InvalidSelector",
        message: `EgressIP ${e.name} selects no pods: ${(err as Error).message}`,
        object: { kind: "EgressIP", name: e.name },
      });
    }
  }
  // Per namespace, the indices (age order) of the EgressIPs whose namespaceSelector matches it;
  // namespaces no EgressIP selects are absent, so their pods cost one map lookup and the pod loop
  // visits only matching EgressIPs (was: every EgressIP for every pod, 150M steps at 150k × 1k).
  const nsMatch = new Map<string, number[]>();
  for (const n of namespaces) {
    const idx: number[] = [];
    compiled.forEach((c, i) => {
      if (selectorMatches(c.ns, n.labels)) idx.push(i);
    });
    if (idx.length > 0) nsMatch.set(n.name, idx);
  }

  const servedBy = new Map<string, string>();
  const podsOf = new Map<string, string[]>(compiled.map((c) => [c.name, []]));
  const standby: PodSelectionResult["standby"] = [];
  for (const p of pods) {
    if (p.hostNetwork) continue;
    const m = nsMatch.get(p.namespace);
    if (!m) continue;
    const key = `${p.namespace}/${p.name}`;
    let first: string | undefined;
    for (const i of m) {
      const c = compiled[i]!;
      if (!selectorMatches(c.pod, p.labels)) continue;
      if (first === undefined) {
        first = c.name;
        servedBy.set(key, c.name);
        podsOf.get(c.name)!.push(key);
      } else standby.push({ pod: key, egressIP: c.name, servedBy: first });
    }
  }
  // Sort only what matched (was: a copy of every pod), by (namespace, name) as before. The sort is
  // stable, so per pod the EgressIPs stay in age order.
  for (const list of podsOf.values()) list.sort(byPod);
  standby.sort((x, y) => byPod(x.pod, y.pod));
  events.push(...standbyEvents(standby));
  return { servedBy, podsOf, standby, events };
}

/** Orders "namespace/name" keys by namespace, then name (a namespace contains no '/'). */
export function byPod(a: string, b: string): number {
  const ia = a.indexOf("/");
  const ib = b.indexOf("/");
  return compareStrings(a.slice(0, ia), b.slice(0, ib)) || compareStrings(a.slice(ia + 1), b.slice(ib + 1));
}

/** The EgressIPStandby Warnings for a standby list sorted by pod (as `standby` of the result):
 *  one per (standby EgressIP, serving EgressIP) pair, not one per pod. Selection is independent
 *  per namespace, so a caller may select namespace by namespace and pass the merged, sorted list. */
export function standbyEvents(standby: PodSelectionResult["standby"]): DecisionEvent[] {
  const events: DecisionEvent[] = [];
  const pairs = new Map<string, { egressIP: string; servedBy: string; pods: string[] }>();
  for (const s of standby) {
    const k = `${s.egressIP}\u0000${s.servedBy}`;
    const v = pairs.get(k) ?? { egressIP: s.egressIP, servedBy: s.servedBy, pods: [] };
    v.pods.push(s.pod);
    pairs.set(k, v);
  }
  for (const v of pairs.values())
    events.push({
      type: "Warning",
      reason: "EgressIPStandby",
      message: `${v.pods.length} pod(s) selected by EgressIP ${v.egressIP} are already served by the older EgressIP ${v.servedBy} (e.g. ${v.pods[0]}); ${v.egressIP} is standby for them`,
      object: { kind: "EgressIP", name: v.egressIP },
    });
  return events;
}
