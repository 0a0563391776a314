// Secondary-network attachments for the lab kubelet (MISSION §4, Multus behaviour): parses the pod's
// `k8s.v1.cni.cncf.io/networks` annotation, runs each NetworkAttachmentDefinition's CNI config (a
// plugin or a plugin list; reference plugins from /usr/lib/cni plus ours, e.g. whereabouts through a
// shim dir in the bin dirs) against the pod's network namespace as interfaces net1, net2, …, and
// returns the `k8s.v1.cni.cncf.io/network-status` entries. The configs used at ADD are kept in the
// state dir, so DEL works after a NAD is deleted or changed. DHCP attachments get the reference
// `dhcp` daemon, started on demand with its own socket (injected as `ipam.daemonSocketPath`);
// whereabouts attachments get our resident IPAM daemon (`egress ipam daemon`), started on demand,
// with the compiled shim put first in the bin dirs and WHEREABOUTS_DAEMON_SOCKET set for the call.
// Parsing and status rendering are pure; running plugins and the daemon are the adapters here.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { run } from "../exec.js";
import { DEFAULT_CNI_BIN_DIR } from "./cni.js";
import { SocketDaemon } from "./socket-daemon.js";

export const NETWORKS_ANNOTATION = "k8s.v1.cni.cncf.io/networks";
export const NETWORK_STATUS_ANNOTATION = "k8s.v1.cni.cncf.io/network-status";

// ------------------------------------------------------------------------------------ annotation

/** One requested attachment (Multus NetworkSelectionElement, the fields this lab honours). */
export interface NetworkSelection {
  name: string;
  namespace: string;
  /** Interface in the pod; net<N> (N = position + 1) when not given. */
  interface: string;
  ips?: string[];
  mac?: string;
}

export class NetworksAnnotationError extends Error {
  constructor(
    readonly value: string,
    readonly detail: string,
  ) {
    super(`annotation ${NETWORKS_ANNOTATION}=${JSON.stringify(value)}: ${detail}`);
    this.name = "NetworksAnnotationError";
  }
}

const DNS1123 = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const IFNAME = /^[^\s/:]{1,15}$/;

/** Parses both forms: `net-a,ns/net-b@if1` and `[{"name":…, "namespace":…, "interface":…, "ips":[…],
 *  "mac":…}]`. Names without a namespace are in the pod's namespace. Pure. */
