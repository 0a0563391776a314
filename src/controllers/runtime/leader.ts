// Leader election through a coordination.k8s.io/v1 Lease, as client-go's leaderelection: the holder
// renews `renewTime` every retry period; a candidate takes the lease when it has not been renewed
// for `leaseDurationSeconds`. Writes use the Lease's resourceVersion, so two candidates can never
// both believe they acquired it. A leader that cannot renew within the renew deadline steps down.
import type { KubeObject } from "../../api/object.js";
import type { ResourceType } from "../../api/resource.js";
import type { Logger } from "../../util/log.js";
import { type Client, isAlreadyExists, isConflict, isNotFound } from "./client.js";

export interface LeaderElectionOptions {
  name: string;
  namespace: string;
  identity: string;
  leaseDurationSeconds?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
}

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

const microTime = (d = new Date()) => d.toISOString().replace(/Z$/, "000Z");

export class LeaderElector {
  private timer: NodeJS.Timeout | undefined;
  private leading = false;
  private lastRenew = 0;
  private stopped = false;
  private readonly duration: number;
  private readonly renewDeadline: number;
  private readonly retry: number;

  constructor(
    private readonly client: Client,
    private readonly leaseType: ResourceType,
    private readonly opts: LeaderElectionOptions,
    private readonly log: Logger,
  ) {
    this.duration = opts.leaseDurationSeconds ?? 15;
    this.renewDeadline = opts.renewDeadlineMs ?? 10_000;
    this.retry = opts.retryPeriodMs ?? 2_000;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  run(onStartedLeading: () => void, onStoppedLeading: () => void): void {
    const tick = async () => {
      if (this.stopped) return;
      let ok = false;
      try {
        ok = await this.tryAcquireOrRenew();
      } catch (e) {
        this.log.warn({ err: e }, "leader election: lease update failed");
      }
      if (this.stopped) return;
      if (ok) {
        this.lastRenew = Date.now();
        if (!this.leading) {
          this.leading = true;
          this.log.info({ identity: this.opts.identity }, "leader election: became leader");
          onStartedLeading();
        }
      } else if (this.leading && Date.now() - this.lastRenew > this.renewDeadline) {
        this.leading = false;
        this.log.warn({ identity: this.opts.identity }, "leader election: lost the lease");
        onStoppedLeading();
      }
      this.timer = setTimeout(() => void tick(), this.retry);
    };
    void tick();
  }

  /** Stops renewing and releases the lease so another replica can take over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (!this.leading) return;
    this.leading = false;
    try {
      const lease = await this.client.get(this.leaseType, this.opts.namespace, this.opts.name);
      const spec = (lease.spec ?? {}) as LeaseSpec;
      if (spec.holderIdentity === this.opts.identity) {
        await this.client.update(this.leaseType, {
          ...lease,
          spec: { ...spec, holderIdentity: "", renewTime: microTime(new Date(0)) },
        });
      }
    } catch {
      // best effort
    }
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { name, namespace, identity } = this.opts;
    let lease: KubeObject;
    try {
      lease = await this.client.get(this.leaseType, namespace, name);
    } catch (e) {
      if (!isNotFound(e)) throw e;
      try {
        await this.client.create(this.leaseType, {
          apiVersion: "coordination.k8s.io/v1",
          kind: "Lease",
          metadata: { name, namespace },
          spec: {
            holderIdentity: identity,
            leaseDurationSeconds: this.duration,
            acquireTime: microTime(),
            renewTime: microTime(),
            leaseTransitions: 0,
          },
        });
        return true;
      } catch (e2) {
        if (isAlreadyExists(e2)) return false;
        throw e2;
      }
    }
    const spec = (lease.spec ?? {}) as LeaseSpec;
    const renewed = spec.renewTime ? Date.parse(spec.renewTime) : 0;
    const expired = Date.now() > renewed + (spec.leaseDurationSeconds ?? this.duration) * 1000;
    const mine = spec.holderIdentity === identity;
    if (!mine && spec.holderIdentity && !expired) return false;
    const next: LeaseSpec = {
      ...spec,
      holderIdentity: identity,
      leaseDurationSeconds: this.duration,
      renewTime: microTime(),
      ...(mine ? {} : { acquireTime: microTime(), leaseTransitions: (spec.leaseTransitions ?? 0) + 1 }),
    };
    try {
      await this.client.update(this.leaseType, { ...lease, spec: next });
      return true;
    } catch (e) {
      if (isConflict(e)) return false;
      throw e;
    }
  }
}
