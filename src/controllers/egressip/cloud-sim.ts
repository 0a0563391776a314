// Simulated cloud provider: plays the role of OpenShift's cloud-network-config-controller for the
// lab and tests. It reads CloudPrivateIPConfig objects (name = the IP, spec.node = where it should
// be attached) and answers in their status exactly as the real one does: status.node and condition
// Assigned=True (CloudResponseSuccess) when the "NIC" has room, Assigned=False (CloudResponseError)
// when the node is unknown or its capacity is exhausted. Capacity per node is the lower of
// options.simulatedCloudCapacity and the node's egress-ipconfig capacity. Active only when
// options.simulateCloud is set. It never touches EgressIPs: the EgressIP controller reads the result.
import { cloudPrivateIPConfigType, nodeType } from "../../api/kinds/index.js";
import { isRecord, type KubeObject } from "../../api/object.js";
import type { Logger } from "../../util/log.js";
import { isConflict, isNotFound } from "../runtime/client.js";
import type { Controller, ControllerContext, SharedInformer } from "../runtime/manager.js";
import { type ReconcileOutcome, WorkQueue } from "../runtime/workqueue.js";
import { NodeAnnotationError, parseNodeEgressAnnotations } from "./node.js";
import {
  CLOUD_ASSIGNED_CONDITION,
  CLOUD_RESPONSE_ERROR,
  CLOUD_RESPONSE_SUCCESS,
  cloudStateOf,
} from "./translate.js";

const now = () => new Date().toISOString().replace(/\.\d+Z$/, "Z");

/** Addresses the simulated cloud allows on a node for a family; undefined = node unknown. */
export function simulatedCapacity(node: KubeObject | undefined, family: 4 | 6, limit: number): number {
  if (!node) return 0;
  let cfg: ReturnType<typeof parseNodeEgressAnnotations>["cloudConfig"];
  try {
    cfg = parseNodeEgressAnnotations(node.metadata.name ?? "", node.metadata.annotations).cloudConfig;
  } catch (e) {
    if (!(e instanceof NodeAnnotationError)) throw e;
  }
  if (!cfg) return limit;
  const c = cfg.capacity;
  const own = c.ip ?? (family === 4 ? c.ipv4 : c.ipv6) ?? 0;
  return Math.min(own, limit);
}

export class CloudSimController implements Controller {
  readonly name = "cloud-sim";
  private ctx!: ControllerContext;
  private log!: Logger;
  private queue: WorkQueue | undefined;
  private cpics!: SharedInformer;
  private nodes!: SharedInformer;
  /** CloudPrivateIPConfig name → node the simulated cloud attached it to (its own ledger, so two
   *  quick requests for one node never both pass while the informer lags). */
  private readonly attached = new Map<string, string>();

  setup(ctx: ControllerContext): void {
    if (!ctx.options.simulateCloud) return;
    this.ctx = ctx;
    this.log = ctx.log.child({ controller: this.name });
    this.attached.clear();
    this.queue = new WorkQueue(
      (key) => this.reconcile(key),
      (key, err, attempt) => this.log.warn({ err, key, attempt }, "simulated cloud failed; retrying"),
      { baseDelayMs: 5, maxDelayMs: 5000 },
    );
    this.cpics = ctx.informers.for(cloudPrivateIPConfigType);
    this.nodes = ctx.informers.for(nodeType);
    this.cpics.on((type, obj) => {
      const name = obj.metadata.name ?? "";
      if (type === "delete") {
        // Released: room for requests this cloud refused earlier.
        if (this.attached.delete(name)) this.retryRefused();
        return;
      }
      this.queue?.add(name);
    });
    this.nodes.on(() => this.retryRefused());
  }

  start(): void {
    if (!this.queue) return;
    for (const c of this.cpics.list()) {
      const st = cloudStateOf(c);
      if (st.state === "confirmed") this.attached.set(c.metadata.name ?? "", st.node);
    }
    for (const c of this.cpics.list()) this.queue.add(c.metadata.name ?? "");
  }

  stop(): void {
    this.queue?.stop();
    this.queue = undefined;
  }

  private retryRefused(): void {
    for (const c of this.cpics.list())
      if (cloudStateOf(c).state === "refused") this.queue?.add(c.metadata.name ?? "");
  }

  private async reconcile(name: string): Promise<ReconcileOutcome> {
    const c = this.cpics.get(name);
    if (!c) return undefined;
    const st = cloudStateOf(c);
    const want = st.node;
    if (st.state === "confirmed" && this.attached.get(name) === want) return undefined;
    const before = this.attached.get(name);
    // A move releases the old attachment first (as the real provider does).
    if (before !== undefined && before !== want) {
      this.attached.delete(name);
      this.retryRefused();
    }
    const family = name.includes(".") && name.split(".").length === 4 ? 4 : 6;
    const node = want === "" ? undefined : this.nodes.get(want);
    const limit = simulatedCapacity(node, family, this.ctx.options.simulatedCloudCapacity);
    let used = 0;
    for (const [n, on] of this.attached) {
      if (on !== want || n === name) continue;
      const f = n.split(".").length === 4 ? 4 : 6;
      if (f === family) used++;
    }
    const ok = node !== undefined && used < limit;
    const message = !node
      ? `node ${JSON.stringify(want)} not found`
      : ok
        ? "IP address successfully added"
        : `capacity exhausted on node ${want}: ${used} of ${limit} IPv${family} addresses in use`;
    if (!ok && st.state === "refused" && this.lastMessage(c) === message) return undefined;
    const status = {
      ...(ok ? { node: want } : {}),
      conditions: [
        {
          type: CLOUD_ASSIGNED_CONDITION,
          status: ok ? "True" : "False",
          reason: ok ? CLOUD_RESPONSE_SUCCESS : CLOUD_RESPONSE_ERROR,
          message,
          lastTransitionTime: now(),
          ...(typeof c.metadata.generation === "number" ? { observedGeneration: c.metadata.generation } : {}),
        },
      ],
    };
    try {
      await this.ctx.client.update(cloudPrivateIPConfigType, { ...c, status }, "status");
    } catch (e) {
      if (isNotFound(e)) return undefined;
      if (isConflict(e)) return { requeueAfterMs: 5 };
      throw e;
    }
    if (ok) this.attached.set(name, want);
    else this.attached.delete(name);
    this.log.info(
      { cloudPrivateIPConfig: name, node: want, assigned: ok, message },
      "simulated cloud answered",
    );
    return undefined;
  }

  private lastMessage(c: KubeObject): string | undefined {
    const st = isRecord(c.status) ? c.status : {};
    const conds = Array.isArray(st.conditions) ? st.conditions : [];
    const a = conds.find(
      (x): x is Record<string, unknown> => isRecord(x) && x.type === CLOUD_ASSIGNED_CONDITION,
    );
    return typeof a?.message === "string" ? a.message : undefined;
  }
}
