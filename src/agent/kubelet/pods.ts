// The lab kubelet: for each Pod bound to this node, a network namespace wired into the cluster
// network by CNI (bridge + host-local over the node's HostSubnet), the pod's built-in programs
// started inside it, and podIP/phase reported. Egress router pods (router.ts, router-net.ts) also
// get their egress interface and run the router container's set-up before the main containers.
// State per pod is kept on disk so a restarted agent adopts its pods (their namespaces and
// processes outlive the agent) instead of recreating them. Each pod gets a resolv.conf naming the
// node's cluster DNS (dns/), in /etc/netns/<pod netns>/ where `ip netns exec` finds it.
import { spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  clusterNetworkType,
  configMapType,
  hostSubnetType,
  networkAttachmentDefinitionType,
  podType,
} from "../../api/kinds/index.js";
import type { KubeObject } from "../../api/object.js";
import { type Client, isNotFound } from "../../controllers/runtime/client.js";
import { SharedInformer } from "../../controllers/runtime/manager.js";
import { type ReconcileOutcome, WorkQueue } from "../../controllers/runtime/workqueue.js";
import type { Logger } from "../../util/log.js";
import { type PodDnsSpec, podResolvConf, renderResolvConf } from "../dns/resolv-conf.js";
import { run } from "../exec.js";
import {
  attachNetworks,
  DhcpDaemonManager,
  detachNetworks,
  NETWORK_STATUS_ANNOTATION,
  type NetworkStatus,
} from "./attachments.js";
import { clusterNetworkConfig, invokeCni } from "./cni.js";
import { imageRunner } from "./images.js";
import { deleteNetns, ensureNetns, netnsExists, netnsPath, podNetnsName } from "./netns.js";
import {
  type ConfigMapData,
  type ContainerSpec,
  ContainerStartError,
  chooseUnderlay,
  type ProxyContainerPlan,
  planRouterPod,
  type RouterPodPlan,
  referencedConfigMaps,
  resolveEnv,
  routerSteps,
  unitTestOutput,
} from "./router.js";
import {
  applyRouterSteps,
  attachEgress,
  detachEgress,
  ensureUnderlayBridge,
  holdsAddress,
  hostVethName,
  nodeInterfaces,
  probeAddress,
} from "./router-net.js";

export interface PodState {
  uid: string;
  namespace: string;
  name: string;
  netns: string;
  ip: string;
  pids: number[];
  /** The cluster interface's gateway from CNI (router pods keep the cluster networks on it). */
  gateway?: string;
  /** When the sandbox was made (status.startTime). */
  createdAt?: string;
  /** The main containers were started (set once; a restarted agent does not start them again). */
  started?: boolean;
  router?: RouterState;
}

/** Progress of an egress router pod (see router.ts). */
export interface RouterState {
  /** Node end of the egress veth, once attached. */
  hostVeth?: string;
  /** The router container's name, whether it is an init container, and its mode. */
  container?: string;
  init?: boolean;
  mode?: string;
  /** Set-up finished (for unit-test: printed). */
  done: boolean;
  startedAt?: string;
  finishedAt?: string;
  /** unit-test mode's output (also the container's log and termination message). */
  output?: string;
  /** Why the router container is not running yet (shown as its waiting state). */
  waiting?: { reason: string; message: string };
}

export interface PodManagerOptions {
  node: string;
  netnsPrefix: string;
  stateDir: string;
  cniBinDirs: string[];
  bridge: string;
  hostIP: () => string | undefined;
  /** Called after a pod got or lost its address (the dataplane resyncs). */
  onChange: () => void;
  /** The node's primary interface (egress interface of routers that name no network). */
  primaryInterface?: string;
  /** Name servers for pods without their own dnsConfig (kubelet's --cluster-dns); default: the
   *  comma-separated EGRESS_AGENT_CLUSTER_DNS environment variable, else the node's resolv.conf. */
  dnsServers?: string[];
  /** The node's cluster DNS (dns/node-dns.ts): asked to serve a pod's gateway address, which then
   *  becomes the pod's nameserver (dnsPolicy ClusterFirst). Without it pods get `dnsServers`. */
  clusterDns?: { ensureListening(address: string): Promise<boolean>; clusterDomain: string };
  /** Pods' resolv.conf go to `<dir>/<pod netns>/resolv.conf`, which `ip netns exec` bind-mounts
   *  over /etc/resolv.conf for the pod's programs (and `egress lab exec`). Default /etc/netns. */
  resolvConfDir?: string;
}

