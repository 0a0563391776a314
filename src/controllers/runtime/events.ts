// Records core/v1 Events for what users must see (`kubectl describe`). Repeats of the same event
// (object, type, reason, message) update count and lastTimestamp of the existing Event instead of
// creating new ones, as client-go's recorder does. Failures are logged, never thrown: an Event is
// best effort and must not fail a reconcile.
import { randomBytes } from "node:crypto";
import type { KubeObject } from "../../api/object.js";
import type { ResourceType } from "../../api/resource.js";
import type { Logger } from "../../util/log.js";
import type { Client } from "./client.js";

export interface ObjectRef {
  apiVersion?: string;
  kind: string;
  name: string;
  namespace?: string;
  uid?: string;
}

export function refOf(obj: KubeObject): ObjectRef {
  return {
    apiVersion: obj.apiVersion,
    kind: obj.kind,
    name: obj.metadata.name ?? "",
    ...(obj.metadata.namespace ? { namespace: obj.metadata.namespace } : {}),
    ...(obj.metadata.uid ? { uid: obj.metadata.uid } : {}),
  };
}

/** Event requests in flight per recorder (see record()). */
const EVENT_CONCURRENCY = 4;

const now = () => new Date().toISOString().replace(/\.\d+Z$/, "Z");

export class EventRecorder {
  private readonly seen = new Map<string, { name: string; namespace: string; count: number }>();
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly client: Client,
    private readonly eventType: ResourceType,
    private readonly component: string,
    private readonly log: Logger,
  ) {}

  /** Events are best effort and come in bursts (1,000 services allocated at once): at most
   *  EVENT_CONCURRENCY requests in flight, so they never fill the client's shared connection pool
   *  ahead of the status writes that matter. Resolves, as before, once the event is written. */
  async record(ref: ObjectRef, type: "Normal" | "Warning", reason: string, message: string): Promise<void> {
    if (this.inFlight >= EVENT_CONCURRENCY) await new Promise<void>((r) => this.waiting.push(r));
    else this.inFlight++;
    try {
      await this.recordNow(ref, type, reason, message);
    } finally {
      // Hand the slot straight to the next waiter (inFlight unchanged), else free it.
      const next = this.waiting.shift();
      if (next) next();
      else this.inFlight--;
    }
  }

  private async recordNow(
    ref: ObjectRef,
    type: "Normal" | "Warning",
    reason: string,
    message: string,
  ): Promise<void> {
    const namespace = ref.namespace || "default";
    const key = JSON.stringify([
      ref.kind,
      ref.namespace ?? "",
      ref.name,
      ref.uid ?? "",
      type,
      reason,
      message,
    ]);
    const prior = this.seen.get(key);
    try {
      if (prior) {
        prior.count++;
        await this.client.patch(this.eventType, prior.namespace, prior.name, {
          count: prior.count,
          lastTimestamp: now(),
        });
        return;
      }
      const name = `${ref.name}.${randomBytes(8).toString("hex")}`;
      const ts = now();
      await this.client.create(this.eventType, {
        apiVersion: "v1",
        kind: "Event",
        metadata: { name, namespace },
        involvedObject: {
          kind: ref.kind,
          name: ref.name,
          ...(ref.namespace ? { namespace: ref.namespace } : {}),
          ...(ref.uid ? { uid: ref.uid } : {}),
          ...(ref.apiVersion ? { apiVersion: ref.apiVersion } : {}),
        },
        reason,
        message,
        type,
        source: { component: this.component },
        reportingComponent: this.component,
        firstTimestamp: ts,
        lastTimestamp: ts,
        count: 1,
      });
      this.seen.set(key, { name, namespace, count: 1 });
      if (this.seen.size > 10_000) this.seen.delete(this.seen.keys().next().value as string);
    } catch (e) {
      if (prior) this.seen.delete(key);
      this.log.warn({ err: e, reason, object: `${ref.kind}/${ref.name}` }, "could not record event");
    }
  }
}
