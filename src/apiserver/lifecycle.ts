// Work the Kubernetes control plane does around deletion, kept inside the API server so a lone
// `egress server` behaves like a cluster: a terminating Namespace has all its namespaced objects
// deleted and is then finalized (removed), and objects whose ownerReferences point at a deleted
// owner are deleted too (background cascading, as kubectl's default propagationPolicy).
import type { KubeObject } from "../api/object.js";
import type { ResourceType } from "../api/resource.js";
import type { Logger } from "../util/log.js";
import type { ObjectStorage } from "./objects.js";

const RETRY_MS = 500;

export class Lifecycle {
  private readonly finalizing = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;

  constructor(
    private readonly storage: ObjectStorage,
    private readonly types: readonly ResourceType[],
    private readonly log: Logger,
  ) {}

  private get namespaces(): ResourceType {
    return this.types.find((t) => t.group === "" && t.plural === "namespaces")!;
  }

  /** Resumes the finalization of namespaces that were terminating when the server stopped. */
  async start(): Promise<void> {
    const all = await this.storage.list(this.namespaces, { namespace: "" });
    for (const ns of all.items)
      if (ns.metadata.deletionTimestamp) this.finalizeNamespace(ns.metadata.name ?? "");
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
  }

  onDeleted(rt: ResourceType, obj: KubeObject, gone: boolean): void {
    if (rt.group === "" && rt.plural === "namespaces" && !gone)
      this.finalizeNamespace(obj.metadata.name ?? "");
    if (gone && obj.metadata.uid)
      void this.collectDependents(rt, obj).catch((e) =>
        this.log.warn({ err: e }, "garbage collection failed"),
      );
  }

  private later(fn: () => void): void {
    if (this.stopped) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, RETRY_MS);
    t.unref();
    this.timers.add(t);
  }

  finalizeNamespace(name: string): void {
    if (this.finalizing.has(name) || this.stopped) return;
    this.finalizing.add(name);
    void this.finalizeOnce(name)
      .then((done) => {
        this.finalizing.delete(name);
        if (!done) this.later(() => this.finalizeNamespace(name));
      })
      .catch((e) => {
        this.finalizing.delete(name);
        this.log.warn({ err: e, namespace: name }, "namespace finalization failed; retrying");
        this.later(() => this.finalizeNamespace(name));
      });
  }

  /** One pass: delete the namespace's content; finalize it when nothing is left. True when done. */
  private async finalizeOnce(name: string): Promise<boolean> {
    let remaining = 0;
    for (const rt of this.types) {
      if (!rt.namespaced) continue;
      const items = (await this.storage.list(rt, { namespace: name })).items;
      for (const o of items) {
        remaining++;
        if (o.metadata.deletionTimestamp) continue;
        try {
          const r = await this.storage.delete(rt, name, o.metadata.name ?? "", { dryRun: false });
          if (r.gone) remaining--;
        } catch {
          // gone meanwhile, or a conflict: the next pass sees it
        }
      }
    }
    if (remaining > 0) return false;
    const ns = await this.storage.tryGet(this.namespaces, "", name);
    if (!ns) return true;
    await this.storage.update(
      this.namespaces,
      "",
      name,
      "finalize",
      (cur) => ({ ...cur, spec: { ...((cur.spec as object | undefined) ?? {}), finalizers: [] } }),
      { dryRun: false, fieldValidation: "Ignore" },
    );
    return true;
  }

  private async collectDependents(owner: ResourceType, obj: KubeObject): Promise<void> {
    const uid = obj.metadata.uid;
    for (const rt of this.types) {
      if (owner.namespaced && !rt.namespaced) continue;
      const items = (
        await this.storage.list(rt, { namespace: owner.namespaced ? (obj.metadata.namespace ?? "") : "" })
      ).items;
      for (const o of items) {
        if (!o.metadata.ownerReferences?.some((r) => r.uid === uid)) continue;
        const others = o.metadata.ownerReferences.filter((r) => r.uid !== uid);
        try {
          if (others.length > 0) {
            // Still owned by someone else: only drop the dangling reference.
            await this.storage.update(
              rt,
              o.metadata.namespace ?? "",
              o.metadata.name ?? "",
              "",
              (cur) => {
                cur.metadata.ownerReferences = (cur.metadata.ownerReferences ?? []).filter(
                  (r) => r.uid !== uid,
                );
                return cur;
              },
              { dryRun: false, fieldValidation: "Ignore" },
            );
          } else {
            const r = await this.storage.delete(rt, o.metadata.namespace ?? "", o.metadata.name ?? "", {
              dryRun: false,
            });
            this.onDeleted(rt, r.object, r.gone);
          }
        } catch {
          // already gone
        }
      }
    }
  }
}
