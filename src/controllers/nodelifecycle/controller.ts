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
  type HealthView,
  type NodeHealth,
  observe,
  type ProbeRecord,
  staleNodes,
  zoneKey,
  zoneStateOfCounts,
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
/** Ready and all nodes of one zone in a monitor tick. */
interface ZoneCount {
  ready: number;
  total: number;
}
const NO_ZONE = zoneKey(undefined);
/** RFC 3339 to the second, computed once per second (every node's reconcile asks for it). */
let isoCache = { sec: -1, text: "" };
const isoNow = () => {
  const sec = Math.floor(Date.now() / 1000);
  if (sec !== isoCache.sec)
    isoCache = { sec, text: new Date(sec * 1000).toISOString().replace(/\.\d+Z$/, "Z") };
  return isoCache.text;
};

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
  /** Zone key per node and the nodes whose Ready is Unknown, kept from the node events. */
  private readonly zoneOf = new Map<string, string>();
  private readonly unknown = new Set<string>();
  /** Pod keys (ns/name) per spec.nodeName: evicting a node's pods must not scan every pod of the
   *  cluster (10 % of 5,000 nodes failing meant 500 scans of 150,000 pods). */
  private readonly podsByNode = new Map<string, Set<string>>();

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
        this.zoneOf.delete(name);
        this.unknown.delete(name);
        return;
      }
      const ready = readyOf(node);
      this.zoneOf.set(name, zoneKey(node.metadata.labels));
      if (ready?.status === "Unknown") this.unknown.add(name);
      else this.unknown.delete(name);
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
      if (nodeName) {
        // spec.nodeName is set once (binding) and never changes, so add/delete keep the index.
        let on = this.podsByNode.get(nodeName);
        if (type === "delete") {
          on?.delete(key);
          if (on?.size === 0) this.podsByNode.delete(nodeName);
        } else {
          if (!on) {
            on = new Set();
            this.podsByNode.set(nodeName, on);
          }
          on.add(key);
        }
      }
      if (!nodeName || type === "delete") return;
      const node = ctx.informers.for(nodeType).get(nodeName);
      if (node && taintsOf(node).some((t) => t.effect === "NoExecute")) this.queue.add(nodeName);
    });
  }

  start(): void {
    const now = Date.now();
    this.lastTick = now;
    const nodes = this.ctx.informers.for(nodeType).list();
    // As after a zone's recovery: every node first gets one grace period to report.
    const counts = new Map<string, ZoneCount>();
    for (const n of nodes) {
      const zone = zoneKey(n.metadata.labels);
      const c = counts.get(zone) ?? { ready: 0, total: 0 };
      c.total++;
      if (readyOf(n)?.status === "True") c.ready++;
      counts.set(zone, c);
    }
    this.updateZones(counts, now, true);
    for (const n of nodes) this.queue.add(n.metadata.name ?? "");
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

  /** Marks silent nodes Unknown and recomputes the zones' disruption states. Runs every period on
   *  5,000+ nodes, so it walks the health records kept from the node events (no node list, no
   *  condition parsing, no allocation per node) and touches node objects only for silent ones. */
  private async monitor(): Promise<void> {
    const now = Date.now();
    const late = now - this.lastTick;
    this.lastTick = now;
    const grace = this.opts.nodeMonitorGracePeriodMs;
    // A tick far behind schedule means this process stalled (load, GC, a paused VM): the heartbeats
    // it did not see are its own fault. Start every node's grace afresh rather than evict.
    if (late > Math.max(3 * this.opts.nodeMonitorPeriodMs, grace / 2)) {
      this.log.warn({ lateMs: late }, "node monitor ran late; restarting every node's grace period");
      for (const [name, h] of this.health) this.health.set(name, { ...h, probeTime: now });
      return;
    }
    // Nodes that have missed most of their grace count as down for the zone's state already: when
    // every agent goes silent at once (the control plane's outage), the first node to pass its
    // grace must not be evicted because the others are a few milliseconds behind.
    const lookahead = Math.min(1000, grace / 2);
    const suspect: HealthView[] = [];
    const suspectNames = new Set<string>();
    const counts = new Map<string, ZoneCount>();
    for (const [name, h] of this.health) {
      const isSuspect = h.heartbeat !== undefined && now - h.probeTime > grace - lookahead;
      if (isSuspect) {
        suspect.push({ name, health: h });
        suspectNames.add(name);
      }
      const zone = this.zoneOf.get(name) ?? NO_ZONE;
      let c = counts.get(zone);
      if (!c) {
        c = { ready: 0, total: 0 };
        counts.set(zone, c);
      }
      c.total++;
      if (!isSuspect && h.ready === "True") c.ready++;
    }
    this.updateZones(counts, now);
    this.probeSilent(suspectNames);
    // Stale nodes are suspects past the whole grace (lookahead ≥ 0).
    const stale = staleNodes(suspect, now, grace);
    if (stale.length === 0) return;
    const informer = this.ctx.informers.for(nodeType);
    for (const name of stale) {
      const node = informer.get(name);
      if (node) await this.markUnknown(node);
    }
  }

  /** Starts a probe of every suspect or Unknown node's host that has none out; forgets the answers
   *  of nodes that are fine again. */
  private probeSilent(suspect: ReadonlySet<string>): void {
    const silent = (name: string) => suspect.has(name) || this.health.get(name)?.ready === "Unknown";
    for (const name of this.probes.keys()) if (!silent(name)) this.probes.delete(name);
    const informer = this.ctx.informers.for(nodeType);
    const candidates = new Set(suspect);
    for (const name of this.unknown) candidates.add(name);
    for (const name of candidates) {
      if (!silent(name) || this.probing.has(name)) continue;
      const n = informer.get(name);
      // The health record follows the node's events; the object decides, as before.
      if (!n || (!suspect.has(name) && readyOf(n)?.status !== "Unknown")) {
        this.probes.delete(name);
        continue;
      }
      const target = probeTarget(n);
      if (!target) continue;
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
  private updateZones(counts: ReadonlyMap<string, ZoneCount>, now: number, starting = false): void {
    // A tick is one pass over the health records with two counters per zone; the zone's nodes are
    // looked up only when its state changes (rare). Was: each zone's array copied node by node,
    // 12.5 M copies per tick for 5,000 nodes in one zone (the control plane's idle CPU).
    const requeue = (z: string) => {
      for (const [name, zone] of this.zoneOf) if (zone === z) this.queue.add(name);
    };
    for (const [z, c] of counts) {
      const state = zoneStateOfCounts(c.ready, c.total);
      const allowed = evictionsAllowed(state, c.total);
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
    const podInformer = this.ctx.informers.for(podType);
    const pods: KubeObject[] = [];
    for (const key of this.podsByNode.get(name) ?? []) {
      const slash = key.indexOf("/");
      const pod = podInformer.get(key.slice(slash + 1), key.slice(0, slash));
      if (pod && (pod.spec as { nodeName?: string } | undefined)?.nodeName === name) pods.push(pod);
    }
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
