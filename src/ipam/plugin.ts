// The Whereabouts CNI commands: glue between the CNI skeleton, the config parser, the pure allocator
// and a datastore. Each command is one store transaction whose decision is made by allocator.ts; this
// module only assembles results and maps errors to CNI codes. It must not decide addresses itself.
import { formatIP, parseCIDR } from "../api/ip.js";
import { CniCode, CniError } from "../cni/errors.js";
import type { CmdArgs, Plugin } from "../cni/skel.js";
import { type IPAMResult, prevResultAddresses, renderResult } from "../cni/version.js";
import {
  type Assigned,
  exhaustedRanges,
  findAllocations,
  PoolExhaustedError,
  planAdd,
  planDel,
  planGC,
} from "./allocator.js";
import { ConfigError, mergeFlatFile, parseConfig, type WhereaboutsConfig } from "./config.js";
import type { Owner } from "./model.js";
import { type IPAMStore, StoreCorruptError, type StoreScope, StoreTimeoutError } from "./store.js";

export type StoreOpener = (conf: WhereaboutsConfig) => Promise<IPAMStore>;

/** Opens the datastore the config names. Both are imported lazily, so that the kubernetes store costs
 *  nothing to plugins using the file store (and the other way round). The kubernetes store talks to
 *  the API over plain node:https (kube-http.ts), not @kubernetes/client-node, to keep process start
 *  short. */
export const openConfiguredStore: StoreOpener = async (conf) => {
  if (conf.datastore === "file") {
    const { FileStore } = await import("./file-store.js");
    return new FileStore(conf.dataDir, conf.lockTimeoutMs);
  }
  const [{ KubernetesStore }, { HttpIPAMClient }, { loadConnection }] = await Promise.all([
    import("./kube-store.js"),
    import("./kube-http.js"),
    import("./kubeconfig.js"),
  ]);
  const kubeconfig = conf.kubernetes?.kubeconfig;
  if (kubeconfig !== undefined && typeof kubeconfig !== "string") {
    throw new ConfigError("ipam.kubernetes.kubeconfig", kubeconfig, "must be a path");
  }
  let conn: Awaited<ReturnType<typeof loadConnection>>;
  try {
    conn = await loadConnection(kubeconfig);
  } catch (e) {
    throw new ConfigError("ipam.kubernetes.kubeconfig", kubeconfig, `cannot load: ${(e as Error).message}`);
  }
  const client = new HttpIPAMClient(conn, kubeNamespace(process.env));
  const store = new KubernetesStore(client, { timeoutMs: conf.lockTimeoutMs });
  const timing = { waitMs: 0, holdMs: 0, startMs: performance.now() };
  return {
    read: (s) => store.read(s),
    transact: async (s, fn) => {
      // Plugins on one host queue on a local flock per network before their optimistic transaction:
      // dozens of simultaneous ADDs on one node would otherwise all race for the same address and
      // the same pool write, and the API server spends its time on losers. Across hosts the
      // optimistic protocol alone decides. The lock is an optimisation: without a usable lock dir the
      // transaction runs unlocked.
      // The TLS handshake happens while waiting for the lock, not while holding it.
      const t0 = performance.now();
      const [lock] = await Promise.all([hostLock(s.network, conf.lockTimeoutMs), client.warm()]);
      const t1 = performance.now();
      try {
        return await store.transact(s, fn);
      } finally {
        lock?.release();
        timing.waitMs += t1 - t0;
        timing.holdMs += performance.now() - t1;
      }
    },
    close: async () => {
      client.close();
      // Benchmarks: per-call API statistics on stderr (runtimes ignore stderr).
      if (process.env.WHEREABOUTS_STATS)
        process.stderr.write(
          `${JSON.stringify({
            requests: client.requests,
            conflicts: store.conflicts,
            uptimeMs: Math.round(process.uptime() * 1000),
            lockWaitMs: Math.round(timing.waitMs),
            lockHoldMs: Math.round(timing.holdMs),
          })}\n`,
        );
    },
  };
};

/** Upstream keeps its objects in the namespace whereabouts runs in (WHEREABOUTS_NAMESPACE). */
export const kubeNamespace = (env: Record<string, string | undefined>): string =>
  env.WHEREABOUTS_NAMESPACE || "kube-system";

