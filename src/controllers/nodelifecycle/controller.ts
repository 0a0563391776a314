// Node lifecycle, as Kubernetes' node lifecycle controller but with this cluster's short timings:
// - a node whose agent stopped changing its heartbeat for the grace period (default 4 s; agents beat
//   every second) gets Ready=Unknown and an Event;
// - nodes carry the condition taints (not-ready / unreachable, NoSchedule and NoExecute), removed
//   when Ready is True again;
// - pods on a node with NoExecute taints are deleted after their tolerationSeconds (default
//   tolerations: 0 s here, 300 s upstream), so their ReplicationController replaces them on a Ready
//   node — the egress router's failover;
// - no NoExecute taints and no evictions in a zone where (nearly) every node is down: that is the
//   control plane's own outage, not the nodes';
// - none either for a silent node whose host refuses its agent's port (probe.ts): only the agent is
//   down, its pods keep running (held up to 60 s).
// Thin shell around health.ts, taints.ts, eviction.ts and probe.ts. Must not schedule or create pods.
// docs/workloads.md "Node lifecycle" explains the choices.
import { nodeType, podType } from "../../api/kinds/index.js";
import type { KubeObject } from "../../api/object.js";
import type { Logger } from "../../util/log.js";
import { isConflict, isNotFound } from "../runtime/client.js";
import { refOf } from "../runtime/events.js";
import type { Controller, ControllerContext } from "../runtime/manager.js";
import { type ReconcileOutcome, WorkQueue } from "../runtime/workqueue.js";
import { type DefaultTolerations, evictionDecision, type Toleration } from "./eviction.js";
import {
  agentOnlyDown,
  evictionsAllowed,
  type NodeHealth,
  observe,
  type ProbeRecord,
  type ReadyStatus,
  staleNodes,
  zoneKey,
  zoneState,
} from "./health.js";
import { type TcpProbe, tcpProbe } from "./probe.js";
import { desiredTaints, type NoExecuteMode, type Taint, taintsEqual } from "./taints.js";

/** Options read from ControlPlaneOptions (flags in src/cli/control-plane-flags.ts). */
export interface NodeLifecycleOptions {
  /** How long a node may stay silent before Ready=Unknown (Kubernetes: 40–50 s). */
  nodeMonitorGracePeriodMs?: number;
  /** How often node health is checked (Kubernetes: 5 s). */
  nodeMonitorPeriodMs?: number;
  /** tolerationSeconds of the default not-ready / unreachable tolerations (Kubernetes: 300). */
  defaultNotReadyTolerationSeconds?: number;
  defaultUnreachableTolerationSeconds?: number;
}

export const NODE_LIFECYCLE_DEFAULTS: Required<NodeLifecycleOptions> = {
  nodeMonitorGracePeriodMs: 4000,
  nodeMonitorPeriodMs: 500,
  defaultNotReadyTolerationSeconds: 0,
  defaultUnreachableTolerationSeconds: 0,
};

/** How long a connect to a silent node's agent port may take (probing starts 1 s before the grace
 *  ends, so a cut-off node's timeout is known when it goes Unknown). */
const PROBE_TIMEOUT_MS = 1000;
/** How long a node whose host is up but whose agent is down keeps its pods (no NoExecute taint). */
export const AGENT_DOWN_HOLD_MS = 60_000;

interface Condition {
  type: string;
  status: "True" | "False" | "Unknown";
  lastHeartbeatTime?: string;
  lastTransitionTime?: string;
  reason?: string;
  message?: string;
}

const conditions = (n: KubeObject): Condition[] =>
  (n.status as { conditions?: Condition[] } | undefined)?.conditions ?? [];
const readyOf = (n: KubeObject) => conditions(n).find((c) => c.type === "Ready");
const taintsOf = (n: KubeObject): Taint[] => (n.spec as { taints?: Taint[] } | undefined)?.taints ?? [];
/** InternalIP and the agent's health port, where a silent node's host can be asked. */
function probeTarget(n: KubeObject): { host: string; port: number } | undefined {
  const st = n.status as
    | {
        addresses?: { type: string; address: string }[];
        daemonEndpoints?: { kubeletEndpoint?: { Port?: number } };
      }
    | undefined;
  const host = st?.addresses?.find((a) => a.type === "InternalIP")?.address;
  const port = st?.daemonEndpoints?.kubeletEndpoint?.Port;
  return host && typeof port === "number" && port > 0 ? { host, port } : undefined;
}
const isoNow = () => new Date().toISOString().replace(/\.\d+Z$/, "Z");

