// The resident Whereabouts IPAM daemon (`egress ipam daemon --socket PATH`), the counterpart of the
// per-call shim the runtime executes (as the reference `dhcp` plugin pairs a binary with a daemon).
// Each connection carries one CNI call (the CNI_* environment and the stdin config, see
// src/cni/daemon-protocol.ts); the daemon runs the same plugin code a plugin process runs
// (whereaboutsPlugin under runPlugin) and answers with the exact stdout and exit code. What it adds:
//   - transactions per store + network_name are serialised and coalesced in-process (coalesce.ts),
//     so concurrent callers do not fight over the pool's resourceVersion;
//   - the kubeconfig and the keep-alive API client are loaded once per kubeconfig + namespace (and
//     re-read every 30 s, so rotated credentials are picked up), not per call.
// A reply is written only after the store write it reports is acknowledged; a daemon killed in
// between leaves the caller with a closed connection (the shim reports CNI error 11). Must not
// decide addresses (allocator.ts does).
import { chmod, mkdir, rm } from "node:fs/promises";
import { connect, createServer, type Server, type Socket } from "node:net";
import { dirname } from "node:path";
import {
  type DaemonRequest,
  type DaemonResponse,
  decodeRequest,
  decodeResponse,
  encodeRequest,
  encodeResponse,
  isForwardedEnv,
  ProtocolError,
} from "../cni/daemon-protocol.js";
import { CniCode, CniError } from "../cni/errors.js";
import { runPlugin } from "../cni/skel.js";
import type { Snapshot } from "./allocator.js";
import { type BatchRunner, PoolQueues, type TxFn } from "./coalesce.js";
import { ConfigError, type WhereaboutsConfig } from "./config.js";
import { FileStore } from "./file-store.js";
import { flatFileLoader } from "./flat-file.js";
import { HttpIPAMClient } from "./kube-http.js";
import { KubernetesStore } from "./kube-store.js";
import { type KubeConnection, loadConnection } from "./kubeconfig.js";
import { kubeNamespace, type StoreOpener, whereaboutsPlugin } from "./plugin.js";
import type { IPAMStore, StoreScope } from "./store.js";

export const DEFAULT_DAEMON_SOCKET = "/run/whereabouts/daemon.sock";

type Env = Record<string, string | undefined>;

/** An API client shared by every call with the same kubeconfig source and namespace. */
interface ClientEntry {
  key: string;
  client: HttpIPAMClient;
  fingerprint: string;
  loadedAt: number;
}

const fingerprintOf = (c: KubeConnection): string =>
  JSON.stringify([
    c.server,
    c.token ?? "",
    c.ca?.toString("base64") ?? "",
    c.cert?.toString("base64") ?? "",
    c.key?.toString("base64") ?? "",
    c.insecureSkipTLSVerify,
  ]);

/** Kubeconfig → client cache. Entries are re-validated (file re-read, compared) after `ttlMs`; a
 *  changed connection gets a new client and the old one is closed a minute later. */
export class ClientCache {
  private readonly entries = new Map<string, ClientEntry>();
  private readonly loading = new Map<string, Promise<ClientEntry>>();
  private readonly retired: HttpIPAMClient[] = [];

  constructor(private readonly ttlMs = 30_000) {}

  /** API requests sent by all clients so far (benchmarks). */
  get requests(): number {
    let n = 0;
    for (const e of this.entries.values()) n += e.client.requests;
    for (const c of this.retired) n += c.requests;
    return n;
  }

  get(kubeconfig: unknown, env: Env): Promise<ClientEntry> {
    if (kubeconfig !== undefined && typeof kubeconfig !== "string")
      throw new ConfigError("ipam.kubernetes.kubeconfig", kubeconfig, "must be a path");
    const source =
      kubeconfig ||
      env.KUBECONFIG?.split(":").find((p) => p !== "") ||
      `in-cluster ${env.KUBERNETES_SERVICE_HOST ?? ""}:${env.KUBERNETES_SERVICE_PORT ?? ""}`;
    const namespace = kubeNamespace(env);
    const key = `${source}\n${namespace}`;
    const cached = this.entries.get(key);
    if (cached && Date.now() - cached.loadedAt < this.ttlMs) return Promise.resolve(cached);
    let p = this.loading.get(key);
    if (!p) {
      p = this.load(key, kubeconfig, env, namespace).finally(() => this.loading.delete(key));
      this.loading.set(key, p);
    }
    return p;
  }

