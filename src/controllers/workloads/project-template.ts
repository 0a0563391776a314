// Project template controller: gives each new Namespace the default NetworkPolicies of the project
// template (ConfigMap openshift-config/project-template, created with the seed's two policies when
// absent at start). Skips default, kube-*, openshift-* and namespaces older than the template;
// marks a namespace once done so deleted policies are not recreated. Thin shell around
// template.ts; must not change policies that already exist.
import { configMapType, namespaceType, networkPolicyType } from "../../api/kinds/index.js";
import type { KubeObject } from "../../api/object.js";
import type { Logger } from "../../util/log.js";
import { isAlreadyExists, isNotFound } from "../runtime/client.js";
import { refOf } from "../runtime/events.js";
import type { Controller, ControllerContext } from "../runtime/manager.js";
import { type ReconcileOutcome, WorkQueue } from "../runtime/workqueue.js";
import { EventLatch, stringMap } from "./pods.js";
import {
  DEFAULT_TEMPLATE_DATA,
  TEMPLATE_APPLIED_ANNOTATION,
  TEMPLATE_NAME,
  TEMPLATE_NAMESPACE,
  templatePolicies,
  templateSkipReason,
} from "./template.js";

const ENSURE = "\u0000ensure-template";
/** The controller reads one ConfigMap: its informer lists and watches only that one. */
const TEMPLATE_SCOPE = { namespace: TEMPLATE_NAMESPACE, name: TEMPLATE_NAME };

export class ProjectTemplateController implements Controller {
  readonly name = "project-template";
  private ctx!: ControllerContext;
  private log!: Logger;
  private queue!: WorkQueue;
  private readonly latch = new EventLatch();

  setup(ctx: ControllerContext): void {
    this.ctx = ctx;
    this.log = ctx.log.child({ controller: this.name });
    this.queue = new WorkQueue(
      (key) => (key === ENSURE ? this.ensureTemplate() : this.reconcile(key)),
      (key, err, attempt) => this.log.warn({ key, err, attempt }, "project template sync failed; retrying"),
    );
    ctx.informers.for(namespaceType).on((type, ns) => {
      if (type !== "delete") this.queue.add(ns.metadata.name ?? "");
    });
    ctx.informers.for(configMapType, TEMPLATE_SCOPE).on((type, cm) => {
      if (cm.metadata.namespace !== TEMPLATE_NAMESPACE || cm.metadata.name !== TEMPLATE_NAME) return;
      if (type === "delete") return;
      // A (new) template may apply to namespaces created meanwhile.
      for (const ns of ctx.informers.for(namespaceType).list()) this.queue.add(ns.metadata.name ?? "");
    });
  }

  start(): void {
    this.queue.add(ENSURE);
    for (const ns of this.ctx.informers.for(namespaceType).list()) this.queue.add(ns.metadata.name ?? "");
  }

  stop(): void {
    this.queue?.stop();
  }

  /** Creates openshift-config and the template ConfigMap with the seed's policies if absent. */
  private async ensureTemplate(): Promise<ReconcileOutcome> {
    if (this.ctx.informers.for(configMapType, TEMPLATE_SCOPE).get(TEMPLATE_NAME, TEMPLATE_NAMESPACE))
      return undefined;
    try {
      await this.ctx.client.create(namespaceType, {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name: TEMPLATE_NAMESPACE },
      });
    } catch (e) {
      if (!isAlreadyExists(e)) throw e;
    }
    try {
      await this.ctx.client.create(configMapType, {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: TEMPLATE_NAME, namespace: TEMPLATE_NAMESPACE },
        data: DEFAULT_TEMPLATE_DATA,
      });
      this.log.info(
        { configmap: `${TEMPLATE_NAMESPACE}/${TEMPLATE_NAME}` },
        "created the default project template",
      );
    } catch (e) {
      if (!isAlreadyExists(e)) throw e;
    }
    return undefined;
  }

  private async reconcile(name: string): Promise<ReconcileOutcome> {
    const ns = this.ctx.informers.for(namespaceType).get(name);
    if (!ns) return undefined;
    const template = this.ctx.informers
      .for(configMapType, TEMPLATE_SCOPE)
      .get(TEMPLATE_NAME, TEMPLATE_NAMESPACE);
    const skip = templateSkipReason(
      {
        name,
        ...(ns.metadata.creationTimestamp ? { creationTimestamp: ns.metadata.creationTimestamp } : {}),
        ...(ns.metadata.annotations ? { annotations: ns.metadata.annotations } : {}),
        terminating:
          !!ns.metadata.deletionTimestamp ||
          (ns.status as { phase?: unknown } | undefined)?.phase === "Terminating",
      },
      template?.metadata.creationTimestamp,
    );
    if (skip !== undefined || !template) return undefined;
    const { policies, errors } = templatePolicies(stringMap((template as { data?: unknown }).data), name);
    const live = new Set<string>();
    for (const err of errors) {
      live.add(err.message);
      if (this.latch.fire(err.message, "InvalidProjectTemplate", err.message))
        void this.ctx.recorder.record(refOf(template), "Warning", "InvalidProjectTemplate", err.message);
    }
    this.latch.retain(live);
    const created: string[] = [];
    for (const np of policies) {
      try {
        await this.ctx.client.create(networkPolicyType, np as KubeObject);
        created.push(np.metadata.name ?? "");
      } catch (e) {
        if (isAlreadyExists(e)) continue; // the user's own policy of that name wins
        if (isNotFound(e)) return undefined; // namespace gone
        const msg = `NetworkPolicy ${np.metadata.name} for namespace ${name}: ${(e as Error).message}`;
        if (this.latch.fire(msg, "InvalidProjectTemplate", msg))
          void this.ctx.recorder.record(refOf(template), "Warning", "InvalidProjectTemplate", msg);
      }
    }
    try {
      await this.ctx.client.patch(
        namespaceType,
        "",
        name,
        {
          metadata: {
            annotations: { [TEMPLATE_APPLIED_ANNOTATION]: policies.map((p) => p.metadata.name).join(",") },
          },
        },
        "merge",
      );
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    if (created.length > 0) this.log.info({ namespace: name, policies: created }, "project template applied");
    return undefined;
  }
}