export class NodeLifecycleController implements Controller {
  readonly name = "nodelifecycle";
  private ctx!: ControllerContext;
  private log!: Logger;
  private queue!: WorkQueue;
  private timer: NodeJS.Timeout | undefined;
  private opts: Required<NodeLifecycleOptions> = { ...NODE_LIFECYCLE_DEFAULTS };
  private readonly health = new Map<string, NodeHealth>();
  /** Zone key → whether its state allows evictions, and from when (a hold after recovery). */
  private readonly zones = new Map<string, { allowed: boolean; holdUntil: number; held: boolean }>();
  /** node/key/effect → controller clock when a NoExecute taint without timeAdded was first seen. */
  private readonly taintSeen = new Map<string, number>();
  /** Pods whose deletion was requested and not yet seen (ns/name → uid). */
  private readonly evicting = new Map<string, string>();
  private lastTick = 0;
  /** Last answer of each silent node's host, and the probes out. */
  private readonly probes = new Map<string, ProbeRecord>();
  private readonly probing = new Set<string>();

  /** `overrides` win over the control plane options (tests); `probe` asks a silent node's host. */
  constructor(
    private readonly overrides: NodeLifecycleOptions = {},
    private readonly probe: TcpProbe = tcpProbe,
  ) {}

  setup(ctx: ControllerContext): void {
    this.ctx = ctx;
    this.log = ctx.log.child({ controller: this.name });
    const o = ctx.options as NodeLifecycleOptions;
    const pick = <K extends keyof NodeLifecycleOptions>(k: K): number =>
      this.overrides[k] ?? o[k] ?? NODE_LIFECYCLE_DEFAULTS[k];
    this.opts = {
      nodeMonitorGracePeriodMs: pick("nodeMonitorGracePeriodMs"),
      nodeMonitorPeriodMs: pick("nodeMonitorPeriodMs"),
      defaultNotReadyTolerationSeconds: pick("defaultNotReadyTolerationSeconds"),
      defaultUnreachableTolerationSeconds: pick("defaultUnreachableTolerationSeconds"),
    };
    this.queue = new WorkQueue(
      (key) => this.reconcile(key),
      (key, err, attempt) =>
        this.log.warn({ node: key, err, attempt }, "node lifecycle sync failed; retrying"),
    );
    ctx.informers.for(nodeType).on((type, node) => {
      const name = node.metadata.name ?? "";
      if (type === "delete") {
        this.health.delete(name);
        return;
      }
      const ready = readyOf(node);
      this.health.set(
        name,
        observe(this.health.get(name), ready?.status, ready?.lastHeartbeatTime, Date.now()),
      );
      this.queue.add(name);
    });
    ctx.informers.for(podType).on((type, pod) => {
      const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
      if (type === "delete") this.evicting.delete(key);
      const nodeName = (pod.spec as { nodeName?: string } | undefined)?.nodeName;
      if (!nodeName || type === "delete") return;
      const node = ctx.informers.for(nodeType).get(nodeName);
      if (node && taintsOf(node).some((t) => t.effect === "NoExecute")) this.queue.add(nodeName);
    });
  }

