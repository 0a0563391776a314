// The EgressIP controller (MISSION §1): a thin shell around the EgressIP assigner (assign.ts; the
// incremental EgressIPAssigner, equal to assignEgressIPs). Any relevant change (Node, EgressIP,
// CloudPrivateIPConfig, reachability) queues one cluster-wide key, so a burst of events is one
// recomputation. It writes EgressIP status only where it changed, removals before additions (an IP
// that moves between two EgressIPs: two passes; within one EgressIP: one write), manages CloudPrivateIPConfig objects on clouds (status lists an IP only
// once the cloud confirmed it), records each distinct problem once as an Event and keeps the
// upstream metrics. It must not decide placement itself: that is assign.ts.
import {
  cloudPrivateIPConfigName,
  cloudPrivateIPConfigType,
  egressIPType,
  namespaceType,
  nodeType,
  podType,
} from "../../api/kinds/index.js";
import { isRecord, type KubeObject } from "../../api/object.js";
import type { LabelSelector } from "../../api/selector.js";
import type { Logger } from "../../util/log.js";
import { addrKey, parseAddr } from "../common/addr.js";
import { compareStrings } from "../common/decision.js";
import { isAlreadyExists, isConflict, isNotFound } from "../runtime/client.js";
import { EventDedup, type KeyedEvent } from "../runtime/dedup.js";
import { refOf } from "../runtime/events.js";
import { resourceVersionAtLeast } from "../runtime/expectations.js";
import type { Controller, ControllerContext, SharedInformer } from "../runtime/manager.js";
import { type ReconcileOutcome, WorkQueue } from "../runtime/workqueue.js";
import { EgressIPAssigner, type EgressIPObject, type EgressIPStatusItem } from "./assign.js";
import { type EgressIPMetrics, egressIPMetrics } from "./metrics.js";
import { type EgressNode, isCloud, type Platform } from "./node.js";
import { type PodSelectionResult, selectPodsForEgressIPs, standbyEvents } from "./pods.js";
import { type ProbeFn, Prober } from "./prober.js";
import {
  clampCloudCapacity,
  cloudStateOf,
  EGRESSIP_OWNER_ANNOTATION,
  egressFingerprint,
  healthEndpointOf,
  isEgressAssignable,
  itemKey,
  sameItems,
  statusItemsOf,
  type TranslatedNode,
  toEgressIPObject,
  toEgressNode,
} from "./translate.js";

export interface EgressIPControllerOptions {
  /** Probe period per node (ms). Default: options.egressIPReachabilityIntervalMs, else 100. */
  probeIntervalMs?: number;
  /** Consecutive failed probes before a node is unreachable. Default:
   *  options.egressIPReachabilityFailures, else 2. */
  probeFailures?: number;
  /** Replaces the HTTP probe (tests). */
  probe?: ProbeFn;
  /** Delay before pod/namespace changes re-check standby EgressIPs (ms, default 100). */
  podDebounceMs?: number;
  /** How long a node stays clamped after the cloud refused an IP on it (ms, default 30 s). */
  cloudRetryMs?: number;
}

/** Extra ControlPlaneOptions this controller reads when present (not yet in manager.ts). */
interface ExtraOptions {
  egressIPReachabilityIntervalMs?: number;
  egressIPReachabilityFailures?: number;
}

const ASSIGN = "assign";
const PODS = "pods";
/** Our own writes are read from here until the informer has caught up (or this long). */
const OVERLAY_MS = 5000;

type Pending = { obj: KubeObject; items: EgressIPStatusItem[] };

