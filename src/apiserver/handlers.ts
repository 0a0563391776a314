// Resource request handlers: translate HTTP requests on /api and /apis into ObjectStorage calls and
// render the responses (objects, lists, Tables, Status, watch streams).
import type { IncomingMessage, ServerResponse } from "node:http";
import { ApiError } from "../api/errors.js";
import type { KubeObject } from "../api/object.js";
import { isRecord } from "../api/object.js";
import { apiVersionOf, type ResourceType } from "../api/resource.js";
import { parseSelector, SelectorParseError } from "../api/selector.js";
import type { Served } from "./discovery.js";
import { parseFieldSelector } from "./field-selector.js";
import {
  decodeObject,
  mediaType,
  parseJson,
  readBody,
  sendJson,
  wantsTable,
  warningHeaders,
} from "./http.js";
import type { FieldValidation, ListQuery, ObjectStorage, PatchType } from "./objects.js";
import { decodeKubernetesProtobuf, isProtobufContentType } from "./protobuf/index.js";
import type { ResourceRequest } from "./request-info.js";
import { type IncludeObject, renderTable } from "./table.js";
import { serveWatch } from "./watch.js";

export interface HandlerContext {
  storage: ObjectStorage;
  /** Called after an object is deleted for good or marked for deletion (namespace lifecycle, GC). */
  onDeleted(rt: ResourceType, obj: KubeObject, gone: boolean): void;
}

const MAX_LABEL_SELECTOR = 16 * 1024;

export function listQuery(rt: ResourceType, namespace: string, q: URLSearchParams): ListQuery {
  const out: ListQuery = { namespace: rt.namespaced ? namespace : "" };
  const ls = q.get("labelSelector");
  if (ls) {
    if (ls.length > MAX_LABEL_SELECTOR) {
      throw ApiError.badRequest(
        `labelSelector is ${ls.length} bytes long; at most ${MAX_LABEL_SELECTOR} are accepted`,
      );
    }
    try {
      out.labelSelector = parseSelector(ls);
    } catch (e) {
      if (e instanceof SelectorParseError)
        throw ApiError.badRequest(`unable to parse requirement: ${e.message}`);
      throw e;
    }
  }
  const fs = q.get("fieldSelector");
  if (fs) out.fieldSelector = parseFieldSelector(fs);
  const limit = q.get("limit");
  if (limit) {
    const n = Number(limit);
    if (!Number.isInteger(n) || n < 0)
      throw ApiError.badRequest(`limit: must be a non-negative integer, got ${JSON.stringify(limit)}`);
    if (n > 0) out.limit = n;
  }
  const cont = q.get("continue");
  if (cont) out.continueToken = cont;
  return out;
}

function fieldValidation(q: URLSearchParams): FieldValidation {
  const v = q.get("fieldValidation") ?? "Warn";
  if (v === "Strict" || v === "Warn" || v === "Ignore") return v;
  throw ApiError.badRequest(
    `fieldValidation: Unsupported value: ${JSON.stringify(v)}: supported values: "Ignore", "Strict", "Warn"`,
  );
}

function dryRun(q: URLSearchParams): boolean {
  const all = q.getAll("dryRun");
  for (const v of all) {
    if (v !== "All")
      throw ApiError.badRequest(`dryRun: Unsupported value: ${JSON.stringify(v)}: supported values: "All"`);
  }
  return all.length > 0;
}

/** The object as served at the requested group/version (aliases rename apiVersion only). */
export function present(served: Served, obj: KubeObject): KubeObject {
  const av = apiVersionOf(served.group, served.version);
  if (obj.apiVersion !== av) obj.apiVersion = av;
  return obj;
}

function checkBodyKind(served: Served, body: Record<string, unknown>): void {
  const rt = served.rt;
  const kind = body.kind;
  const av = body.apiVersion;
  if (kind !== undefined && kind !== rt.kind) {
    throw ApiError.badRequest(
      `the kind of the body (${String(kind)}) does not match the resource ${rt.plural} (kind ${rt.kind})`,
    );
  }
  if (av !== undefined) {
    const ok = [
      apiVersionOf(rt.group, rt.version),
      ...rt.aliases.map((a) => apiVersionOf(a.group, a.version)),
    ];
    if (typeof av !== "string" || !ok.includes(av)) {
      throw ApiError.badRequest(
        `the apiVersion of the body (${String(av)}) does not match ${ok.map((a) => JSON.stringify(a)).join(" or ")}`,
      );
    }
  }
}

