// Hosts the controllers: shared informers (one list+watch per resource, restarted with backoff when
// their watch fails), leader election through a Lease so several replicas can run with one active,
// Prometheus metrics, and the context every controller receives. Controllers are thin shells that
// read from informer caches, call the pure decisions and write back only what changed.
import type { KubernetesObject } from "@kubernetes/client-node";
import { collectDefaultMetrics, Registry } from "prom-client";
import type { KubeObject } from "../../api/object.js";
import type { ResourceType } from "../../api/resource.js";
import type { Logger } from "../../util/log.js";
import type { Client } from "./client.js";
import type { EventRecorder } from "./events.js";

type Handler = (type: "add" | "update" | "delete", obj: KubeObject) => void;

/** One resource's list+watch cache, shared by every controller that needs it. */
export class SharedInformer {
  private readonly handlers: Handler[] = [];
  private readonly informer;
  private started: Promise<void> | undefined;
  private stopped = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private starting = false;
  private failedWhileStarting = false;

  constructor(
    client: Client,
    readonly rt: ResourceType,
    private readonly log: Logger,
    fieldSelector?: string,
    namespace?: string,
  ) {
    this.informer = client.informer<KubeObject>(rt, namespace, undefined, fieldSelector);
    const fire = (type: "add" | "update" | "delete") => (obj: KubernetesObject) => {
      for (const h of this.handlers) {
        try {
          h(type, obj as unknown as KubeObject);
        } catch (e) {
          this.log.error({ err: e, resource: rt.plural }, "informer handler failed");
        }
      }
    };
    this.informer.on("add", fire("add"));
    this.informer.on("update", fire("update"));
    this.informer.on("delete", fire("delete"));
    this.informer.on("error", (err: unknown) => {
      if (this.stopped || (err as { name?: string })?.name === "AbortError") return;
      this.log.warn({ err, resource: rt.plural }, "watch failed; restarting informer");
      // A list or watch failing inside startListed() is retried by its loop.
      if (this.starting) {
        this.failedWhileStarting = true;
        return;
      }
      this.restartTimer = setTimeout(() => {
        if (!this.stopped) this.startListed().catch(() => {});
      }, 500);
      this.restartTimer.unref();
    });
  }

  /**
   * Starts the informer until it has listed. client-node's start() resolves even when the list
   * failed (it reports the error and returns with an empty cache and no watch): a consumer that
   * trusted that cache would take every object for deleted — a restarted kubelet tore down all
   * its pods that way when the API server was slow. Retries with backoff until a list succeeded
   * and the watch was opened (the informer then has a resourceVersion and reported no error), or
   * the informer is stopped.
   */
  private async startListed(): Promise<void> {
    let delay = 250;
    while (!this.stopped) {
      this.starting = true;
      this.failedWhileStarting = false;
      try {
        await this.informer.start();
      } catch (err) {
        this.failedWhileStarting = true;
        this.log.warn({ err, resource: this.rt.plural }, "informer start failed; retrying");
      } finally {
        this.starting = false;
      }
      if (this.stopped) return;
      if (!this.failedWhileStarting && this.informer.latestResourceVersion()) return;
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 5_000);
    }
  }

  on(h: Handler): void {
    this.handlers.push(h);
  }

  /** Starts once; resolves when the initial list is in the cache (or the informer was stopped). */
  start(): Promise<void> {
    this.started ??= this.startListed();
    return this.started;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    await this.informer.stop();
  }

  /** Drops the watch and starts again (a watch that may have silently died, e.g. after the node
   *  was cut off, is replaced); resolves when the informer is watching again. */
  async restart(): Promise<void> {
    await this.informer.stop();
    this.stopped = false;
    this.started = this.startListed();
    await this.started;
  }

  list(namespace?: string): KubeObject[] {
    return this.informer.list(namespace) as unknown as KubeObject[];
  }

  get(name: string, namespace?: string): KubeObject | undefined {
    return this.informer.get(name, namespace) as unknown as KubeObject | undefined;
  }
}