export class EgressIPController implements Controller {
  readonly name = "egressip";
  private ctx!: ControllerContext;
  private log!: Logger;
  private queue!: WorkQueue;
  private metrics!: EgressIPMetrics;
  private platform: Platform = "BareMetal";
  private cloud = false;
  private prober: Prober | undefined;
  private readonly reachabilityListeners = new Set<(node: string) => void>();
  /**
   * The probe results for other controllers (EgressService host election, project egress IPs): a
   * probed node that fails is unreachable; nodes not probed (not egress-assignable, or probing off)
   * count as reachable, so Ready alone decides for them.
   */
  readonly reachability = {
    isReachable: (node: string): boolean => this.prober?.isReachable(node) ?? true,
    onChange: (listener: (node: string) => void): (() => void) => {
      this.reachabilityListeners.add(listener);
      return () => this.reachabilityListeners.delete(listener);
    },
  };
  private probeTimeoutMs = 0;
  private nodes!: SharedInformer;
  private eips!: SharedInformer;
  private cpics: SharedInformer | undefined;
  private namespaces!: SharedInformer;
  private pods!: SharedInformer;
  private ready = false;
  private stopped = false;
  private pendingSince: number | undefined;
  private podTimer: NodeJS.Timeout | undefined;
  private readonly fingerprints = new Map<string, string>();
  /** Per Node: its translation while the object is unchanged, plus the unreachable variant, so the
   *  assigner sees the same EgressNode object from run to run. */
  private readonly translated = new Map<
    string,
    TranslatedNode & { rv: string | undefined; unreachable?: EgressNode }
  >();
  private readonly specPrints = new Map<string, string>();
  private readonly overlay = new Map<string, { obj: KubeObject; at: number }>();
  private readonly assignEvents = new EventDedup();
  private readonly podEvents = new EventDedup();
  /** Pod selection is independent per namespace: after a pod or namespace event only that
   *  namespace is selected again; an EgressIP spec change re-selects everything. */
  private podsAll = true;
  private readonly podsDirty = new Set<string>();
  /** namespace → its standby pods (sorted), only namespaces that have any. */
  private readonly standbyByNs = new Map<string, PodSelectionResult["standby"]>();
  private readonly nsLabels = new Map<string, string>();
  /** Nodes the cloud refused an IP on: they take no more than `limit` until one is released. */
  private readonly cloudClamp = new Map<string, { limit: number; at: number }>();
  /** Keeps per-node derived data between runs; fed the same EgressNode objects while a Node is
   *  unchanged (this.translated), so a run after one node event re-derives only that node. */
  private assigner = new EgressIPAssigner();
  /** EgressIP object → assigner input (bare metal: it depends on the object alone). */
  private eipInputs = new WeakMap<KubeObject, EgressIPObject>();

  constructor(private readonly opts: EgressIPControllerOptions = {}) {}

