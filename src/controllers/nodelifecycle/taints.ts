// The node condition taints Kubernetes' node lifecycle controller maintains: `not-ready` while Ready
// is False, `unreachable` while it is Unknown, each as NoSchedule and (when evictions are allowed in
// the node's zone) NoExecute. Other taints — the user's — are kept as they are, in their order.
// Pure: the caller supplies the time for timeAdded.
import type { ReadyStatus } from "./health.js";

export const TAINT_NOT_READY = "node.kubernetes.io/not-ready";
export const TAINT_UNREACHABLE = "node.kubernetes.io/unreachable";

export interface Taint {
  key: string;
  value?: string;
  effect: string;
  timeAdded?: string;
}

const OURS = new Set([TAINT_NOT_READY, TAINT_UNREACHABLE]);
const sameTaint = (a: Taint, b: Taint) => a.key === b.key && a.effect === b.effect;

/**
 * What to do with the NoExecute condition taint: `apply` it (evictions allowed in the node's zone),
 * `hold` (keep one already there, add none: the zone just recovered or the controller just started),
 * `remove` it (the zone is disrupted: nobody is evicted for the control plane's outage).
 */
export type NoExecuteMode = "apply" | "hold" | "remove";

/** The condition taints a node with this Ready status should carry. */
export function conditionTaints(ready: ReadyStatus, noExecute: boolean): Taint[] {
  const key = ready === "False" ? TAINT_NOT_READY : ready === "Unknown" ? TAINT_UNREACHABLE : undefined;
  if (key === undefined) return [];
  return [{ key, effect: "NoSchedule" }, ...(noExecute ? [{ key, effect: "NoExecute" }] : [])];
}

/**
 * The node's taints with the condition taints brought up to date: stale ones removed, missing ones
 * appended (NoExecute with timeAdded = `nowIso`), ones already present kept unchanged (their
 * timeAdded is when eviction timing started).
 */
export function desiredTaints(
  current: readonly Taint[],
  ready: ReadyStatus,
  mode: NoExecuteMode,
  nowIso: string,
): Taint[] {
  const want = conditionTaints(ready, mode !== "remove");
  const kept = current.filter((t) => !OURS.has(t.key) || want.some((w) => sameTaint(w, t)));
  const added = want
    .filter((w) => !kept.some((t) => sameTaint(t, w)))
    .filter((w) => mode === "apply" || w.effect !== "NoExecute")
    .map((w) => (w.effect === "NoExecute" ? { ...w, timeAdded: nowIso } : w));
  return [...kept, ...added];
}

export function taintsEqual(a: readonly Taint[], b: readonly Taint[]): boolean {
  return (
    a.length === b.length &&
    a.every(
      (t, i) =>
        t.key === b[i]?.key &&
        (t.value ?? "") === (b[i]?.value ?? "") &&
        t.effect === b[i]?.effect &&
        t.timeAdded === b[i]?.timeAdded,
    )
  );
}
