// The lab's pod scheduler: binds each pod without spec.nodeName to a Ready, schedulable node whose
// labels match the pod's nodeSelector, the node with the fewest pods first, ties by node name.
// Pods are bound oldest first (creationTimestamp, namespace, name) and each binding counts for the
// next. Taints, affinity and resources are out of scope (documented). Pure: no I/O.
import { compareByAge, compareStrings, type DecisionEvent } from "../common/decision.js";

export interface SchedNode {
  name: string;
  labels: Record<string, string>;
  ready: boolean;
  /** spec.unschedulable (cordoned). */
  unschedulable?: boolean;
}

export interface SchedPod {
  namespace: string;
  name: string;
  creationTimestamp?: string;
  nodeName?: string;
  nodeSelector?: Record<string, string>;
  /** Succeeded/Failed pods no longer count against a node. */
  phase?: string;
}

export interface Binding {
  namespace: string;
  name: string;
  node: string;
}

export interface ScheduleResult {
  bindings: Binding[];
  events: DecisionEvent[];
}

export function schedulePods(nodes: SchedNode[], pods: SchedPod[]): ScheduleResult {
  const count = new Map(nodes.map((n) => [n.name, 0]));
  for (const p of pods)
    if (p.nodeName && count.has(p.nodeName) && p.phase !== "Succeeded" && p.phase !== "Failed")
      count.set(p.nodeName, count.get(p.nodeName)! + 1);
  const usable = nodes
    .filter((n) => n.ready && !n.unschedulable)
    .sort((a, b) => compareStrings(a.name, b.name));
  const bindings: Binding[] = [];
  const events: DecisionEvent[] = [];
  for (const p of pods.filter((x) => !x.nodeName).sort(compareByAge)) {
    const sel = Object.entries(p.nodeSelector ?? {});
    let best: SchedNode | undefined;
    for (const n of usable) {
      if (!sel.every(([k, v]) => n.labels[k] === v)) continue;
      if (!best || count.get(n.name)! < count.get(best.name)!) best = n;
    }
    const ref = { kind: "Pod", namespace: p.namespace, name: p.name };
    if (!best) {
      const notReady = nodes.filter((n) => !n.ready).length;
      const cordoned = nodes.filter((n) => n.ready && n.unschedulable).length;
      const mismatch = usable.length - usable.filter((n) => sel.every(([k, v]) => n.labels[k] === v)).length;
      const why = [
        notReady ? `${notReady} node(s) were not ready` : "",
        cordoned ? `${cordoned} node(s) were unschedulable` : "",
        mismatch ? `${mismatch} node(s) didn't match Pod's node affinity/selector` : "",
      ].filter((s) => s !== "");
      events.push({
        type: "Warning",
        reason: "FailedScheduling",
        message: `0/${nodes.length} nodes are available${why.length ? `: ${why.join(", ")}` : ""}.`,
        object: ref,
      });
      continue;
    }
    count.set(best.name, count.get(best.name)! + 1);
    bindings.push({ namespace: p.namespace, name: p.name, node: best.name });
    events.push({
      type: "Normal",
      reason: "Scheduled",
      message: `Successfully assigned ${p.namespace}/${p.name} to ${best.name}`,
      object: ref,
    });
  }
  return { bindings, events };
}