  setup(ctx: ControllerContext): void {
    this.ctx = ctx;
    this.stopped = false;
    this.ready = false;
    this.podsAll = true;
    this.podsDirty.clear();
    this.standbyByNs.clear();
    this.nsLabels.clear();
    this.assigner = new EgressIPAssigner();
    this.eipInputs = new WeakMap();
    this.log = ctx.log.child({ controller: this.name });
    this.platform = ctx.options.platform;
    this.cloud = isCloud(this.platform);
    this.metrics = egressIPMetrics(ctx.metrics);
    const extra = ctx.options as ExtraOptions;
    this.probeTimeoutMs = ctx.options.egressIPReachabilityTimeoutMs;
    if (this.probeTimeoutMs > 0) {
      this.prober = new Prober({
        intervalMs: this.opts.probeIntervalMs ?? extra.egressIPReachabilityIntervalMs ?? 100,
        failures: Math.max(1, this.opts.probeFailures ?? extra.egressIPReachabilityFailures ?? 2),
        timeoutMs: this.probeTimeoutMs,
        ...(this.opts.probe ? { probe: this.opts.probe } : {}),
        onChange: (node, reachable, prev) => {
          if (!reachable && prev === true) this.metrics.nodeUnreachableTotal.inc();
          if (prev !== undefined || !reachable)
            this.log.info({ node, reachable }, "node reachability changed");
          this.trigger();
          for (const l of this.reachabilityListeners) l(node);
        },
      });
    }
    this.queue = new WorkQueue(
      (key) => (key === ASSIGN ? this.reconcileAssign() : this.reconcilePods()),
      (key, err, attempt) => this.log.warn({ err, key, attempt }, "egressip reconcile failed; retrying"),
      { baseDelayMs: 5, maxDelayMs: 5000 },
    );

    this.nodes = ctx.informers.for(nodeType);
    this.eips = ctx.informers.for(egressIPType);
    this.namespaces = ctx.informers.for(namespaceType);
    this.pods = ctx.informers.for(podType);
    if (this.cloud) this.cpics = ctx.informers.for(cloudPrivateIPConfigType);

    this.nodes.on((type, obj) => {
      const name = obj.metadata.name ?? "";
      if (type === "delete") {
        this.fingerprints.delete(name);
        this.translated.delete(name);
        this.prober?.delete(name);
        this.trigger();
        return;
      }
      this.syncProbe(obj);
      const fp = egressFingerprint(obj);
      if (this.fingerprints.get(name) === fp) return;
      this.fingerprints.set(name, fp);
      this.trigger();
    });
    this.eips.on((type, obj) => {
      const name = obj.metadata.name ?? "";
      const o = this.overlay.get(name);
      // The echo of our own last write changes nothing a run reads (runs already read the overlay).
      const echo =
        type !== "delete" &&
        o !== undefined &&
        obj.metadata.resourceVersion === o.obj.metadata.resourceVersion;
      if (
        type === "delete" ||
        (o && resourceVersionAtLeast(obj.metadata.resourceVersion, o.obj.metadata.resourceVersion))
      )
        this.overlay.delete(name);
      const sp =
        type === "delete"
          ? undefined
          : JSON.stringify([obj.metadata.creationTimestamp, obj.metadata.uid, obj.spec]);
      if (this.specPrints.get(name) !== sp) {
        if (sp === undefined) this.specPrints.delete(name);
        else this.specPrints.set(name, sp);
        this.podsAll = true;
        this.triggerPods();
      }
      if (!echo) this.trigger();
    });
    this.cpics?.on(() => this.trigger());
    this.namespaces.on((type, obj) => {
      const name = obj.metadata.name ?? "";
      const labels = type === "delete" ? undefined : JSON.stringify(obj.metadata.labels ?? {});
      if (this.nsLabels.get(name) === labels) return;
      if (labels === undefined) this.nsLabels.delete(name);
      else this.nsLabels.set(name, labels);
      this.podsDirty.add(name);
      this.triggerPods();
    });
    this.pods.on((_type, obj) => {
      this.podsDirty.add(obj.metadata.namespace ?? "");
      this.triggerPods();
    });
  }

  start(): void {
    for (const n of this.nodes.list()) {
      this.fingerprints.set(n.metadata.name ?? "", egressFingerprint(n));
      this.syncProbe(n);
    }
    const go = () => {
      if (this.stopped) return;
      this.ready = true;
      this.trigger();
      this.triggerPods();
    };
    // Before the first probe results every node would look unreachable and lose its IPs.
    if (this.prober) void this.prober.settled(this.probeTimeoutMs + 100).then(go);
    else go();
  }

  stop(): void {
    this.stopped = true;
    this.ready = false;
    this.queue?.stop();
    this.prober?.stop();
    this.prober = undefined;
    if (this.podTimer) clearTimeout(this.podTimer);
    this.podTimer = undefined;
  }

  /** Resolves when nothing is queued or running (tests, benchmarks). */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  private syncProbe(node: KubeObject): void {
    if (!this.prober) return;
    const name = node.metadata.name ?? "";
    if (isEgressAssignable(node)) this.prober.set(name, healthEndpointOf(node));
    else this.prober.delete(name);
  }

  private trigger(): void {
    this.pendingSince ??= performance.now();
    if (this.ready) this.queue.add(ASSIGN);
  }

  private triggerPods(): void {
    if (!this.ready || this.podTimer) return;
    this.podTimer = setTimeout(() => {
      this.podTimer = undefined;
      if (!this.stopped) this.queue.add(PODS);
    }, this.opts.podDebounceMs ?? 100);
    this.podTimer.unref();
  }

  /** The newest EgressIP we know: our own last write until the informer has delivered it. */
  private current(obj: KubeObject): KubeObject {
    const o = this.overlay.get(obj.metadata.name ?? "");
    if (!o) return obj;
    if (performance.now() - o.at > OVERLAY_MS) {
      this.overlay.delete(obj.metadata.name ?? "");
      return obj;
    }
    return o.obj;
  }