function patchTypeOf(ct: string | undefined): PatchType {
  switch (mediaType(ct)) {
    case "application/merge-patch+json":
      return "merge";
    case "application/json-patch+json":
      return "json";
    case "application/strategic-merge-patch+json":
      return "strategic";
    case "application/apply-patch+yaml":
      throw new ApiError(
        415,
        "UnsupportedMediaType",
        "server-side apply (application/apply-patch+yaml) is not supported by this server; use client-side `kubectl apply`",
      );
    default:
      throw new ApiError(
        415,
        "UnsupportedMediaType",
        `the body of the request was in an unknown format (${mediaType(ct) || "none"}) - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json`,
      );
  }
}

function decodeDeleteOptions(body: Buffer, ct: string | undefined): Record<string, unknown> {
  if (body.length === 0) return {};
  if (isProtobufContentType(mediaType(ct))) {
    try {
      return decodeKubernetesProtobuf(body).object;
    } catch (e) {
      throw ApiError.badRequest(`protobuf decoding error: ${(e as Error).message}`);
    }
  }
  const v = parseJson(body);
  return isRecord(v) ? v : {};
}

/**
 * A full, unfiltered JSON list written as it is encoded, in ~64 KiB chunks with backpressure, instead
 * of decoding every object into one array and serialising one string the size of the response: the
 * server then holds one chunk, not all objects twice (object graph + string + buffer).
 */
async function streamList(
  storage: ObjectStorage,
  served: Served,
  namespace: string,
  res: ServerResponse,
): Promise<void> {
  const rt = served.rt;
  const page = await storage.store.list(storage.prefix(rt, namespace));
  const av = apiVersionOf(served.group, served.version);
  res.writeHead(200, { "Content-Type": "application/json", "Cache-Control": "no-cache, private" });
  let buf = `{"kind":${JSON.stringify(rt.listKind)},"apiVersion":${JSON.stringify(av)},"metadata":{"resourceVersion":"${page.revision}"},"items":[`;
  for (let i = 0; i < page.items.length; i++) {
    buf += (i === 0 ? "" : ",") + storage.serialize(page.items[i]!, av);
    if (buf.length >= 64 * 1024) {
      const ok = res.write(buf);
      buf = "";
      if (!ok) {
        if (res.destroyed) return;
        await new Promise<void>((resolve) => {
          const done = (): void => {
            res.off("drain", done);
            res.off("close", done);
            resolve();
          };
          res.on("drain", done);
          res.on("close", done);
        });
        if (res.destroyed) return;
      }
    }
  }
  res.end(`${buf}]}`);
}

