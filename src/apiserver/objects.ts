// Object semantics of the API server on top of the key-value store: keys, resourceVersion,
// uid/generation/creationTimestamp, create/update/patch/delete with optimistic concurrency,
// status subresources, finalizers and deletionTimestamp, dry runs, field validation, selectors and
// watch event translation. Knows nothing of HTTP (server.ts) or of controllers.
import { randomUUID } from "node:crypto";
import { isDeepStrictEqual } from "node:util";
import { ApiError, type FieldError } from "../api/errors.js";
import type { KubeObject, ObjectMeta } from "../api/object.js";
import { isRecord } from "../api/object.js";
import { apiVersionOf, type ResourceType } from "../api/resource.js";
import { type Selector, selectorMatches } from "../api/selector.js";
import { dropNulls, validateObject } from "../api/validate.js";
import { CasFailedError, CompactedError, KeyNotFoundError } from "../store/errors.js";
import type { KeyValue, Store, WatchEvent, WatchHandle } from "../store/types.js";
import type { FieldRequirement } from "./field-selector.js";
import {
  applyJsonPatch,
  applyMergePatch,
  applyStrategicMergePatch,
  type JSONSchemaObject,
  PatchError,
} from "./patch/index.js";

export type FieldValidation = "Strict" | "Warn" | "Ignore";

export interface WriteOptions {
  dryRun: boolean;
  fieldValidation: FieldValidation;
}

export interface WriteResult {
  object: KubeObject;
  warnings: string[];
  /** True when create found nothing to do (not used for create) or update changed nothing. */
  unchanged?: boolean;
}

export interface ListQuery {
  namespace: string;
  labelSelector?: Selector;
  fieldSelector?: FieldRequirement[];
  limit?: number;
  continueToken?: string;
}

export interface ListResult {
  items: KubeObject[];
  resourceVersion: string;
  continueToken?: string;
  remainingItemCount?: number;
}

export interface ObjectEvent {
  type: "ADDED" | "MODIFIED" | "DELETED";
  object: KubeObject;
  revision: number;
  /** The object is shared by every watcher of this store event and must not be mutated. */
  shared?: boolean;
}

export type PatchType = "merge" | "json" | "strategic";

/** RFC 3339 with second precision, as Kubernetes' metav1.Time. */
export function nowTimestamp(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, "Z");
}

function clone<T>(v: T): T {
  return structuredClone(v);
}

const CAS_RETRIES = 8;

