// The lab's scheduler: binds pods without spec.nodeName (schedulerName default-scheduler) to a node
// chosen by schedulePods (scheduler/schedule.ts) by setting spec.nodeName with a merge patch pinned
// to the pod's resourceVersion (the API server allows setting it once). Unschedulable pods get one
// FailedScheduling Warning per distinct reason. One cluster-wide key: node and pod events coalesce.
// Thin shell: must not choose nodes itself.
import { nodeType, podType } from "../../api/kinds/index.js";
import type { KubeObject } from "../../api/object.js";
import type { Logger } from "../../util/log.js";
import { isConflict, isNotFound } from "../runtime/client.js";
import type { Controller, ControllerContext } from "../runtime/manager.js";
import { type ReconcileOutcome, WorkQueue } from "../runtime/workqueue.js";
import { type SchedNode, type SchedPod, schedulePods } from "../scheduler/schedule.js";
import { conditionTrue, EventLatch, podNodeName, podPhase, stringMap } from "./pods.js";

const KEY = "schedule";

export class SchedulerController implements Controller {
  readonly name = "scheduler";
  private ctx!: ControllerContext;
  private log!: Logger;
  private queue!: WorkQueue;
  private readonly latch = new EventLatch();
  /** Bindings written but not yet in the cache (pod uid → node), so they count at once. */
  private readonly recent = new Map<string, string>();
  /** Pods this scheduler still has to bind ("ns/name"). While empty, node events and bound pods'
   *  events cannot lead to a binding, so they do not cost a pass over every pod. */
  private readonly unbound = new Set<string>();
  private started = false;

  setup(ctx: ControllerContext): void {
    this.ctx = ctx;
    this.log = ctx.log.child({ controller: this.name });
    this.queue = new WorkQueue(
      () => this.reconcile(),
      (key, err, attempt) => this.log.warn({ key, err, attempt }, "scheduling failed; retrying"),
    );
    // Before start() the caches are still filling (a pod could be bound against half the nodes);
    // start() queues a run once they are complete.
    const enqueue = () => {
      if (this.started) this.queue.add(KEY);
    };
    ctx.informers.for(nodeType).on(() => {
      if (this.unbound.size > 0) enqueue();
    });
    ctx.informers.for(podType).on((type, p) => {
      const key = `${p.metadata.namespace}/${p.metadata.name}`;
      if (type !== "delete" && needsBinding(p)) {
        this.unbound.add(key);
        enqueue();
      } else if (this.unbound.delete(key) || this.unbound.size > 0) enqueue();
    });
  }

  start(): void {
    this.started = true;
    for (const p of this.ctx.informers.for(podType).list())
      if (needsBinding(p)) this.unbound.add(`${p.metadata.namespace}/${p.metadata.name}`);
    // A run reads every pod (150,000 on the bench cluster): start one only when some pod waits.
    if (this.unbound.size > 0) this.queue.add(KEY);
  }

  stop(): void {
    this.started = false;
    this.queue?.stop();
  }

  private async reconcile(): Promise<ReconcileOutcome> {
    const nodes: SchedNode[] = this.ctx.informers
      .for(nodeType)
      .list()
      .map((n) => ({
        name: n.metadata.name ?? "",
        labels: n.metadata.labels ?? {},
        ready: conditionTrue(n, "Ready"),
        unschedulable: (n.spec as { unschedulable?: unknown } | undefined)?.unschedulable === true,
      }));
    const byKey = new Map<string, KubeObject>();
    const pods: SchedPod[] = [];
    const live = new Set<string>();
    for (const p of this.ctx.informers.for(podType).list()) {
      const uid = p.metadata.uid ?? "";
      const cached = podNodeName(p);
      if (cached) this.recent.delete(uid);
      const nodeName = cached ?? this.recent.get(uid);
      const spec = (p.spec ?? {}) as { schedulerName?: unknown; nodeSelector?: unknown };
      const ours = spec.schedulerName === undefined || spec.schedulerName === "default-scheduler";
      // Pods for another scheduler, or being deleted, are not ours to bind but still count if bound.
      if (!nodeName && (!ours || p.metadata.deletionTimestamp)) continue;
      const key = `${p.metadata.namespace}/${p.metadata.name}`;
      live.add(uid);
      byKey.set(key, p);
      const phase = podPhase(p);
      pods.push({
        namespace: p.metadata.namespace ?? "",
        name: p.metadata.name ?? "",
        ...(p.metadata.creationTimestamp ? { creationTimestamp: p.metadata.creationTimestamp } : {}),
        ...(nodeName ? { nodeName } : {}),
        nodeSelector: stringMap(spec.nodeSelector),
        ...(phase ? { phase } : {}),
      });
    }
    for (const uid of [...this.recent.keys()]) if (!live.has(uid)) this.recent.delete(uid);
    const { bindings, events } = schedulePods(nodes, pods);

    const unschedulable = new Set<string>();
    for (const ev of events) {
      if (ev.reason !== "FailedScheduling") continue;
      const pod = byKey.get(`${ev.object.namespace}/${ev.object.name}`);
      if (!pod) continue;
      const uid = pod.metadata.uid ?? "";
      unschedulable.add(uid);
      if (this.latch.fire(uid, ev.reason, ev.message)) {
        this.log.info(
          { pod: `${ev.object.namespace}/${ev.object.name}`, why: ev.message },
          "pod unschedulable",
        );
        void this.ctx.recorder.record(podRef(pod), "Warning", ev.reason, ev.message);
      }
    }
    this.latch.retain(unschedulable);

    let retry = false;
    for (const b of bindings) {
      const pod = byKey.get(`${b.namespace}/${b.name}`);
      if (!pod) continue;
      try {
        await this.ctx.client.patch(
          podType,
          b.namespace,
          b.name,
          { metadata: { resourceVersion: pod.metadata.resourceVersion }, spec: { nodeName: b.node } },
          "merge",
        );
        this.recent.set(pod.metadata.uid ?? "", b.node);
        void this.ctx.recorder.record(
          podRef(pod),
          "Normal",
          "Scheduled",
          `Successfully assigned ${b.namespace}/${b.name} to ${b.node}`,
        );
      } catch (e) {
        if (isNotFound(e)) continue;
        if (isConflict(e)) {
          retry = true; // changed meanwhile: the next run sees the new version
          continue;
        }
        throw e;
      }
    }
    return retry ? { requeueAfterMs: 50 } : undefined;
  }
}

/** Ours to bind: no nodeName, our schedulerName, not being deleted. */
function needsBinding(p: KubeObject): boolean {
  const spec = (p.spec ?? {}) as { schedulerName?: unknown };
  const ours = spec.schedulerName === undefined || spec.schedulerName === "default-scheduler";
  return ours && !podNodeName(p) && !p.metadata.deletionTimestamp;
}

function podRef(p: KubeObject) {
  return {
    apiVersion: "v1",
    kind: "Pod",
    name: p.metadata.name ?? "",
    namespace: p.metadata.namespace ?? "",
    ...(p.metadata.uid ? { uid: p.metadata.uid } : {}),
  };
}