export function parseNetworksAnnotation(value: string, podNamespace: string): NetworkSelection[] {
  const text = value.trim();
  if (text === "") return [];
  const raw: { name: string; namespace?: string; interface?: string; ips?: string[]; mac?: string }[] = [];
  if (text.startsWith("[")) {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      throw new NetworksAnnotationError(value, `invalid JSON: ${(e as Error).message}`);
    }
    if (!Array.isArray(doc)) throw new NetworksAnnotationError(value, "must be a JSON list");
    doc.forEach((e, i) => {
      if (typeof e !== "object" || e === null || Array.isArray(e))
        throw new NetworksAnnotationError(value, `element ${i} must be an object`);
      const o = e as Record<string, unknown>;
      const str = (k: string): string | undefined => {
        const v = o[k];
        if (v === undefined) return undefined;
        if (typeof v !== "string")
          throw new NetworksAnnotationError(value, `element ${i}: ${k} must be a string`);
        return v;
      };
      const name = str("name");
      if (!name) throw new NetworksAnnotationError(value, `element ${i}: name is required`);
      const sel: (typeof raw)[number] = { name };
      const ns = str("namespace");
      const ifname = str("interface");
      const mac = str("mac");
      if (ns) sel.namespace = ns;
      if (ifname) sel.interface = ifname;
      if (mac) sel.mac = mac;
      if (o.ips !== undefined) {
        if (!Array.isArray(o.ips) || !o.ips.every((x) => typeof x === "string"))
          throw new NetworksAnnotationError(value, `element ${i}: ips must be a list of strings`);
        sel.ips = o.ips as string[];
      }
      raw.push(sel);
    });
  } else {
    for (const part of text.split(",")) {
      const item = part.trim();
      if (item === "") throw new NetworksAnnotationError(value, "empty element in the list");
      const at = item.indexOf("@");
      const ref = at >= 0 ? item.slice(0, at) : item;
      const ifname = at >= 0 ? item.slice(at + 1) : undefined;
      const slash = ref.indexOf("/");
      const sel: (typeof raw)[number] = { name: slash >= 0 ? ref.slice(slash + 1) : ref };
      if (slash >= 0) sel.namespace = ref.slice(0, slash);
      if (ifname !== undefined) sel.interface = ifname;
      raw.push(sel);
    }
  }
  const seen = new Set<string>();
  return raw.map((r, i) => {
    const namespace = r.namespace ?? podNamespace;
    if (!DNS1123.test(r.name))
      throw new NetworksAnnotationError(
        value,
        `network name ${JSON.stringify(r.name)} is not a valid object name`,
      );
    if (!DNS1123.test(namespace))
      throw new NetworksAnnotationError(value, `namespace ${JSON.stringify(namespace)} is not valid`);
    const ifname = r.interface ?? `net${i + 1}`;
    if (!IFNAME.test(ifname))
      throw new NetworksAnnotationError(value, `interface name ${JSON.stringify(ifname)} is not valid`);
    if (ifname === "eth0" || seen.has(ifname))
      throw new NetworksAnnotationError(
        value,
        `interface ${ifname} is used twice (eth0 is the cluster network)`,
      );
    seen.add(ifname);
    const sel: NetworkSelection = { name: r.name, namespace, interface: ifname };
    if (r.ips) sel.ips = r.ips;
    if (r.mac) sel.mac = r.mac;
    return sel;
  });
}

// --------------------------------------------------------------------------------- network status

