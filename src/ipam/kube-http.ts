// KubeIPAMClient over plain node:http(s) with one keep-alive connection pool: IPPool and
// OverlappingRangeIPReservation objects (whereabouts.cni.cncf.io/v1alpha1) in one namespace. This is
// what the plugin process uses (kube-client.ts, over @kubernetes/client-node, takes >1 s just to load).
// Maps 409 to StoreConflictError and 404 to "absent"; everything else is a KubeApiError naming the
// request. Must not decide addresses.
import { Agent as HttpAgent, request as httpRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { poolFromObject, poolToObject, reservationFromObject } from "./kube-objects.js";
import type { KubeIPAMClient } from "./kube-store.js";
import type { KubeConnection } from "./kubeconfig.js";
import type { IPAllocation, IPPool, OverlappingRangeIPReservation } from "./model.js";
import { StoreConflictError } from "./store.js";

const GROUP_VERSION = "whereabouts.cni.cncf.io/v1alpha1";

export class KubeApiError extends Error {
  constructor(
    readonly status: number,
    readonly method: string,
    readonly path: string,
    readonly detail: string,
  ) {
    super(`${method} ${path}: ${status === 0 ? "" : `HTTP ${status}: `}${detail}`);
    this.name = "KubeApiError";
  }
}

interface Response {
  status: number;
  body: unknown;
}

export class HttpIPAMClient implements KubeIPAMClient {
  private readonly agent: HttpAgent | HttpsAgent;
  private readonly https: boolean;
  private readonly headers: Record<string, string>;
  requests = 0;

  constructor(
    private readonly conn: KubeConnection,
    readonly namespace: string,
    private readonly timeoutMs = 30_000,
  ) {
    this.https = conn.server.startsWith("https:");
    this.agent = this.https
      ? new HttpsAgent({
          keepAlive: true,
          maxSockets: 4,
          ...(conn.ca ? { ca: conn.ca } : {}),
          ...(conn.cert ? { cert: conn.cert } : {}),
          ...(conn.key ? { key: conn.key } : {}),
          rejectUnauthorized: !conn.insecureSkipTLSVerify,
        })
      : new HttpAgent({ keepAlive: true, maxSockets: 4 });
    this.headers = { Accept: "application/json" };
    if (conn.token) this.headers.Authorization = `Bearer ${conn.token}`;
  }

  private path(plural: string, name?: string): string {
    const p = `/apis/${GROUP_VERSION}/namespaces/${encodeURIComponent(this.namespace)}/${plural}`;
    return name === undefined ? p : `${p}/${encodeURIComponent(name)}`;
  }

  private send(
    method: string,
    path: string,
    body?: unknown,
    contentType = "application/json",
  ): Promise<Response> {
    this.requests++;
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string | number> = { ...this.headers };
    if (payload) {
      headers["Content-Type"] = contentType;
      headers["Content-Length"] = payload.length;
    }
    const url = new URL(this.conn.server + path);
    const req = (this.https ? httpsRequest : httpRequest)(url, { method, headers, agent: this.agent });
    return new Promise((resolve, reject) => {
      req.on("response", (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", (e) => reject(new KubeApiError(0, method, path, e.message)));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let parsed: unknown = text;
          try {
            parsed = text === "" ? undefined : JSON.parse(text);
          } catch {
            // keep the text for the error message
          }
          if (process.env.WHEREABOUTS_TRACE)
            process.stderr.write(`${method} ${path.split("/").slice(-2).join("/")} ${res.statusCode}\n`);
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      });
      req.setTimeout(this.timeoutMs, () => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      req.on("error", (e) => reject(new KubeApiError(0, method, path, e.message)));
      req.end(payload);
    });
  }

  private fail(method: string, path: string, r: Response): never {
    const b = r.body as { message?: unknown } | undefined;
    const msg =
      typeof b === "object" && b !== null && typeof b.message === "string"
        ? b.message
        : String(r.body ?? "").slice(0, 300);
    throw new KubeApiError(r.status, method, path, msg);
  }

  private async call(
    method: string,
    path: string,
    body: unknown,
    object: string,
    expected = "",
    contentType?: string,
  ): Promise<Response> {
    const r = await this.send(method, path, body, contentType);
    if (r.status === 409) throw new StoreConflictError(object, expected, "changed or exists");
    return r;
  }

  /** Opens the keep-alive connection (TCP + TLS) ahead of the transaction; errors are left to it. */
  async warm(): Promise<void> {
    await this.send("GET", "/version").catch(() => undefined);
  }

  async getPool(name: string): Promise<IPPool | undefined> {
    const p = this.path("ippools", name);
    const r = await this.send("GET", p);
    if (r.status === 404) return undefined;
    if (r.status !== 200) this.fail("GET", p, r);
    return poolFromObject(r.body);
  }

  async createPool(pool: IPPool): Promise<void> {
    const p = this.path("ippools");
    const r = await this.call("POST", p, poolToObject(pool, this.namespace), `IPPool ${pool.name}`);
    if (r.status !== 201 && r.status !== 200) this.fail("POST", p, r);
  }

  async replacePool(pool: IPPool): Promise<void> {
    const p = this.path("ippools", pool.name);
    const r = await this.call(
      "PUT",
      p,
      poolToObject(pool, this.namespace),
      `IPPool ${pool.name}`,
      pool.resourceVersion,
    );
    // A pool deleted meanwhile (reconciler, admin): the version we read is gone, so it is a conflict.
    if (r.status === 404)
      throw new StoreConflictError(`IPPool ${pool.name}`, pool.resourceVersion, "deleted");
    if (r.status !== 200) this.fail("PUT", p, r);
  }

  async patchPool(
    name: string,
    set: Record<string, IPAllocation>,
    remove: Record<string, string>,
  ): Promise<void> {
    const p = this.path("ippools", name);
    const object = `IPPool ${name}`;
    const check = (r: Response, method: string) => {
      // 404: the pool is gone; 422: a `test` failed (the key changed since it was read).
      if (r.status === 404 || r.status === 422 || r.status === 409)
        throw new StoreConflictError(object, "", "changed or deleted");
      if (r.status !== 200) this.fail(method, p, r);
    };
    // These patches carry no resourceVersion, so a 409 only means the server ran out of internal
    // compare-and-swap retries under contention (src/apiserver/objects.ts update): send it again.
    const patch = async (body: unknown, type: string): Promise<Response> => {
      for (let i = 0; ; i++) {
        const r = await this.send("PATCH", p, body, type);
        if (r.status !== 409 || i >= 50) return r;
        await new Promise((res) => setTimeout(res, Math.random() * Math.min(50, 2 * 2 ** i)));
      }
    };
    if (Object.keys(set).length > 0) {
      check(await patch({ spec: { allocations: set } }, "application/merge-patch+json"), "PATCH");
    }
    const ops: unknown[] = [];
    for (const [k, id] of Object.entries(remove)) {
      const at = `/spec/allocations/${k}`;
      ops.push({ op: "test", path: `${at}/id`, value: id }, { op: "remove", path: at });
    }
    if (ops.length > 0) check(await patch(ops, "application/json-patch+json"), "PATCH");
  }

  async listReservations(): Promise<OverlappingRangeIPReservation[]> {
    const p = this.path("overlappingrangeipreservations");
    const r = await this.send("GET", p);
    if (r.status !== 200) this.fail("GET", p, r);
    const items = (r.body as { items?: unknown }).items;
    return Array.isArray(items) ? items.map(reservationFromObject) : [];
  }

  async getReservation(name: string): Promise<OverlappingRangeIPReservation | undefined> {
    const p = this.path("overlappingrangeipreservations", name);
    const r = await this.send("GET", p);
    if (r.status === 404) return undefined;
    if (r.status !== 200) this.fail("GET", p, r);
    return reservationFromObject(r.body);
  }

  async createReservation(res: OverlappingRangeIPReservation): Promise<void> {
    const p = this.path("overlappingrangeipreservations");
    const body = {
      apiVersion: GROUP_VERSION,
      kind: "OverlappingRangeIPReservation",
      metadata: { name: res.name, namespace: this.namespace },
      spec: { containerid: res.containerid, podref: res.podref, ifname: res.ifname },
    };
    const r = await this.call("POST", p, body, `OverlappingRangeIPReservation ${res.name}`);
    if (r.status !== 201 && r.status !== 200) this.fail("POST", p, r);
  }

  async deleteReservation(name: string): Promise<void> {
    const p = this.path("overlappingrangeipreservations", name);
    const r = await this.send("DELETE", p);
    if (r.status !== 200 && r.status !== 202 && r.status !== 404) this.fail("DELETE", p, r);
  }

  close(): void {
    this.agent.destroy();
  }
}