/** `{"apiVersion":"…","kind":"…","metadata":{` at the start of a stored value; group 1 = kind. */
const CANONICAL_PREFIX = /^\{"apiVersion":"(?:[^"\\]|\\.)*","kind":("(?:[^"\\]|\\.)*"),"metadata":\{/;

export class ObjectStorage {
  /** The last store event decoded for watchers (see watch()). */
  private lastEvent: { kv: KeyValue; obj: KubeObject } | undefined;

  constructor(
    readonly store: Store,
    /** Called for every object about to be written (after validation), e.g. to allocate a Service IP. */
    private readonly admit: (
      rt: ResourceType,
      obj: KubeObject,
      old: KubeObject | undefined,
    ) => Promise<void> = async () => {},
  ) {}

  // ---- keys -------------------------------------------------------------------------------

  prefix(rt: ResourceType, namespace: string): string {
    const base = `/registry/${rt.group || "core"}/${rt.plural}/`;
    return rt.namespaced && namespace ? `${base}${namespace}/` : base;
  }

  key(rt: ResourceType, namespace: string, name: string): string {
    return rt.namespaced ? `${this.prefix(rt, namespace)}${name}` : `${this.prefix(rt, "")}${name}`;
  }

  // ---- encoding ---------------------------------------------------------------------------

  decode(kv: KeyValue, revisionOverride?: number): KubeObject {
    const obj = JSON.parse(kv.value) as KubeObject;
    obj.metadata.resourceVersion = String(revisionOverride ?? kv.modRevision);
    return obj;
  }

  /** Stored form: apiVersion, kind and metadata first (in that order), without resourceVersion, so
   *  serialize() can serve the stored text without parsing it. */
  private encode(obj: KubeObject): string {
    const { resourceVersion: _rv, ...meta } = obj.metadata;
    const { apiVersion, kind, metadata: _m, ...rest } = obj;
    return JSON.stringify({ apiVersion, kind, metadata: meta, ...rest });
  }

  /**
   * The object as JSON text for `apiVersion`, with its resourceVersion, built from the stored text
   * when it has the canonical prefix (written by encode()): no JSON.parse/stringify per object, which
   * dominates large lists. Other stored text (older layout) goes through decode().
   */
  serialize(kv: KeyValue, apiVersion: string, revisionOverride?: number): string {
    const rv = String(revisionOverride ?? kv.modRevision);
    const m = CANONICAL_PREFIX.exec(kv.value);
    if (m) {
      const rest = kv.value.slice(m[0].length);
      return `{"apiVersion":${JSON.stringify(apiVersion)},"kind":${m[1]},"metadata":{"resourceVersion":"${rv}"${rest.startsWith("}") ? "" : ","}${rest}`;
    }
    const obj = this.decode(kv, revisionOverride);
    obj.apiVersion = apiVersion;
    return JSON.stringify(obj);
  }

  // ---- reads ------------------------------------------------------------------------------

  async get(rt: ResourceType, namespace: string, name: string): Promise<KubeObject> {
    const kv = await this.store.get(this.key(rt, namespace, name));
    if (!kv) throw ApiError.notFound(rt.plural, rt.group, name);
    return this.decode(kv);
  }

  async tryGet(rt: ResourceType, namespace: string, name: string): Promise<KubeObject | undefined> {
    const kv = await this.store.get(this.key(rt, namespace, name));
    return kv ? this.decode(kv) : undefined;
  }

  matches(rt: ResourceType, obj: KubeObject, q: Pick<ListQuery, "labelSelector" | "fieldSelector">): boolean {
    if (q.labelSelector && !selectorMatches(q.labelSelector, obj.metadata.labels)) return false;
    for (const r of q.fieldSelector ?? []) {
      const v = fieldValue(rt, obj, r.field) ?? "";
      if (r.op === "=" ? v !== r.value : v === r.value) return false;
    }
    return true;
  }

  checkFieldSelector(rt: ResourceType, reqs: FieldRequirement[] | undefined): void {
    for (const r of reqs ?? []) {
      if (r.field === "metadata.name" || r.field === "metadata.namespace") continue;
      if (!(r.field in rt.fieldSelectors)) {
        throw ApiError.badRequest(
          `field label not supported: ${r.field} (${rt.plural} support metadata.name, metadata.namespace${Object.keys(
            rt.fieldSelectors,
          )
            .map((k) => `, ${k}`)
            .join("")})`,
        );
      }
    }
  }

  async list(rt: ResourceType, q: ListQuery): Promise<ListResult> {
    this.checkFieldSelector(rt, q.fieldSelector);
    const prefix = this.prefix(rt, q.namespace);
    let startAfter: string | undefined;
    if (q.continueToken) {
      try {
        const t = JSON.parse(Buffer.from(q.continueToken, "base64url").toString()) as { k?: unknown };
        if (typeof t.k !== "string" || !t.k.startsWith(prefix)) throw new Error("bad key");
        startAfter = t.k;
      } catch {
        throw ApiError.badRequest(
          `continue token ${JSON.stringify(q.continueToken.slice(0, 100))} is not valid for this list`,
        );
      }
    }
    const filtering = q.labelSelector !== undefined || (q.fieldSelector?.length ?? 0) > 0;
    const items: KubeObject[] = [];
    let revision = this.store.revision();
    let lastKey: string | undefined;
    let more = false;
    // Without filters one store page is one result page; with filters keep reading until the limit
    // is filled (as the Kubernetes API server does), in bounded chunks.
    for (;;) {
      const page = await this.store.list(prefix, {
        ...(q.limit ? { limit: filtering ? Math.max(q.limit, 500) : q.limit } : {}),
        ...(startAfter ? { startAfter } : {}),
      });
      revision = page.revision;
      for (const kv of page.items) {
        lastKey = kv.key;
        const obj = this.decode(kv);
        if (filtering && !this.matches(rt, obj, q)) continue;
        items.push(obj);
        if (q.limit && items.length >= q.limit) break;
      }
      if (q.limit && items.length >= q.limit) {
        more = page.more || lastKey !== page.items[page.items.length - 1]?.key;
        break;
      }
      if (!page.more) break;
      startAfter = page.items[page.items.length - 1]?.key;
    }
    const res: ListResult = { items, resourceVersion: String(revision) };
    if (more && lastKey)
      res.continueToken = Buffer.from(JSON.stringify({ k: lastKey })).toString("base64url");
    return res;
  }

  // ---- writes -----------------------------------------------------------------------------

  private validate(
    rt: ResourceType,
    obj: KubeObject,
    old: KubeObject | undefined,
    fv: FieldValidation,
  ): string[] {
    const { errors, unknownFields } = validateObject(rt, obj, old);
    const warnings: string[] = [];
    if (unknownFields.length > 0) {
      if (fv === "Strict") {
        throw ApiError.badRequest(
          `strict decoding error: ${unknownFields.map((f) => `unknown field "${f}"`).join(", ")}`,
        );
      }
      for (const f of unknownFields) {
        if (fv === "Warn") warnings.push(`unknown field "${f}"`);
        removePath(obj, f as string);
      }
    }
    if (errors.length > 0) throw ApiError.invalid(rt.kind, rt.group, obj.metadata.name ?? "", errors);
    return warnings;
  }

  private checkIdentity(rt: ResourceType, namespace: string, obj: KubeObject): void {
    if (!isRecord(obj.metadata)) throw ApiError.badRequest("metadata: must be an object");
    if (rt.namespaced) {
      if (obj.metadata.namespace && obj.metadata.namespace !== namespace) {
        throw ApiError.badRequest(
          `the namespace of the provided object (${obj.metadata.namespace}) does not match the namespace sent on the request (${namespace})`,
        );
      }
      obj.metadata.namespace = namespace;
    } else if (obj.metadata.namespace) {
      delete obj.metadata.namespace;
    }
    obj.apiVersion = apiVersionOf(rt.group, rt.version);
    obj.kind = rt.kind;
  }

  async create(
    rt: ResourceType,
    namespace: string,
    input: KubeObject,
    opts: WriteOptions,
  ): Promise<WriteResult> {
    // Null fields are absent, as for Go's decoder (e.g. `podSelector:` in the seed's policies).
    const obj = dropNulls(input);
    this.checkIdentity(rt, namespace, obj);
    const meta = obj.metadata;
    if (!meta.name && meta.generateName) meta.name = `${meta.generateName}${randomSuffix()}`;
    if (!meta.name) {
      throw ApiError.invalid(rt.kind, rt.group, "", [
        { field: "metadata.name", type: "FieldValueRequired", detail: "name or generateName is required" },
      ]);
    }
    if (rt.namespaced) await this.checkNamespaceWritable(namespace);
    // Fields the server owns.
    delete meta.resourceVersion;
    delete meta.deletionTimestamp;
    delete meta.deletionGracePeriodSeconds;
    delete meta.managedFields;
    meta.uid = randomUUID();
    meta.creationTimestamp = nowTimestamp();
    if (rt.hasGeneration) meta.generation = 1;
    else delete meta.generation;
    if (rt.statusSubresource && rt.kind !== "Node") delete obj.status;
    rt.defaults?.(obj);
    const warnings = this.validate(rt, obj, undefined, opts.fieldValidation);
    await this.admit(rt, obj, undefined);
    if (opts.dryRun) return { object: obj, warnings };
    try {
      const kv = await this.store.put(this.key(rt, namespace, meta.name), this.encode(obj), {
        expectModRevision: 0,
      });
      obj.metadata.resourceVersion = String(kv.modRevision);
      return { object: obj, warnings };
    } catch (e) {
      if (e instanceof CasFailedError) throw ApiError.alreadyExists(rt.plural, rt.group, meta.name);
      throw e;
    }
  }

  private async checkNamespaceWritable(namespace: string): Promise<void> {
    if (!namespace) throw ApiError.badRequest("a namespace is required for this resource");
    const kv = await this.store.get(`/registry/core/namespaces/${namespace}`);
    if (!kv) throw ApiError.notFound("namespaces", "", namespace);
    const ns = JSON.parse(kv.value) as KubeObject;
    if (ns.metadata.deletionTimestamp) {
      throw new ApiError(
        403,
        "Forbidden",
        `unable to create new content in namespace ${namespace} because it is being terminated`,
      );
    }
  }

  /**
   * Read-modify-write with compare-and-swap, retried on conflicts caused by others unless the caller
   * pinned a resourceVersion. `mutate` returns the desired object built from the current one.
   */
  /** Writes to one key through this server run one after another: concurrent unconditional patches
   *  then queue instead of racing on compare-and-swap and failing with 409 after a few retries
   *  (writers that pinned a resourceVersion still get their 409 at once). */
  private readonly writing = new Map<string, Promise<unknown>>();

  private serialized<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.writing.get(key) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.writing.set(key, tail);
    void tail.then(() => {
      if (this.writing.get(key) === tail) this.writing.delete(key);
    });
    return run;
  }

  update(
    rt: ResourceType,
    namespace: string,
    name: string,
    subresource: string,
    mutate: (current: KubeObject) => KubeObject,
    opts: WriteOptions & { expectResourceVersion?: string },
  ): Promise<WriteResult> {
    return this.serialized(this.key(rt, namespace, name), () =>
      this.updateNow(rt, namespace, name, subresource, mutate, opts),
    );
  }

  private async updateNow(
    rt: ResourceType,
    namespace: string,
    name: string,
    subresource: string,
    mutate: (current: KubeObject) => KubeObject,
    opts: WriteOptions & { expectResourceVersion?: string },
  ): Promise<WriteResult> {
    const key = this.key(rt, namespace, name);
    for (let attempt = 0; ; attempt++) {
      const kv = await this.store.get(key);
      if (!kv) throw ApiError.notFound(rt.plural, rt.group, name);
      const current = this.decode(kv);
      if (opts.expectResourceVersion && opts.expectResourceVersion !== current.metadata.resourceVersion) {
        throw ApiError.conflict(
          rt.plural,
          rt.group,
          name,
          "the object has been modified; please apply your changes to the latest version and try again",
        );
      }
      const desired = dropNulls(mutate(clone(current)));
      const next = this.prepareUpdate(rt, namespace, name, subresource, desired, current);
      const warnings = this.validate(rt, next, current, opts.fieldValidation);
      await this.admit(rt, next, current);
      const unchanged = isDeepStrictEqual(next, current);
      if (unchanged) return { object: current, warnings, unchanged: true };
      if (opts.dryRun) return { object: next, warnings };
      try {
        if (
          next.metadata.deletionTimestamp &&
          (next.metadata.finalizers?.length ?? 0) === 0 &&
          this.finalized(rt, next)
        ) {
          const gone = await this.store.delete(key, { expectModRevision: kv.modRevision });
          next.metadata.resourceVersion = String(gone.modRevision);
          return { object: next, warnings };
        }
        const written = await this.store.put(key, this.encode(next), { expectModRevision: kv.modRevision });
        next.metadata.resourceVersion = String(written.modRevision);
        return { object: next, warnings };
      } catch (e) {
        if (e instanceof CasFailedError && !opts.expectResourceVersion && attempt < CAS_RETRIES) continue;
        if (e instanceof CasFailedError) {
          throw ApiError.conflict(
            rt.plural,
            rt.group,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
          );
        }
        throw e;
      }
    }
  }

  /** Namespaces also wait for their spec.finalizers (the "kubernetes" content finalizer). */
  private finalized(rt: ResourceType, obj: KubeObject): boolean {
    if (rt.group === "" && rt.plural === "namespaces") {
      const spec = obj.spec as { finalizers?: string[] } | undefined;
      return (spec?.finalizers?.length ?? 0) === 0;
    }
    return true;
  }

  private prepareUpdate(
    rt: ResourceType,
    namespace: string,
    name: string,
    subresource: string,
    desired: KubeObject,
    current: KubeObject,
  ): KubeObject {
    if (!isRecord(desired) || !isRecord(desired.metadata))
      throw ApiError.badRequest("the object must have metadata");
    if (desired.metadata.name !== undefined && desired.metadata.name !== name) {
      throw ApiError.badRequest(
        `the name of the object (${String(desired.metadata.name)}) does not match the name on the URL (${name})`,
      );
    }
    if (desired.metadata.uid && desired.metadata.uid !== current.metadata.uid) {
      throw ApiError.conflict(
        rt.plural,
        rt.group,
        name,
        `Precondition failed: UID in precondition: ${desired.metadata.uid}, UID in object meta: ${current.metadata.uid}`,
      );
    }
    let next: KubeObject;
    if (subresource === "status") {
      // /status changes only status (Kubernetes keeps everything else from the stored object).
      next = clone(current);
      if (desired.status === undefined) delete next.status;
      else next.status = desired.status;
    } else if (subresource === "finalize" && rt.plural === "namespaces") {
      next = clone(current);
      const spec = (isRecord(desired.spec) ? desired.spec : {}) as { finalizers?: string[] };
      next.spec = { ...(isRecord(current.spec) ? current.spec : {}), finalizers: spec.finalizers ?? [] };
    } else if (subresource === "") {
      next = desired;
      this.checkIdentity(rt, namespace, next);
      if (rt.statusSubresource) {
        if (current.status === undefined) delete next.status;
        else next.status = current.status;
      }
    } else {
      throw ApiError.notFound(`${rt.plural}/${subresource}`, rt.group, name);
    }
    const meta: ObjectMeta = next.metadata;
    const cur = current.metadata;
    meta.name = name;
    meta.uid = cur.uid;
    meta.creationTimestamp = cur.creationTimestamp;
    delete meta.managedFields;
    // deletionTimestamp can be set only by delete and never cleared.
    if (cur.deletionTimestamp) {
      meta.deletionTimestamp = cur.deletionTimestamp;
      if (cur.deletionGracePeriodSeconds !== undefined)
        meta.deletionGracePeriodSeconds = cur.deletionGracePeriodSeconds;
    } else {
      delete meta.deletionTimestamp;
      delete meta.deletionGracePeriodSeconds;
    }
    if (cur.deletionTimestamp) {
      const added = (meta.finalizers ?? []).filter((f) => !(cur.finalizers ?? []).includes(f));
      if (added.length > 0) {
        throw ApiError.invalid(rt.kind, rt.group, name, [
          {
            field: "metadata.finalizers",
            type: "FieldValueForbidden",
            detail: `no new finalizers can be added if the object is being deleted, found new finalizers ${JSON.stringify(added)}`,
          },
        ]);
      }
    }
    if (meta.finalizers && meta.finalizers.length === 0) delete meta.finalizers;
    rt.prepareUpdate?.(next, current);
    rt.defaults?.(next);
    if (rt.hasGeneration) {
      meta.generation = cur.generation ?? 1;
      if (specChanged(next, current)) meta.generation += 1;
    }
    meta.resourceVersion = cur.resourceVersion;
    return next;
  }

  async replace(
    rt: ResourceType,
    namespace: string,
    name: string,
    subresource: string,
    body: KubeObject,
    opts: WriteOptions,
  ): Promise<WriteResult> {
    const rv =
      typeof body.metadata?.resourceVersion === "string" && body.metadata.resourceVersion !== ""
        ? body.metadata.resourceVersion
        : undefined;
    return this.update(rt, namespace, name, subresource, () => body, {
      ...opts,
      ...(rv ? { expectResourceVersion: rv } : {}),
    });
  }

  async patch(
    rt: ResourceType,
    namespace: string,
    name: string,
    subresource: string,
    type: PatchType,
    patch: unknown,
    opts: WriteOptions,
  ): Promise<WriteResult> {
    if (type === "strategic" && !rt.builtin) {
      throw new ApiError(
        415,
        "UnsupportedMediaType",
        `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json`,
      );
    }
    let pinned: string | undefined;
    if (
      type !== "json" &&
      isRecord(patch) &&
      isRecord(patch.metadata) &&
      typeof patch.metadata.resourceVersion === "string"
    ) {
      pinned = patch.metadata.resourceVersion;
    }
    return this.update(
      rt,
      namespace,
      name,
      subresource,
      (current) => {
        let out: unknown;
        try {
          out =
            type === "merge"
              ? applyMergePatch(current, patch)
              : type === "json"
                ? applyJsonPatch(current, patch)
                : applyStrategicMergePatch(current, patch, rt.schema as unknown as JSONSchemaObject);
        } catch (e) {
          if (e instanceof PatchError) throw e.toApiError();
          throw e;
        }
        if (!isRecord(out) || !isRecord(out.metadata))
          throw ApiError.badRequest("the patched object must have metadata");
        return out as KubeObject;
      },
      { ...opts, ...(pinned ? { expectResourceVersion: pinned } : {}) },
    );
  }

  /**
   * Deletes an object, or marks it for deletion when finalizers (or, for namespaces, content) must
   * be cleared first. Returns the object as last seen and whether it is gone.
   */
  async delete(
    rt: ResourceType,
    namespace: string,
    name: string,
    opts: { dryRun: boolean; preconditions?: { uid?: string; resourceVersion?: string } },
  ): Promise<{ object: KubeObject; gone: boolean }> {
    const key = this.key(rt, namespace, name);
    for (let attempt = 0; ; attempt++) {
      const kv = await this.store.get(key);
      if (!kv) throw ApiError.notFound(rt.plural, rt.group, name);
      const current = this.decode(kv);
      const pre = opts.preconditions;
      if (pre?.uid && pre.uid !== current.metadata.uid) {
        throw ApiError.conflict(
          rt.plural,
          rt.group,
          name,
          `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${current.metadata.uid}`,
        );
      }
      if (pre?.resourceVersion && pre.resourceVersion !== current.metadata.resourceVersion) {
        throw ApiError.conflict(
          rt.plural,
          rt.group,
          name,
          `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${current.metadata.resourceVersion}`,
        );
      }
      const pending = (current.metadata.finalizers?.length ?? 0) > 0 || !this.finalized(rt, current);
      if (!pending) {
        if (opts.dryRun) return { object: current, gone: true };
        try {
          await this.store.delete(key, { expectModRevision: kv.modRevision });
          return { object: current, gone: true };
        } catch (e) {
          if ((e instanceof CasFailedError || e instanceof KeyNotFoundError) && attempt < CAS_RETRIES)
            continue;
          if (e instanceof KeyNotFoundError) throw ApiError.notFound(rt.plural, rt.group, name);
          throw e;
        }
      }
      if (current.metadata.deletionTimestamp) return { object: current, gone: false };
      const next = clone(current);
      next.metadata.deletionTimestamp = nowTimestamp();
      next.metadata.deletionGracePeriodSeconds = 0;
      if (rt.group === "" && rt.plural === "namespaces") {
        next.status = { ...(isRecord(next.status) ? next.status : {}), phase: "Terminating" };
      }
      if (opts.dryRun) return { object: next, gone: false };
      try {
        const written = await this.store.put(key, this.encode(next), { expectModRevision: kv.modRevision });
        next.metadata.resourceVersion = String(written.modRevision);
        return { object: next, gone: false };
      } catch (e) {
        if (e instanceof CasFailedError && attempt < CAS_RETRIES) continue;
        throw e;
      }
    }
  }

  // ---- watch ------------------------------------------------------------------------------

  /**
   * Object events after `fromRevision` for one resource (optionally one namespace), with selector
   * semantics as Kubernetes: an object leaving the selection is reported DELETED, entering ADDED.
   * Throws ApiError 410 (Expired) when the revision is no longer retained.
   */
  watch(
    rt: ResourceType,
    q: Pick<ListQuery, "namespace" | "labelSelector" | "fieldSelector"> & { name?: string },
    fromRevision: number,
    onEvent: (e: ObjectEvent) => void,
  ): WatchHandle {
    this.checkFieldSelector(rt, q.fieldSelector);
    const prefix = q.name ? this.key(rt, q.namespace, q.name) : this.prefix(rt, q.namespace);
    const exactKey = q.name ? prefix : undefined;
    const filtering = q.labelSelector !== undefined || (q.fieldSelector?.length ?? 0) > 0;
    try {
      return this.store.watch(prefix, fromRevision, (e: WatchEvent) => {
        if (exactKey && e.kv.key !== exactKey) return;
        if (!filtering) {
          // The store hands one event to every watcher in turn, so a one-entry cache decodes it once
          // for all of them (KeyValues are immutable; a delete's tombstone carries the old value
          // with the deletion revision). One entry only: caching more would keep objects alive.
          let obj = this.lastEvent?.kv === e.kv ? this.lastEvent.obj : undefined;
          if (!obj) {
            obj = this.decode(e.kv);
            this.lastEvent = { kv: e.kv, obj };
          }
          const type = e.type === "delete" ? "DELETED" : e.prev ? "MODIFIED" : "ADDED";
          onEvent({ type, object: obj, revision: e.revision, shared: true });
          return;
        }
        if (e.type === "delete") {
          const obj = this.decode(e.prev, e.revision);
          if (!filtering || this.matches(rt, obj, q))
            onEvent({ type: "DELETED", object: obj, revision: e.revision });
          return;
        }
        const obj = this.decode(e.kv);
        if (!filtering) {
          onEvent({ type: e.prev ? "MODIFIED" : "ADDED", object: obj, revision: e.revision });
          return;
        }
        const now = this.matches(rt, obj, q);
        const before = e.prev ? this.matches(rt, this.decode(e.prev), q) : false;
        if (now && before) onEvent({ type: "MODIFIED", object: obj, revision: e.revision });
        else if (now) onEvent({ type: "ADDED", object: obj, revision: e.revision });
        else if (before) {
          obj.metadata.resourceVersion = String(e.revision);
          onEvent({ type: "DELETED", object: obj, revision: e.revision });
        }
      });
    } catch (e) {
      if (e instanceof CompactedError) {
        throw ApiError.gone(`too old resource version: ${fromRevision} (${e.compactedRevision})`);
      }
      throw e;
    }
  }
}

function randomSuffix(): string {
  const alphabet = "bcdfghjklmnpqrstvwxz2456789";
  let s = "";
  for (let i = 0; i < 5; i++) s += alphabet[Math.floor(Math.random() * alphabet.length)];
  return s;
}

function specChanged(a: KubeObject, b: KubeObject): boolean {
  const strip = (o: KubeObject) => {
    const { metadata: _m, status: _s, apiVersion: _a, kind: _k, ...rest } = o;
    return rest;
  };
  return !isDeepStrictEqual(strip(a), strip(b));
}

/** Value of a field-selector field on an object ("" when absent). */
export function fieldValue(rt: ResourceType, obj: KubeObject, field: string): string | undefined {
  if (field === "metadata.name") return obj.metadata.name;
  if (field === "metadata.namespace") return obj.metadata.namespace;
  return rt.fieldSelectors[field]?.(obj);
}

/** Removes the value at a Kubernetes field path such as `spec.containers[0].imagee`. */
export function removePath(obj: unknown, path: string): void {
  const segs: (string | number)[] = [];
  for (const m of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) {
    if (m[2] !== undefined) segs.push(Number(m[2]));
    else if (m[1] !== undefined) segs.push(m[1]);
  }
  let cur: unknown = obj;
  for (let i = 0; i < segs.length - 1; i++) {
    const s = segs[i]!;
    if (typeof s === "number") cur = Array.isArray(cur) ? cur[s] : undefined;
    else cur = isRecord(cur) ? cur[s] : undefined;
    if (cur === undefined) return;
  }
  const last = segs[segs.length - 1];
  if (typeof last === "string" && isRecord(cur)) delete cur[last];
}

export type { FieldError };
