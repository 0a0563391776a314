// Taint-based eviction (Kubernetes' NoExecute taint manager): when a pod's node carries NoExecute
// taints, the pod is deleted at once if one of them is not tolerated, after the shortest
// tolerationSeconds of the tolerations used if all are, never if those tolerate forever. Pods
// without their own toleration for the not-ready / unreachable taints are treated as having one with
// the configured default seconds (what the DefaultTolerationSeconds admission plugin adds at pod
// creation upstream, 300 s there). Pure.
import { TAINT_NOT_READY, TAINT_UNREACHABLE, type Taint } from "./taints.js";

export interface Toleration {
  key?: string;
  operator?: string;
  value?: string;
  effect?: string;
  tolerationSeconds?: number;
}

export interface DefaultTolerations {
  notReadySeconds: number;
  unreachableSeconds: number;
}

/** Kubernetes' Toleration.ToleratesTaint. */
export function tolerates(t: Toleration, taint: Taint): boolean {
  if (t.effect !== undefined && t.effect !== "" && t.effect !== taint.effect) return false;
  if (t.key !== undefined && t.key !== "" && t.key !== taint.key) return false;
  const op = t.operator ?? "Equal";
  if (op === "Exists") return true;
  if (op === "Equal" || op === "") return (t.value ?? "") === (taint.value ?? "");
  return false;
}

/** The pod's tolerations plus the defaults for not-ready / unreachable it does not cover itself
 *  (the admission plugin's test: a toleration with that key or no key, effect NoExecute or none). */
export function withDefaultTolerations(
  tolerations: readonly Toleration[],
  defaults: DefaultTolerations,
): Toleration[] {
  const covers = (key: string) =>
    tolerations.some(
      (t) =>
        (t.key === key || t.key === undefined || t.key === "") &&
        (t.effect === "NoExecute" || t.effect === undefined || t.effect === ""),
    );
  const out = [...tolerations];
  if (!covers(TAINT_NOT_READY))
    out.push({
      key: TAINT_NOT_READY,
      operator: "Exists",
      effect: "NoExecute",
      tolerationSeconds: defaults.notReadySeconds,
    });
  if (!covers(TAINT_UNREACHABLE))
    out.push({
      key: TAINT_UNREACHABLE,
      operator: "Exists",
      effect: "NoExecute",
      tolerationSeconds: defaults.unreachableSeconds,
    });
  return out;
}

export type EvictionDecision = { kind: "none" } | { kind: "now" } | { kind: "at"; atMs: number };

/**
 * When to delete a pod on a node with these taints. `sinceMs` is when eviction timing started for
 * the node (the earliest NoExecute taint's time); the pod is deleted at sinceMs + the shortest
 * tolerationSeconds of the tolerations matched (first matching toleration per taint, as upstream).
 */
export function evictionDecision(
  taints: readonly Taint[],
  tolerations: readonly Toleration[],
  defaults: DefaultTolerations,
  sinceMs: number,
): EvictionDecision {
  const noExecute = taints.filter((t) => t.effect === "NoExecute");
  if (noExecute.length === 0) return { kind: "none" };
  const all = withDefaultTolerations(tolerations, defaults);
  let minSeconds: number | undefined;
  for (const taint of noExecute) {
    const used = all.find((t) => tolerates(t, taint));
    if (!used) return { kind: "now" };
    if (used.tolerationSeconds !== undefined && used.tolerationSeconds !== null) {
      const s = Math.max(0, used.tolerationSeconds);
      minSeconds = minSeconds === undefined ? s : Math.min(minSeconds, s);
    }
  }
  if (minSeconds === undefined) return { kind: "none" };
  if (minSeconds === 0) return { kind: "now" };
  return { kind: "at", atMs: sinceMs + minSeconds * 1000 };
}
