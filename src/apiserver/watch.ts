// Watch streams: newline-delimited JSON watch events over a chunked response, as the Kubernetes API
// server sends them. Supports resourceVersion resume (410 Gone as an ERROR event when too old),
// initial state for resourceVersion ""/"0" and sendInitialEvents, bookmarks, timeoutSeconds,
// selectors, Table output for `kubectl get -w`, and drops clients that stop reading.
import type { IncomingMessage, ServerResponse } from "node:http";
import { ApiError } from "../api/errors.js";
import type { KubeObject } from "../api/object.js";
import { apiVersionOf } from "../api/resource.js";
import type { Served } from "./discovery.js";
import { listQuery, present } from "./handlers.js";
import type { ObjectEvent, ObjectStorage } from "./objects.js";
import type { ResourceRequest } from "./request-info.js";
import { type IncludeObject, renderTable } from "./table.js";

/** A watcher whose unsent output exceeds this is disconnected (it will re-watch from its last version). */
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;
export const BOOKMARK_INTERVAL_MS = 10_000;

/** Encoded watch lines of shared (immutable) event objects; entries die with the objects. */
const encoded = new WeakMap<KubeObject, Map<string, string>>();

export async function serveWatch(
  storage: ObjectStorage,
  served: Served,
  ri: ResourceRequest,
  q: URLSearchParams,
  req: IncomingMessage,
  res: ServerResponse,
  table: boolean,
): Promise<void> {
  const rt = served.rt;
  const lq = listQuery(rt, ri.namespace, q);
  const rvParam = q.get("resourceVersion") ?? "";
  const sendInitial = q.get("sendInitialEvents") === "true";
  const bookmarks = q.get("allowWatchBookmarks") === "true";
  const include = (q.get("includeObject") ?? "Object") as IncludeObject;
  const timeoutSeconds = Number(q.get("timeoutSeconds") ?? "0");
  let fromRevision: number;
  if (rvParam !== "" && rvParam !== "0" && !/^\d+$/.test(rvParam)) {
    throw ApiError.badRequest(`resourceVersion: Invalid value: ${JSON.stringify(rvParam)}: must be a number`);
  }
  const nameFilter = ri.name || undefined;
  storage.checkFieldSelector(rt, lq.fieldSelector);

  res.writeHead(200, {
    "Content-Type": "application/json",
    "Cache-Control": "no-cache, private",
    "Transfer-Encoding": "chunked",
  });
  res.flushHeaders();

  let closed = false;
  let headersSent = false;
  let lastRevision = 0;
  // Events of one store commit batch arrive synchronously, one call each; collect them and write
  // once per batch (one chunk, one TLS record, one syscall per watcher instead of one per event).
  let pending = "";
  const flush = (): void => {
    const out = pending;
    pending = "";
    if (closed || out === "") return;
    res.write(out);
    if (res.writableLength > MAX_BUFFERED_BYTES) finish();
  };
  const writeLine = (line: string): void => {
    if (closed) return;
    if (pending === "") queueMicrotask(flush);
    pending += line;
    if (pending.length > 256 * 1024) flush(); // bounded chunks for large initial states
  };
  const write = (type: string, object: unknown): void => writeLine(`${JSON.stringify({ type, object })}\n`);
  const emit = (e: ObjectEvent): void => {
    lastRevision = Math.max(lastRevision, e.revision);
    const av = apiVersionOf(served.group, served.version);
    if (!table && e.shared) {
      // Every watcher of this resource gets the same decoded object for a store event: encode the
      // line once per (object, type, apiVersion) instead of once per watcher.
      let byKey = encoded.get(e.object);
      if (!byKey) {
        byKey = new Map();
        encoded.set(e.object, byKey);
      }
      const k = `${e.type} ${av}`;
      let line = byKey.get(k);
      if (line === undefined) {
        line = `${JSON.stringify({ type: e.type, object: { ...e.object, apiVersion: av } })}\n`;
        byKey.set(k, line);
      }
      writeLine(line);
      return;
    }
    const obj = e.shared ? { ...e.object, apiVersion: av } : present(served, e.object);
    if (table) {
      write(e.type, renderTable(rt, [obj], obj.metadata.resourceVersion ?? "", include, !headersSent));
      headersSent = true;
    } else write(e.type, obj);
  };
  const bookmark = (rv: number, initialEnd = false): void => {
    const meta: Record<string, unknown> = { resourceVersion: String(rv) };
    if (initialEnd) meta.annotations = { "k8s.io/initial-events-end": "true" };
    write("BOOKMARK", {
      kind: rt.kind,
      apiVersion: apiVersionOf(served.group, served.version),
      metadata: meta,
    });
  };

  let handle: { cancel(): void } | undefined;
  let bookmarkTimer: NodeJS.Timeout | undefined;
  let timeoutTimer: NodeJS.Timeout | undefined;
  function finish(): void {
    if (closed) return;
    closed = true;
    handle?.cancel();
    if (bookmarkTimer) clearInterval(bookmarkTimer);
    if (timeoutTimer) clearTimeout(timeoutTimer);
    const out = pending;
    pending = "";
    res.end(out === "" ? undefined : out);
  }
  req.on("close", finish);
  res.on("error", finish);

  try {
    if (rvParam === "" || rvParam === "0" || sendInitial) {
      // Start from the current state: synthetic ADDED events, then changes after the list.
      const all = await storage.list(rt, { ...lq, limit: undefined, continueToken: undefined } as typeof lq);
      for (const o of all.items) {
        if (nameFilter && o.metadata.name !== nameFilter) continue;
        emit({ type: "ADDED", object: o as KubeObject, revision: Number(all.resourceVersion) });
      }
      fromRevision = Number(all.resourceVersion);
      if (sendInitial && bookmarks) bookmark(fromRevision, true);
    } else {
      fromRevision = Number(rvParam);
    }
    lastRevision = fromRevision;
    handle = storage.watch(
      rt,
      {
        namespace: lq.namespace,
        ...(lq.labelSelector ? { labelSelector: lq.labelSelector } : {}),
        ...(lq.fieldSelector ? { fieldSelector: lq.fieldSelector } : {}),
        ...(nameFilter ? { name: nameFilter } : {}),
      },
      fromRevision,
      emit,
    );
  } catch (e) {
    const err = e instanceof ApiError ? e : ApiError.internal((e as Error).message);
    write("ERROR", err.toStatus());
    finish();
    return;
  }
  if (closed) handle.cancel();
  if (bookmarks) {
    // Only revisions already delivered to this watcher are safe to report (later events may still be queued).
    bookmarkTimer = setInterval(() => bookmark(lastRevision), BOOKMARK_INTERVAL_MS);
    bookmarkTimer.unref();
  }
  if (timeoutSeconds > 0) {
    timeoutTimer = setTimeout(finish, timeoutSeconds * 1000);
    timeoutTimer.unref();
  }
}