  private async reconcileAssign(): Promise<ReconcileOutcome> {
    const since = this.pendingSince;
    this.pendingSince = undefined;
    try {
      const { wrote, retryAfterMs } = await this.assignOnce();
      if (wrote && since !== undefined)
        this.metrics.assignLatency.observe((performance.now() - since) / 1000);
      return retryAfterMs === undefined ? undefined : { requeueAfterMs: retryAfterMs };
    } catch (e) {
      if (since !== undefined) this.pendingSince = Math.min(since, this.pendingSince ?? since);
      throw e;
    }
  }

  private async assignOnce(): Promise<{ wrote: boolean; retryAfterMs?: number }> {
    const now = performance.now();
    const events: KeyedEvent[] = [];
    const eipObjs = this.eips.list().map((o) => this.current(o));
    const eipByName = new Map(eipObjs.map((o) => [o.metadata.name ?? "", o]));

    // Cloud: what the provider has confirmed or refused so far.
    const cpicByName = new Map<string, KubeObject>();
    const confirmedOn = new Map<string, number>();
    let retryAfterMs: number | undefined;
    if (this.cpics) {
      const refusedOn = new Set<string>();
      for (const c of this.cpics.list()) {
        const name = c.metadata.name ?? "";
        cpicByName.set(name, c);
        const st = cloudStateOf(c);
        if (st.state === "confirmed") confirmedOn.set(st.node, (confirmedOn.get(st.node) ?? 0) + 1);
        const owner = c.metadata.annotations?.[EGRESSIP_OWNER_ANNOTATION];
        if (st.state !== "refused" || owner === undefined) continue;
        refusedOn.add(st.node);
        const eip = eipByName.get(owner);
        if (eip)
          events.push({
            type: "Warning",
            reason: "CloudAssignmentFailed",
            message: `the cloud refused egress IP ${name} of EgressIP ${owner} on node ${st.node} (${st.reason}): ${st.message}`,
            object: { kind: "EgressIP", name: owner },
            ...(eip.metadata.uid ? { uid: eip.metadata.uid } : {}),
          });
      }
      const retry = this.opts.cloudRetryMs ?? 30_000;
      for (const n of refusedOn)
        if (!this.cloudClamp.has(n)) this.cloudClamp.set(n, { limit: confirmedOn.get(n) ?? 0, at: now });
      for (const [n, c] of this.cloudClamp)
        if ((confirmedOn.get(n) ?? 0) < c.limit || now - c.at > retry) this.cloudClamp.delete(n);
      if (this.cloudClamp.size > 0) retryAfterMs = retry;
    }

    const nodes: EgressNode[] = [];
    for (const o of this.nodes.list()) {
      const name = o.metadata.name ?? "";
      const reachable = this.prober ? this.prober.isReachable(name) === true : true;
      // Annotation parsing dominates a run on large clusters: reuse it while the object is unchanged.
      let t = this.translated.get(name);
      if (!t || t.rv !== o.metadata.resourceVersion || t.rv === undefined) {
        t = { rv: o.metadata.resourceVersion, ...toEgressNode(o, true) };
        this.translated.set(name, t);
      }
      const { error } = t;
      if (!reachable) t.unreachable ??= { ...t.node, reachable: false };
      const node = reachable || !t.unreachable ? t.node : t.unreachable;
      if (error)
        events.push({
          type: "Warning",
          reason: "InvalidEgressAnnotation",
          message: `${error.message}; the node gets no egress IPs`,
          object: { kind: "Node", name },
          ...(o.metadata.uid ? { uid: o.metadata.uid } : {}),
        });
      const clamp = this.cloudClamp.get(name);
      nodes.push(clamp ? clampCloudCapacity(node, clamp.limit) : node);
    }

    const inputs = eipObjs.map((o) => {
      if (this.cloud) return toEgressIPObject(o, this.cloudView(o, cpicByName));
      let i = this.eipInputs.get(o);
      if (!i) {
        i = toEgressIPObject(o);
        this.eipInputs.set(o, i);
      }
      return i;
    });
    const res = this.assigner.assign({ nodes, egressIPs: inputs, platform: this.platform });
    const computed = performance.now();
    for (const e of res.events) {
      const uid = eipByName.get(e.object.name)?.metadata.uid;
      events.push(uid ? { ...e, uid } : e);
    }

    // Desired status: on clouds only what the provider has confirmed for that node.
    const desired = (name: string): EgressIPStatusItem[] => {
      const items = res.status.get(name) ?? [];
      if (!this.cloud) return items;
      return items.filter((it) => {
        const c = cpicByName.get(cloudPrivateIPConfigName(it.egressIP) ?? "");
        if (!c) return false;
        const st = cloudStateOf(c);
        return st.state === "confirmed" && st.node === it.node;
      });
    };
    const removals: Pending[] = [];
    const additions: { name: string; items: EgressIPStatusItem[] }[] = [];
    const whole: Pending[] = [];
    /** ip → EgressIPs whose stored status loses it in this run. */
    const losing = new Map<string | number, Set<string>>();
    const ipKey = (t: string) => {
      const a = parseAddr(t);
      return a ? addrKey(a) : t;
    };
    let assigned = 0;
    // Bare metal: the assigner's input already holds each stored status (no second parse).
    eipObjs.forEach((o, i) => {
      assigned += this.cloud ? statusItemsOf(o).length : (inputs[i]?.status.length ?? 0);
    });
    const work: { obj: KubeObject; name: string; old: EgressIPStatusItem[]; want: EgressIPStatusItem[] }[] =
      [];
    for (const name of this.cloud ? [...eipByName.keys()] : res.changed) {
      const obj = eipByName.get(name);
      if (!obj) continue;
      const old = statusItemsOf(obj);
      const want = desired(name);
      if (sameItems(old, want)) continue;
      assigned += want.length - old.length;
      work.push({ obj, name, old, want });
      const wantKeys = new Set(want.map(itemKey));
      for (const it of old) {
        if (wantKeys.has(itemKey(it))) continue;
        const k = ipKey(it.egressIP);
        const s = losing.get(k) ?? new Set<string>();
        s.add(name);
        losing.set(k, s);
      }
    }
    for (const { obj, name, old, want } of work) {
      const wantKeys = new Set(want.map(itemKey));
      const oldKeys = new Set(old.map(itemKey));
      const mid = old.filter((it) => wantKeys.has(itemKey(it)));
      // One write when no IP it gains is being taken from another EgressIP: a move inside one
      // EgressIP tells the old and the new node in the same object version, so the new node is
      // never told before the old one. On clouds the CloudPrivateIPConfig step sits between.
      const fromOthers = want.some(
        (it) =>
          !oldKeys.has(itemKey(it)) &&
          [...(losing.get(ipKey(it.egressIP)) ?? [])].some((other) => other !== name),
      );
      if (!this.cloud && !fromOthers) {
        whole.push({ obj, items: want });
        continue;
      }
      if (mid.length !== old.length) removals.push({ obj, items: mid });
      if (!sameItems(mid, want)) additions.push({ name, items: want });
    }

    // Pass 1: every status that loses an assignment (and the single-write ones), so no node is
    // told to add an IP that another node has not yet been told to drop.
    const latest = new Map<string, KubeObject>();
    let wrote = false;
    await Promise.all(
      [...removals, ...whole].map(async (r) => {
        const u = await this.writeStatus(r.obj, r.items);
        if (u) latest.set(r.obj.metadata.name ?? "", u);
        wrote = true;
      }),
    );
    const pass1 = performance.now();
    if (this.cpics) await this.syncCloud(res.cloudPrivateIPConfigs, cpicByName);
    // Pass 2: additions.
    await Promise.all(
      additions.map(async (a) => {
        const obj = latest.get(a.name) ?? eipByName.get(a.name);
        if (!obj) return;
        await this.writeStatus(obj, a.items);
        wrote = true;
      }),
    );

    for (const m of res.moves)
      if (m.from !== undefined && m.to !== undefined) this.metrics.rebalanceTotal.inc();
    this.metrics.numEgressIPs.set(assigned);
    if (res.moves.length > 0)
      this.log.info(
        {
          moves: res.moves.length,
          writes: removals.length + whole.length + additions.length,
          computeMs: +(computed - now).toFixed(2),
          removalsMs: +(pass1 - computed).toFixed(2),
          additionsMs: +(performance.now() - pass1).toFixed(2),
        },
        "egress IPs placed",
      );
    this.recordFresh(this.assignEvents, events, eipByName);
    return retryAfterMs === undefined ? { wrote } : { wrote, retryAfterMs };
  }