/** One entry of the network-status annotation, as Multus writes it. */
export interface NetworkStatus {
  name: string;
  interface: string;
  ips: string[];
  mac?: string;
  dns?: { nameservers?: string[]; domain?: string; search?: string[]; options?: string[] };
  default?: boolean;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** The status entry for a CNI result (any version: `ips[].interface` points into `interfaces`). Pure. */
export function networkStatusOf(sel: NetworkSelection, result: unknown): NetworkStatus {
  const st: NetworkStatus = { name: `${sel.namespace}/${sel.name}`, interface: sel.interface, ips: [] };
  if (!isObj(result)) return st;
  const ifaces = Array.isArray(result.interfaces) ? result.interfaces.filter(isObj) : [];
  const podIdx = ifaces.findIndex(
    (i) => i.name === sel.interface && typeof i.sandbox === "string" && i.sandbox !== "",
  );
  const mac = podIdx >= 0 ? ifaces[podIdx]?.mac : undefined;
  if (typeof mac === "string" && mac !== "") st.mac = mac;
  for (const ip of Array.isArray(result.ips) ? result.ips.filter(isObj) : []) {
    if (typeof ip.address !== "string") continue;
    if (typeof ip.interface === "number" && podIdx >= 0 && ip.interface !== podIdx) continue;
    st.ips.push(ip.address.split("/")[0] ?? ip.address);
  }
  const dns = result.dns;
  if (isObj(dns)) {
    const out: NonNullable<NetworkStatus["dns"]> = {};
    for (const k of ["nameservers", "search", "options"] as const) {
      const v = dns[k];
      if (Array.isArray(v) && v.length > 0) out[k] = v.filter((x): x is string => typeof x === "string");
    }
    if (typeof dns.domain === "string" && dns.domain !== "") out.domain = dns.domain;
    if (Object.keys(out).length > 0) st.dns = out;
  }
  return st;
}

// -------------------------------------------------------------------------------------- CNI runs

export class AttachmentError extends Error {
  constructor(
    readonly network: string,
    readonly annotation: string,
    detail: string,
  ) {
    super(`network ${network} (annotation ${NETWORKS_ANNOTATION}=${JSON.stringify(annotation)}): ${detail}`);
    this.name = "AttachmentError";
  }
}

export interface PluginCall {
  command: "ADD" | "DEL";
  containerId: string;
  netns: string;
  ifname: string;
  args: Record<string, string>;
  binDirs: string[];
  /** The single-plugin config (for a plugin list: one element with name/cniVersion/prevResult). */
  config: Obj;
  /** Extra environment for the plugin (e.g. WHEREABOUTS_DAEMON_SOCKET; delegating plugins pass their
   *  environment on to their IPAM plugin). */
  env?: Record<string, string>;
}

/** The WHEREABOUTS_* variables of an environment (WHEREABOUTS_FLATFILE, WHEREABOUTS_LOCK_DIR, …):
 *  the agent passes its own on to plugins, so a node installer that cannot write
 *  /etc/cni/net.d/whereabouts.d (the lab) configures whereabouts through the agent's environment. */
export function whereaboutsEnvOf(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (k.startsWith("WHEREABOUTS_") && v !== undefined) out[k] = v;
  return out;
}

/** Runs one CNI plugin and returns its parsed stdout (ADD result). Throws on failure. */
export type PluginRunner = (call: PluginCall) => Promise<unknown>;

/** Finds the plugin in the bin dirs (in order) and runs it, optionally inside the network namespace
 *  `hostNetns` (`ip netns exec`) — tests use that to keep bridges out of the root namespace; the lab
 *  agent already runs inside its node's namespace. */
export function execPluginRunner(hostNetns?: string): PluginRunner {
  return async (c) => {
    const type = c.config.type;
    if (typeof type !== "string" || !/^[\w.-]+$/.test(type))
      throw new Error(`config has no valid plugin type: ${JSON.stringify(type)}`);
    const bin = c.binDirs.map((d) => join(d, type)).find((p) => existsSync(p));
    if (!bin) throw new Error(`plugin ${type} not found in ${c.binDirs.join(":")}`);
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      // The node's whereabouts settings (flat file, lock dir) as the installer gave them to the agent.
      ...whereaboutsEnvOf(process.env),
      CNI_COMMAND: c.command,
      CNI_CONTAINERID: c.containerId,
      CNI_NETNS: c.netns,
      CNI_IFNAME: c.ifname,
      CNI_PATH: c.binDirs.join(":"),
      CNI_ARGS: Object.entries(c.args)
        .map(([k, v]) => `${k}=${v}`)
        .join(";"),
      ...c.env,
    };
    const [cmd, args] = hostNetns ? ["ip", ["netns", "exec", hostNetns, bin]] : [bin, []];
    const r = await run(cmd, args as string[], {
      input: JSON.stringify(c.config),
      env,
      allowFailure: true,
      timeoutMs: 60_000,
    });
    if (r.code !== 0) {
      let msg = r.stderr.trim() || r.stdout.trim();
      try {
        const e = JSON.parse(r.stdout) as { code?: number; msg?: string; details?: string };
        msg = `CNI error ${e.code}: ${[e.msg, e.details].filter(Boolean).join(": ")}`;
      } catch {
        // not JSON
      }
      throw new Error(`${type} ${c.command} failed: ${msg}`);
    }
    return r.stdout.trim() === "" ? {} : (JSON.parse(r.stdout) as unknown);
  };
}

/** Splits a NAD config into the plugin configs to run, in order (a plugin list's `plugins` get the
 *  list's name and cniVersion, as libcni does). */
export function pluginsOf(config: Obj): Obj[] {
  if (Array.isArray(config.plugins)) {
    return config.plugins
      .filter(isObj)
      .map((p) => ({ ...p, name: config.name, cniVersion: config.cniVersion }));
  }
  return [config];
}