export async function handleResource(
  ctx: HandlerContext,
  served: Served,
  ri: ResourceRequest,
  q: URLSearchParams,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const { storage } = ctx;
  const rt = served.rt;
  if (rt.namespaced && !ri.namespace && ri.name && ri.verb !== "watch") {
    throw ApiError.notFound(rt.plural, rt.group, ri.name);
  }
  if (!rt.namespaced && ri.namespace) throw ApiError.notFound(rt.plural, rt.group, ri.name || ri.resource);
  const sub = ri.subresource;
  if (
    sub &&
    !(sub === "status" && rt.statusSubresource) &&
    !(sub === "finalize" && rt.plural === "namespaces")
  ) {
    throw ApiError.notFound(`${rt.plural}/${sub}`, rt.group, ri.name);
  }
  const ns = ri.namespace;
  const table = wantsTable(req.headers.accept);
  const include = (q.get("includeObject") ?? "Metadata") as IncludeObject;

  switch (ri.verb) {
    case "get": {
      const obj = present(served, await storage.get(rt, ns, ri.name));
      if (table)
        return sendJson(res, 200, renderTable(rt, [obj], obj.metadata.resourceVersion ?? "", include));
      return sendJson(res, 200, obj);
    }
    case "list": {
      const lq = listQuery(rt, ns, q);
      if (!table && !lq.labelSelector && !lq.fieldSelector?.length && !lq.limit && !lq.continueToken) {
        return streamList(storage, served, lq.namespace, res);
      }
      const out = await storage.list(rt, lq);
      const items = out.items.map((o) => present(served, o));
      if (table)
        return sendJson(
          res,
          200,
          renderTable(rt, items, out.resourceVersion, include, true, out.continueToken),
        );
      const meta: Record<string, unknown> = { resourceVersion: out.resourceVersion };
      if (out.continueToken) meta.continue = out.continueToken;
      return sendJson(res, 200, {
        kind: rt.listKind,
        apiVersion: apiVersionOf(served.group, served.version),
        metadata: meta,
        items,
      });
    }
    case "watch":
      return serveWatch(storage, served, ri, q, req, res, table);
    case "create": {
      if (ri.name)
        throw new ApiError(405, "MethodNotAllowed", "POST to a named object is not allowed; use PUT");
      const body = decodeObject(await readBody(req), req.headers["content-type"]);
      checkBodyKind(served, body);
      const r = await storage.create(rt, ns, body as KubeObject, {
        dryRun: dryRun(q),
        fieldValidation: fieldValidation(q),
      });
      return sendJson(res, 201, present(served, r.object), warningHeaders(r.warnings));
    }
    case "update": {
      const body = decodeObject(await readBody(req), req.headers["content-type"]);
      checkBodyKind(served, body);
      const r = await storage.replace(rt, ns, ri.name, sub, body as KubeObject, {
        dryRun: dryRun(q),
        fieldValidation: fieldValidation(q),
      });
      if (r.object.metadata.deletionTimestamp && !(await storage.tryGet(rt, ns, ri.name)))
        ctx.onDeleted(rt, r.object, true);
      return sendJson(res, 200, present(served, r.object), warningHeaders(r.warnings));
    }
    case "patch": {
      const type = patchTypeOf(req.headers["content-type"]);
      const patch = parseJson(await readBody(req));
      const r = await storage.patch(rt, ns, ri.name, sub, type, patch, {
        dryRun: dryRun(q),
        fieldValidation: fieldValidation(q),
      });
      if (r.object.metadata.deletionTimestamp && !(await storage.tryGet(rt, ns, ri.name)))
        ctx.onDeleted(rt, r.object, true);
      return sendJson(res, 200, present(served, r.object), warningHeaders(r.warnings));
    }
    case "delete": {
      const opts = decodeDeleteOptions(await readBody(req), req.headers["content-type"]);
      const pre = isRecord(opts.preconditions) ? opts.preconditions : {};
      const isDry = dryRun(q) || (Array.isArray(opts.dryRun) && opts.dryRun.includes("All"));
      const r = await storage.delete(rt, ns, ri.name, {
        dryRun: isDry,
        preconditions: {
          ...(typeof pre.uid === "string" ? { uid: pre.uid } : {}),
          ...(typeof pre.resourceVersion === "string" ? { resourceVersion: pre.resourceVersion } : {}),
        },
      });
      if (!isDry) ctx.onDeleted(rt, r.object, r.gone);
      return sendJson(res, 200, present(served, r.object));
    }
    case "deletecollection": {
      const lq = listQuery(rt, ns, q);
      const isDry = dryRun(q);
      const out = await storage.list(rt, lq);
      const deleted: KubeObject[] = [];
      for (const o of out.items) {
        try {
          const r = await storage.delete(rt, o.metadata.namespace ?? "", o.metadata.name ?? "", {
            dryRun: isDry,
          });
          if (!isDry) ctx.onDeleted(rt, r.object, r.gone);
          deleted.push(present(served, r.object));
        } catch (e) {
          if (!(e instanceof ApiError && e.code === 404)) throw e;
        }
      }
      return sendJson(res, 200, {
        kind: rt.listKind,
        apiVersion: apiVersionOf(served.group, served.version),
        metadata: { resourceVersion: String(storage.store.revision()) },
        items: deleted,
      });
    }
  }
}