  /** Current placement as the assigner should see it on a cloud: the stored status, overridden by
   *  in-flight CloudPrivateIPConfigs of this EgressIP (so a pending placement is sticky too).
   *  Refused ones are left out, so the IP is placed afresh. */
  private cloudView(obj: KubeObject, cpicByName: Map<string, KubeObject>): EgressIPStatusItem[] {
    const name = obj.metadata.name ?? "";
    const byCpic = new Map<string, EgressIPStatusItem>();
    for (const it of statusItemsOf(obj)) byCpic.set(cloudPrivateIPConfigName(it.egressIP) ?? it.egressIP, it);
    const specIPs = isRecord(obj.spec) && Array.isArray(obj.spec.egressIPs) ? obj.spec.egressIPs : [];
    for (const ip of specIPs) {
      if (typeof ip !== "string") continue;
      const cn = cloudPrivateIPConfigName(ip);
      const c = cn === undefined ? undefined : cpicByName.get(cn);
      if (!cn || !c || c.metadata.annotations?.[EGRESSIP_OWNER_ANNOTATION] !== name) continue;
      const st = cloudStateOf(c);
      if (st.state === "refused") byCpic.delete(cn);
      else if (st.node !== "") byCpic.set(cn, { node: st.node, egressIP: ip });
    }
    return [...byCpic.values()];
  }