/** The host-local queue of the kubernetes datastore: `$WHEREABOUTS_LOCK_DIR` (default
 *  `<tmpdir>/whereabouts-locks`), one lock file per network_name. */
export async function hostLock(
  network: string,
  timeoutMs: number,
  env: Record<string, string | undefined> = process.env,
): Promise<{ release(): void } | undefined> {
  const [{ lockExclusive }, { mkdirSync }, { tmpdir }, { join }] = await Promise.all([
    import("./file-store.js"),
    import("node:fs"),
    import("node:os"),
    import("node:path"),
  ]);
  const dir = env.WHEREABOUTS_LOCK_DIR || join(tmpdir(), "whereabouts-locks");
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch {
    return undefined;
  }
  return lockExclusive(join(dir, `${encodeURIComponent(network || "_")}.lock`), timeoutMs);
}

/** Reads the flat-file configuration: `ipam.configuration_path` when set, else the first of
 *  FLAT_FILE_PATHS that exists. Returns the decoded JSON and where it came from, or undefined. */
export type FlatFileLoader = (
  configurationPath: string | undefined,
) => { doc: unknown; source: string } | undefined;

export function scopeOf(conf: WhereaboutsConfig): StoreScope {
  return {
    network: conf.networkName,
    pools: conf.ranges.map((r) => ({ name: r.pool, range: r.cidr })),
    reservations: conf.overlapping,
  };
}

export function ownerOf(a: CmdArgs): Owner {
  const ns = a.args.get("K8S_POD_NAMESPACE") ?? "";
  const name = a.args.get("K8S_POD_NAME") ?? "";
  return {
    containerID: a.containerID,
    ifName: a.ifName,
    podRef: ns !== "" && name !== "" ? `${ns}/${name}` : "",
  };
}

/** The IPAM result: allocated addresses first (gateway only on the same family), then static
 *  `addresses`, `routes` and `dns` as upstream appends them. */
export function resultOf(conf: WhereaboutsConfig, assigned: readonly Assigned[]): IPAMResult {
  const ips: IPAMResult["ips"] = assigned.map(({ range, ip }) => {
    const out: IPAMResult["ips"][number] = {
      address: `${formatIP(ip)}/${range.cidr.prefix}`,
      family: ip.family,
    };
    if (conf.gateway && conf.gateway.family === ip.family) out.gateway = formatIP(conf.gateway);
    return out;
  });
  for (const s of conf.addresses) {
    ips.push(s.gateway === undefined ? { address: s.address, family: s.family } : { ...s });
  }
  const r: IPAMResult = { ips, routes: conf.routes };
  if (conf.dns) r.dns = conf.dns;
  return r;
}

const sameAddress = (a: string, b: string): boolean => {
  const x = parseCIDR(a);
  const y = parseCIDR(b);
  return !!x && !!y && x.family === y.family && x.address === y.address && x.prefix === y.prefix;
};