  private async load(
    key: string,
    kubeconfig: string | undefined,
    env: Env,
    ns: string,
  ): Promise<ClientEntry> {
    let conn: KubeConnection;
    try {
      conn = await loadConnection(kubeconfig, env);
    } catch (e) {
      throw new ConfigError("ipam.kubernetes.kubeconfig", kubeconfig, `cannot load: ${(e as Error).message}`);
    }
    const fingerprint = fingerprintOf(conn);
    const old = this.entries.get(key);
    if (old && old.fingerprint === fingerprint) {
      old.loadedAt = Date.now();
      return old;
    }
    const entry: ClientEntry = {
      key,
      client: new HttpIPAMClient(conn, ns),
      fingerprint,
      loadedAt: Date.now(),
    };
    this.entries.set(key, entry);
    if (old) {
      // Requests of running transactions may still use the old client.
      this.retired.push(old.client);
      setTimeout(() => old.client.close(), 60_000).unref();
    }
    return entry;
  }

  /** Closes every client (the request counters stay readable). */
  close(): void {
    for (const e of this.entries.values()) e.client.close();
    for (const c of this.retired) c.close();
  }
}

/** The daemon's datastores: the configured store per call (file or kubernetes, exactly as the plugin
 *  process opens it), with transactions routed through the shared per-pool queues. */
export function daemonStoreOpener(env: Env, queues: PoolQueues, clients: ClientCache): StoreOpener {
  return async (conf: WhereaboutsConfig): Promise<IPAMStore> => {
    let storeKey: string;
    let run: BatchRunner;
    let read: (s: StoreScope) => Promise<Snapshot>;
    if (conf.datastore === "file") {
      storeKey = `file ${conf.dataDir}`;
      run = (scope, fn, timeoutMs) => new FileStore(conf.dataDir, timeoutMs).transact(scope, fn);
      read = (s) => new FileStore(conf.dataDir, conf.lockTimeoutMs).read(s);
    } else {
      const entry = await clients.get(conf.kubernetes?.kubeconfig, env);
      storeKey = `kubernetes ${entry.key}`;
      // No host lock here: the per-pool queue already serialises this daemon's calls, and against
      // fallback plugin processes or other daemons the optimistic protocol decides (taking flock(1)
      // per batch cost a process spawn in every batch's critical path).
      run = (scope, fn, timeoutMs) => new KubernetesStore(entry.client, { timeoutMs }).transact(scope, fn);
      read = (s) => new KubernetesStore(entry.client, { timeoutMs: conf.lockTimeoutMs }).read(s);
    }
    return {
      read,
      transact<T>(scope: StoreScope, fn: TxFn<T>): Promise<T> {
        return queues.transact(`${storeKey}\n${scope.network}`, scope, fn, conf.lockTimeoutMs, run);
      },
      close: async () => {},
    };
  };
}

export interface IpamDaemonOptions {
  socketPath: string;
  /** The store opener for a request's environment; default: the configured datastores (shared
   *  queues and clients). Tests inject a memory store. */
  openerFor?: (env: Env) => StoreOpener;
  maxBatch?: number;
  log?: (msg: string) => void;
}

export interface DaemonStats {
  calls: number;
  failedCalls: number;
  badRequests: number;
  inFlight: number;
  transactions: number;
  batches: number;
  largestBatch: number;
  queueTimeouts: number;
  apiRequests: number;
  /** CPU time of the daemon process so far (user + system), start-up included. */
  cpuMs: number;
}

export interface IpamDaemon {
  socketPath: string;
  stats(): DaemonStats;
  /** Stops accepting, waits (up to `graceMs`) for calls in flight, closes clients, removes the socket. */
  close(graceMs?: number): Promise<void>;
}

export class DaemonRunningError extends Error {
  constructor(readonly socketPath: string) {
    super(`a whereabouts daemon already answers on ${socketPath}`);
    this.name = "DaemonRunningError";
  }
}

const answers = (path: string): Promise<boolean> =>
  new Promise((resolve) => {
    const s = connect(path);
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });

const errorReply = (e: CniError): DaemonResponse => ({
  exitCode: 1,
  stdout: Buffer.from(`${JSON.stringify(e.toJSON("1.1.0"))}\n`),
});

