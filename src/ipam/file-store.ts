// The `file` datastore: all pools and overlapping-range reservations of one network_name in one JSON
// file under data_dir, for a single host. Concurrent plugin processes are serialized with an exclusive
// flock(2) on a lock file per network; the kernel drops the lock when its holder dies (even SIGKILL),
// so there is no stale-lock breaking to get wrong. Node has no flock binding, so the lock is taken by
// util-linux flock(1) on a file descriptor shared with it (a flock belongs to the open file
// description, which stays ours after flock(1) exits). Writes are crash-safe: temp file, fsync, rename,
// fsync of the directory. Must not hold the lock across anything but read-compute-write.
import { spawn } from "node:child_process";
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { type Change, isEmptyChange, type Snapshot } from "./allocator.js";
import type { IPAllocation } from "./model.js";
import {
  applyChange,
  type IPAMStore,
  type NetworkState,
  StoreCorruptError,
  type StoreScope,
  StoreTimeoutError,
  snapshotOf,
} from "./store.js";

const API_VERSION = "whereabouts.cni.cncf.io/v1alpha1";
const FILE_KIND = "WhereaboutsNetworkState";
const FLOCK = ["/usr/bin/flock", "/bin/flock"].find((p) => existsSync(p)) ?? "flock";

/** File names of a network's state and lock (network_name is URI-encoded, so any name is safe). */
export function networkFiles(dataDir: string, network: string): { state: string; lock: string } {
  const base = network === "" ? "network" : `network-${encodeURIComponent(network)}`;
  return { state: join(dataDir, `${base}.json`), lock: join(dataDir, `${base}.lock`) };
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const strField = (o: Obj, k: string, where: string): string => {
  const v = o[k];
  if (typeof v !== "string")
    throw new StoreCorruptError(where, `field ${k} must be a string, got ${JSON.stringify(v)}`);
  return v;
};

/** Encodes a network's state as upstream-shaped objects (IPPool, OverlappingRangeIPReservation). */
export function encodeState(network: string, s: NetworkState): string {
  const ipPools: Obj = {};
  for (const p of Object.values(s.pools).sort((a, b) => a.name.localeCompare(b.name))) {
    ipPools[p.name] = {
      apiVersion: API_VERSION,
      kind: "IPPool",
      metadata: { name: p.name, resourceVersion: p.resourceVersion },
      spec: { range: p.range, allocations: p.allocations },
    };
  }
  const reservations: Obj = {};
  for (const r of Object.values(s.reservations).sort((a, b) => a.name.localeCompare(b.name))) {
    reservations[r.name] = {
      apiVersion: API_VERSION,
      kind: "OverlappingRangeIPReservation",
      metadata: { name: r.name },
      spec: { ip: r.ip, containerid: r.containerid, podref: r.podref, ifname: r.ifname },
    };
  }
  return `${JSON.stringify({
    apiVersion: API_VERSION,
    kind: FILE_KIND,
    networkName: network,
    ipPools,
    overlappingRangeIPReservations: reservations,
  })}\n`;
}

export function decodeState(text: string, where: string): NetworkState {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new StoreCorruptError(where, `invalid JSON (${(e as Error).message})`);
  }
  if (!isObj(doc) || doc.kind !== FILE_KIND)
    throw new StoreCorruptError(where, `not a ${FILE_KIND} document`);
  const state: NetworkState = { pools: {}, reservations: {} };
  const pools = doc.ipPools;
  if (!isObj(pools)) throw new StoreCorruptError(where, "ipPools must be an object");
  for (const [name, p] of Object.entries(pools)) {
    const w = `${where} ipPools.${name}`;
    if (!isObj(p) || !isObj(p.metadata) || !isObj(p.spec)) throw new StoreCorruptError(w, "not an IPPool");
    const allocs = p.spec.allocations;
    if (!isObj(allocs)) throw new StoreCorruptError(w, "spec.allocations must be an object");
    const allocations: Record<string, IPAllocation> = {};
    for (const [k, a] of Object.entries(allocs)) {
      const aw = `${w} spec.allocations.${k}`;
      if (!/^\d+$/.test(k) || !isObj(a)) throw new StoreCorruptError(aw, "not an allocation keyed by offset");
      allocations[k] = {
        id: strField(a, "id", aw),
        podref: strField(a, "podref", aw),
        ifname: strField(a, "ifname", aw),
      };
    }
    state.pools[name] = {
      name,
      range: strField(p.spec, "range", w),
      allocations,
      resourceVersion: strField(p.metadata, "resourceVersion", w),
    };
  }
  const res = doc.overlappingRangeIPReservations;
  if (!isObj(res)) throw new StoreCorruptError(where, "overlappingRangeIPReservations must be an object");
  for (const [name, r] of Object.entries(res)) {
    const w = `${where} overlappingRangeIPReservations.${name}`;
    if (!isObj(r) || !isObj(r.spec)) throw new StoreCorruptError(w, "not an OverlappingRangeIPReservation");
    const s = r.spec;
    state.reservations[name] = {
      name,
      ip: strField(s, "ip", w),
      containerid: strField(s, "containerid", w),
      podref: strField(s, "podref", w),
      ifname: strField(s, "ifname", w),
    };
  }
  return state;
}

