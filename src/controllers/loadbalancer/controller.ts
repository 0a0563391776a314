// LoadBalancer address controller (MetalLB-compatible subset): gives every Service of type
// LoadBalancer an ingress IP from the IPAddressPools in metallb-system through
// allocateLoadBalancerIPs, writes status.loadBalancer.ingress through the Service status
// subresource only when it changes, clears it when the Service stops being a LoadBalancer, and
// reports pool exhaustion and bad requests as Events on the Service. One cluster-wide work item
// (an address is a cluster-wide resource). Thin shell: all decisions are in allocate.ts. Never
// throws through informer handlers; failed writes are retried through the queue.
import { Gauge } from "prom-client";
import { ipAddressPoolType, serviceType } from "../../api/kinds/index.js";
import type { KubeObject } from "../../api/object.js";
import { isConflict, isNotFound } from "../runtime/client.js";
import { EventDedup, emitFresh } from "../runtime/dedup.js";
import { refOf } from "../runtime/events.js";
import { WriteExpectations } from "../runtime/expectations.js";
import type { Controller, ControllerContext, SharedInformer } from "../runtime/manager.js";
import { type ReconcileOutcome, WorkQueue } from "../runtime/workqueue.js";
import { type AddressPool, allocateLoadBalancerIPs, parsePoolAddress } from "./allocate.js";
import {
  concernsAllocator,
  ingressIPs,
  METALLB_NAMESPACE,
  serviceFingerprint,
  toAddressPool,
  toLBService,
} from "./inputs.js";

export interface LoadBalancerControllerOptions {
  /** Namespace of the IPAddressPools (MetalLB's own namespace). */
  poolNamespace?: string;
  expectationTimeoutMs?: number;
}

const KEY = "loadbalancers";

/** Addresses in a pool (MetalLB's metallb_allocator_addresses_total; avoidBuggyIPs not deducted). */
function poolSize(p: AddressPool): number {
  try {
    return p.addresses
      .map((a, i) => parsePoolAddress(p.name, i, a))
      .reduce((n, r) => n + Number(r.last - r.first + 1n), 0);
  } catch {
    return 0;
  }
}

function gauge(ctx: ControllerContext, name: string, help: string): Gauge<"pool"> {
  // The registry outlives a leadership term; setup() runs again on every new term.
  const existing = ctx.metrics.getSingleMetric(name);
  if (existing) return existing as Gauge<"pool">;
  return new Gauge({ name, help, labelNames: ["pool"], registers: [ctx.metrics] });
}

export class LoadBalancerController implements Controller {
  readonly name = "loadbalancer";
  private ctx: ControllerContext | undefined;
  private queue: WorkQueue | undefined;
  private running = false;
  private readonly poolNamespace: string;
  private readonly expectationTimeoutMs: number;
  private expectations = new WriteExpectations();
  private events = new EventDedup();
  private prints = new Map<string, string>();
  private inf: { svc: SharedInformer; pool: SharedInformer } | undefined;
  private metrics: { inUse: Gauge<"pool">; total: Gauge<"pool"> } | undefined;

  constructor(opts: LoadBalancerControllerOptions = {}) {
    this.poolNamespace = opts.poolNamespace ?? METALLB_NAMESPACE;
    this.expectationTimeoutMs = opts.expectationTimeoutMs ?? 2000;
  }

  setup(ctx: ControllerContext): void {
    this.ctx = ctx;
    this.running = false;
    this.expectations = new WriteExpectations(this.expectationTimeoutMs);
    this.prints = new Map();
    this.events = new EventDedup();
    this.metrics = {
      inUse: gauge(
        ctx,
        "metallb_allocator_addresses_in_use_total",
        "Number of IP addresses in use, per pool",
      ),
      total: gauge(ctx, "metallb_allocator_addresses_total", "Number of usable IP addresses, per pool"),
    };
    const log = ctx.log.child({ controller: this.name });
    this.queue = new WorkQueue(
      () => this.reconcile(),
      (_key, err, attempt) =>
        isConflict(err)
          ? log.debug({ attempt }, "load-balancer sync conflicted; retrying")
          : log.warn({ err, attempt }, "load-balancer sync failed; retrying"),
    );
    const inf = { svc: ctx.informers.for(serviceType), pool: ctx.informers.for(ipAddressPoolType) };
    this.inf = inf;
    inf.svc.on((type, obj) => {
      const key = `${obj.metadata.namespace}/${obj.metadata.name}`;
      if (type === "delete") {
        if (this.prints.delete(key)) this.enqueue();
        return;
      }
      if (!concernsAllocator(obj)) {
        if (this.prints.delete(key)) this.enqueue();
        return;
      }
      const print = serviceFingerprint(obj);
      if (this.prints.get(key) === print) return;
      this.prints.set(key, print);
      this.enqueue();
    });
    inf.pool.on((_type, obj) => {
      if (obj.metadata.namespace === this.poolNamespace) this.enqueue();
    });
  }