export async function startIpamDaemon(opts: IpamDaemonOptions): Promise<IpamDaemon> {
  const queues = new PoolQueues(opts.maxBatch === undefined ? {} : { maxBatch: opts.maxBatch });
  const clients = new ClientCache();
  const openerFor = opts.openerFor ?? ((env: Env) => daemonStoreOpener(env, queues, clients));
  const counters = { calls: 0, failedCalls: 0, badRequests: 0, inFlight: 0 };
  const sockets = new Set<Socket>();

  async function handle(req: DaemonRequest): Promise<DaemonResponse> {
    // Only what a plugin process would read; the daemon's own environment does not leak into calls.
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.env)) if (isForwardedEnv(k)) env[k] = v;
    const out = await runPlugin(
      env,
      req.stdin.toString("utf8"),
      whereaboutsPlugin(openerFor(env), flatFileLoader(env)),
    );
    if (out.exitCode !== 0) counters.failedCalls++;
    return { exitCode: out.exitCode, stdout: Buffer.from(out.stdout) };
  }

  function onConnection(sock: Socket): void {
    sockets.add(sock);
    let buf: Buffer = Buffer.alloc(0);
    let started = false;
    sock.on("close", () => sockets.delete(sock));
    sock.on("error", () => undefined); // caller gone: the call still completes, its reply is dropped
    sock.on("data", (chunk: Buffer) => {
      if (started) return;
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      let req: DaemonRequest | undefined;
      try {
        req = decodeRequest(buf);
      } catch (e) {
        started = true;
        counters.badRequests++;
        const detail = e instanceof ProtocolError ? e.message : String(e);
        sock.end(
          encodeResponse(
            errorReply(new CniError(CniCode.Other, "bad request to the whereabouts daemon", detail)),
          ),
        );
        return;
      }
      if (!req) return;
      started = true;
      counters.calls++;
      counters.inFlight++;
      handle(req)
        .catch((e: unknown) =>
          errorReply(new CniError(CniCode.Other, "whereabouts daemon failed", String(e))),
        )
        .then((res) => {
          if (!sock.destroyed) sock.end(encodeResponse(res));
        })
        .finally(() => {
          counters.inFlight--;
        });
    });
  }

  await mkdir(dirname(opts.socketPath), { recursive: true, mode: 0o700 });
  if (await answers(opts.socketPath)) throw new DaemonRunningError(opts.socketPath);
  await rm(opts.socketPath, { force: true }); // a stale socket of a dead daemon
  // Half-open: a caller may shut down its sending side after the request and still read the reply.
  const server: Server = createServer({ allowHalfOpen: true }, onConnection);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.socketPath, () => {
      server.off("error", reject);
      resolve();
    });
  });
  // Same trust as running the plugin: only the runtime's user may hand the daemon calls.
  await chmod(opts.socketPath, 0o600);
  opts.log?.(`whereabouts daemon listening on ${opts.socketPath}`);

  let closing: Promise<void> | undefined;
  return {
    socketPath: opts.socketPath,
    stats: () => ({
      ...counters,
      ...queues.stats,
      apiRequests: clients.requests,
      cpuMs: Math.round((process.cpuUsage().user + process.cpuUsage().system) / 1000),
    }),
    close(graceMs = 20_000) {
      closing ??= (async () => {
        const closed = new Promise<void>((r) => server.close(() => r()));
        const deadline = Date.now() + graceMs;
        while (counters.inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        for (const s of sockets) s.destroy();
        await closed;
        clients.close();
        await rm(opts.socketPath, { force: true });
      })();
      return closing;
    },
  };
}

/** One call to a daemon, as the shim makes it (tests and benchmarks; runtimes use the shim). */
export function callDaemon(socketPath: string, req: DaemonRequest): Promise<DaemonResponse> {
  return new Promise((resolve, reject) => {
    const s = connect(socketPath);
    let buf: Buffer = Buffer.alloc(0);
    s.on("connect", () => s.end(encodeRequest(req)));
    s.on("data", (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
    });
    s.on("error", reject);
    s.on("close", () => {
      try {
        const res = decodeResponse(buf);
        if (res) resolve(res);
        else reject(new ProtocolError("response", `connection closed after ${buf.length} bytes`));
      } catch (e) {
        reject(e);
      }
    });
  });
}
