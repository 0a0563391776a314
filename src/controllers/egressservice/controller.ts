// EgressService controller (MISSION §3): elects the host node of every EgressService with
// electEgressServiceHosts, writes status.host (status subresource, only on change) and keeps the
// node label `egress-service.k8s.ovn.org/<ns>-<name>: ""` on exactly the elected node. One
// cluster-wide work item: the election balances hosts across all services, and coalescing turns
// bursts of node/endpoint events into one run. Thin shell: every decision is in elect.ts; this
// module only reads caches, writes differences and records Events. Never throws through informer
// handlers; failed writes are retried through the queue.
import { egressServiceType, endpointsType, nodeType, serviceType } from "../../api/kinds/index.js";
import type { KubeObject } from "../../api/object.js";
import { labelKeyProblem } from "../../api/selector.js";
import type { DecisionEvent } from "../common/decision.js";
import { isConflict, isNotFound } from "../runtime/client.js";
import { EventDedup, emitFresh } from "../runtime/dedup.js";
import { refOf } from "../runtime/events.js";
import { WriteExpectations } from "../runtime/expectations.js";
import type { Controller, ControllerContext, SharedInformer } from "../runtime/manager.js";
import { type ReconcileOutcome, WorkQueue } from "../runtime/workqueue.js";
import {
  EGRESS_SERVICE_LABEL_PREFIX,
  type EgressServiceDecision,
  type EgressServiceInput,
  egressServiceLabel,
  electEgressServiceHosts,
  HOST_ALL,
  nodeLabelChanges,
} from "./elect.js";
import {
  currentHost,
  endpointsElectionPrint,
  isLocalPolicy,
  serviceElectionPrint,
  toEgressServiceInput,
  toESNode,
} from "./inputs.js";
import { NodeSelectorIndex } from "./node-index.js";

/** Whether a node answers its health probe. The EgressIP prober (src/controllers/egressip/prober.ts)
 *  is meant to be shared through this interface; without one every node counts as reachable and
 *  only the Ready condition decides. */
export interface NodeReachability {
  isReachable(node: string): boolean;
  /** Registers a listener called when a node's reachability changes; returns an unsubscribe. */
  onChange(listener: (node: string) => void): () => void;
}

export const alwaysReachable: NodeReachability = {
  isReachable: () => true,
  onChange: () => () => {},
};

export interface EgressServiceControllerOptions {
  reachability?: NodeReachability;
  /** How long to wait for the informer cache to show our own writes before deciding again. */
  expectationTimeoutMs?: number;
}

const KEY = "egressservices";
/** No-host reasons that are usually transient; their Events wait until the state has lasted. */
const TRANSIENT_REASONS = new Set(["NoIngressIP", "NoEndpoints"]);
const TRANSIENT_HOLD_MS = 5000;

/** Why there is no host, as a user should read it on the EgressService. */
function noHostEvent(d: EgressServiceDecision, svcType: string | undefined): DecisionEvent | undefined {
  const svc = `Service ${d.namespace}/${d.name}`;
  const object = { kind: "EgressService", namespace: d.namespace, name: d.name };
  switch (d.reason) {
    case "ServiceNotFound":
      return {
        type: "Warning",
        reason: "ServiceNotFound",
        message: `${svc} does not exist; no host`,
        object,
      };
    case "NotLoadBalancer":
      return {
        type: "Warning",
        reason: "NotLoadBalancer",
        message: `${svc} is of type ${svcType ?? "ClusterIP"}, not LoadBalancer; no host`,
        object,
      };
    case "NoIngressIP":
      return {
        type: "Normal",
        reason: "NoIngressIP",
        message: `${svc} has no load-balancer ingress IP yet; no host`,
        object,
      };
    case "NoEndpoints":
      return {
        type: "Normal",
        reason: "NoEndpoints",
        message: `${svc} has no ready endpoints; no host`,
        object,
      };
    default:
      return undefined;
  }
}