  start(): void {
    this.running = true;
    this.enqueue();
  }

  stop(): void {
    this.running = false;
    this.queue?.stop();
  }

  idle(): Promise<void> {
    return this.queue?.idle() ?? Promise.resolve();
  }

  private enqueue(): void {
    if (this.running) this.queue?.add(KEY);
  }

  private async reconcile(): Promise<ReconcileOutcome> {
    const inf = this.inf!;
    if (!this.expectations.satisfied((k) => this.lookup(k))) return { requeueAfterMs: 10 };

    const poolObjs = inf.pool.list(this.poolNamespace);
    const pools = poolObjs.filter((p) => !p.metadata.deletionTimestamp).map(toAddressPool);
    const svcs = inf.svc.list().filter(concernsAllocator);
    const byKey = new Map(svcs.map((s) => [`${s.metadata.namespace}/${s.metadata.name}`, s]));
    const result = allocateLoadBalancerIPs(pools, svcs.map(toLBService));

    const changed = new Set(result.changed);
    const writes: Promise<void>[] = [];
    for (const a of result.allocations) {
      const key = `${a.namespace}/${a.name}`;
      const svc = byKey.get(key);
      if (!svc || !changed.has(key)) continue;
      writes.push(this.writeIngress(svc, a.ips));
    }
    const failures: unknown[] = [];
    for (const r of await Promise.allSettled(writes)) if (r.status === "rejected") failures.push(r.reason);

    const inUse = new Map<string, number>(pools.map((p) => [p.name, 0]));
    for (const a of result.allocations)
      if (a.pool) inUse.set(a.pool, (inUse.get(a.pool) ?? 0) + a.ips.length);
    this.metrics!.inUse.reset();
    this.metrics!.total.reset();
    for (const p of pools) {
      this.metrics!.inUse.set({ pool: p.name }, inUse.get(p.name) ?? 0);
      this.metrics!.total.set({ pool: p.name }, poolSize(p));
    }

    // Not awaited: Events are best effort (the recorder never throws); a burst of 1,000
    // IPAllocated must not hold up the next run.
    void emitFresh(
      this.events,
      result.events,
      (ref) => {
        const obj =
          ref.kind === "Service"
            ? byKey.get(`${ref.namespace}/${ref.name}`)
            : poolObjs.find((p) => p.metadata.name === ref.name);
        return obj ? refOf(obj) : undefined;
      },
      (ref, type, reason, message) => this.ctx!.recorder.record(ref, type, reason, message),
    );
    if (failures.length > 0) throw failures[0];
    return undefined;
  }

  private lookup(key: string): KubeObject | undefined {
    const [ns, name] = JSON.parse(key) as [string, string];
    return this.inf!.svc.get(name, ns);
  }

  private async writeIngress(svc: KubeObject, ips: string[]): Promise<void> {
    const ns = svc.metadata.namespace ?? "";
    const name = svc.metadata.name ?? "";
    try {
      await this.ctx!.client.patch(
        serviceType,
        ns,
        name,
        {
          metadata: { resourceVersion: svc.metadata.resourceVersion },
          // ingress is an atomic list: a merge patch replaces it whole; null removes it.
          status: { loadBalancer: { ingress: ips.length > 0 ? ips.map((ip) => ({ ip })) : null } },
        },
        "merge",
        "status",
      );
    } catch (e) {
      if (isNotFound(e)) return;
      throw e;
    }
    const want = JSON.stringify(ips);
    this.expectations.expect(
      JSON.stringify([ns, name]),
      (cached) => cached === undefined || JSON.stringify(ingressIPs(cached)) === want,
    );
    this.ctx!.log.info({ controller: this.name, service: `${ns}/${name}`, ips }, "load-balancer ingress set");
  }
}