const usesDhcp = (config: Obj): boolean =>
  pluginsOf(config).some((p) => isObj(p.ipam) && p.ipam.type === "dhcp");

const usesWhereabouts = (config: Obj): boolean =>
  pluginsOf(config).some((p) => p.type === "whereabouts" || (isObj(p.ipam) && p.ipam.type === "whereabouts"));

// ----------------------------------------------------------------------------------- DHCP daemon

/** The reference `dhcp` daemon (`dhcp daemon -socketpath P`), started on the first DHCP attachment
 *  and shared by the pods of this agent. It renews leases for as long as it runs and releases them on
 *  DEL. The plugin finds it through `ipam.daemonSocketPath` (containernetworking-plugins ≥ 1.1), so
 *  each lab agent has its own daemon instead of the host-wide /run/cni/dhcp.sock. */
export class DhcpDaemonManager extends SocketDaemon {
  constructor(
    socketPath: string,
    private readonly opts: { binDir?: string; log?: (msg: string) => void } = {},
  ) {
    super(socketPath, { name: "dhcp daemon", startTimeoutMs: 5000, stopTimeoutMs: 3000, log: opts.log });
  }

  protected async spawnDaemon(): Promise<ChildProcess> {
    await mkdir(dirname(this.socketPath), { recursive: true });
    await rm(this.socketPath, { force: true });
    const bin = join(this.opts.binDir ?? DEFAULT_CNI_BIN_DIR, "dhcp");
    return spawn(bin, ["daemon", "-socketpath", this.socketPath], {
      stdio: ["ignore", "ignore", "pipe"],
      detached: true,
    });
  }

  protected override onStderr(text: string): void {
    this.opts.log?.(text.trimEnd());
  }

  /** Leases are no longer renewed once it is stopped. */
  protected override async afterStop(): Promise<void> {
    await rm(this.socketPath, { force: true });
  }
}

// ----------------------------------------------------------------------------- whereabouts daemon

/** dist/src/agent/kubelet → dist/bin/whereabouts (scripts/build-native.mjs) and the light CLI entry. */
const WHEREABOUTS_SHIM = fileURLToPath(new URL("../../../bin/whereabouts", import.meta.url));
const IPAM_ENTRY = fileURLToPath(new URL("../../cli/ipam-entry.js", import.meta.url));

/** Our resident Whereabouts IPAM daemon (`egress ipam daemon --socket P`), one per agent, started on
 *  the first whereabouts attachment. Calls go through the compiled shim, which forwards them to the
 *  daemon (and runs the Node plugin itself when the daemon is gone, so a dead daemon costs speed, not
 *  correctness). The daemon holds no state of its own (the datastore does), so it exits with the
 *  agent (its stdin is a pipe from the agent) and is simply started again. */
export class WhereaboutsDaemonManager extends SocketDaemon {
  constructor(
    socketPath: string,
    private readonly opts: { shim?: string; entry?: string; log?: (msg: string) => void } = {},
  ) {
    // stop(): calls in flight are finished first (the daemon waits up to 20 s for them).
    super(socketPath, {
      name: "whereabouts daemon",
      startTimeoutMs: 10_000,
      stopTimeoutMs: 25_000,
      log: opts.log,
    });
  }

  /** The directory of the compiled shim, or undefined when it is not built (the plugin then runs
   *  as a Node process per call, as before). */
  get shimDir(): string | undefined {
    const shim = this.opts.shim ?? WHEREABOUTS_SHIM;
    return existsSync(shim) ? dirname(shim) : undefined;
  }

  protected async spawnDaemon(): Promise<ChildProcess> {
    return spawn(
      process.execPath,
      [this.opts.entry ?? IPAM_ENTRY, "ipam", "daemon", "--socket", this.socketPath, "--exit-on-stdin-close"],
      { stdio: ["pipe", "pipe", "pipe"] },
    );
  }
}

/** Managers made for callers that pass none: one per socket, i.e. per agent state dir. */
const defaultWhereabouts = new Map<string, WhereaboutsDaemonManager>();