/** Narrows an informer to one namespace, or to one object (a field selector on metadata.name): a
 *  controller that needs one ConfigMap then neither lists nor caches every ConfigMap. */
export interface InformerScope {
  namespace?: string;
  name?: string;
}

export class InformerFactory {
  private readonly informers = new Map<ResourceType, Map<string, SharedInformer>>();
  constructor(
    private readonly client: Client,
    private readonly log: Logger,
  ) {}

  /** The shared informer of `rt`; with a scope, the shared informer of that scope (scoped and
   *  unscoped informers of one resource are separate caches). */
  for(rt: ResourceType, scope: InformerScope = {}): SharedInformer {
    const ns = rt.namespaced ? scope.namespace : undefined;
    const key = JSON.stringify([ns ?? "", scope.name ?? ""]);
    let byScope = this.informers.get(rt);
    if (!byScope) {
      byScope = new Map();
      this.informers.set(rt, byScope);
    }
    let i = byScope.get(key);
    if (!i) {
      const field = scope.name !== undefined ? `metadata.name=${scope.name}` : undefined;
      i = new SharedInformer(this.client, rt, this.log, field, ns);
      byScope.set(key, i);
    }
    return i;
  }

  private all(): SharedInformer[] {
    return [...this.informers.values()].flatMap((m) => [...m.values()]);
  }

  async startAll(): Promise<void> {
    await Promise.all(this.all().map((i) => i.start()));
  }

  async restartAll(): Promise<void> {
    await Promise.all(this.all().map((i) => i.restart()));
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.all().map((i) => i.stop()));
  }
}

export interface ControlPlaneOptions {
  /** Cloud platform for EgressIP capacity rules. */
  platform: "BareMetal" | "AWS" | "GCP" | "Azure" | "OpenStack";
  /** openshift-sdn network mode (multitenant enables netid renumbering). */
  networkMode: "multitenant" | "networkpolicy" | "subnet";
  /** Namespaces whose NetNamespace gets netid 0 besides `default`. */
  globalNamespaces: string[];
  /** Node reachability probe timeout (ms); 0 turns probing off. */
  egressIPReachabilityTimeoutMs: number;
  /** Interval between probes of one node (ms). */
  egressIPReachabilityIntervalMs?: number;
  /** Consecutive failed probes before a node counts as unreachable. */
  egressIPReachabilityFailures?: number;
  /** Run the simulated cloud provider that confirms CloudPrivateIPConfig objects. */
  simulateCloud: boolean;
  /** Per-node capacity of the simulated cloud (addresses). */
  simulatedCloudCapacity: number;
  /** ClusterNetwork created when absent (OpenShift's defaults otherwise). */
  clusterNetworks?: { cidr: string; hostSubnetLength: number }[];
  serviceNetwork?: string;
  /** Resolvers for egress-firewall dnsName rules (default: /etc/resolv.conf's). */
  egressFirewallDNSServers?: string[];
  /** Shortest interval between two lookups of one name (ms). */
  egressFirewallDNSMinIntervalMs?: number;
}

export const defaultControlPlaneOptions: ControlPlaneOptions = {
  platform: "BareMetal",
  networkMode: "multitenant",
  globalNamespaces: [],
  egressIPReachabilityTimeoutMs: 250,
  egressIPReachabilityIntervalMs: 100,
  egressIPReachabilityFailures: 2,
  simulateCloud: false,
  simulatedCloudCapacity: 14,
};

export interface ControllerContext {
  client: Client;
  informers: InformerFactory;
  recorder: EventRecorder;
  metrics: Registry;
  log: Logger;
  options: ControlPlaneOptions;
}

export interface Controller {
  readonly name: string;
  /** Registers informer handlers (informers are started by the manager afterwards). */
  setup(ctx: ControllerContext): void;
  /** Called once the informers have their initial lists. */
  start(): void;
  stop(): void;
}

export function newMetricsRegistry(): Registry {
  const r = new Registry();
  collectDefaultMetrics({ register: r });
  return r;
}
