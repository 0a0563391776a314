// The agent's fence for egress router pods (decision: router.ts fencePlan; commands: router-net.ts).
// Every tick: while the API server has not acknowledged a heartbeat for ROUTER_FENCE_AFTER_MS, every
// router pod's egress veth is taken down; once it answers again, fenced pods come back after a
// duplicate-address probe finds their source free. This is what lets the control plane evict a
// router pod from a cut-off node after a few seconds and start a replacement elsewhere without two
// pods ever answering for the same EGRESS_SOURCE when the node's links return. Must not decide
// anything about pods' lives (the kubelet tears evicted pods down when it sees their deletion).
import type { Logger } from "../../util/log.js";
import type { PodState } from "./pods.js";
import { type FenceTarget, fencePlan } from "./router.js";
import { egressAddresses, fenceEgress, linksUp, probeFromBridge, unfenceEgress } from "./router-net.js";

/**
 * Silence from the API after which router pods are fenced. Long enough that one failed heartbeat
 * (1 s interval + 1.5 s timeout, retried 1 s later) does not fence; not longer than the control
 * plane's --node-monitor-grace-period (at least 3.5 s), measured from the same last heartbeat: a
 * replacement can take the source only after that grace, its start and its own ~1.7 s
 * duplicate-address probe, so the old pod is silent first.
 */
export const ROUTER_FENCE_AFTER_MS = 3500;
const TICK_MS = 250;

export interface RouterFenceOptions {
  /** True while the API acknowledged a heartbeat within ROUTER_FENCE_AFTER_MS
   *  (NodeRegistration.apiReachable(ROUTER_FENCE_AFTER_MS)). */
  apiReachable: () => boolean;
  /** The kubelet's pods (PodManager.states()). */
  pods: () => readonly PodState[];
  tickMs?: number;
}

/** Router pods with an egress veth attached. */
export function fenceTargets(pods: readonly PodState[]): FenceTarget[] {
  return pods.flatMap((p) =>
    p.router?.hostVeth
      ? [{ key: `${p.namespace}/${p.name}`, netns: p.netns, hostVeth: p.router.hostVeth }]
      : [],
  );
}

export class RouterFence {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private stopped = false;
  /** Pods whose source another node answers for (logged once per holder). */
  private readonly held = new Map<string, string>();

  constructor(
    private readonly opts: RouterFenceOptions,
    private readonly log: Logger,
  ) {}

  start(): void {
    const tick = () => {
      if (this.stopped) return;
      this.tick()
        .catch((e: unknown) => this.log.warn({ err: e }, "router fence tick failed"))
        .finally(() => {
          if (this.stopped) return;
          this.timer = setTimeout(tick, this.opts.tickMs ?? TICK_MS);
          this.timer.unref();
        });
    };
    tick();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  /** One pass (exported for tests): fence or unfence what the plan says. */
  async tick(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const targets = fenceTargets(this.opts.pods());
      for (const k of [...this.held.keys()]) if (!targets.some((t) => t.key === k)) this.held.delete(k);
      if (targets.length === 0) return;
      // Read reachability before the links: a fence decided on a fresh "unreachable" is never late.
      const reachable = this.opts.apiReachable();
      const plan = fencePlan(targets, await linksUp(), reachable);
      for (const t of plan.fence) {
        await fenceEgress(t.hostVeth);
        this.log.warn(
          { pod: t.key, veth: t.hostVeth },
          "API out of reach: egress router fenced (source no longer answered)",
        );
      }
      for (const t of plan.unfence) {
        // Reachability may have gone again while probing the previous one.
        if (!this.opts.apiReachable()) break;
        try {
          await this.unfence(t);
        } catch (e) {
          // The pod may be being torn down; try again next tick, the others go on.
          this.log.warn({ pod: t.key, err: e }, "egress router stays fenced: could not check its source");
        }
      }
    } finally {
      this.running = false;
    }
  }

  /** Brings a fenced pod back if nobody else answers for any of its addresses (none: nothing to
   *  protect). */
  private async unfence(t: FenceTarget): Promise<void> {
    const addresses = await egressAddresses(t.netns);
    let holder: string | undefined;
    for (const a of addresses) {
      holder = await probeFromBridge(t.hostVeth, a);
      if (holder !== undefined) break;
    }
    if (holder !== undefined) {
      if (this.held.get(t.key) !== holder)
        this.log.warn({ pod: t.key, holder }, "egress router stays fenced: its source is answered elsewhere");
      this.held.set(t.key, holder);
      return;
    }
    if (!this.opts.apiReachable()) return;
    await unfenceEgress(t.netns, t.hostVeth, addresses);
    this.held.delete(t.key);
    this.log.info({ pod: t.key, veth: t.hostVeth }, "API reachable and source free: egress router unfenced");
  }
}