export class EgressServiceController implements Controller {
  readonly name = "egressservice";
  private ctx: ControllerContext | undefined;
  private queue: WorkQueue | undefined;
  private running = false;
  private unsubscribe: (() => void) | undefined;
  private readonly reach: NodeReachability;
  private readonly expectationTimeoutMs: number;
  private expectations = new WriteExpectations();
  private events = new EventDedup();
  /** What election reads of each node (Ready, reachable, labels), matched per distinct
   *  nodeSelector; heartbeats that change none of it are ignored. */
  private index = new NodeSelectorIndex();
  /** Nodes carrying at least one egress-service label (the only ones whose labels may need
   *  removals besides the elected hosts). */
  private labelled = new Set<string>();
  /** What the last event of each Service / Endpoints (of an existing EgressService) showed the
   *  election; an event that keeps it starts no run. */
  private svcPrints = new Map<string, string>();
  private epPrints = new Map<string, string>();
  /** Node objects (as cached) whose egress-service labels were found to be exactly the wanted
   *  keys (joined); a run skips them while the wanted keys stay the same. */
  private labelsDone = new WeakMap<KubeObject, string>();
  /** The election input per cached EgressService object, with the Service and Endpoints objects
   *  it was made from (the decision does not modify its inputs). */
  private inputs = new WeakMap<
    KubeObject,
    { svc: KubeObject | undefined; ep: KubeObject | undefined; input: EgressServiceInput }
  >();
  /** labelKeyProblem per label key (the same 1,000 keys are checked on every run). */
  private keyProblems = new Map<string, string | undefined>();
  /** First run (controller clock) that reported each transient no-host state still present. */
  private transientSince = new Map<string, number>();
  /** Election runs so far (tests: an Endpoints write that keeps the node set must not add one). */
  private runs = 0;
  private inf:
    | { es: SharedInformer; svc: SharedInformer; ep: SharedInformer; node: SharedInformer }
    | undefined;

  constructor(opts: EgressServiceControllerOptions = {}) {
    this.reach = opts.reachability ?? alwaysReachable;
    this.expectationTimeoutMs = opts.expectationTimeoutMs ?? 2000;
  }

  setup(ctx: ControllerContext): void {
    this.ctx = ctx;
    this.running = false;
    this.expectations = new WriteExpectations(this.expectationTimeoutMs);
    this.index = new NodeSelectorIndex();
    this.labelled = new Set();
    this.svcPrints = new Map();
    this.transientSince = new Map();
    this.epPrints = new Map();
    this.events = new EventDedup();
    const log = ctx.log.child({ controller: this.name });
    this.queue = new WorkQueue(
      () => this.reconcile(),
      (_key, err, attempt) =>
        isConflict(err)
          ? log.debug({ attempt }, "egress service sync conflicted; retrying")
          : log.warn({ err, attempt }, "egress service sync failed; retrying"),
    );
    const inf = {
      es: ctx.informers.for(egressServiceType),
      svc: ctx.informers.for(serviceType),
      ep: ctx.informers.for(endpointsType),
      node: ctx.informers.for(nodeType),
    };
    this.inf = inf;
    inf.es.on(() => this.enqueue());
    // Services and Endpoints matter only when an EgressService of the same name exists, and then
    // only for what the election reads of them (serviceElectionPrint / endpointsElectionPrint): pod
    // churn rewrites Endpoints constantly, mostly without changing their nodes, and each run
    // re-elects every service. The prints are kept per key while an EgressService exists; every
    // event that changes one starts a run, and a run reads the current caches, so skipping the
    // others cannot miss a change.
    const filtered =
      (
        prints: Map<string, string>,
        print: (obj: KubeObject | undefined, key: [string, string]) => string | undefined,
      ) =>
      (type: "add" | "update" | "delete", obj: KubeObject) => {
        const name = obj.metadata.name ?? "";
        const ns = obj.metadata.namespace ?? "";
        const key = `${ns}/${name}`;
        if (!inf.es.get(name, ns)) {
          prints.delete(key);
          return;
        }
        const p = print(type === "delete" ? undefined : obj, [ns, name]);
        if (p !== undefined && prints.get(key) === p) return;
        if (p === undefined) prints.delete(key);
        else prints.set(key, p);
        this.enqueue();
      };
    inf.svc.on(filtered(this.svcPrints, (svc) => serviceElectionPrint(svc)));
    inf.ep.on(
      filtered(this.epPrints, (ep, [ns, name]) =>
        endpointsElectionPrint(ep, isLocalPolicy(inf.svc.get(name, ns))),
      ),
    );
    inf.node.on((type, obj) => {
      const name = obj.metadata.name ?? "";
      if (type === "delete") {
        this.labelled.delete(name);
        if (this.index.deleteNode(name)) this.enqueue();
        return;
      }
      const labels = obj.metadata.labels ?? {};
      if (Object.keys(labels).some((k) => k.startsWith(EGRESS_SERVICE_LABEL_PREFIX))) this.labelled.add(name);
      else this.labelled.delete(name);
      if (this.index.setNode(toESNode(obj, this.reach.isReachable(name)))) this.enqueue();
    });
  }

  start(): void {
    this.running = true;
    this.unsubscribe = this.reach.onChange((node) => {
      if (this.index.setReachable(node, this.reach.isReachable(node))) this.enqueue();
    });
    // Reachability may have changed while the caches filled.
    for (const n of this.inf?.node.list() ?? []) {
      const name = n.metadata.name ?? "";
      this.index.setReachable(name, this.reach.isReachable(name));
    }
    this.enqueue();
  }

