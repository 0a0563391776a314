// ReplicationController decisions: how many pods to create, which pods to delete when scaling down
// (the least useful first, as Kubernetes' ActivePods ranking), the pod made from the template, and
// the status. Pure: no I/O, no clock, no randomness (names come from the API server's generateName).
import type { OwnerReference } from "../../api/object.js";

export interface ReplicaPod {
  name: string;
  creationTimestamp?: string;
  nodeName?: string;
  phase?: string;
  ready: boolean;
  /** Set while the pod is being deleted: it no longer counts. */
  deleting: boolean;
}

export interface ReplicaStatus {
  replicas: number;
  fullyLabeledReplicas: number;
  readyReplicas: number;
  availableReplicas: number;
  observedGeneration?: number;
}

export interface ReplicaPlan {
  create: number;
  /** Pod names to delete, least useful first. */
  delete: string[];
  status: ReplicaStatus;
}

/** Pods that still count: not finished, not being deleted. */
export function isActive(p: ReplicaPod): boolean {
  return !p.deleting && p.phase !== "Succeeded" && p.phase !== "Failed";
}

const phaseRank = (phase: string | undefined) => (phase === "Running" ? 2 : phase === "Pending" ? 1 : 0);

/** Kubernetes' deletion order: unscheduled < scheduled, Pending/Unknown < Running, not ready <
 *  ready, newer < older; then name for determinism. */
export function compareForDeletion(a: ReplicaPod, b: ReplicaPod): number {
  const sa = a.nodeName ? 1 : 0;
  const sb = b.nodeName ? 1 : 0;
  if (sa !== sb) return sa - sb;
  const pa = phaseRank(a.phase);
  const pb = phaseRank(b.phase);
  if (pa !== pb) return pa - pb;
  if (a.ready !== b.ready) return a.ready ? 1 : -1;
  const ta = a.creationTimestamp ? Date.parse(a.creationTimestamp) : 0;
  const tb = b.creationTimestamp ? Date.parse(b.creationTimestamp) : 0;
  if (ta !== tb) return tb - ta;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/**
 * @param desired spec.replicas (default 1)
 * @param pods the RC's own pods as the cache sees them
 * @param pendingCreates pods created but not yet seen by the cache (counted as present)
 */
export function planReplicas(
  desired: number,
  pods: ReplicaPod[],
  pendingCreates = 0,
  generation?: number,
): ReplicaPlan {
  const active = pods.filter(isActive);
  const have = active.length + pendingCreates;
  const plan: ReplicaPlan = {
    create: Math.max(0, desired - have),
    delete: [],
    status: {
      replicas: active.length,
      fullyLabeledReplicas: active.length,
      readyReplicas: active.filter((p) => p.ready).length,
      availableReplicas: active.filter((p) => p.ready).length,
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
    },
  };
  if (active.length > desired) {
    plan.delete = [...active]
      .sort(compareForDeletion)
      .slice(0, active.length - desired)
      .map((p) => p.name);
  }
  return plan;
}

export interface RCInfo {
  namespace: string;
  name: string;
  uid: string;
  template: {
    metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
    spec?: unknown;
  };
}

/** The pod an RC creates: `<rc>-<5 random chars>` via generateName, template labels and
 *  annotations, an owner reference with controller: true. */
export function podFromTemplate(rc: RCInfo): {
  apiVersion: string;
  kind: string;
  metadata: {
    generateName: string;
    namespace: string;
    labels: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences: OwnerReference[];
  };
  spec: unknown;
} {
  const meta = rc.template.metadata ?? {};
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      generateName: `${rc.name}-`,
      namespace: rc.namespace,
      labels: { ...(meta.labels ?? {}) },
      ...(meta.annotations ? { annotations: { ...meta.annotations } } : {}),
      ownerReferences: [
        {
          apiVersion: "v1",
          kind: "ReplicationController",
          name: rc.name,
          uid: rc.uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: structuredClone(rc.template.spec ?? {}),
  };
}
