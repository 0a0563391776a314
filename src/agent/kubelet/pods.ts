// The lab kubelet: for each Pod bound to this node, a network namespace wired into the cluster
// network by CNI (bridge + host-local over the node's HostSubnet), the pod's built-in programs
// started inside it, and podIP/phase reported. State per pod is kept on disk so a restarted agent
// adopts its pods (their namespaces and processes outlive the agent) instead of recreating them.
import { spawn } from "node:child_process";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { hostSubnetType, podType } from "../../api/kinds/index.js";
import type { KubeObject } from "../../api/object.js";
import { type Client, isNotFound } from "../../controllers/runtime/client.js";
import { SharedInformer } from "../../controllers/runtime/manager.js";
import { WorkQueue } from "../../controllers/runtime/workqueue.js";
import type { Logger } from "../../util/log.js";
import { clusterNetworkConfig, invokeCni } from "./cni.js";
import { imageRunner } from "./images.js";
import { deleteNetns, ensureNetns, netnsExists, netnsPath, podNetnsName } from "./netns.js";

export interface PodState {
  uid: string;
  namespace: string;
  name: string;
  netns: string;
  ip: string;
  pids: number[];
}

interface ContainerSpec {
  name: string;
  image: string;
  ports?: { containerPort: number }[];
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
}

const AGENT_DIR = join(dirname(fileURLToPath(import.meta.url)), "..");
const now = () => new Date().toISOString().replace(/\.\d+Z$/, "Z");

export class PodManager {
  readonly informer: SharedInformer;
  private readonly queue: WorkQueue;
  private readonly pods = new Map<string, PodState>();
  private readonly reportedErrors = new Map<string, string>();

  constructor(
    private readonly client: Client,
    private readonly opts: PodManagerOptions,
    private readonly log: Logger,
  ) {
    this.informer = new SharedInformer(client, podType, log, `spec.nodeName=${opts.node}`);
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
        this.pods.set(`${s.namespace}/${s.name}`, s);
      } catch {
        // a torn state file: the pod is set up again
      }
    }
    await this.informer.start();
    // Pods that disappeared while the agent was down.
    for (const key of this.pods.keys()) this.queue.add(key);
  }

  async stop(): Promise<void> {
    this.queue.stop();
    await this.informer.stop();
  }

  private async sync(key: string): Promise<undefined> {
    const [namespace = "", name = ""] = key.split("/");
    const pod = this.informer.get(name, namespace);
    const state = this.pods.get(key);
    if (!pod || pod.metadata.deletionTimestamp) {
      if (state) await this.teardown(key, state);
      return;
    }
    if (state && state.uid !== pod.metadata.uid) await this.teardown(key, state);
    const current = this.pods.get(key);
    if (current && netnsExists(current.netns)) {
      await this.ensureRunning(pod, current);
      return;
    }
    await this.setup(pod);
    return;
  }

  private containers(pod: KubeObject): { init: ContainerSpec[]; main: ContainerSpec[] } {
    const spec = (pod.spec ?? {}) as { containers?: ContainerSpec[]; initContainers?: ContainerSpec[] };
    return { init: spec.initContainers ?? [], main: spec.containers ?? [] };
  }

  private async setup(pod: KubeObject): Promise<void> {
    const ns = pod.metadata.namespace ?? "";
    const name = pod.metadata.name ?? "";
    const key = `${ns}/${name}`;
    const { init, main } = this.containers(pod);
    const unsupported = [...init, ...main]
      .map((c) => ({ c, r: imageRunner(c.image) }))
      .find((x) => x.r.kind === "unsupported");
    if (unsupported && unsupported.r.kind === "unsupported") {
      await this.reportError(pod, unsupported.c.name, "ImageNotSupported", unsupported.r.reason);
      return;
    }
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
    const state: PodState = { uid: pod.metadata.uid ?? "", namespace: ns, name, netns, ip, pids: [] };
    state.pids = this.startPrograms(main, netns, key);
    this.pods.set(key, state);
    await writeFile(this.stateFile(state.uid), JSON.stringify(state));
    this.opts.onChange();
    await this.reportRunning(pod, state);
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

  private async ensureRunning(pod: KubeObject, state: PodState): Promise<void> {
    const status = (pod.status ?? {}) as { phase?: string; podIP?: string };
    if (status.phase !== "Running" || status.podIP !== state.ip) await this.reportRunning(pod, state);
  }

  private async teardown(key: string, state: PodState): Promise<void> {
    for (const pid of state.pids) {
      try {
        const cmd = await readFile(`/proc/${pid}/cmdline`, "utf8");
        // After `ip netns exec` the process is the image program itself (a pid reused since is left alone).
        if (cmd.includes("/images/")) process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
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
    await deleteNetns(state.netns);
    await rm(this.stateFile(state.uid), { force: true });
    this.pods.delete(key);
    this.opts.onChange();
    this.log.info({ pod: key }, "pod torn down");
  }

  private async reportRunning(pod: KubeObject, state: PodState): Promise<void> {
    const { main } = this.containers(pod);
    const ts = now();
    await this.client.patch(
      podType,
      state.namespace,
      state.name,
      {
        status: {
          phase: "Running",
          podIP: state.ip,
          podIPs: [{ ip: state.ip }],
          hostIP: this.opts.hostIP() ?? "",
          startTime: ts,
          conditions: [
            { type: "Initialized", status: "True", lastTransitionTime: ts },
            { type: "Ready", status: "True", lastTransitionTime: ts },
            { type: "ContainersReady", status: "True", lastTransitionTime: ts },
            { type: "PodScheduled", status: "True", lastTransitionTime: ts },
          ],
          containerStatuses: main.map((c) => ({
            name: c.name,
            image: c.image,
            imageID: "",
            ready: true,
            started: true,
            restartCount: 0,
            state: { running: { startedAt: ts } },
          })),
        },
      },
      "merge",
      "status",
    );
  }

  private async reportError(
    pod: KubeObject,
    container: string,
    reason: string,
    message: string,
  ): Promise<void> {
    const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
    if (this.reportedErrors.get(key) === `${pod.metadata.uid}/${reason}/${message}`) return;
    const { main } = this.containers(pod);
    await this.client.patch(
      podType,
      pod.metadata.namespace ?? "",
      pod.metadata.name ?? "",
      {
        status: {
          phase: "Pending",
          conditions: [{ type: "Ready", status: "False", reason, message }],
          containerStatuses: main.map((c) => ({
            name: c.name,
            image: c.image,
            imageID: "",
            ready: false,
            restartCount: 0,
            state: { waiting: c.name === container ? { reason, message } : { reason: "PodInitializing" } },
          })),
          ...(main.every((c) => c.name !== container)
            ? {
                initContainerStatuses: [
                  {
                    name: container,
                    ready: false,
                    restartCount: 0,
                    image: "",
                    imageID: "",
                    state: { waiting: { reason, message } },
                  },
                ],
              }
            : {}),
        },
      },
      "merge",
      "status",
    );
    this.reportedErrors.set(key, `${pod.metadata.uid}/${reason}/${message}`);
    this.log.warn({ pod: key, reason, message }, "pod cannot run");
  }
}
