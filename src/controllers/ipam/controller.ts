// Whereabouts reconciler controller (MISSION §4). Runs the pure planReconcile over the informer caches
// (IPPools, OverlappingRangeIPReservations, Pods) on the cron schedule of ConfigMap
// openshift-multus/whereabouts-config key `reconciler_cron_expression` (default `30 4 * * *`, UTC),
// re-read on every ConfigMap change without restart; an invalid (e.g. six-field) expression gets a
// Warning Event on the ConfigMap and the previous schedule stays. On pod deletion the pod's
// allocations are removed at once (unless a pod of that name exists again). Allocation age for the
// grace period comes from the reservation's creationTimestamp or, failing that, from when this
// controller first saw the allocation. A thin shell: it must not decide what to remove.
import {
  configMapType,
  ipPoolType,
  overlappingRangeIPReservationType,
  podType,
} from "../../api/kinds/index.js";
import type { KubeObject } from "../../api/object.js";
import { type CronSchedule, DEFAULT_RECONCILER_CRON, nextFire, parseCron } from "../../ipam/cron.js";
import { poolFromObject } from "../../ipam/kube-objects.js";
import { DEFAULT_GRACE_MS, planPodDeleted, planReconcile, type ReconcilePlan } from "../../ipam/reconcile.js";
import { refOf } from "../runtime/events.js";
import type { Controller, ControllerContext, SharedInformer } from "../runtime/manager.js";
import { type ReconcileOutcome, WorkQueue } from "../runtime/workqueue.js";
import { applyReconcilePlan, byNamespace, formatRemoval, podView, reservationRecord } from "./apply.js";

export const CONFIG_NAMESPACE = "openshift-multus";
export const CONFIG_NAME = "whereabouts-config";
export const CRON_KEY = "reconciler_cron_expression";

const RECONCILE = "reconcile";
const CONFIG = "config";
const POD_PREFIX = "pod:";
/** setTimeout's limit (~24.8 days); longer waits re-arm. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface IpamReconcilerOptions {
  graceMs?: number;
  /** Clock (ms), injected by tests to move the schedule. */
  now?: () => number;
}

export class IpamReconcilerController implements Controller {
  readonly name = "ipam-reconciler";
  private ctx!: ControllerContext;
  private pods!: SharedInformer;
  private pools!: SharedInformer;
  private reservations!: SharedInformer;
  private configMaps!: SharedInformer;
  private queue!: WorkQueue;
  private schedule: CronSchedule = parseCron(DEFAULT_RECONCILER_CRON);
  private timer: NodeJS.Timeout | undefined;
  private readonly firstSeen = new Map<string, number>();
  private lastWarning = "";
  private readonly graceMs: number;
  private readonly now: () => number;
  /** Observable for tests and logs. */
  nextRun: Date | undefined;
  runs = 0;

  constructor(opts: IpamReconcilerOptions = {}) {
    this.graceMs = opts.graceMs ?? DEFAULT_GRACE_MS;
    this.now = opts.now ?? Date.now;
  }

  get expression(): string {
    return this.schedule.expression;
  }

  setup(ctx: ControllerContext): void {
    this.ctx = ctx;
    this.pods = ctx.informers.for(podType);
    this.pools = ctx.informers.for(ipPoolType);
    this.reservations = ctx.informers.for(overlappingRangeIPReservationType);
    // Only the one ConfigMap is listed and watched (not every ConfigMap of the cluster).
    this.configMaps = ctx.informers.for(configMapType, { namespace: CONFIG_NAMESPACE, name: CONFIG_NAME });
    this.queue = new WorkQueue(
      (key) => this.handle(key),
      (key, err, attempt) => ctx.log.warn({ err, key, attempt }, "ipam reconcile failed"),
      { baseDelayMs: 200, maxDelayMs: 30_000 },
    );
    this.pools.on((type, obj) => {
      if (type !== "delete") this.noteAllocations(obj);
    });
    this.pods.on((type, obj) => {
      if (type === "delete") this.queue.add(`${POD_PREFIX}${obj.metadata.namespace}/${obj.metadata.name}`);
    });
    this.configMaps.on((_t, obj) => {
      if (obj.metadata.namespace === CONFIG_NAMESPACE && obj.metadata.name === CONFIG_NAME)
        this.queue.add(CONFIG);
    });
  }

  start(): void {
    for (const p of this.pools.list()) this.noteAllocations(p);
    this.queue.add(CONFIG);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.stop();
  }

  private noteAllocations(obj: KubeObject): void {
    const t = this.now();
    const spec = obj.spec as { allocations?: Record<string, { id?: string; ifname?: string }> } | undefined;
    const allocs = spec?.allocations ?? {};
    for (const [off, a] of Object.entries(allocs)) {
      const k = `${obj.metadata.namespace}/${obj.metadata.name}/${off}/${a.id ?? ""}/${a.ifname ?? ""}`;
      if (!this.firstSeen.has(k)) this.firstSeen.set(k, t);
    }
  }