export function whereaboutsPlugin(
  openStore: StoreOpener = openConfiguredStore,
  loadFlatFile: FlatFileLoader = () => undefined,
): Plugin {
  function configOf(a: CmdArgs): WhereaboutsConfig {
    const ipam = a.config.ipam;
    const cp =
      typeof ipam === "object" && ipam !== null
        ? (ipam as Record<string, unknown>).configuration_path
        : undefined;
    if (cp !== undefined && typeof cp !== "string")
      throw new ConfigError("ipam.configuration_path", cp, "must be a path");
    const flat = loadFlatFile(cp);
    return parseConfig(flat ? mergeFlatFile(a.config, flat.doc, flat.source) : a.config);
  }

  async function withStore<T>(
    a: CmdArgs,
    run: (conf: WhereaboutsConfig, store: IPAMStore) => Promise<T>,
  ): Promise<T> {
    const conf = configOf(a);
    const store = await openStore(conf);
    try {
      return await run(conf, store);
    } finally {
      await store.close();
    }
  }

  return {
    knownArgs: ["K8S_POD_NAMESPACE", "K8S_POD_NAME", "K8S_POD_INFRA_CONTAINER_ID", "K8S_POD_UID"],

    add: (a) =>
      withStore(a, async (conf, store) => {
        const owner = ownerOf(a);
        const opts = { networkName: conf.networkName, overlapping: conf.overlapping };
        const assigned = await store.transact(scopeOf(conf), (snap) => {
          const plan = planAdd(conf.ranges, owner, snap, opts);
          return { result: plan.assigned, change: plan.change };
        });
        return renderResult(a.cniVersion, resultOf(conf, assigned));
      }),

    del: (a) =>
      withStore(a, async (conf, store) => {
        await store.transact(scopeOf(conf), (snap) => {
          const plan = planDel(conf.ranges, a.containerID, a.ifName, snap, conf.networkName);
          return { result: plan.released, change: plan.change };
        });
      }),

    check: (a) =>
      withStore(a, async (conf, store) => {
        const snap = await store.read(scopeOf(conf));
        const { found, missing } = findAllocations(conf.ranges, a.containerID, a.ifName, snap);
        if (missing.length > 0) {
          const m = missing[0]!;
          throw new CniError(
            CniCode.Other,
            "no address allocated",
            `container ${a.containerID} interface ${a.ifName} holds no address in ${m.field} (pool ${m.pool})`,
          );
        }
        if (conf.prevResult !== undefined) {
          const prev = prevResultAddresses(conf.prevResult);
          for (const f of found) {
            const addr = `${formatIP(f.ip)}/${f.range.cidr.prefix}`;
            if (!prev.some((p) => sameAddress(p, addr))) {
              throw new CniError(
                CniCode.Other,
                "prevResult does not match the datastore",
                `${addr} is allocated but missing from prevResult.ips`,
              );
            }
          }
        }
      }),

    gc: (a) =>
      withStore(a, async (conf, store) => {
        const valid = conf.validAttachments;
        if (!valid) throw new ConfigError("cni.dev/valid-attachments", undefined, "is required for GC");
        await store.transact(scopeOf(conf), (snap) => {
          const plan = planGC(conf.ranges, valid, snap, conf.networkName);
          return { result: plan.released, change: plan.change };
        });
      }),

    status: async (a) => {
      const conf = configOf(a);
      let exhausted: ReturnType<typeof exhaustedRanges>;
      try {
        const store = await openStore(conf);
        try {
          const snap = await store.read(scopeOf(conf));
          exhausted = exhaustedRanges(conf.ranges, snap, {
            networkName: conf.networkName,
            overlapping: conf.overlapping,
          });
        } finally {
          await store.close();
        }
      } catch (e) {
        if (e instanceof ConfigError) throw e;
        throw new CniError(
          CniCode.PluginNotAvailable,
          "datastore not available",
          e instanceof Error ? e.message : String(e),
        );
      }
      if (exhausted.length > 0) {
        throw new CniError(
          CniCode.PluginNotAvailable,
          "no free address",
          exhausted.map((r) => `${r.field} (pool ${r.pool}) is exhausted`).join("; "),
        );
      }
    },

    toCniError: (e) => {
      if (e instanceof ConfigError)
        return new CniError(CniCode.InvalidNetworkConfig, `invalid network config: ${e.field}`, e.message);
      if (e instanceof StoreTimeoutError)
        return new CniError(CniCode.TryAgainLater, "datastore busy, try again later", e.message);
      if (e instanceof PoolExhaustedError) return new CniError(CniCode.Other, "no free address", e.message);
      if (e instanceof StoreCorruptError) return new CniError(CniCode.Other, "datastore corrupt", e.message);
      // kube-http.ts is loaded lazily, so its error is recognised by name: an unreachable or overloaded
      // API server is worth a retry by the runtime (11); a refused request is not (999).
      if (e instanceof Error && e.name === "KubeApiError") {
        const status = (e as Error & { status?: number }).status ?? 0;
        const again = status === 0 || status === 429 || status >= 500;
        return new CniError(
          again ? CniCode.TryAgainLater : CniCode.Other,
          "kubernetes API request failed",
          e.message,
        );
      }
      return undefined;
    },
  };
}