/** The manager for an agent that passes none: `<dir of the dhcp socket>/whereabouts.sock`. */
function whereaboutsFor(opts: DetachOptions): WhereaboutsDaemonManager | undefined {
  if (opts.whereabouts !== undefined) return opts.whereabouts ?? undefined;
  const socket = join(dirname(opts.dhcp.socketPath), "whereabouts.sock");
  let m = defaultWhereabouts.get(socket);
  if (!m) {
    m = new WhereaboutsDaemonManager(socket);
    defaultWhereabouts.set(socket, m);
  }
  return m;
}

/** Stops the whereabouts daemons started for callers that passed no manager (agent stop). */
export async function stopWhereaboutsDaemons(): Promise<void> {
  await Promise.all([...defaultWhereabouts.values()].map((m) => m.stop()));
}

/** Bin dirs and environment for running one attachment: with the daemon when it uses whereabouts and
 *  the shim is built; a daemon that cannot start is logged and the plugin runs on its own. */
async function whereaboutsRoute(
  config: Obj,
  opts: DetachOptions,
): Promise<{ binDirs: string[]; env?: Record<string, string> }> {
  const m = usesWhereabouts(config) ? whereaboutsFor(opts) : undefined;
  const shimDir = m?.shimDir;
  if (!m || !shimDir) return { binDirs: opts.binDirs };
  try {
    await m.ensure();
  } catch (e) {
    opts.log?.(`whereabouts daemon unavailable, running the plugin per call: ${(e as Error).message}`);
    return { binDirs: opts.binDirs };
  }
  return { binDirs: [shimDir, ...opts.binDirs], env: { WHEREABOUTS_DAEMON_SOCKET: m.socketPath } };
}

// ------------------------------------------------------------------------------- attach / detach

export interface PodRef {
  namespace: string;
  name: string;
  uid: string;
  annotations?: Record<string, string>;
}

export interface AttachOptions {
  pod: PodRef;
  /** Path of the pod's network namespace (CNI_NETNS). */
  netnsPath: string;
  /** CNI_CONTAINERID (default: the pod UID). */
  containerId?: string;
  /** Plugin directories, searched in order (e.g. a shim dir with `whereabouts`, then /usr/lib/cni). */
  binDirs: string[];
  /** `spec.config` of the NetworkAttachmentDefinition, undefined when it does not exist. */
  getNetworkAttachmentDefinition(namespace: string, name: string): Promise<string | undefined>;
  /** Where the configs used at ADD are kept per pod (for DEL). */
  stateDir: string;
  dhcp: DhcpDaemonManager;
  /** The whereabouts IPAM daemon; default: one per agent, socket `whereabouts.sock` beside the dhcp
   *  socket (stop it with stopWhereaboutsDaemons()); null: none, the plugin runs per call. */
  whereabouts?: WhereaboutsDaemonManager | null;
  /** Injected for tests; default: execPluginRunner(). */
  runPlugin?: PluginRunner;
  log?: (msg: string) => void;
}

export type DetachOptions = Omit<AttachOptions, "getNetworkAttachmentDefinition">;

/** What is kept per pod: one entry per attachment, written before its ADD runs. */
interface StoredAttachment {
  selection: NetworkSelection;
  containerId: string;
  config: Obj;
}

const stateFile = (stateDir: string, uid: string): string => join(stateDir, "attachments", `${uid}.json`);

async function readState(stateDir: string, uid: string): Promise<StoredAttachment[]> {
  try {
    return JSON.parse(await readFile(stateFile(stateDir, uid), "utf8")) as StoredAttachment[];
  } catch {
    return [];
  }
}