  private async handle(key: string): Promise<ReconcileOutcome> {
    if (key === CONFIG) return this.syncConfig();
    if (key === RECONCILE) return this.reconcile();
    if (key.startsWith(POD_PREFIX)) return this.podDeleted(key.slice(POD_PREFIX.length));
    return undefined;
  }

  /** Reads the schedule; a bad expression keeps the previous one and is reported once. */
  private async syncConfig(): Promise<ReconcileOutcome> {
    const cm = this.configMaps.get(CONFIG_NAME, CONFIG_NAMESPACE);
    const text = (cm?.data as Record<string, string> | undefined)?.[CRON_KEY];
    const expr = text === undefined || text.trim() === "" ? DEFAULT_RECONCILER_CRON : text;
    let next: CronSchedule;
    try {
      next = parseCron(expr);
    } catch (e) {
      const msg = `${(e as Error).message}; keeping the schedule ${JSON.stringify(this.schedule.expression)}`;
      if (cm && msg !== this.lastWarning) {
        this.lastWarning = msg;
        this.ctx.log.warn({ expression: expr }, msg);
        await this.ctx.recorder.record(refOf(cm), "Warning", "InvalidCronExpression", msg);
      }
      this.arm();
      return undefined;
    }
    this.lastWarning = "";
    const changed = next.expression !== this.schedule.expression || this.nextRun === undefined;
    this.schedule = next;
    this.arm();
    if (changed) {
      this.ctx.log.info(
        { expression: next.expression, nextRun: this.nextRun?.toISOString() },
        "reconciler schedule",
      );
      if (cm)
        await this.ctx.recorder.record(
          refOf(cm),
          "Normal",
          "ScheduleUpdated",
          `IP reconciler schedule ${JSON.stringify(next.expression)} (UTC)`,
        );
    }
    return undefined;
  }

  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    const now = this.now();
    this.nextRun = nextFire(this.schedule, new Date(now));
    if (!this.nextRun) return;
    const wait = this.nextRun.getTime() - now;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        if (wait > MAX_TIMER_MS) return this.arm();
        this.queue.add(RECONCILE);
        this.arm();
      },
      Math.min(wait, MAX_TIMER_MS),
    );
    this.timer.unref();
  }

  private async reconcile(): Promise<ReconcileOutcome> {
    this.runs++;
    const now = this.now();
    const pools = byNamespace(this.pools.list());
    const reservations = byNamespace(this.reservations.list());
    const live = new Set<string>();
    let conflicted = false;
    for (const ns of new Set([...pools.keys(), ...reservations.keys()])) {
      const objs = pools.get(ns) ?? [];
      const plan = planReconcile({
        pools: objs.map((o) => poolFromObject(o)),
        reservations: (reservations.get(ns) ?? []).map(reservationRecord),
        pod: (ref) => {
          const [pns, pname] = ref.split("/");
          const p = pname === undefined ? undefined : this.pods.get(pname, pns);
          return p ? podView(p) : undefined;
        },
        now,
        graceMs: this.graceMs,
        allocationSince: (pool, off, a) => {
          const k = `${ns}/${pool}/${off}/${a.id}/${a.ifname}`;
          live.add(k);
          return this.firstSeen.get(k);
        },
      });
      conflicted = (await this.write(ns, plan, objs)) || conflicted;
    }
    for (const k of this.firstSeen.keys()) if (!live.has(k)) this.firstSeen.delete(k);
    // A pool that moved meanwhile: plan again on the fresher cache.
    return conflicted ? { requeueAfterMs: 500 } : undefined;
  }

  private async podDeleted(podref: string): Promise<ReconcileOutcome> {
    const [ns, name] = podref.split("/");
    if (name === undefined || this.pods.get(name, ns)) return undefined; // a pod of that name is back
    let conflicted = false;
    for (const [poolNs, objs] of byNamespace(this.pools.list())) {
      const plan = planPodDeleted(
        podref,
        objs.map((o) => poolFromObject(o)),
        this.reservations.list(poolNs).map(reservationRecord),
      );
      conflicted = (await this.write(poolNs, plan, objs)) || conflicted;
    }
    return conflicted ? { requeueAfterMs: 200 } : undefined;
  }

  /** Writes a plan; true when a pool conflicted. */
  private async write(ns: string, plan: ReconcilePlan, objs: KubeObject[]): Promise<boolean> {
    if (plan.pools.length === 0 && plan.deleteReservations.length === 0) return false;
    const r = await applyReconcilePlan(
      this.ctx.client,
      ns,
      plan,
      new Map(objs.map((o) => [o.metadata.name ?? "", o])),
    );
    for (const removal of r.applied)
      this.ctx.log.info({ namespace: ns }, `removed ${formatRemoval(removal, ns)}`);
    return r.conflicts.length > 0;
  }

  /** Runs a full reconcile now (tests, `egress ipam reconcile` against a running controller). */
  runNow(): void {
    this.queue.add(RECONCILE);
  }
}