  stop(): void {
    this.running = false;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.queue?.stop();
  }

  /** How many elections ran (each run elects every EgressService). */
  get electionRuns(): number {
    return this.runs;
  }

  /** Resolves when no sync is queued or running (tests, benchmarks). */
  idle(): Promise<void> {
    return this.queue?.idle() ?? Promise.resolve();
  }

  private enqueue(): void {
    // Before start() the caches are still filling; start() enqueues once they are complete.
    if (this.running) this.queue?.add(KEY);
  }

  private lookup(key: string): KubeObject | undefined {
    const [kind, ns, name] = JSON.parse(key) as [string, string, string];
    const inf = this.inf!;
    return kind === "Node" ? inf.node.get(name) : inf.es.get(name, ns);
  }

  private async reconcile(): Promise<ReconcileOutcome> {
    const ctx = this.ctx!;
    const inf = this.inf!;
    // A cache that does not show our last writes yet would re-elect from stale hosts.
    if (!this.expectations.satisfied((k) => this.lookup(k))) return { requeueAfterMs: 10 };

    const ess = inf.es.list().filter((es) => !es.metadata.deletionTimestamp);
    const esByKey = new Map(ess.map((es) => [`${es.metadata.namespace}/${es.metadata.name}`, es]));
    const inputs = ess.map((es) => {
      const ns = es.metadata.namespace;
      const name = es.metadata.name ?? "";
      const svc = inf.svc.get(name, ns);
      const ep = inf.ep.get(name, ns);
      // The informers replace an object on every change: the same three objects give the same
      // input, so a run after one node event does not re-read 1,000 services' Endpoints.
      const memo = this.inputs.get(es);
      if (memo && memo.svc === svc && memo.ep === ep) return memo.input;
      const input = toEgressServiceInput(es, svc, ep);
      this.inputs.set(es, { svc, ep, input });
      return input;
    });
    this.runs++;
    const result = electEgressServiceHosts(inputs, this.index);
    const events = [...result.events];

    // Label keys longer than a label name allows cannot be written; say so instead of failing forever.
    for (const [node, keys] of result.nodeLabels) {
      const valid = keys.filter((k) => {
        const problem = this.labelKeyProblem(k);
        if (!problem) return true;
        const [ns, name] = splitLabelOwner(k, result.decisions);
        events.push({
          type: "Warning",
          reason: "InvalidNodeLabel",
          message: `cannot label node ${node} with ${JSON.stringify(k)}: ${problem}`,
          object: { kind: "EgressService", namespace: ns, name },
        });
        return false;
      });
      result.nodeLabels.set(node, valid);
    }

    // status.host and label removals go out together; label additions only after the removals, so
    // at most one node carries a service's label at any time (BGP advertises from labelled nodes).
    // Failover latency is therefore two round trips for the label, one for status.host.
    const first: (() => Promise<void>)[] = [];
    const second: (() => Promise<void>)[] = [];
    // Only nodes that carry an egress-service label or must get one can need a label write.
    for (const name of new Set([...this.labelled, ...result.nodeLabels.keys()])) {
      const node = inf.node.get(name);
      if (!node) continue;
      // A node object already found to carry exactly the wanted labels needs no second look (the
      // informer replaces the object on every change, so identity means "unchanged").
      const wantKeys = result.nodeLabels.get(name);
      const want = wantKeys ? wantKeys.join("\n") : "";
      if (this.labelsDone.get(node) === want) continue;
      const ch = nodeLabelChanges(node.metadata.labels ?? {}, wantKeys);
      if (ch.add.length === 0 && ch.remove.length === 0) {
        this.labelsDone.set(node, want);
        continue;
      }
      const write = () => this.patchNodeLabels(name, ch.add, ch.remove);
      // A node that gains and loses labels at once is written in one patch, in the first phase.
      (ch.remove.length > 0 ? first : second).push(write);
    }
    for (const d of result.decisions) {
      const es = esByKey.get(`${d.namespace}/${d.name}`);
      if (!es) continue;
      const before = currentHost(es);
      if (d.reason) {
        // Only the "not LoadBalancer" message names the Service's type.
        const svc = d.reason === "NotLoadBalancer" ? inf.svc.get(d.name, d.namespace) : undefined;
        const ev = noHostEvent(
          d,
          svc ? ((svc.spec as { type?: string } | undefined)?.type ?? "ClusterIP") : undefined,
        );
        if (ev) events.push(ev);
      }
      if (d.host === before) continue;
      if (d.host === "" && before !== "")
        events.push({
          type: "Normal",
          reason: "HostReleased",
          message: `host ${before} released${d.reason ? `: ${d.reason}` : ""}`,
          object: { kind: "EgressService", namespace: d.namespace, name: d.name },
        });
      first.push(() => this.writeHost(es, d.host));
    }
    const failures: unknown[] = [];
    const settle = async (writes: (() => Promise<void>)[]) => {
      for (const r of await Promise.allSettled(writes.map((w) => w())))
        if (r.status === "rejected") failures.push(r.reason);
    };
    await settle(first);
    await settle(second);

    // Transient "no host yet" states (a new Service waits for its address, a Service between two
    // pods) are reported only once they have lasted TRANSIENT_HOLD_MS: a new cluster's 1,000
    // services would otherwise each get a NoIngressIP Event moments before their host.
    const now = Date.now();
    const since = new Map<string, number>();
    let recheck: number | undefined;
    const reported = events.filter((ev) => {
      if (ev.type !== "Normal" || !TRANSIENT_REASONS.has(ev.reason)) return true;
      const k = `${ev.object.namespace ?? ""}/${ev.object.name}/${ev.reason}`;
      const t = this.transientSince.get(k) ?? now;
      since.set(k, t);
      if (now - t >= TRANSIENT_HOLD_MS) return true;
      recheck = Math.min(recheck ?? Number.POSITIVE_INFINITY, t + TRANSIENT_HOLD_MS - now);
      return false;
    });
    this.transientSince = since;
    // Not awaited: Events are best effort (the recorder never throws) and must not hold up the
    // next run behind a burst of them.
    void emitFresh(
      this.events,
      reported,
      (ref) => {
        const obj =
          ref.kind === "EgressService" ? inf.es.get(ref.name, ref.namespace) : inf.node.get(ref.name);
        return obj ? refOf(obj) : undefined;
      },
      (ref, type, reason, message) => ctx.recorder.record(ref, type, reason, message),
    );
    ctx.log.debug(
      {
        controller: this.name,
        services: result.decisions.length,
        hosts: result.decisions.filter((d) => d.host !== "" && d.host !== HOST_ALL).length,
      },
      "egress services synced",
    );
    if (failures.length > 0) throw failures[0];
    return recheck === undefined ? undefined : { requeueAfterMs: Math.max(10, recheck) };
  }

