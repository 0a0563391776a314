// `egress server`: the Kubernetes-compatible API server. HTTPS with a generated CA, bearer-token
// authentication, discovery, OpenAPI v3, and the REST verbs for every kind in src/api/kinds, over
// the durable embedded store. It knows nothing of controllers; they talk to it as clients.
import { once } from "node:events";
import { mkdir, writeFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { ApiError } from "../api/errors.js";
import { resourceTypes as allTypes } from "../api/kinds/index.js";
import type { KubeObject } from "../api/object.js";
import type { ResourceType } from "../api/resource.js";
import { openStore } from "../store/index.js";
import type { Store } from "../store/types.js";
import { type Logger, logger } from "../util/log.js";
import { ensureAdminToken, renderKubeconfig, TokenAuthenticator } from "./auth.js";
import { ensureServingPKI } from "./certs.js";
import {
  apiGroup,
  apiGroupList,
  apiResourceList,
  apiVersions,
  groupVersions,
  type Served,
  servedEntries,
} from "./discovery.js";
import { handleResource } from "./handlers.js";
import { sendError, sendJson } from "./http.js";
import { Lifecycle } from "./lifecycle.js";
import { ObjectStorage } from "./objects.js";
import { hashOf, openAPIDocument, openAPIPathsRoot } from "./openapi.js";
import { parseRequestInfo } from "./request-info.js";
import { ServiceAllocator } from "./services.js";

export const SERVER_VERSION = {
  major: "1",
  minor: "32",
  gitVersion: "v1.32.0-egress",
  gitCommit: "",
  gitTreeState: "clean",
  buildDate: "2026-11-22T00:00:00Z",
  goVersion: "node",
  compiler: "tsc",
  platform: `${process.platform}/${process.arch}`,
};

/** Namespaces that exist from the start: Kubernetes' own plus those where this system's components
 *  keep their configuration (Whereabouts in openshift-multus, address pools in metallb-system). */
export const BOOTSTRAP_NAMESPACES = [
  "default",
  "kube-system",
  "kube-public",
  "kube-node-lease",
  "openshift-multus",
  "metallb-system",
];

/**
 * OpenAPI v2 carries no definitions here: kubectl before 1.28 insists on downloading it (as
 * protobuf) before it checks, through OpenAPI v3, that the server validates fields itself. An empty
 * document (swagger "2.0", no definitions) makes it skip client-side validation and rely on the
 * server, which validates every write against the same schemas published in OpenAPI v3.
 */
function sendOpenAPIv2(req: IncomingMessage, res: ServerResponse): void {
  const accept = req.headers.accept ?? "";
  if (accept.includes("protobuf")) {
    // gnostic openapi_v2.Document { swagger (1) = "2.0", paths (8) = {} }
    const body = Buffer.from([0x0a, 0x03, 0x32, 0x2e, 0x30, 0x42, 0x00]);
    res.writeHead(200, {
      "Content-Type": "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
      "Content-Length": body.length,
    });
    res.end(body);
    return;
  }
  sendJson(res, 200, {
    swagger: "2.0",
    info: { title: "egress", version: SERVER_VERSION.gitVersion },
    paths: {},
    definitions: {},
  });
}

export interface ApiServerOptions {
  dataDir: string;
  /** host:port; port 0 picks a free one. Default 127.0.0.1:6443. */
  listen?: string;
  /** Inherited listening sockets (file descriptors) to serve on as well, e.g. a loopback listener
   *  of another network namespace handed over by the lab. */
  listenFds?: number[];
  /** Extra subject alternative names for the serving certificate (addresses clients use). */
  tlsSANs?: string[];
  /** Host written into the kubeconfig (default: the listen host, or 127.0.0.1 for 0.0.0.0). */
  advertiseHost?: string;
  serviceCIDR?: string;
  types?: readonly ResourceType[];
  /** Prometheus registry served (authenticated) at /metrics. */
  metrics?: { metrics(): Promise<string>; contentType: string };
  /** Use this store instead of opening <dataDir>/store (tests). */
  store?: Store;
  log?: Logger;
}

export interface ApiServer {
  url: string;
  port: number;
  kubeconfigPath: string;
  token: string;
  caPem: string;
  storage: ObjectStorage;
  types: readonly ResourceType[];
  close(): Promise<void>;
}

function splitHostPort(listen: string): { host: string; port: number } {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(listen);
  if (!m) throw new Error(`--listen: expected HOST:PORT, got ${JSON.stringify(listen)}`);
  return { host: m[1]!, port: Number(m[2]) };
}

export async function startApiServer(opts: ApiServerOptions): Promise<ApiServer> {
  const log = opts.log ?? logger("apiserver");
  const types = opts.types ?? allTypes;
  const { host, port } = splitHostPort(opts.listen ?? "127.0.0.1:6443");
  await mkdir(opts.dataDir, { recursive: true, mode: 0o700 });
  const store = opts.store ?? (await openStore(join(opts.dataDir, "store")));
  const advertise =
    opts.advertiseHost ?? (host === "0.0.0.0" || host === "::" || host === "" ? "127.0.0.1" : host);
  const pki = await ensureServingPKI(opts.dataDir, [
    "127.0.0.1",
    "::1",
    "localhost",
    advertise,
    ...(opts.tlsSANs ?? []),
  ]);
  const token = await ensureAdminToken(opts.dataDir);
  const auth = new TokenAuthenticator([token]);

  const svcType = types.find((t) => t.group === "" && t.plural === "services");
  const services = new ServiceAllocator(opts.serviceCIDR ?? "172.30.0.0/16");
  const storage = new ObjectStorage(store, async (rt, obj, old) => {
    if (rt === svcType) services.admit(obj, old);
  });
  if (svcType) for (const s of (await storage.list(svcType, { namespace: "" })).items) services.observe(s);
  const lifecycle = new Lifecycle(storage, types, log);

  const served = servedEntries(types);
  const byPath = new Map<string, Served>();
  for (const s of served) byPath.set(`${s.group}/${s.version}/${s.rt.plural}`, s);
  const gvs = groupVersions(served);
  const openapi = new Map<string, { doc: Record<string, unknown>; hash: string }>();
  for (const [g, vs] of gvs) {
    for (const v of vs) {
      const path = g === "" ? `api/${v}` : `apis/${g}/${v}`;
      const doc = openAPIDocument(served, g, v);
      openapi.set(path, { doc, hash: hashOf(doc) });
    }
  }
  const openapiRoot = openAPIPathsRoot([...openapi.entries()].map(([path, d]) => ({ path, hash: d.hash })));

  const nsType = types.find((t) => t.group === "" && t.plural === "namespaces");
  if (nsType) {
    for (const name of BOOTSTRAP_NAMESPACES) {
      if (!(await storage.tryGet(nsType, "", name))) {
        await storage.create(
          nsType,
          "",
          { apiVersion: "v1", kind: "Namespace", metadata: { name } },
          { dryRun: false, fieldValidation: "Strict" },
        );
      }
    }
  }

  const ctx = {
    storage,
    onDeleted(rt: ResourceType, obj: KubeObject, gone: boolean) {
      if (gone && rt === svcType) services.release(obj);
      lifecycle.onDeleted(rt, obj, gone);
    },
  };

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "https://localhost");
    const path = url.pathname;
    if (path === "/healthz" || path === "/livez" || path === "/readyz") {
      res.writeHead(200, { "Content-Type": "text/plain" });
      res.end("ok");
      return;
    }
    if (path === "/version") return sendJson(res, 200, SERVER_VERSION);
    if (!auth.authenticate(req.headers.authorization)) {
      req.resume();
      return sendJson(res, 401, new ApiError(401, "Unauthorized", "Unauthorized").toStatus());
    }
    if (path === "/metrics" && opts.metrics) {
      const text = await opts.metrics.metrics();
      res.writeHead(200, { "Content-Type": opts.metrics.contentType });
      res.end(text);
      return;
    }
    if (path === "/openapi/v2") return sendOpenAPIv2(req, res);
    if (path === "/openapi/v3") return sendJson(res, 200, openapiRoot);
    if (path.startsWith("/openapi/v3/")) {
      const d = openapi.get(path.slice("/openapi/v3/".length));
      if (!d) throw new ApiError(404, "NotFound", `no OpenAPI document for ${path}`);
      return sendJson(res, 200, d.doc, { ETag: `"${d.hash}"` });
    }
    const ri = parseRequestInfo(
      req.method ?? "GET",
      path,
      ["true", "1"].includes(url.searchParams.get("watch") ?? ""),
    );
    switch (ri.kind) {
      case "discovery-root":
        return sendJson(res, 200, ri.legacy ? apiVersions() : apiGroupList(served));
      case "discovery-group": {
        const g = apiGroup(served, ri.group);
        if (!g)
          throw new ApiError(
            404,
            "NotFound",
            `the server could not find the requested resource (group ${ri.group})`,
          );
        return sendJson(res, 200, g);
      }
      case "discovery-version": {
        const l = apiResourceList(served, ri.group, ri.version);
        if (!l)
          throw new ApiError(
            404,
            "NotFound",
            `the server could not find the requested resource (${ri.group}/${ri.version})`,
          );
        return sendJson(res, 200, l);
      }
      case "resource": {
        const s = byPath.get(`${ri.group}/${ri.version}/${ri.resource}`);
        if (!s)
          throw new ApiError(
            404,
            "NotFound",
            `the server could not find the requested resource (${ri.resource})`,
          );
        return handleResource(ctx, s, ri, url.searchParams, req, res);
      }
      default:
        throw new ApiError(404, "NotFound", `the server could not find the requested resource (${path})`);
    }
  }

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    route(req, res).catch((e) => {
      if (!(e instanceof ApiError)) log.error({ err: e, method: req.method, url: req.url }, "request failed");
      sendError(res, e);
    });
  };
  const newServer = (): Server => {
    const s = createServer({ key: pki.keyPem, cert: pki.certPem, maxHeaderSize: 128 * 1024 }, handler);
    s.keepAliveTimeout = 65_000;
    s.headersTimeout = 70_000;
    s.requestTimeout = 0; // watches are long-lived
    return s;
  };
  const server = newServer();
  server.listen(port, host);
  await once(server, "listening");
  const extra: Server[] = [];
  for (const fd of opts.listenFds ?? []) {
    const s = newServer();
    s.listen({ fd });
    await once(s, "listening");
    extra.push(s);
  }
  const actualPort = (server.address() as AddressInfo).port;
  const url = `https://${advertise.includes(":") ? `[${advertise}]` : advertise}:${actualPort}`;
  const kubeconfigPath = join(opts.dataDir, "kubeconfig");
  await writeFile(kubeconfigPath, renderKubeconfig(url, pki.caPem, token), { mode: 0o600 });
  await lifecycle.start();
  log.info({ url, kubeconfig: kubeconfigPath }, "API server listening");

  return {
    url,
    port: actualPort,
    kubeconfigPath,
    token,
    caPem: pki.caPem,
    storage,
    types,
    async close() {
      lifecycle.stop();
      for (const s of [server, ...extra]) {
        s.closeAllConnections();
        await new Promise<void>((resolve) => s.close(() => resolve()));
      }
      if (!opts.store) await store.close();
    },
  };
}