  start(): void {
    const now = Date.now();
    this.lastTick = now;
    // As after a zone's recovery: every node first gets one grace period to report.
    this.updateZones(this.ctx.informers.for(nodeType).list(), (n) => readyOf(n)?.status, now, true);
    for (const n of this.ctx.informers.for(nodeType).list()) this.queue.add(n.metadata.name ?? "");
    this.timer = setInterval(() => void this.monitor(), this.opts.nodeMonitorPeriodMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.queue?.stop();
  }

  private get defaults(): DefaultTolerations {
    return {
      notReadySeconds: this.opts.defaultNotReadyTolerationSeconds,
      unreachableSeconds: this.opts.defaultUnreachableTolerationSeconds,
    };
  }

  /** Marks silent nodes Unknown and recomputes the zones' disruption states. */
  private async monitor(): Promise<void> {
    const now = Date.now();
    const late = now - this.lastTick;
    this.lastTick = now;
    const nodes = this.ctx.informers.for(nodeType).list();
    const grace = this.opts.nodeMonitorGracePeriodMs;
    // A tick far behind schedule means this process stalled (load, GC, a paused VM): the heartbeats
    // it did not see are its own fault. Start every node's grace afresh rather than evict.
    if (late > Math.max(3 * this.opts.nodeMonitorPeriodMs, grace / 2)) {
      this.log.warn({ lateMs: late }, "node monitor ran late; restarting every node's grace period");
      for (const [name, h] of this.health) this.health.set(name, { ...h, probeTime: now });
      return;
    }
    const view = nodes.map((n) => {
      const name = n.metadata.name ?? "";
      const ready = readyOf(n);
      let h = this.health.get(name);
      if (!h) {
        h = observe(undefined, ready?.status, ready?.lastHeartbeatTime, now);
        this.health.set(name, h);
      }
      return { name, health: h };
    });
    // Nodes that have missed most of their grace count as down for the zone's state already: when
    // every agent goes silent at once (the control plane's outage), the first node to pass its
    // grace must not be evicted because the others are a few milliseconds behind.
    const lookahead = Math.min(1000, grace / 2);
    const suspect = new Set(
      view
        .filter((v) => v.health.heartbeat !== undefined && now - v.health.probeTime > grace - lookahead)
        .map((v) => v.name),
    );
    this.updateZones(
      nodes,
      (n) => (suspect.has(n.metadata.name ?? "") ? "Unknown" : readyOf(n)?.status),
      now,
    );
    this.probeSilent(nodes, suspect);
    for (const name of staleNodes(view, now, grace)) {
      const node = nodes.find((n) => n.metadata.name === name);
      if (node) await this.markUnknown(node);
    }
  }

  /** Starts a probe of every suspect or Unknown node's host that has none out; forgets the answers
   *  of nodes that are fine again. */
  private probeSilent(nodes: KubeObject[], suspect: ReadonlySet<string>): void {
    for (const n of nodes) {
      const name = n.metadata.name ?? "";
      if (!suspect.has(name) && readyOf(n)?.status !== "Unknown") {
        this.probes.delete(name);
        continue;
      }
      const target = probeTarget(n);
      if (!target || this.probing.has(name)) continue;
      this.probing.add(name);
      this.log.debug({ node: name, ...target }, "probing silent node's host");
      void this.probe(target.host, target.port, PROBE_TIMEOUT_MS).then((result) => {
        this.probing.delete(name);
        const prev = this.probes.get(name);
        if (prev?.result === result) return;
        this.probes.set(name, { result, since: Date.now() });
        this.log.info({ node: name, result }, "silent node's host probed");
        this.queue.add(name);
      });
    }
  }

  /** What may happen to NoExecute taints (and so evictions) in the node's zone now. */
  private noExecuteMode(node: KubeObject): NoExecuteMode {
    const z = this.zones.get(zoneKey(node.metadata.labels));
    if (z === undefined) return "apply";
    if (!z.allowed) return "remove";
    return Date.now() >= z.holdUntil ? "apply" : "hold";
  }

  /**
   * Recomputes each zone's state. A zone leaving disruption (and every zone at start) is held for
   * one grace period: nodes that went dark with the rest get that long to report again before
   * they are tainted NoExecute (Kubernetes resets their probe timestamps for the same reason).
   */
  private updateZones(
    nodes: KubeObject[],
    readiness: (n: KubeObject) => ReadyStatus,
    now: number,
    starting = false,
  ): void {
    const byZone = new Map<string, ReadyStatus[]>();
    for (const n of nodes) {
      const z = zoneKey(n.metadata.labels);
      byZone.set(z, [...(byZone.get(z) ?? []), readiness(n)]);
    }
    const requeue = (z: string) => {
      for (const n of nodes) if (zoneKey(n.metadata.labels) === z) this.queue.add(n.metadata.name ?? "");
    };
    for (const [z, readies] of byZone) {
      const state = zoneState(readies);
      const allowed = evictionsAllowed(state, readies.length);
      const before = this.zones.get(z);
      if (before === undefined || before.allowed !== allowed) {
        const holdUntil =
          allowed && (starting || before !== undefined) ? now + this.opts.nodeMonitorGracePeriodMs : 0;
        this.zones.set(z, { allowed, holdUntil, held: holdUntil > 0 });
        if (before !== undefined)
          this.log.info(
            { zone: z, state },
            allowed
              ? "zone healthy again: evictions resume after one grace period"
              : "zone disrupted: evictions stop",
          );
        requeue(z);
      } else if (before.held && now >= before.holdUntil) {
        before.held = false;
        requeue(z);
      }
    }
  }

  private async markUnknown(node: KubeObject): Promise<void> {
    const name = node.metadata.name ?? "";
    const now = isoNow();
    const next = conditions(node).map((c) =>
      c.type === "Ready"
        ? {
            ...c,
            status: "Unknown",
            reason: "NodeStatusUnknown",
            message: "the node agent stopped posting node status",
            lastTransitionTime: now,
          }
        : c,
    );
    try {
      // Pinned to the version read: a heartbeat that arrived meanwhile wins.
      await this.ctx.client.patch(
        nodeType,
        "",
        name,
        { metadata: { resourceVersion: node.metadata.resourceVersion }, status: { conditions: next } },
        "merge",
        "status",
      );
      this.log.info(
        { node: name, graceMs: this.opts.nodeMonitorGracePeriodMs },
        "node stopped posting status",
      );
      await this.ctx.recorder.record(
        refOf(node),
        "Warning",
        "NodeNotReady",
        `Node ${name} status is now: NodeStatusUnknown`,
      );
    } catch (e) {
      if (isConflict(e) || isNotFound(e)) return;
      this.log.warn({ err: e, node: name }, "could not mark node Unknown");
    }
  }

  /** Brings the node's condition taints up to date and evicts the pods they no longer allow. */
  private async reconcile(name: string): Promise<ReconcileOutcome> {
    const node = this.ctx.informers.for(nodeType).get(name);
    if (!node) {
      this.probes.delete(name);
      for (const k of [...this.taintSeen.keys()]) if (k.startsWith(`${name}/`)) this.taintSeen.delete(k);
      return undefined;
    }
    let mode = this.noExecuteMode(node);
    const ready = readyOf(node)?.status;
    let recheck: number | undefined;
    if (mode === "apply" && ready === "Unknown") {
      const probe = this.probes.get(name);
      if (agentOnlyDown(probe, probeTarget(node) !== undefined, Date.now(), AGENT_DOWN_HOLD_MS)) {
        mode = "hold";
        if (probe) recheck = Math.max(10, probe.since + AGENT_DOWN_HOLD_MS - Date.now());
      }
    }
    const current = taintsOf(node);
    const want = desiredTaints(current, ready, mode, isoNow());
    if (!taintsEqual(current, want)) {
      try {
        await this.ctx.client.patch(nodeType, "", name, {
          metadata: { resourceVersion: node.metadata.resourceVersion },
          spec: { taints: want.length > 0 ? want : null },
        });
        this.log.info({ node: name, taints: want.map((t) => `${t.key}:${t.effect}`) }, "node taints updated");
      } catch (e) {
        if (isNotFound(e)) return undefined;
        if (isConflict(e)) return { requeueAfterMs: 50 };
        throw e;
      }
    }
    if (mode !== "apply") return recheck === undefined ? undefined : { requeueAfterMs: recheck };
    return this.evict(node, want);
  }

  private taintStart(node: string, t: Taint, now: number): number {
    if (t.timeAdded) {
      const ms = Date.parse(t.timeAdded);
      if (!Number.isNaN(ms)) return ms;
    }
    const key = `${node}/${t.key}/${t.effect}`;
    let seen = this.taintSeen.get(key);
    if (seen === undefined) {
      seen = now;
      this.taintSeen.set(key, seen);
    }
    return seen;
  }

  private async evict(node: KubeObject, taints: Taint[]): Promise<ReconcileOutcome> {
    const name = node.metadata.name ?? "";
    const noExecute = taints.filter((t) => t.effect === "NoExecute");
    for (const k of [...this.taintSeen.keys()])
      if (k.startsWith(`${name}/`) && !noExecute.some((t) => k === `${name}/${t.key}/${t.effect}`))
        this.taintSeen.delete(k);
    if (noExecute.length === 0) return undefined;
    const now = Date.now();
    const since = Math.min(...noExecute.map((t) => this.taintStart(name, t, now)));
    let next: number | undefined;
    const pods = this.ctx.informers
      .for(podType)
      .list()
      .filter((p) => (p.spec as { nodeName?: string } | undefined)?.nodeName === name);
    for (const pod of pods) {
      if (pod.metadata.deletionTimestamp) continue;
      const ns = pod.metadata.namespace ?? "";
      const podName = pod.metadata.name ?? "";
      const key = `${ns}/${podName}`;
      if (this.evicting.get(key) === pod.metadata.uid) continue;
      const tolerations = (pod.spec as { tolerations?: Toleration[] } | undefined)?.tolerations ?? [];
      const d = evictionDecision(noExecute, tolerations, this.defaults, since);
      if (d.kind === "none") continue;
      if (d.kind === "at" && d.atMs > now) {
        next = next === undefined ? d.atMs : Math.min(next, d.atMs);
        continue;
      }
      this.evicting.set(key, pod.metadata.uid ?? "");
      try {
        await this.ctx.client.delete(podType, ns, podName);
      } catch (e) {
        this.evicting.delete(key);
        if (!isNotFound(e)) throw e;
        continue;
      }
      this.log.info({ pod: key, node: name }, "evicted pod from tainted node");
      void this.ctx.recorder.record(
        refOf(pod),
        "Normal",
        "TaintManagerEviction",
        `Marking for deletion Pod ${key}`,
      );
    }
    return next === undefined ? undefined : { requeueAfterMs: Math.max(10, next - Date.now()) };
  }
}