  /** Deletes our CloudPrivateIPConfigs that are no longer wanted, moves and creates the rest. */
  private async syncCloud(
    want: { name: string; node: string; egressIP: string }[],
    have: Map<string, KubeObject>,
  ): Promise<void> {
    const wanted = new Map(want.map((w) => [w.name, w]));
    const ops: Promise<unknown>[] = [];
    for (const [name, c] of have) {
      if (c.metadata.annotations?.[EGRESSIP_OWNER_ANNOTATION] === undefined || wanted.has(name)) continue;
      ops.push(
        this.ctx.client.delete(cloudPrivateIPConfigType, "", name).catch((e: unknown) => {
          if (!isNotFound(e)) throw e;
        }),
      );
    }
    for (const w of want) {
      const c = have.get(w.name);
      const spec = c && isRecord(c.spec) ? c.spec : {};
      if (c && spec.node === w.node && c.metadata.annotations?.[EGRESSIP_OWNER_ANNOTATION] === w.egressIP)
        continue;
      if (!c) {
        ops.push(
          this.ctx.client
            .create(cloudPrivateIPConfigType, {
              apiVersion: "cloud.network.openshift.io/v1",
              kind: "CloudPrivateIPConfig",
              metadata: { name: w.name, annotations: { [EGRESSIP_OWNER_ANNOTATION]: w.egressIP } },
              spec: { node: w.node },
            })
            .catch((e: unknown) => {
              if (!isAlreadyExists(e)) throw e;
            }),
        );
        continue;
      }
      ops.push(
        this.ctx.client.update(cloudPrivateIPConfigType, {
          ...c,
          metadata: {
            ...c.metadata,
            annotations: { ...c.metadata.annotations, [EGRESSIP_OWNER_ANNOTATION]: w.egressIP },
          },
          spec: { ...spec, node: w.node },
        }),
      );
    }
    const results = await Promise.allSettled(ops);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
  }

