// Endpoints controller (lab-minimal): keeps an Endpoints object (same name, service labels) for
// every Service with a selector, from the selected pods that have status.podIP
// (endpoint-subsets.ts decides). Services without a selector are left alone (their Endpoints are
// the user's); the Endpoints of a deleted Service with a selector are deleted. Writes only when the
// canonical subsets or labels differ. Thin shell; must not touch pods or services.
import { type Endpoints, endpointsType, podType, type Service, serviceType } from "../../api/kinds/index.js";
import type { KubeObject } from "../../api/object.js";
import type { Logger } from "../../util/log.js";
import { isAlreadyExists, isConflict, isNotFound } from "../runtime/client.js";
import type { Controller, ControllerContext } from "../runtime/manager.js";
import { type ReconcileOutcome, WorkQueue } from "../runtime/workqueue.js";
import { canonicalSubsets, type EndpointSubset, type EpPod, endpointSubsets } from "./endpoint-subsets.js";
import { namedPorts, podIP, podNodeName, podPhase, podReady, stringMap } from "./pods.js";

const hasSelector = (svc: KubeObject) =>
  Object.keys(stringMap((svc.spec as { selector?: unknown } | undefined)?.selector)).length > 0;

export class EndpointsController implements Controller {
  readonly name = "endpoints";
  private ctx!: ControllerContext;
  private log!: Logger;
  private queue!: WorkQueue;
  /** Services with a selector whose Endpoints this controller maintains. */
  private readonly managed = new Set<string>();
  /** Until start() the caches are still filling: an Endpoints computed from a partial pod cache
   *  would be written (and rewritten moments later), so keys queue only once started. */
  private started = false;

  setup(ctx: ControllerContext): void {
    this.ctx = ctx;
    this.log = ctx.log.child({ controller: this.name });
    this.queue = new WorkQueue(
      (key) => this.reconcile(key),
      (key, err, attempt) => this.log.warn({ key, err, attempt }, "endpoints sync failed; retrying"),
    );
    ctx.informers.for(serviceType).on((type, svc) => {
      const key = `${svc.metadata.namespace}/${svc.metadata.name}`;
      if (type === "delete" && hasSelector(svc)) this.managed.add(key);
      if (this.started) this.queue.add(key);
    });
    // Any pod change may change the Endpoints of the services in its namespace (old labels are not
    // known here, so every selecting service of the namespace is re-evaluated; keys coalesce).
    ctx.informers.for(podType).on((_t, pod) => {
      if (!this.started) return;
      for (const svc of ctx.informers.for(serviceType).list(pod.metadata.namespace))
        if (hasSelector(svc)) this.queue.add(`${svc.metadata.namespace}/${svc.metadata.name}`);
    });
    ctx.informers.for(endpointsType).on((_t, ep) => {
      const key = `${ep.metadata.namespace}/${ep.metadata.name}`;
      if (this.started && this.managed.has(key)) this.queue.add(key);
    });
  }

  start(): void {
    this.started = true;
    for (const svc of this.ctx.informers.for(serviceType).list())
      this.queue.add(`${svc.metadata.namespace}/${svc.metadata.name}`);
  }

  stop(): void {
    this.started = false;
    this.queue?.stop();
  }

  private async reconcile(key: string): Promise<ReconcileOutcome> {
    const [ns = "", name = ""] = key.split("/");
    const svcObj = this.ctx.informers.for(serviceType).get(name, ns);
    const current = this.ctx.informers.for(endpointsType).get(name, ns) as unknown as Endpoints | undefined;
    if (!svcObj) {
      if (this.managed.delete(key) && current) {
        try {
          await this.ctx.client.delete(endpointsType, ns, name);
        } catch (e) {
          if (!isNotFound(e)) throw e;
        }
      }
      return undefined;
    }
    if (!hasSelector(svcObj)) return undefined;
    this.managed.add(key);
    const svc = svcObj as unknown as Service;
    const pods: EpPod[] = this.ctx.informers
      .for(podType)
      .list(ns)
      .map((p) => {
        const ip = podIP(p);
        const nodeName = podNodeName(p);
        const phase = podPhase(p);
        return {
          namespace: ns,
          name: p.metadata.name ?? "",
          ...(p.metadata.uid ? { uid: p.metadata.uid } : {}),
          labels: p.metadata.labels ?? {},
          ...(ip ? { podIP: ip } : {}),
          ...(nodeName ? { nodeName } : {}),
          ...(phase ? { phase } : {}),
          ready: podReady(p),
          terminating: !!p.metadata.deletionTimestamp,
          namedPorts: namedPorts(p),
        };
      });
    const spec = svc.spec as {
      selector?: Record<string, string>;
      ports?: { name?: string; port: number; protocol?: string; targetPort?: number | string }[];
      publishNotReadyAddresses?: boolean;
    };
    const subsets = endpointSubsets(
      {
        selector: spec.selector ?? {},
        ports: spec.ports ?? [],
        ...(spec.publishNotReadyAddresses ? { publishNotReadyAddresses: true } : {}),
      },
      pods,
    );
    const labels = svcObj.metadata.labels ?? {};
    if (current) {
      const same =
        canonicalSubsets(current.subsets as EndpointSubset[] | undefined) === canonicalSubsets(subsets) &&
        JSON.stringify(current.metadata.labels ?? {}) === JSON.stringify(labels);
      if (same) return undefined;
      const next = {
        ...(current as unknown as KubeObject),
        metadata: { ...current.metadata, labels },
        subsets,
      };
      try {
        await this.ctx.client.update(endpointsType, next);
      } catch (e) {
        if (isConflict(e)) return { requeueAfterMs: 20 };
        throw e;
      }
      return undefined;
    }
    try {
      await this.ctx.client.create(endpointsType, {
        apiVersion: "v1",
        kind: "Endpoints",
        metadata: { name, namespace: ns, labels },
        subsets,
      });
    } catch (e) {
      if (isAlreadyExists(e)) return { requeueAfterMs: 20 }; // cache behind: compare on the next run
      throw e;
    }
    return undefined;
  }
}
