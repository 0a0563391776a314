// The controllers' only door to the API: a small typed REST client over a kubeconfig (works against
// `egress server` and any Kubernetes API), with informers from @kubernetes/client-node. Errors come
// back as ApiRequestError carrying the HTTP status and the server's Status reason/message.

import { request as httpRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions } from "node:https";
import * as k8s from "@kubernetes/client-node";
import type { KubeObject } from "../../api/object.js";
import type { ResourceType } from "../../api/resource.js";

export class ApiRequestError extends Error {
  override name = "ApiRequestError";
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    readonly method: string,
    readonly path: string,
  ) {
    super(`${method} ${path}: ${status} ${reason}: ${message}`);
  }
}

export const isNotFound = (e: unknown): boolean => e instanceof ApiRequestError && e.status === 404;
export const isConflict = (e: unknown): boolean => e instanceof ApiRequestError && e.status === 409;
export const isAlreadyExists = (e: unknown): boolean =>
  e instanceof ApiRequestError && e.status === 409 && e.reason === "AlreadyExists";

export interface ListResult<T> {
  items: T[];
  resourceVersion: string;
}

export type PatchKind = "merge" | "json" | "strategic";
const PATCH_TYPES: Record<PatchKind, string> = {
  merge: "application/merge-patch+json",
  json: "application/json-patch+json",
  strategic: "application/strategic-merge-patch+json",
};

function query(params: Record<string, string | undefined>): string {
  const parts = Object.entries(params)
    .filter(([, v]) => v)
    .map(([k, v]) => `${k}=${encodeURIComponent(v!)}`);
  return parts.length > 0 ? `?${parts.join("&")}` : "";
}

/** One keep-alive agent per TLS identity. client-node's applyToHTTPSOptions puts a NEW Agent into
 *  the options on every call, so each request used to open a new connection: a full TLS handshake
 *  and a new SecureContext per write (most of the controllers' CPU on a large cluster). */
const agents = new Map<string, HttpsAgent>();

function keepAliveAgent(o: RequestOptions): HttpsAgent {
  const key = JSON.stringify([o.ca, o.cert, o.key, o.rejectUnauthorized, o.servername]);
  let a = agents.get(key);
  if (!a) {
    a = new HttpsAgent({
      keepAlive: true,
      maxSockets: 32,
      ...(o.ca !== undefined ? { ca: o.ca } : {}),
      ...(o.cert !== undefined ? { cert: o.cert } : {}),
      ...(o.key !== undefined ? { key: o.key } : {}),
      ...(o.rejectUnauthorized !== undefined ? { rejectUnauthorized: o.rejectUnauthorized } : {}),
      ...(o.servername ? { servername: o.servername } : {}),
    });
    agents.set(key, a);
  }
  return a;
}

/** Whether two TLS options carry the same material. client-node hands out a NEW Buffer per
 *  request (base64-decoded kubeconfig data or a file read), so identity never matched and every
 *  request JSON-serialised the PEM bytes as number arrays to find its agent (CPU and garbage). */
function sameMaterial(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return a.equals(b);
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((x, i) => sameMaterial(x, b[i]));
  return false;
}

/** Objects per page of an informer's initial list (client-go's reflector uses 500). */
const LIST_PAGE_SIZE = 2000;

export class Client {
  readonly kc: k8s.KubeConfig;
  private readonly server: URL;

  private readonly timeoutMs: number;
  /** The TLS material of the last request and its agent: the kubeconfig hands out the same
   *  strings each time, so identity comparison finds the agent without hashing the PEMs (that
   *  JSON.stringify was ~2 % of the controllers' CPU while writing thousands of objects). */
  private lastTLS:
    | { ca: unknown; cert: unknown; key: unknown; ru: unknown; sn: unknown; agent: HttpsAgent }
    | undefined;

  constructor(kc: k8s.KubeConfig, opts: { timeoutMs?: number } = {}) {
    this.kc = kc;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error("kubeconfig has no current cluster");
    this.server = new URL(cluster.server);
  }

  static fromFile(path: string, opts: { timeoutMs?: number } = {}): Client {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(path);
    return new Client(kc, opts);
  }

  /** URL path of a resource collection, object or subresource. */
  path(rt: ResourceType, namespace?: string, name?: string, subresource?: string): string {
    const base = rt.group === "" ? `/api/${rt.version}` : `/apis/${rt.group}/${rt.version}`;
    let p =
      rt.namespaced && namespace
        ? `${base}/namespaces/${encodeURIComponent(namespace)}/${rt.plural}`
        : `${base}/${rt.plural}`;
    if (name) p += `/${encodeURIComponent(name)}`;
    if (subresource) p += `/${subresource}`;
    return p;
  }