/** A held lock; `release()` closes our descriptor, which drops the flock. */
export interface HeldLock {
  release(): void;
}

/** Takes an exclusive flock on `path`, waiting at most `timeoutMs`. */
export async function lockExclusive(path: string, timeoutMs: number): Promise<HeldLock> {
  const fd = openSync(path, "a", 0o600);
  const release = (): void => closeSync(fd);
  try {
    const wait = timeoutMs <= 0 ? ["-n"] : ["-w", (timeoutMs / 1000).toFixed(3)];
    const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      const child = spawn(FLOCK, ["-x", ...wait, "3"], { stdio: ["ignore", "ignore", "pipe", fd] });
      let stderr = "";
      child.stderr?.on("data", (d: Buffer) => {
        stderr += d.toString();
      });
      child.on("error", reject);
      child.on("close", (c) => resolve({ code: c, stderr }));
    });
    if (code === 0) return { release };
    if (code === 1) throw new StoreTimeoutError(`lock ${path}`, timeoutMs);
    throw new Error(`flock ${path} failed (exit ${code}): ${stderr.trim()}`);
  } catch (e) {
    release();
    throw e;
  }
}

/** Replaces `path` with `data` so that a crash leaves either the old or the new file, never a mix.
 *  Synchronous on purpose: the plugin is a short-lived process doing one thing at a time. */
export function writeDurably(path: string, data: string): void {
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  const fd = openSync(tmp, "wx", 0o600);
  try {
    const buf = Buffer.from(data);
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  const dir = openSync(join(path, ".."), "r");
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

export class FileStore implements IPAMStore {
  private ready = false;

  constructor(
    readonly dataDir: string,
    readonly lockTimeoutMs: number,
  ) {}

  private ensureDir(): void {
    if (this.ready) return;
    mkdirSync(this.dataDir, { recursive: true, mode: 0o700 });
    this.ready = true;
  }

  private load(path: string): NetworkState {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return { pools: {}, reservations: {} };
      throw e;
    }
    return decodeState(text, path);
  }

  async read(scope: StoreScope): Promise<Snapshot> {
    this.ensureDir();
    return snapshotOf(this.load(networkFiles(this.dataDir, scope.network).state), scope);
  }

  async transact<T>(scope: StoreScope, fn: (snap: Snapshot) => { result: T; change: Change }): Promise<T> {
    this.ensureDir();
    const files = networkFiles(this.dataDir, scope.network);
    const lock = await lockExclusive(files.lock, this.lockTimeoutMs);
    try {
      this.removeOrphans(files.state);
      const state = this.load(files.state);
      const { result, change } = fn(snapshotOf(state, scope));
      if (!isEmptyChange(change))
        writeDurably(files.state, encodeState(scope.network, applyChange(state, change)));
      return result;
    } finally {
      lock.release();
    }
  }

  /** Temp files left by a writer killed before its rename. Only called under the lock, when no live
   *  writer of this network can own one. */
  private removeOrphans(statePath: string): void {
    const base = statePath.slice(this.dataDir.length + 1);
    for (const name of readdirSync(this.dataDir)) {
      if (!name.startsWith(`${base}.tmp-`)) continue;
      try {
        unlinkSync(join(this.dataDir, name));
      } catch {
        // already gone
      }
    }
  }

  async close(): Promise<void> {}
}