const AGENT_DIR = join(dirname(fileURLToPath(import.meta.url)), "..");
/** The repository's bin/ (dist/src/agent/kubelet → ../../../../bin): holds the whereabouts plugin. */
const REPO_BIN = join(AGENT_DIR, "..", "..", "..", "bin");
const ROUTER_ENTRY = join(AGENT_DIR, "..", "router", "cli-entry.js");
/** Retry interval while EGRESS_SOURCE is still answered by someone else, or a ConfigMap is missing. */
const ROUTER_RETRY_MS = 1000;
const CONFIG_RETRY_MS = 5000;
const now = () => new Date().toISOString().replace(/\.\d+Z$/, "Z");

export class PodManager {
  readonly informer: SharedInformer;
  private readonly queue: WorkQueue;
  private readonly pods = new Map<string, PodState>();
  /** The reference `dhcp` daemon for attachments with `ipam.type: dhcp`, started on first use; it is
   *  left running when the agent stops so leases stay renewed and a restarted agent reuses it. */
  private readonly dhcp: DhcpDaemonManager;
  private readonly reportedErrors = new Map<string, string>();
  private readonly reportedStatus = new Map<string, string>();
  /** resolv.conf text last written per pod uid (rewritten only when it changes). */
  private readonly resolvConfs = new Map<string, string>();

  constructor(
    private readonly client: Client,
    private readonly opts: PodManagerOptions,
    private readonly log: Logger,
  ) {
    this.informer = new SharedInformer(client, podType, log, `spec.nodeName=${opts.node}`);
    this.dhcp = new DhcpDaemonManager(join(opts.stateDir, "dhcp.sock"), {
      binDir: opts.cniBinDirs[0] ?? "/usr/lib/cni",
      log: (msg) => log.info({ component: "dhcp" }, msg),
    });
    this.queue = new WorkQueue(
      (key) => this.sync(key),
      (key, err, attempt) => this.log.warn({ err, pod: key, attempt }, "pod sync failed"),
      { workers: 4, baseDelayMs: 200, maxDelayMs: 10_000 },
    );
    this.informer.on((_t, obj) => this.queue.add(`${obj.metadata.namespace}/${obj.metadata.name}`));
  }

  /** Local pod states (addresses for the dataplane). */
  states(): PodState[] {
    return [...this.pods.values()];
  }

  private stateFile(uid: string): string {
    return join(this.opts.stateDir, "pods", `${uid}.json`);
  }

  async start(): Promise<void> {
    await mkdir(join(this.opts.stateDir, "pods"), { recursive: true });
    for (const f of await readdir(join(this.opts.stateDir, "pods"))) {
      try {
        const s = JSON.parse(await readFile(join(this.opts.stateDir, "pods", f), "utf8")) as PodState;
        // State written before `started` existed: its programs were started with the sandbox.
        if (s.started === undefined && !s.router) s.started = true;
        this.pods.set(`${s.namespace}/${s.name}`, s);
      } catch {
        // a torn state file: the pod is set up again
      }
    }
    await this.removeStaleResolvConfs();
    await this.informer.start();
    // Pods that disappeared while the agent was down.
    for (const key of this.pods.keys()) this.queue.add(key);
  }

  /**
   * Stops watching; pods keep running. Their resolv.conf files are removed: /etc/netns is the
   * host's, and whoever deletes the pod namespaces next (`egress lab down`) does not know them. A
   * running program keeps the file it bound when it started; a restarted agent writes them again
   * when it adopts its pods.
   */
  async stop(): Promise<void> {
    this.queue.stop();
    await this.informer.stop();
    for (const s of this.pods.values())
      await rm(this.resolvConfPath(s.netns), { recursive: true, force: true }).catch(() => undefined);
  }

