// NetNamespace controller (MISSION §5): keeps one NetNamespace per Namespace (netname = name,
// `default` and --global-namespaces → netid 0, others a free id in 10..16777215), deletes it when
// its Namespace is gone, and applies then removes the change-network annotation
// (`pod.network.openshift.io/multitenant.change-network`: global | join:<ns> | isolate) that
// `egress adm pod-network` sets. Renumbering happens only in multitenant mode; in the other modes
// the annotation is refused with a Warning and removed. A thin shell around the pure
// reconcileNetNamespaces (netid.ts): one cluster-wide work-queue key, decisions from the informer
// caches, only changes written. It must not decide anything itself.
import { type NetNamespace, namespaceType, netNamespaceType } from "../../api/kinds/index.js";
import type { KubeObject } from "../../api/object.js";
import type { DecisionEvent } from "../common/decision.js";
import { isAlreadyExists, isNotFound } from "../runtime/client.js";
import { forEachLimited } from "../runtime/concurrency.js";
import { EventDedup } from "../runtime/dedup.js";
import { refOf } from "../runtime/events.js";
import { WriteExpectations } from "../runtime/expectations.js";
import type { Controller, ControllerContext, SharedInformer } from "../runtime/manager.js";
import { type ReconcileOutcome, WorkQueue } from "../runtime/workqueue.js";
import { CHANGE_NETWORK_ANNOTATION, type NetNamespaceState, reconcileNetNamespaces } from "./netid.js";

const KEY = "netnamespaces";
/** Parallel writes when many NetNamespaces are created or deleted at once (the HTTP/1.1 keep-alive
 *  agent then uses a small pool of connections). */
const WRITE_CONCURRENCY = 16;

/** JSON-pointer path of the change-network annotation (`/` escaped as `~1`). */
const ANNOTATION_PATH = `/metadata/annotations/${CHANGE_NETWORK_ANNOTATION.replace(/~/g, "~0").replace(/\//g, "~1")}`;

export class NetNamespaceController implements Controller {
  readonly name = "netnamespace";
  private ctx!: ControllerContext;
  private namespaces!: SharedInformer;
  private netNamespaces!: SharedInformer;
  private queue!: WorkQueue;
  private started = false;
  private readonly expect = new WriteExpectations();
  private readonly dedup = new EventDedup();

  setup(ctx: ControllerContext): void {
    this.ctx = ctx;
    this.namespaces = ctx.informers.for(namespaceType);
    this.netNamespaces = ctx.informers.for(netNamespaceType);
    this.queue = new WorkQueue(
      () => this.reconcile(),
      (_key, err, attempt) => ctx.log.warn({ err, attempt, controller: this.name }, "reconcile failed"),
    );
    const enqueue = () => {
      // Before start() the caches are still filling: deciding then would create duplicates.
      if (this.started) this.queue.add(KEY);
    };
    this.namespaces.on(enqueue);
    this.netNamespaces.on(enqueue);
  }

  start(): void {
    this.started = true;
    this.queue.add(KEY);
  }

  stop(): void {
    this.started = false;
    this.queue?.stop();
  }

  /** Resolves when no reconcile is queued or running (tests). */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  private async reconcile(): Promise<ReconcileOutcome> {
    if (!this.expect.satisfied((n) => this.netNamespaces.get(n))) return { requeueAfterMs: 20 };
    const multitenant = this.ctx.options.networkMode === "multitenant";
    const nsObjs = this.namespaces.list();
    const terminating = new Set(
      nsObjs.filter((n) => n.metadata.deletionTimestamp).map((n) => n.metadata.name ?? ""),
    );
    const nnObjs = new Map(this.netNamespaces.list().map((o) => [o.metadata.name ?? "", o]));
    const events: DecisionEvent[] = [];
    const refuse: string[] = [];
    const states: NetNamespaceState[] = [];
    for (const [name, o] of nnObjs) {
      const nn = o as unknown as NetNamespace;
      const change = o.metadata.annotations?.[CHANGE_NETWORK_ANNOTATION];
      const s: NetNamespaceState = { name, netid: nn.netid };
      if (change !== undefined) {
        if (multitenant) s.changeNetwork = change;
        else {
          refuse.push(name);
          events.push({
            type: "Warning",
            reason: "ChangeNetworkRefused",
            message: `NetNamespace ${name}: annotation ${CHANGE_NETWORK_ANNOTATION}=${JSON.stringify(change)} refused: the cluster network mode is ${this.ctx.options.networkMode}; project networks can be changed only in multitenant mode. The annotation was removed.`,
            object: { kind: "NetNamespace", name },
          });
        }
      }
      states.push(s);
    }
    const r = reconcileNetNamespaces({
      namespaces: nsObjs.map((n) => n.metadata.name ?? ""),
      netNamespaces: states,
      globalNamespaces: this.ctx.options.globalNamespaces,
    });
    events.push(...r.events);

    const c = this.ctx.client;
    await forEachLimited(r.delete, WRITE_CONCURRENCY, async (name) => {
      const o = nnObjs.get(name);
      try {
        await c.delete(netNamespaceType, "", name);
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
      this.expect.deleted(name, o?.metadata.uid);
      this.ctx.log.info({ netnamespace: name, netid: o?.netid }, "deleted NetNamespace");
    });
    // Creates go out WRITE_CONCURRENCY at a time: a new cluster has thousands of Namespaces at
    // once (10,000 one request at a time took most of the control plane's convergence). Every
    // create is attempted; the first failure is rethrown afterwards and the queue retries.
    await forEachLimited(r.create, WRITE_CONCURRENCY, async ({ name, netid }) => {
      // A Namespace being deleted gets no new NetNamespace (it would be deleted right after).
      if (terminating.has(name)) return;
      const obj: KubeObject = {
        apiVersion: "network.openshift.io/v1",
        kind: "NetNamespace",
        metadata: { name },
        netname: name,
        netid,
      };
      try {
        this.expect.written(await c.create<KubeObject>(netNamespaceType, obj));
        this.ctx.log.info({ netnamespace: name, netid }, "created NetNamespace");
      } catch (e) {
        // Exists but not cached yet: the watch brings it and the next run decides again.
        if (!isAlreadyExists(e)) throw e;
      }
    });
    for (const u of [...r.update, ...refuse.map((name) => ({ name, netid: undefined }))]) {
      const o = nnObjs.get(u.name);
      const value = o?.metadata.annotations?.[CHANGE_NETWORK_ANNOTATION];
      if (!o || value === undefined) continue;
      // `test` makes the patch atomic: if the annotation changed since we read it, the patch fails
      // (and is retried with the new value) instead of removing a request we never applied.
      const ops: unknown[] = [{ op: "test", path: ANNOTATION_PATH, value }];
      if (u.netid !== undefined && u.netid !== (o as unknown as NetNamespace).netid)
        ops.push({ op: "replace", path: "/netid", value: u.netid });
      ops.push({ op: "remove", path: ANNOTATION_PATH });
      try {
        this.expect.written(await c.patch<KubeObject>(netNamespaceType, "", u.name, ops, "json"));
      } catch (e) {
        if (isNotFound(e)) continue;
        throw e;
      }
      this.ctx.log.info(
        { netnamespace: u.name, change: value, netid: u.netid, refused: u.netid === undefined },
        "applied change-network annotation",
      );
    }
    for (const ev of this.dedup.fresh(events)) {
      const o = nnObjs.get(ev.object.name);
      const ref = o ? refOf(o) : { kind: ev.object.kind, name: ev.object.name };
      await this.ctx.recorder.record(ref, ev.type, ev.reason, ev.message);
    }
    return undefined;
  }
}