async function writeState(stateDir: string, uid: string, list: StoredAttachment[]): Promise<void> {
  const path = stateFile(stateDir, uid);
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp`;
  await writeFile(tmp, JSON.stringify(list));
  await rename(tmp, path);
}

const cniArgs = (pod: PodRef, containerId: string): Record<string, string> => ({
  IgnoreUnknown: "1",
  K8S_POD_NAMESPACE: pod.namespace,
  K8S_POD_NAME: pod.name,
  K8S_POD_INFRA_CONTAINER_ID: containerId,
  K8S_POD_UID: pod.uid,
});

async function runList(
  command: "ADD" | "DEL",
  a: StoredAttachment,
  o: { netnsPath: string; pod: PodRef; runPlugin: PluginRunner; route: DetachOptions },
): Promise<unknown> {
  const plugins = pluginsOf(a.config);
  const { binDirs, env } = await whereaboutsRoute(a.config, o.route);
  const base = {
    command,
    containerId: a.containerId,
    netns: o.netnsPath,
    ifname: a.selection.interface,
    args: cniArgs(o.pod, a.containerId),
    binDirs,
    ...(env ? { env } : {}),
  };
  if (command === "DEL") {
    // Every plugin, last first; errors collected so one broken plugin does not keep the others' state.
    const errors: string[] = [];
    // The reference bridge plugin (1.1) removes the pod's interface before calling its IPAM DEL, so
    // the dhcp daemon cannot send DHCPRELEASE ("no such device") and the server keeps the lease until
    // it expires. Releasing through the dhcp plugin first, while the interface exists, fixes that;
    // the main plugin's own IPAM DEL then finds no lease and succeeds.
    for (const p of plugins) {
      if (p.type === "dhcp" || !isObj(p.ipam) || p.ipam.type !== "dhcp") continue;
      try {
        await o.runPlugin({ ...base, config: { ...p, type: "dhcp" } });
      } catch (e) {
        errors.push((e as Error).message);
      }
    }
    for (const p of [...plugins].reverse()) {
      try {
        await o.runPlugin({ ...base, config: p });
      } catch (e) {
        errors.push((e as Error).message);
      }
    }
    if (errors.length > 0) throw new Error(errors.join("; "));
    return undefined;
  }
  let prev: unknown;
  for (const p of plugins)
    prev = await o.runPlugin({ ...base, config: prev === undefined ? p : { ...p, prevResult: prev } });
  return prev;
}

/** The reference bridge plugin replaces the IPAM result's DNS with the network config's top-level
 *  `dns` (usually absent), so static IPAM's `dns` would never reach network-status. When the final
 *  result has none, the DNS of the (last) plugin's `ipam.dns` is reported. Pure. */
export function withIpamDns(status: NetworkStatus, config: Obj): NetworkStatus {
  if (status.dns) return status;
  for (const p of [...pluginsOf(config)].reverse()) {
    const dns = isObj(p.ipam) ? p.ipam.dns : undefined;
    if (!isObj(dns)) continue;
    const st = networkStatusOf({ name: "", namespace: "", interface: "" }, { dns });
    return st.dns ? { ...status, dns: st.dns } : status;
  }
  return status;
}

/** Prepares the config of one selection: the NAD's JSON, the DHCP socket, runtimeConfig ips/mac. */
function prepareConfig(text: string, sel: NetworkSelection, dhcpSocket: () => string): Obj {
  const doc = JSON.parse(text) as unknown;
  if (!isObj(doc)) throw new Error("spec.config is not a JSON object");
  const withSocket = (p: Obj): Obj =>
    isObj(p.ipam) && p.ipam.type === "dhcp"
      ? { ...p, ipam: { daemonSocketPath: dhcpSocket(), ...p.ipam } }
      : p;
  const withRuntime = (p: Obj): Obj => {
    if (!sel.ips && !sel.mac) return p;
    const rc: Obj = { ...(isObj(p.runtimeConfig) ? p.runtimeConfig : {}) };
    if (sel.ips) rc.ips = sel.ips;
    if (sel.mac) rc.mac = sel.mac;
    return { ...p, runtimeConfig: rc };
  };
  if (Array.isArray(doc.plugins))
    return { ...doc, plugins: doc.plugins.filter(isObj).map((p) => withRuntime(withSocket(p))) };
  return withRuntime(withSocket(doc));
}

/** ADD for every network the pod's annotation asks for, in order. On a failure the attachments made
 *  so far (and the failed one) are deleted again and an AttachmentError names the network and the
 *  annotation. Repeating it for an attached pod re-runs ADD (plugins are idempotent per container +
 *  interface) with the configs kept from the first time. */
export async function attachNetworks(opts: AttachOptions): Promise<{ networkStatus: NetworkStatus[] }> {
  const annotation = opts.pod.annotations?.[NETWORKS_ANNOTATION] ?? "";
  const selections = parseNetworksAnnotation(annotation, opts.pod.namespace);
  const runPlugin = opts.runPlugin ?? execPluginRunner();
  const containerId = opts.containerId ?? opts.pod.uid;
  const stored = await readState(opts.stateDir, opts.pod.uid);
  const done: StoredAttachment[] = [];
  const statuses: NetworkStatus[] = [];
  const ctx = { netnsPath: opts.netnsPath, pod: opts.pod, runPlugin, route: opts };
  for (const sel of selections) {
    const net = `${sel.namespace}/${sel.name}`;
    let att = stored.find(
      (s) =>
        s.selection.interface === sel.interface &&
        s.selection.name === sel.name &&
        s.selection.namespace === sel.namespace,
    );
    try {
      if (!att) {
        const text = await opts.getNetworkAttachmentDefinition(sel.namespace, sel.name);
        if (text === undefined) throw new Error("NetworkAttachmentDefinition not found");
        let socket: string | undefined;
        const config = prepareConfig(text, sel, () => {
          socket = opts.dhcp.socketPath;
          return socket;
        });
        att = { selection: sel, containerId, config };
        // Recorded before ADD, so a crash in between still leads to a DEL.
        await writeState(opts.stateDir, opts.pod.uid, [...new Set([...stored, ...done, att])]);
      }
      if (usesDhcp(att.config)) await opts.dhcp.ensure();
      done.push(att);
      const result = await runList("ADD", att, ctx);
      statuses.push(withIpamDns(networkStatusOf(sel, result), att.config));
    } catch (e) {
      for (const d of [...done].reverse()) await runList("DEL", d, ctx).catch(() => undefined);
      await rm(stateFile(opts.stateDir, opts.pod.uid), { force: true });
      throw new AttachmentError(net, annotation, e instanceof Error ? e.message : String(e));
    }
  }
  // Attachments no longer asked for (annotation edited while the sandbox lived) are deleted.
  for (const s of stored) if (!done.includes(s)) await runList("DEL", s, ctx).catch(() => undefined);
  await writeState(opts.stateDir, opts.pod.uid, done);
  return { networkStatus: statuses };
}

/** DEL for every attachment recorded at ADD, with the configs used then (NADs may be gone). Safe to
 *  repeat; the record is removed once every DEL succeeded. */
export async function detachNetworks(opts: DetachOptions): Promise<void> {
  const stored = await readState(opts.stateDir, opts.pod.uid);
  const runPlugin = opts.runPlugin ?? execPluginRunner();
  const ctx = { netnsPath: opts.netnsPath, pod: opts.pod, runPlugin, route: opts };
  const errors: string[] = [];
  for (const s of [...stored].reverse()) {
    try {
      if (usesDhcp(s.config)) await opts.dhcp.ensure();
      await runList("DEL", s, ctx);
    } catch (e) {
      errors.push(
        `${s.selection.namespace}/${s.selection.name} (${s.selection.interface}): ${(e as Error).message}`,
      );
    }
  }
  if (errors.length > 0) throw new Error(`DEL of secondary networks failed: ${errors.join("; ")}`);
  await rm(stateFile(opts.stateDir, opts.pod.uid), { force: true });
}
