// Node lifecycle: marks a node's Ready condition Unknown when its agent stopped posting heartbeats
// for the grace period (the agent died or the node is cut off). Failover of egress IPs does not wait
// for this — the reachability probe is much faster — but `kubectl get nodes` and every controller
// that reads Ready see the truth. Thin shell around stale.ts.
import { nodeType } from "../../api/kinds/index.js";
import type { KubeObject } from "../../api/object.js";
import { refOf } from "../runtime/events.js";
import type { Controller, ControllerContext } from "../runtime/manager.js";
import { type HeartbeatNode, staleNodes } from "./stale.js";

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

export class NodeLifecycleController implements Controller {
  readonly name = "nodelifecycle";
  private ctx!: ControllerContext;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly graceMs = 20_000) {}

  setup(ctx: ControllerContext): void {
    this.ctx = ctx;
    ctx.informers.for(nodeType);
  }

  start(): void {
    this.timer = setInterval(() => void this.check(), Math.min(1000, this.graceMs / 4));
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private async check(): Promise<void> {
    const nodes = this.ctx.informers.for(nodeType).list();
    const view: HeartbeatNode[] = nodes.map((n) => {
      const ready = conditions(n).find((c) => c.type === "Ready");
      const hb = ready?.lastHeartbeatTime ? Date.parse(ready.lastHeartbeatTime) : undefined;
      return { name: n.metadata.name ?? "", ready: ready?.status, lastHeartbeat: hb };
    });
    for (const name of staleNodes(view, Date.now(), this.graceMs)) {
      const node = nodes.find((n) => n.metadata.name === name);
      if (!node) continue;
      const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
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
        await this.ctx.client.patch(nodeType, "", name, { status: { conditions: next } }, "merge", "status");
        await this.ctx.recorder.record(
          refOf(node),
          "Warning",
          "NodeNotReady",
          `Node ${name} status is now: NodeStatusUnknown`,
        );
      } catch (e) {
        this.ctx.log.warn({ err: e, node: name }, "could not mark node Unknown");
      }
    }
  }
}