  /** resolv.conf directories of this agent's prefix whose pod namespace is gone (an agent killed
   *  before it could remove them, then the namespaces deleted by someone else). */
  private async removeStaleResolvConfs(): Promise<void> {
    const dir = this.opts.resolvConfDir ?? "/etc/netns";
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const n of names)
      if (n.startsWith(this.opts.netnsPrefix) && !netnsExists(n))
        await rm(join(dir, n), { recursive: true, force: true }).catch(() => undefined);
  }

  private async sync(key: string): Promise<ReconcileOutcome> {
    const [namespace = "", name = ""] = key.split("/");
    const pod = this.informer.get(name, namespace);
    const state = this.pods.get(key);
    if (!pod || pod.metadata.deletionTimestamp) {
      if (state) await this.teardown(key, state);
      this.reportedStatus.delete(key);
      return undefined;
    }
    if (state && state.uid !== pod.metadata.uid) await this.teardown(key, state);
    const current = this.pods.get(key);
    if (current && netnsExists(current.netns)) return this.runContainers(pod, current);
    return this.setup(pod);
  }

  private containers(pod: KubeObject): { init: ContainerSpec[]; main: ContainerSpec[] } {
    const spec = (pod.spec ?? {}) as { containers?: ContainerSpec[]; initContainers?: ContainerSpec[] };
    return { init: spec.initContainers ?? [], main: spec.containers ?? [] };
  }

  private async setup(pod: KubeObject): Promise<ReconcileOutcome> {
    const ns = pod.metadata.namespace ?? "";
    const name = pod.metadata.name ?? "";
    const key = `${ns}/${name}`;
    const { init, main } = this.containers(pod);
    const unsupported = [...init, ...main]
      .map((c) => ({ c, r: imageRunner(c.image) }))
      .find((x) => x.r.kind === "unsupported");
    if (unsupported && unsupported.r.kind === "unsupported") {
      await this.reportError(pod, unsupported.c.name, "ImageNotSupported", unsupported.r.reason);
      return undefined;
    }
    // Router pods: the environment and configuration are checked before the sandbox exists, so a
    // bad configuration costs no address.
    const planned = await this.planRouter(pod);
    if (planned.kind === "error") return planned.outcome;
    const hs = await this.client.get(hostSubnetType, "", this.opts.node).catch((e: unknown) => {
      if (isNotFound(e)) return undefined;
      throw e;
    });
    const subnet = (hs as { subnet?: string } | undefined)?.subnet;
    if (!subnet) throw new Error(`no HostSubnet for node ${this.opts.node} yet`);
    const netns = podNetnsName(this.opts.netnsPrefix, ns, name);
    await ensureNetns(netns);
    const result = await invokeCni({
      command: "ADD",
      containerId: pod.metadata.uid ?? key,
      netns: netnsPath(netns),
      ifname: "eth0",
      args: { K8S_POD_NAMESPACE: ns, K8S_POD_NAME: name },
      binDirs: this.opts.cniBinDirs,
      config: clusterNetworkConfig(subnet, join(this.opts.stateDir, "host-local"), this.opts.bridge),
    });
    const ip = result.ips?.[0]?.address.split("/")[0];
    if (!ip) throw new Error(`CNI ADD for ${key} returned no address`);
    const state: PodState = {
      uid: pod.metadata.uid ?? "",
      namespace: ns,
      name,
      netns,
      ip,
      pids: [],
      createdAt: now(),
      ...(result.ips?.[0]?.gateway ? { gateway: result.ips[0].gateway } : {}),
      ...(planned.plan ? { router: { done: false } } : {}),
    };
    this.pods.set(key, state);
    await this.saveState(state);
    await this.attachSecondaryNetworks(pod, state);
    this.opts.onChange();
    return this.runContainers(pod, state, planned.plan);
  }

  /** The directories CNI plugins are searched in: the configured ones plus this repository's bin/
   *  (the whereabouts IPAM plugin). */
  private binDirs(): string[] {
    return [...this.opts.cniBinDirs, REPO_BIN];
  }

  /**
   * Secondary networks (`k8s.v1.cni.cncf.io/networks`), as Multus: each attachment's CNI config is
   * run into the pod's namespace and the results, after the cluster network's, are written to
   * `k8s.v1.cni.cncf.io/network-status`. A failed attachment fails the pod's setup (retried).
   */
  private async attachSecondaryNetworks(pod: KubeObject, state: PodState): Promise<void> {
    const { networkStatus } = await attachNetworks({
      pod: {
        namespace: state.namespace,
        name: state.name,
        uid: state.uid,
        ...(pod.metadata.annotations ? { annotations: pod.metadata.annotations } : {}),
      },
      netnsPath: netnsPath(state.netns),
      binDirs: this.binDirs(),
      getNetworkAttachmentDefinition: async (ns, name) => {
        const nad = await this.client.get(networkAttachmentDefinitionType, ns, name).catch((e: unknown) => {
          if (isNotFound(e)) return undefined;
          throw e;
        });
        const config = (nad?.spec as { config?: unknown } | undefined)?.config;
        return typeof config === "string" ? config : undefined;
      },
      stateDir: join(this.opts.stateDir, "attachments"),
      dhcp: this.dhcp,
    });
    const status: NetworkStatus[] = [
      { name: "egress-cluster", interface: "eth0", ips: [state.ip], default: true },
      ...networkStatus,
    ];
    await this.client.patch(podType, state.namespace, state.name, {
      metadata: { annotations: { [NETWORK_STATUS_ANNOTATION]: JSON.stringify(status) } },
    });
  }

  private async saveState(state: PodState): Promise<void> {
    await writeFile(this.stateFile(state.uid), JSON.stringify(state));
  }

  /** The pod's router plan, with its container environments resolved from ConfigMaps read now. */
  private async planRouter(
    pod: KubeObject,
  ): Promise<{ kind: "ok"; plan: RouterPodPlan | undefined } | { kind: "error"; outcome: ReconcileOutcome }> {
    const ns = pod.metadata.namespace ?? "";
    const containers = this.containers(pod);
    try {
      const names = referencedConfigMaps([...containers.init, ...containers.main]);
      const data = new Map<string, Record<string, string>>();
      for (const n of names) {
        const cm = await this.client.get(configMapType, ns, n).catch((e: unknown) => {
          if (isNotFound(e)) return undefined;
          throw e;
        });
        if (cm) data.set(n, ((cm as { data?: Record<string, string> }).data ?? {}) as Record<string, string>);
      }
      const cms: ConfigMapData = data;
      const plan = planRouterPod(pod, containers, (c) => resolveEnv(c, ns, cms));
      return { kind: "ok", plan };
    } catch (e) {
      if (!(e instanceof ContainerStartError)) throw e;
      await this.reportError(pod, e.container, e.reason, e.message, e.terminated);
      return { kind: "error", outcome: e.retry ? { requeueAfterMs: CONFIG_RETRY_MS } : undefined };
    }
  }

  /**
   * Everything after the sandbox: the router container (egress interface, duplicate check, set-up),
   * then the main containers, then the status. Idempotent: each step is recorded in the state.
   */
  private async runContainers(
    pod: KubeObject,
    state: PodState,
    plan?: RouterPodPlan,
  ): Promise<ReconcileOutcome> {
    const key = `${state.namespace}/${state.name}`;
    // Before any program starts (ip netns exec binds the file when it runs one); also for adopted
    // pods, whose cluster DNS address a restarted agent must serve again. A failure does not hold
    // the pod back (it then reads the node's resolv.conf); the next sync tries again.
    await this.writeResolvConf(pod, state).catch((err: unknown) =>
      this.log.warn({ err, pod: key }, "cannot write the pod's resolv.conf"),
    );
    if (state.started) {
      await this.reportStatus(pod, state);
      return undefined;
    }
    let routerPlan = plan;
    if (routerPlan === undefined && state.router) {
      const p = await this.planRouter(pod);
      if (p.kind === "error") return p.outcome;
      routerPlan = p.plan;
    }
    if (routerPlan && state.router && !state.router.done) {
      const outcome = await this.runRouter(pod, state, routerPlan);
      if (outcome !== "done") return outcome;
    }
    // An init container in legacy mode never completes: the main containers never start.
    if (state.router?.init && state.router.mode === "legacy") {
      await this.reportStatus(pod, state);
      return undefined;
    }
    const { main } = this.containers(pod);
    state.pids = [
      ...this.startPrograms(main, state.netns, key),
      ...this.startProxies(pod, routerPlan?.proxies ?? [], state),
    ];
    state.started = true;
    await this.saveState(state);
    await this.reportStatus(pod, state);
    return undefined;
  }

  private async runRouter(
    pod: KubeObject,
    state: PodState,
    plan: RouterPodPlan,
  ): Promise<"done" | ReconcileOutcome> {
    const key = `${state.namespace}/${state.name}`;
    const rs = state.router!;
    const r = plan.router;
    try {
      if (plan.macvlan !== undefined && !rs.hostVeth) {
        const skip = new Set([this.opts.bridge]);
        const ifs = await nodeInterfaces(skip);
        const underlay = chooseUnderlay(
          plan.macvlan,
          r,
          ifs,
          this.opts.primaryInterface ?? "eth0",
          this.opts.node,
        );
        await ensureUnderlayBridge(underlay);
        rs.hostVeth = await attachEgress(state.netns, underlay);
        await this.saveState(state);
        this.log.info({ pod: key, underlay, veth: rs.hostVeth }, "egress interface attached");
      }
      if (!r) {
        rs.done = true;
        await this.saveState(state);
        return "done";
      }
      rs.container = r.container;
      rs.init = r.init;
      rs.mode = r.config.mode;
      rs.startedAt ??= now();
      const steps = routerSteps(r.config, {
        cidrs: await this.clusterRoutes(),
        gateway: state.gateway ?? "",
        clusterInterface: "eth0",
      });
      if (steps.source !== null && !(await holdsAddress(state.netns, steps.source))) {
        // Two routers must never hold the same source: wait while anyone answers for it.
        const holder = await probeAddress(state.netns, steps.source);
        if (holder !== undefined) {
          const waiting = {
            reason: "EgressSourceInUse",
            message: `EGRESS_SOURCE ${steps.source} is answered by ${holder} on the egress network; waiting for it to be released`,
          };
          if (rs.waiting?.message !== waiting.message) {
            rs.waiting = waiting;
            await this.saveState(state);
            this.log.warn({ pod: key, source: steps.source, holder }, "egress source in use; waiting");
          }
          await this.reportStatus(pod, state);
          return { requeueAfterMs: ROUTER_RETRY_MS };
        }
      }
      await applyRouterSteps(state.netns, steps);
      if (r.config.mode === "unit-test") rs.output = unitTestOutput(r.config);
      await this.writeLog(state, r.container, rs.output ?? "");
      delete rs.waiting;
      rs.done = true;
      rs.finishedAt = now();
      await this.saveState(state);
      this.log.info({ pod: key, mode: r.config.mode }, "egress router set up");
      return "done";
    } catch (e) {
      if (!(e instanceof ContainerStartError)) throw e;
      rs.waiting = { reason: e.reason, message: e.message };
      await this.saveState(state);
      await this.reportError(pod, e.container, e.reason, e.message, e.terminated);
      return e.retry ? { requeueAfterMs: CONFIG_RETRY_MS } : undefined;
    }
  }

  /** Cluster and service networks (from the ClusterNetwork object) that stay on eth0. */
  private async clusterRoutes(): Promise<string[]> {
    const cn = (await this.client.get(clusterNetworkType, "", "default").catch(() => undefined)) as
      | { clusterNetworks?: { CIDR?: string; cidr?: string }[]; serviceNetwork?: string }
      | undefined;
    const cidrs = (cn?.clusterNetworks ?? []).map((c) => c.CIDR ?? c.cidr ?? "").filter((c) => c !== "");
    return [...(cidrs.length > 0 ? cidrs : ["10.128.0.0/14"]), cn?.serviceNetwork ?? "172.30.0.0/16"];
  }

  private logDir(state: PodState): string {
    return join(this.opts.stateDir, "logs", state.uid);
  }

  private async writeLog(state: PodState, container: string, text: string): Promise<void> {
    await mkdir(this.logDir(state), { recursive: true });
    await writeFile(join(this.logDir(state), `${container}.log`), text);
  }

  private dnsServers(pod: KubeObject): string[] {
    const spec = (pod.spec ?? {}) as { dnsPolicy?: string; dnsConfig?: { nameservers?: string[] } };
    const own = spec.dnsConfig?.nameservers ?? [];
    if (spec.dnsPolicy === "None" || own.length > 0) return own;
    return this.nodeNameservers();
  }

  private resolvConfPath(netns: string): string {
    return join(this.opts.resolvConfDir ?? "/etc/netns", netns);
  }

  /** The node's resolvers (kubelet's --resolv-conf): --cluster-dns, else EGRESS_AGENT_CLUSTER_DNS. */
  private nodeNameservers(): string[] {
    return (
      this.opts.dnsServers ??
      (process.env.EGRESS_AGENT_CLUSTER_DNS ?? "")
        .split(",")
        .map((s) => s.trim())
        .filter((s) => s !== "")
    );
  }

  /**
   * The pod's resolv.conf (docs/dataplane.md "Cluster DNS"): the node's cluster DNS on the pod's
   * gateway when it serves there, else the node's resolvers. With neither (no --cluster-dns, no
   * cluster DNS) nothing is written and the pod sees the node's own /etc/resolv.conf.
   */
  private async writeResolvConf(pod: KubeObject, state: PodState): Promise<void> {
    const spec = (pod.spec ?? {}) as Omit<PodDnsSpec, "namespace">;
    const dns = this.opts.clusterDns;
    const serving =
      dns !== undefined && state.gateway !== undefined && (await dns.ensureListening(state.gateway));
    const conf = podResolvConf(
      { ...spec, namespace: state.namespace },
      {
        clusterNameservers: serving ? [state.gateway!] : [],
        nodeNameservers: this.nodeNameservers(),
        clusterDomain: dns?.clusterDomain ?? "cluster.local",
      },
    );
    if (conf.nameservers.length === 0 && conf.searches.length === 0 && conf.options.length === 0) return;
    const text = renderResolvConf(conf);
    if (this.resolvConfs.get(state.uid) === text) return;
    const dir = this.resolvConfPath(state.netns);
    await mkdir(dir, { recursive: true });
    const file = join(dir, "resolv.conf");
    const old = await readFile(file, "utf8").catch(() => undefined);
    if (old !== text) {
      await writeFile(`${file}.tmp`, text);
      await rename(`${file}.tmp`, file);
      this.log.info(
        { pod: `${state.namespace}/${state.name}`, nameservers: conf.nameservers },
        "pod resolv.conf written",
      );
    }
    this.resolvConfs.set(state.uid, text);
  }

  /** The HTTP and DNS proxy containers: `egress router http-proxy|dns-proxy` in the pod's
   *  namespace with the container's own environment; output in the pod's log directory. */
  private startProxies(pod: KubeObject, proxies: ProxyContainerPlan[], state: PodState): number[] {
    const pids: number[] = [];
    const dns = this.dnsServers(pod).flatMap((s) => ["--dns-server", s]);
    for (const p of proxies) {
      const args =
        p.kind === "http-proxy" ? ["router", "http-proxy", "--port", "8080"] : ["router", "dns-proxy"];
      const logFile = join(this.logDir(state), `${p.container}.log`);
      let fd: number | undefined;
      try {
        mkdirSync(this.logDir(state), { recursive: true });
        fd = openSync(logFile, "a");
        const child = spawn(
          "ip",
          ["netns", "exec", state.netns, process.execPath, ROUTER_ENTRY, ...args, ...dns],
          {
            detached: true,
            stdio: ["ignore", fd, fd],
            env: { PATH: process.env.PATH, EGRESS_LOG_LEVEL: process.env.EGRESS_LOG_LEVEL, ...p.env },
          },
        );
        child.unref();
        if (child.pid) pids.push(child.pid);
        this.log.info(
          { pod: `${state.namespace}/${state.name}`, container: p.container, pid: child.pid },
          "started proxy",
        );
      } finally {
        if (fd !== undefined) closeSync(fd);
      }
    }
    return pids;
  }

  private startPrograms(containers: ContainerSpec[], netns: string, key: string): number[] {
    const pids: number[] = [];
    for (const c of containers) {
      const r = imageRunner(c.image);
      if (r.kind !== "program") continue;
      const child = spawn(
        "ip",
        [
          "netns",
          "exec",
          netns,
          process.execPath,
          join(AGENT_DIR, r.module),
          ...r.args((c.ports ?? []).map((p) => p.containerPort)),
        ],
        { detached: true, stdio: "ignore" },
      );
      child.unref();
      if (child.pid) pids.push(child.pid);
      this.log.info({ pod: key, container: c.name, pid: child.pid }, "started container program");
    }
    return pids;
  }

  private async teardown(key: string, state: PodState): Promise<void> {
    // Everything running in the pod's namespace ends with it, including programs a restarted agent
    // no longer has in its records (a namespace outlives its mount while a process is inside).
    const inside = await run("ip", ["netns", "pids", state.netns], { allowFailure: true });
    for (const pid of inside.stdout.split(/\s+/).filter(Boolean).map(Number)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone already
      }
    }
    for (const pid of state.pids) {
      try {
        const cmd = await readFile(`/proc/${pid}/cmdline`, "utf8");
        // After `ip netns exec` the process is the image program itself (a pid reused since is left alone).
        if (cmd.includes("/images/") || cmd.includes("/router/cli-entry.js")) process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    await detachNetworks({
      pod: { namespace: state.namespace, name: state.name, uid: state.uid },
      netnsPath: netnsPath(state.netns),
      binDirs: this.binDirs(),
      stateDir: join(this.opts.stateDir, "attachments"),
      dhcp: this.dhcp,
    }).catch((e: unknown) => this.log.warn({ err: e, pod: key }, "secondary network DEL failed"));
    const hsSubnet = await this.client
      .get(hostSubnetType, "", this.opts.node)
      .then((h) => (h as { subnet?: string }).subnet)
      .catch(() => undefined);
    if (hsSubnet) {
      await invokeCni({
        command: "DEL",
        containerId: state.uid || key,
        netns: netnsPath(state.netns),
        ifname: "eth0",
        binDirs: this.opts.cniBinDirs,
        config: clusterNetworkConfig(hsSubnet, join(this.opts.stateDir, "host-local"), this.opts.bridge),
      }).catch((e: unknown) => this.log.warn({ err: e, pod: key }, "CNI DEL failed"));
    }
    // The old router stops answering ARP for its source before the pod is gone (a namespace's
    // devices are destroyed asynchronously).
    if (state.router) await detachEgress(state.router.hostVeth ?? hostVethName(state.netns));
    await deleteNetns(state.netns);
    await rm(this.resolvConfPath(state.netns), { recursive: true, force: true });
    this.resolvConfs.delete(state.uid);
    await rm(this.stateFile(state.uid), { force: true });
    await rm(this.logDir(state), { recursive: true, force: true });
    this.pods.delete(key);
    this.opts.onChange();
    this.log.info({ pod: key }, "pod torn down");
  }

  /** Pod status from the recorded progress; patched only when it changed. */
  private async reportStatus(pod: KubeObject, state: PodState): Promise<void> {
    const key = `${state.namespace}/${state.name}`;
    const { init, main } = this.containers(pod);
    const restartPolicy = (pod.spec as { restartPolicy?: string } | undefined)?.restartPolicy ?? "Always";
    const rs = state.router;
    const started = state.createdAt ?? now();
    const base = (c: ContainerSpec) => ({ name: c.name, image: c.image, imageID: "", restartCount: 0 });
    const routerTerminated = (c: ContainerSpec) => ({
      ...base(c),
      ready: false,
      started: false,
      state: {
        terminated: {
          exitCode: 0,
          reason: "Completed",
          startedAt: rs?.startedAt ?? started,
          finishedAt: rs?.finishedAt ?? started,
          // The termination message (at most 4096 bytes, as kubelet's) carries unit-test's output.
          ...(rs?.output ? { message: rs.output.slice(0, 4096) } : {}),
        },
      },
    });
    const isRouter = (c: ContainerSpec) => rs?.container === c.name;
    const initStatuses = init.map((c) => {
      if (!isRouter(c))
        return {
          ...base(c),
          ready: true,
          state: {
            terminated: { exitCode: 0, reason: "Completed", startedAt: started, finishedAt: started },
          },
        };
      if (!rs!.done)
        return { ...base(c), ready: false, state: { waiting: rs!.waiting ?? { reason: "PodInitializing" } } };
      if (rs!.mode === "legacy")
        return {
          ...base(c),
          ready: false,
          started: true,
          state: { running: { startedAt: rs!.startedAt ?? started } },
        };
      return { ...routerTerminated(c), ready: true };
    });
    const initialized = init.every((c) => !isRouter(c) || (rs!.done && rs!.mode !== "legacy"));
    const running = initialized && state.started === true;
    const mainStatuses = main.map((c) => {
      if (isRouter(c) && !rs!.done)
        return {
          ...base(c),
          ready: false,
          state: { waiting: rs!.waiting ?? { reason: "ContainerCreating" } },
        };
      if (!running) return { ...base(c), ready: false, state: { waiting: { reason: "PodInitializing" } } };
      if (isRouter(c) && rs!.mode === "unit-test") return routerTerminated(c);
      return { ...base(c), ready: true, started: true, state: { running: { startedAt: started } } };
    });
    const allDone = running && mainStatuses.length > 0 && mainStatuses.every((m) => "terminated" in m.state);
    const phase = allDone && restartPolicy !== "Always" ? "Succeeded" : running ? "Running" : "Pending";
    const ready = running && mainStatuses.every((m) => m.ready);
    const cond = (type: string, ok: boolean) => ({
      type,
      status: ok ? "True" : "False",
      lastTransitionTime: started,
    });
    const status = {
      phase,
      podIP: state.ip,
      podIPs: [{ ip: state.ip }],
      hostIP: this.opts.hostIP() ?? "",
      startTime: started,
      conditions: [
        cond("Initialized", initialized),
        cond("Ready", ready),
        cond("ContainersReady", ready),
        cond("PodScheduled", true),
      ],
      ...(init.length > 0 ? { initContainerStatuses: initStatuses } : {}),
      containerStatuses: mainStatuses,
    };
    const fingerprint = `${state.uid}/${JSON.stringify(status)}`;
    const current = (pod.status ?? {}) as { phase?: string; podIP?: string };
    if (this.reportedStatus.get(key) === fingerprint && current.phase === phase && current.podIP === state.ip)
      return;
    await this.client.patch(podType, state.namespace, state.name, { status }, "merge", "status");
    this.reportedStatus.set(key, fingerprint);
  }

  /**
   * A container that cannot start: `waiting` with the reason, or (`terminated`) exit code 1 with
   * the reason and message, as a router whose configuration does not parse would have ended.
   * Reported once per pod, reason and message.
   */
  private async reportError(
    pod: KubeObject,
    container: string,
    reason: string,
    message: string,
    terminated = false,
  ): Promise<void> {
    const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
    if (this.reportedErrors.get(key) === `${pod.metadata.uid}/${reason}/${message}`) return;
    this.reportedStatus.delete(key);
    const { init, main } = this.containers(pod);
    const restartPolicy = (pod.spec as { restartPolicy?: string } | undefined)?.restartPolicy ?? "Always";
    const ts = now();
    const stateOf = (c: ContainerSpec, pending: string) =>
      c.name !== container
        ? { waiting: { reason: pending } }
        : terminated
          ? { terminated: { exitCode: 1, reason, message, startedAt: ts, finishedAt: ts } }
          : { waiting: { reason, message } };
    const entry = (c: ContainerSpec, pending: string) => ({
      name: c.name,
      image: c.image,
      imageID: "",
      ready: false,
      restartCount: 0,
      state: stateOf(c, pending),
    });
    const isInit = init.some((c) => c.name === container);
    const initIndex = init.findIndex((c) => c.name === container);
    await this.client.patch(
      podType,
      pod.metadata.namespace ?? "",
      pod.metadata.name ?? "",
      {
        status: {
          phase: terminated && restartPolicy === "Never" ? "Failed" : "Pending",
          conditions: [
            { type: "Initialized", status: isInit ? "False" : "True", lastTransitionTime: ts },
            { type: "Ready", status: "False", reason, message, lastTransitionTime: ts },
            { type: "PodScheduled", status: "True", lastTransitionTime: ts },
          ],
          ...(init.length > 0
            ? {
                initContainerStatuses: init.map((c, i) =>
                  isInit && i < initIndex
                    ? {
                        ...entry(c, ""),
                        ready: true,
                        state: { terminated: { exitCode: 0, reason: "Completed" } },
                      }
                    : entry(c, "PodInitializing"),
                ),
              }
            : {}),
          containerStatuses: main.map((c) => entry(c, isInit ? "PodInitializing" : "ContainerCreating")),
        },
      },
      "merge",
      "status",
    );
    this.reportedErrors.set(key, `${pod.metadata.uid}/${reason}/${message}`);
    this.log.warn({ pod: key, reason, message }, "pod cannot run");
  }
}
