// ReplicationController controller (lab-minimal): keeps spec.replicas pods made from spec.template,
// owned by the RC (controller: true), replaces deleted ones, scales down least-useful first, and
// writes status.replicas/readyReplicas. Pods created but not yet in the cache are remembered
// ("expectations") so a burst of events never creates extra pods. Orphan adoption is not done.
// Thin shell around replicas.ts; must not schedule pods (scheduler-controller.ts does).
import { podType, type ReplicationController, replicationControllerType } from "../../api/kinds/index.js";
import type { KubeObject } from "../../api/object.js";
import type { Logger } from "../../util/log.js";
import { isNotFound } from "../runtime/client.js";
import { refOf } from "../runtime/events.js";
import type { Controller, ControllerContext } from "../runtime/manager.js";
import { type ReconcileOutcome, WorkQueue } from "../runtime/workqueue.js";
import { controllerOf, podNodeName, podPhase, podReady } from "./pods.js";
import { planReplicas, podFromTemplate, type ReplicaPod } from "./replicas.js";

/** Give up waiting for a created pod to appear in the cache after this long. */
const EXPECTATION_TIMEOUT_MS = 30_000;

export class ReplicationControllerController implements Controller {
  readonly name = "replicationcontroller";
  private ctx!: ControllerContext;
  private log!: Logger;
  private queue!: WorkQueue;
  /** rc key → pod names created and not yet seen (with creation time). */
  private readonly pendingCreates = new Map<string, Map<string, number>>();
  /** pod key (ns/name) → deletion requested and not yet seen. */
  private readonly pendingDeletes = new Set<string>();
  private started = false;

  setup(ctx: ControllerContext): void {
    this.ctx = ctx;
    this.log = ctx.log.child({ controller: this.name });
    this.queue = new WorkQueue(
      (key) => this.reconcile(key),
      (key, err, attempt) =>
        this.log.warn({ key, err, attempt }, "replicationcontroller sync failed; retrying"),
    );
    // Before start() the caches are still filling: an RC seen before its pods would get replicas
    // it already has. start() queues every RC once the caches are complete.
    ctx.informers.for(replicationControllerType).on((_t, rc) => {
      if (this.started) this.queue.add(`${rc.metadata.namespace}/${rc.metadata.name}`);
    });
    ctx.informers.for(podType).on((type, pod) => {
      const owner = controllerOf(pod, "ReplicationController");
      if (!owner) return;
      const rcKey = `${pod.metadata.namespace}/${owner.name}`;
      const podName = pod.metadata.name ?? "";
      this.pendingCreates.get(rcKey)?.delete(podName);
      if (type === "delete") this.pendingDeletes.delete(`${pod.metadata.namespace}/${podName}`);
      if (this.started) this.queue.add(rcKey);
    });
  }

  start(): void {
    this.started = true;
    for (const rc of this.ctx.informers.for(replicationControllerType).list())
      this.queue.add(`${rc.metadata.namespace}/${rc.metadata.name}`);
  }

  stop(): void {
    this.started = false;
    this.queue?.stop();
  }

  private async reconcile(key: string): Promise<ReconcileOutcome> {
    const [ns = "", name = ""] = key.split("/");
    const obj = this.ctx.informers.for(replicationControllerType).get(name, ns);
    if (!obj || obj.metadata.deletionTimestamp) {
      this.pendingCreates.delete(key);
      return undefined; // owned pods are garbage-collected through their ownerReferences
    }
    const rc = obj as unknown as ReplicationController;
    const uid = obj.metadata.uid ?? "";
    const owned = this.ctx.informers
      .for(podType)
      .list(ns)
      .filter((p) => controllerOf(p, "ReplicationController")?.uid === uid);
    const pods: ReplicaPod[] = owned.map((p) => {
      const nodeName = podNodeName(p);
      const phase = podPhase(p);
      return {
        name: p.metadata.name ?? "",
        ...(p.metadata.creationTimestamp ? { creationTimestamp: p.metadata.creationTimestamp } : {}),
        ...(nodeName ? { nodeName } : {}),
        ...(phase ? { phase } : {}),
        ready: podReady(p),
        deleting: !!p.metadata.deletionTimestamp || this.pendingDeletes.has(`${ns}/${p.metadata.name}`),
      };
    });
    const pending = this.pendingCreates.get(key) ?? new Map<string, number>();
    const now = Date.now();
    for (const [n, t] of pending) if (now - t > EXPECTATION_TIMEOUT_MS) pending.delete(n);
    const plan = planReplicas(rc.spec?.replicas ?? 1, pods, pending.size, obj.metadata.generation);

    for (let i = 0; i < plan.create; i++) {
      const pod = podFromTemplate({ namespace: ns, name, uid, template: rc.spec?.template ?? {} });
      const created = await this.ctx.client.create(podType, pod as unknown as KubeObject);
      const podName = created.metadata.name ?? "";
      // Only remember it if the cache has not already delivered it.
      if (!this.ctx.informers.for(podType).get(podName, ns)) pending.set(podName, Date.now());
      this.pendingCreates.set(key, pending);
      void this.ctx.recorder.record(refOf(obj), "Normal", "SuccessfulCreate", `Created pod: ${podName}`);
    }
    for (const podName of plan.delete) {
      this.pendingDeletes.add(`${ns}/${podName}`);
      try {
        await this.ctx.client.delete(podType, ns, podName);
      } catch (e) {
        this.pendingDeletes.delete(`${ns}/${podName}`);
        if (!isNotFound(e)) throw e;
      }
      void this.ctx.recorder.record(refOf(obj), "Normal", "SuccessfulDelete", `Deleted pod: ${podName}`);
    }

    const have = rc.status;
    const want = plan.status;
    if (
      have?.replicas !== want.replicas ||
      (have.readyReplicas ?? 0) !== want.readyReplicas ||
      (have.availableReplicas ?? 0) !== want.availableReplicas ||
      (have.fullyLabeledReplicas ?? 0) !== want.fullyLabeledReplicas ||
      have.observedGeneration !== want.observedGeneration
    ) {
      try {
        await this.ctx.client.patch(replicationControllerType, ns, name, { status: want }, "merge", "status");
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    }
    return undefined;
  }
}