  /** EgressIP has no status subresource (as the OVN CRD): the whole object is PUT, so a concurrent
   *  spec change fails with 409 and the recomputation is retried from fresh caches. */
  private async writeStatus(obj: KubeObject, items: EgressIPStatusItem[]): Promise<KubeObject | undefined> {
    const name = obj.metadata.name ?? "";
    const status = isRecord(obj.status) ? obj.status : {};
    try {
      const u = await this.ctx.client.update<KubeObject>(egressIPType, {
        ...obj,
        status: { ...status, items },
      });
      this.overlay.set(name, { obj: u, at: performance.now() });
      return u;
    } catch (e) {
      this.overlay.delete(name);
      if (isNotFound(e)) return undefined;
      if (isConflict(e)) this.log.debug({ egressIP: name }, "status write conflicted; recomputing");
      throw e;
    }
  }

  private recordFresh(dedup: EventDedup, events: KeyedEvent[], objs: Map<string, KubeObject>): void {
    for (const e of dedup.fresh(events)) {
      const obj = e.object.kind === "EgressIP" ? objs.get(e.object.name) : undefined;
      const ref = obj
        ? refOf(obj)
        : {
            kind: e.object.kind,
            name: e.object.name,
            apiVersion: e.object.kind === "EgressIP" ? "k8s.ovn.org/v1" : "v1",
            ...(e.uid ? { uid: e.uid } : {}),
          };
      void this.ctx.recorder.record(ref, e.type, e.reason, e.message);
    }
  }

  private async reconcilePods(): Promise<ReconcileOutcome> {
    const eipObjs = this.eips.list();
    const specs = eipObjs.map((o) => {
      const spec = isRecord(o.spec) ? o.spec : {};
      return {
        name: o.metadata.name ?? "",
        ...(o.metadata.creationTimestamp ? { creationTimestamp: o.metadata.creationTimestamp } : {}),
        namespaceSelector: (isRecord(spec.namespaceSelector) ? spec.namespaceSelector : {}) as LabelSelector,
        ...(isRecord(spec.podSelector) ? { podSelector: spec.podSelector as LabelSelector } : {}),
      };
    });
    const all = this.podsAll;
    const dirty = [...this.podsDirty];
    this.podsAll = false;
    this.podsDirty.clear();
    const nsInfo = (n: KubeObject) => ({ name: n.metadata.name ?? "", labels: n.metadata.labels ?? {} });
    const podInfo = (p: KubeObject) => ({
      namespace: p.metadata.namespace ?? "",
      name: p.metadata.name ?? "",
      labels: p.metadata.labels ?? {},
      hostNetwork: isRecord(p.spec) && p.spec.hostNetwork === true,
    });
    let res: PodSelectionResult;
    if (all) {
      res = selectPodsForEgressIPs(specs, this.namespaces.list().map(nsInfo), this.pods.list().map(podInfo));
      this.standbyByNs.clear();
    } else {
      const nss: ReturnType<typeof nsInfo>[] = [];
      const pods: ReturnType<typeof podInfo>[] = [];
      for (const ns of dirty) {
        this.standbyByNs.delete(ns);
        const n = this.namespaces.get(ns);
        if (!n) continue;
        nss.push(nsInfo(n));
        for (const p of this.pods.list(ns)) pods.push(podInfo(p));
      }
      res = selectPodsForEgressIPs(specs, nss, pods);
    }
    for (const s of res.standby) {
      const ns = s.pod.slice(0, s.pod.indexOf("/"));
      const l = this.standbyByNs.get(ns) ?? [];
      l.push(s);
      this.standbyByNs.set(ns, l);
    }
    // The standby list of the whole cluster, sorted by pod as one selection over everything gives.
    const standby = [...this.standbyByNs.keys()]
      .sort(compareStrings)
      .flatMap((ns) => this.standbyByNs.get(ns) ?? []);
    const byName = new Map(eipObjs.map((o) => [o.metadata.name ?? "", o]));
    const decided = [...res.events.filter((e) => e.reason === "InvalidSelector"), ...standbyEvents(standby)];
    const events: KeyedEvent[] = decided.map((e) => {
      const uid = byName.get(e.object.name)?.metadata.uid;
      return uid ? { ...e, uid } : e;
    });
    this.recordFresh(this.podEvents, events, byName);
    return undefined;
  }
}