  async request<T>(
    method: string,
    path: string,
    body?: unknown,
    contentType = "application/json",
  ): Promise<T> {
    const url = new URL(path, this.server);
    const opts: RequestOptions = { method, headers: { Accept: "application/json" } };
    // Per request, so rotated credentials are picked up; the connection is reused all the same.
    await this.kc.applyToHTTPSOptions(opts);
    if (url.protocol === "https:") {
      const l = this.lastTLS;
      if (
        l &&
        sameMaterial(l.ca, opts.ca) &&
        sameMaterial(l.cert, opts.cert) &&
        sameMaterial(l.key, opts.key) &&
        l.ru === opts.rejectUnauthorized &&
        l.sn === opts.servername
      )
        opts.agent = l.agent;
      else {
        const agent = keepAliveAgent(opts);
        opts.agent = agent;
        this.lastTLS = {
          ca: opts.ca,
          cert: opts.cert,
          key: opts.key,
          ru: opts.rejectUnauthorized,
          sn: opts.servername,
          agent,
        };
      }
    }
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    if (payload) {
      opts.headers = { ...opts.headers, "Content-Type": contentType, "Content-Length": payload.length };
    }
    const send = url.protocol === "http:" ? httpRequest : httpsRequest;
    return new Promise<T>((resolve, reject) => {
      const req = send(url, opts, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          const status = res.statusCode ?? 0;
          let parsed: unknown;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            parsed = undefined;
          }
          if (status >= 200 && status < 300) return resolve(parsed as T);
          const s = (parsed ?? {}) as { reason?: string; message?: string };
          reject(
            new ApiRequestError(status, s.reason ?? "Unknown", s.message ?? text.slice(0, 200), method, path),
          );
        });
      });
      req.setTimeout(this.timeoutMs, () => req.destroy(new Error(`${method} ${path}: timed out`)));
      req.on("error", reject);
      if (payload) req.write(payload);
      req.end();
    });
  }

  get<T = KubeObject>(rt: ResourceType, namespace: string, name: string): Promise<T> {
    return this.request<T>("GET", this.path(rt, namespace, name));
  }

  async list<T = KubeObject>(
    rt: ResourceType,
    namespace?: string,
    labelSelector?: string,
    fieldSelector?: string,
  ): Promise<ListResult<T>> {
    const r = await this.request<{ items: T[]; metadata: { resourceVersion: string } }>(
      "GET",
      this.path(rt, namespace) + query({ labelSelector, fieldSelector }),
    );
    return { items: r.items, resourceVersion: r.metadata.resourceVersion };
  }

  create<T = KubeObject>(rt: ResourceType, obj: KubeObject): Promise<T> {
    return this.request<T>("POST", this.path(rt, obj.metadata.namespace), obj);
  }

  update<T = KubeObject>(rt: ResourceType, obj: KubeObject, subresource?: string): Promise<T> {
    return this.request<T>("PUT", this.path(rt, obj.metadata.namespace, obj.metadata.name, subresource), obj);
  }

  patch<T = KubeObject>(
    rt: ResourceType,
    namespace: string,
    name: string,
    patch: unknown,
    kind: PatchKind = "merge",
    subresource?: string,
  ): Promise<T> {
    return this.request<T>("PATCH", this.path(rt, namespace, name, subresource), patch, PATCH_TYPES[kind]);
  }

  async delete(rt: ResourceType, namespace: string, name: string): Promise<void> {
    await this.request("DELETE", this.path(rt, namespace, name));
  }

  /** A client-node informer (list + watch, resume, relist on 410) for one resource. */
  informer<T extends KubeObject>(
    rt: ResourceType,
    namespace?: string,
    labelSelector?: string,
    fieldSelector?: string,
  ) {
    // client-node keeps query parameters already in the path when it adds its own for the watch.
    const path = this.path(rt, namespace) + query({ fieldSelector });
    // The initial list comes in pages: one response of 150,000 pods is ~250 MB of JSON held three
    // times over (chunks, joined buffer, string) next to the parsed objects — the controllers'
    // peak memory. The watch starts from the FIRST page's resourceVersion: later pages may show
    // newer objects, whose events the watch then replays (an update to the same state), but no
    // change is missed. (Kubernetes serves all pages from the first page's snapshot anyway.)
    const listFn = async (): Promise<k8s.KubernetesListObject<T & k8s.KubernetesObject>> => {
      const items: (T & k8s.KubernetesObject)[] = [];
      let resourceVersion: string | undefined;
      let cont: string | undefined;
      do {
        const r = await this.request<{
          items: (T & k8s.KubernetesObject)[];
          metadata: { resourceVersion: string; continue?: string };
        }>(
          "GET",
          this.path(rt, namespace) +
            query({ labelSelector, fieldSelector, limit: String(LIST_PAGE_SIZE), continue: cont }),
        );
        resourceVersion ??= r.metadata.resourceVersion;
        for (const it of r.items) items.push(it);
        cont = r.metadata.continue || undefined;
      } while (cont);
      return { apiVersion: "v1", kind: "List", metadata: { resourceVersion }, items };
    };
    // A ListWatch (what makeInformer builds, not started) so callers can read its resourceVersion.
    return new k8s.ListWatch<T & k8s.KubernetesObject>(
      path,
      new k8s.Watch(this.kc),
      listFn,
      false,
      labelSelector,
    );
  }
}