  private labelKeyProblem(key: string): string | undefined {
    if (this.keyProblems.has(key)) return this.keyProblems.get(key);
    if (this.keyProblems.size >= 100_000) this.keyProblems.clear();
    const p = labelKeyProblem(key);
    this.keyProblems.set(key, p);
    return p;
  }

  private async patchNodeLabels(node: string, add: string[], remove: string[]): Promise<void> {
    const labels: Record<string, string | null> = {};
    for (const k of remove) labels[k] = null;
    for (const k of add) labels[k] = "";
    try {
      // No resourceVersion: kubelet heartbeats change nodes constantly, and a merge patch of single
      // label keys cannot undo anyone else's change.
      await this.ctx!.client.patch(nodeType, "", node, { metadata: { labels } }, "merge");
    } catch (e) {
      if (isNotFound(e)) return;
      throw e;
    }
    this.expectations.expect(JSON.stringify(["Node", "", node]), (cached) => {
      const l = cached?.metadata.labels ?? {};
      return (
        cached === undefined || (add.every((k) => l[k] === "") && remove.every((k) => !Object.hasOwn(l, k)))
      );
    });
    this.ctx!.log.info({ controller: this.name, node, add, remove }, "egress service node labels updated");
  }

  private async writeHost(es: KubeObject, host: string): Promise<void> {
    const ns = es.metadata.namespace ?? "";
    const name = es.metadata.name ?? "";
    try {
      await this.ctx!.client.patch(
        egressServiceType,
        ns,
        name,
        { metadata: { resourceVersion: es.metadata.resourceVersion }, status: { host } },
        "merge",
        "status",
      );
    } catch (e) {
      if (isNotFound(e)) return;
      throw e;
    }
    this.expectations.expect(
      JSON.stringify(["EgressService", ns, name]),
      (cached) => cached === undefined || currentHost(cached) === host,
    );
    this.ctx!.log.info(
      { controller: this.name, egressService: `${ns}/${name}`, host },
      "egress service host set",
    );
  }
}

/** The EgressService a label key belongs to (the key joins namespace and name with '-', which is
 *  ambiguous on its own, so look it up among the decisions). */
function splitLabelOwner(key: string, decisions: EgressServiceDecision[]): [string, string] {
  const d = decisions.find((x) => egressServiceLabel(x.namespace, x.name) === key);
  return d ? [d.namespace, d.name] : ["", key];
}
