// HostSubnet controller (MISSION §8, openshift-sdn): creates the ClusterNetwork `default` when it
// is absent, keeps one HostSubnet per Node (name = host = node name, hostIP = the node's
// InternalIP, subnet carved from the ClusterNetwork by the pure allocateHostSubnets), deletes it with
// the Node, and places static per-project egress IPs (NetNamespace.egressIPs) with the pure
// allocateProjectEgressIPs: HostSubnet.egressIPs of automatic nodes (those with egressCIDRs) are
// written here, manual ones are the admin's. Each project's egress state is published on its
// NetNamespace as the annotation `network.openshift.io/egress-ip-state` (JSON) plus an Event when it
// changes. A thin shell: one cluster-wide key, decisions from the informer caches, only changes
// written. It must not decide placements itself.
import {
  type ClusterNetwork,
  clusterNetworkType,
  type HostSubnet,
  hostSubnetType,
  type NetNamespace,
  netNamespaceType,
  nodeType,
} from "../../api/kinds/index.js";
import { ASSIGN_HOST_SUBNET_ANNOTATION } from "../../api/kinds/openshift.js";
import type { KubeObject } from "../../api/object.js";
import type { DecisionEvent } from "../common/decision.js";
import { PRIMARY_IFADDR_ANNOTATION } from "../egressip/node.js";
import { isAlreadyExists, isNotFound } from "../runtime/client.js";
import { forEachLimited } from "../runtime/concurrency.js";
import { EventDedup } from "../runtime/dedup.js";
import { refOf } from "../runtime/events.js";
import { WriteExpectations } from "../runtime/expectations.js";
import type { Controller, ControllerContext, SharedInformer } from "../runtime/manager.js";
import { type ReconcileOutcome, WorkQueue } from "../runtime/workqueue.js";
import {
  allocateHostSubnets,
  type ClusterNetworkConfig,
  ClusterNetworkError,
  parseClusterNetwork,
} from "./allocate.js";
import { allocateProjectEgressIPs, type ProjectEgressState, type SDNEgressNode } from "./egress-cidrs.js";

const KEY = "hostsubnets";
/** Parallel writes when many HostSubnets are created at once. */
const WRITE_CONCURRENCY = 16;

/** Name of the one ClusterNetwork object, as upstream. */
export const CLUSTER_NETWORK_NAME = "default";
/** Published per-project egress state on the NetNamespace (absent = no egress IP). */
export const EGRESS_IP_STATE_ANNOTATION = "network.openshift.io/egress-ip-state";

/** OpenShift's defaults, used when the options name no cluster network. */
export const DEFAULT_CLUSTER_NETWORK: ClusterNetworkConfig = {
  clusterNetworks: [{ cidr: "10.128.0.0/14", hostSubnetLength: 9 }],
  serviceNetwork: "172.30.0.0/16",
};

export const PLUGIN_NAMES = {
  multitenant: "redhat/openshift-ovs-multitenant",
  networkpolicy: "redhat/openshift-ovs-networkpolicy",
  subnet: "redhat/openshift-ovs-subnet",
} as const;

/** Node reachability as seen by a prober (e.g. src/controllers/egressip/prober.ts). `undefined`
 *  means "not probed", which counts as reachable (Ready alone decides). */
export interface NodeReachability {
  isReachable(node: string): boolean | undefined;
  /** Calls `listener` with the node name whenever its reachability changes. */
  onChange(listener: (node: string) => void): void;
}

/** The egress state published for agents and users (JSON in EGRESS_IP_STATE_ANNOTATION). */
export type PublishedEgressState =
  | { egressIP: string; state: "normal"; node: string; nodeIP: string }
  | { egressIP: string; state: "dropped"; reason: string };

export function publishedState(s: ProjectEgressState): PublishedEgressState | undefined {
  if (s.state === "normal") return { egressIP: s.egressIP, state: "normal", node: s.node, nodeIP: s.nodeIP };
  if (s.state === "dropped") return { egressIP: s.egressIP, state: "dropped", reason: s.reason };
  return undefined;
}

const isReady = (node: KubeObject): boolean => {
  const conds = (node.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions;
  return conds?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
};

/** InternalIP (IPv4 first, openshift-sdn is IPv4), else ExternalIP. */
export function nodeIP(node: KubeObject): string | undefined {
  const addrs =
    (node.status as { addresses?: { type: string; address: string }[] } | undefined)?.addresses ?? [];
  for (const type of ["InternalIP", "ExternalIP"]) {
    const of = addrs.filter((a) => a.type === type).map((a) => a.address);
    const v4 = of.find((a) => !a.includes(":"));
    if (v4 ?? of[0]) return v4 ?? of[0];
  }
  return undefined;
}

/** The node's primary IPv4 network from `k8s.ovn.org/node-primary-ifaddr`, when present. */
function primarySubnet(node: KubeObject | undefined): string | undefined {
  const raw = node?.metadata.annotations?.[PRIMARY_IFADDR_ANNOTATION];
  if (!raw) return undefined;
  try {
    const v = JSON.parse(raw) as { ipv4?: unknown };
    return typeof v.ipv4 === "string" ? v.ipv4 : undefined;
  } catch {
    return undefined;
  }
}

interface OptionalOptions {
  clusterNetworks?: { cidr: string; hostSubnetLength: number }[];
  serviceNetwork?: string;
}

export class HostSubnetController implements Controller {
  readonly name = "hostsubnet";
  private ctx!: ControllerContext;
  private nodes!: SharedInformer;
  private hostSubnets!: SharedInformer;
  private netNamespaces!: SharedInformer;
  private clusterNetworks!: SharedInformer;
  private queue!: WorkQueue;
  private started = false;
  private readonly hsExpect = new WriteExpectations();
  private readonly nnExpect = new WriteExpectations();
  private readonly cnExpect = new WriteExpectations();
  private readonly subnetEvents = new EventDedup();
  private readonly egressEvents = new EventDedup();
  /** What each part of the work reads, per object: an event that changes none of it (kubelet
   *  heartbeats, the state annotations written here) starts no work. */
  private readonly subnetPrints = new Map<string, string>();
  private readonly egressPrints = new Map<string, string>();
  /** NetNamespaces with egressIPs or a published state, HostSubnets with egressIPs: when there are
   *  none, project egress placement has nothing to do. */
  private readonly egressUsers = new Set<string>();
  private subnetsDirty = true;
  private egressDirty = true;

  constructor(private readonly reachability?: NodeReachability) {}

  setup(ctx: ControllerContext): void {
    this.ctx = ctx;
    this.nodes = ctx.informers.for(nodeType);
    this.hostSubnets = ctx.informers.for(hostSubnetType);
    this.netNamespaces = ctx.informers.for(netNamespaceType);
    this.clusterNetworks = ctx.informers.for(clusterNetworkType);
    this.queue = new WorkQueue(
      () => this.reconcile(),
      (_key, err, attempt) => ctx.log.warn({ err, attempt, controller: this.name }, "reconcile failed"),
    );
    const enqueue = () => {
      if (this.started) this.queue.add(KEY);
    };
    /** Records what `part` reads of object `key`; returns true when it changed. */
    const changed = (prints: Map<string, string>, key: string, print: string | undefined): boolean => {
      if (prints.get(key) === print) return false;
      if (print === undefined) prints.delete(key);
      else prints.set(key, print);
      return true;
    };
    const watch = (
      inf: SharedInformer,
      kind: string,
      subnet: (o: KubeObject) => string | undefined,
      egress: (o: KubeObject) => string | undefined,
      egressUser: (o: KubeObject) => boolean = () => false,
    ) =>
      inf.on((type, obj) => {
        const key = `${kind}/${obj.metadata.name ?? ""}`;
        const gone = type === "delete";
        let dirty = false;
        if (changed(this.subnetPrints, key, gone ? undefined : subnet(obj))) dirty = this.subnetsDirty = true;
        if (changed(this.egressPrints, key, gone ? undefined : egress(obj))) dirty = this.egressDirty = true;
        if (!gone && egressUser(obj)) this.egressUsers.add(key);
        else this.egressUsers.delete(key);
        if (dirty) enqueue();
      });
    watch(
      this.nodes,
      "Node",
      (n) => nodeIP(n) ?? "",
      (n) => JSON.stringify([isReady(n), primarySubnet(n) ?? ""]),
    );
    watch(
      this.hostSubnets,
      "HostSubnet",
      (h) => {
        const hs = h as unknown as HostSubnet;
        const assign = h.metadata.annotations?.[ASSIGN_HOST_SUBNET_ANNOTATION] !== undefined;
        return JSON.stringify([h.metadata.uid, hs.subnet, hs.hostIP, assign]);
      },
      (h) => {
        const hs = h as unknown as HostSubnet;
        return JSON.stringify([hs.host, hs.hostIP, hs.subnet, hs.egressCIDRs ?? [], hs.egressIPs ?? []]);
      },
      (h) => ((h as unknown as HostSubnet).egressIPs ?? []).length > 0,
    );
    const nnEgress = (o: KubeObject) => {
      const nn = o as unknown as NetNamespace;
      const state = o.metadata.annotations?.[EGRESS_IP_STATE_ANNOTATION];
      return (nn.egressIPs ?? []).length > 0 || state !== undefined
        ? JSON.stringify([nn.netid, nn.egressIPs ?? [], state ?? null])
        : undefined;
    };
    watch(
      this.netNamespaces,
      "NetNamespace",
      () => undefined,
      nnEgress,
      (o) => nnEgress(o) !== undefined,
    );
    this.clusterNetworks.on(() => {
      this.subnetsDirty = this.egressDirty = true;
      enqueue();
    });
    this.reachability?.onChange(() => {
      this.egressDirty = true;
      enqueue();
    });
  }

  start(): void {
    this.started = true;
    this.subnetsDirty = this.egressDirty = true;
    this.queue.add(KEY);
  }

  stop(): void {
    this.started = false;
    this.queue?.stop();
  }

  idle(): Promise<void> {
    return this.queue.idle();
  }

  /** The cluster network configuration from the options, else OpenShift's defaults. */
  private configFromOptions(): ClusterNetworkConfig {
    const o = this.ctx.options as unknown as OptionalOptions;
    return {
      clusterNetworks: o.clusterNetworks ?? DEFAULT_CLUSTER_NETWORK.clusterNetworks,
      serviceNetwork: o.serviceNetwork ?? DEFAULT_CLUSTER_NETWORK.serviceNetwork,
    };
  }

  private async record(events: DecisionEvent[], dedup: EventDedup): Promise<void> {
    for (const ev of dedup.fresh(events)) {
      const inf =
        ev.object.kind === "Node"
          ? this.nodes
          : ev.object.kind === "HostSubnet"
            ? this.hostSubnets
            : ev.object.kind === "NetNamespace"
              ? this.netNamespaces
              : this.clusterNetworks;
      const o = inf.get(ev.object.name);
      await this.ctx.recorder.record(
        o ? refOf(o) : { kind: ev.object.kind, name: ev.object.name },
        ev.type,
        ev.reason,
        ev.message,
      );
    }
  }

  private async reconcile(): Promise<ReconcileOutcome> {
    const ready =
      this.hsExpect.satisfied((n) => this.hostSubnets.get(n)) &&
      this.nnExpect.satisfied((n) => this.netNamespaces.get(n)) &&
      this.cnExpect.satisfied((n) => this.clusterNetworks.get(n));
    if (!ready) return { requeueAfterMs: 20 };
    // Each part runs only when something it reads changed; the flag is cleared before the work
    // (changes arriving meanwhile set it again) and set again when the work fails.
    if (this.subnetsDirty) {
      this.subnetsDirty = false;
      const events: DecisionEvent[] = [];
      try {
        const cfg = await this.ensureClusterNetwork(events);
        if (cfg === "created") return undefined; // the watch brings it back
        if (cfg && (await this.syncSubnets(cfg, events))) {
          // The caches must show the new HostSubnets before egress placement reads them.
          this.subnetsDirty = this.egressDirty = true;
          return { requeueAfterMs: 20 };
        }
      } catch (e) {
        this.subnetsDirty = true;
        throw e;
      } finally {
        await this.record(events, this.subnetEvents);
      }
    }
    if (!this.egressDirty) return undefined;
    this.egressDirty = false;
    // No project egress IP anywhere and none published or placed: nothing to place or clear.
    if (this.egressUsers.size === 0) {
      this.egressEvents.fresh([]);
      return undefined;
    }
    const egressEvents: DecisionEvent[] = [];
    try {
      await this.syncEgress(egressEvents);
    } catch (e) {
      this.egressDirty = true;
      throw e;
    } finally {
      await this.record(egressEvents, this.egressEvents);
    }
    return undefined;
  }

  /** Creates ClusterNetwork `default` when absent; returns its parsed config, or undefined when it
   *  is invalid (reported as an Event; existing HostSubnets are then left alone). */
  private async ensureClusterNetwork(
    events: DecisionEvent[],
  ): Promise<ClusterNetworkConfig | "created" | undefined> {
    const plugin = PLUGIN_NAMES[this.ctx.options.networkMode];
    const cur = this.clusterNetworks.get(CLUSTER_NETWORK_NAME);
    if (!cur) {
      const cfg = this.configFromOptions();
      const first = cfg.clusterNetworks[0];
      const obj: KubeObject = {
        apiVersion: "network.openshift.io/v1",
        kind: "ClusterNetwork",
        metadata: { name: CLUSTER_NETWORK_NAME },
        clusterNetworks: cfg.clusterNetworks.map((c) => ({
          CIDR: c.cidr,
          hostSubnetLength: c.hostSubnetLength,
        })),
        ...(first ? { network: first.cidr, hostsubnetlength: first.hostSubnetLength } : {}),
        serviceNetwork: cfg.serviceNetwork,
        pluginName: plugin,
        vxlanPort: 4789,
        mtu: 1450,
      };
      try {
        this.cnExpect.written(await this.ctx.client.create<KubeObject>(clusterNetworkType, obj));
        this.ctx.log.info({ clusterNetworks: cfg.clusterNetworks, plugin }, "created ClusterNetwork default");
      } catch (e) {
        if (!isAlreadyExists(e)) throw e;
      }
      return "created";
    }
    const cn = cur as unknown as ClusterNetwork;
    if (cn.pluginName !== plugin) {
      // The controllers' --network-mode is the truth; agents read pluginName from here.
      this.cnExpect.written(
        await this.ctx.client.patch<KubeObject>(clusterNetworkType, "", CLUSTER_NETWORK_NAME, {
          pluginName: plugin,
        }),
      );
      await this.ctx.recorder.record(
        refOf(cur),
        "Normal",
        "PluginNameUpdated",
        `pluginName ${JSON.stringify(cn.pluginName ?? "")} → ${plugin} (network mode ${this.ctx.options.networkMode})`,
      );
    }
    const cfg: ClusterNetworkConfig = {
      clusterNetworks: cn.clusterNetworks.map((c) => ({
        cidr: c.CIDR,
        hostSubnetLength: c.hostSubnetLength,
      })),
      serviceNetwork: cn.serviceNetwork,
    };
    try {
      parseClusterNetwork(cfg);
    } catch (e) {
      if (!(e instanceof ClusterNetworkError)) throw e;
      events.push({
        type: "Warning",
        reason: "InvalidClusterNetwork",
        message: `${e.message}; no HostSubnets are allocated until it is fixed`,
        object: { kind: "ClusterNetwork", name: CLUSTER_NETWORK_NAME },
      });
      return undefined;
    }
    return cfg;
  }

  /** One HostSubnet per Node. Returns true when it wrote something (the caches must catch up
   *  before egress placement reads HostSubnets). */
  private async syncSubnets(cfg: ClusterNetworkConfig, events: DecisionEvent[]): Promise<boolean> {
    const c = this.ctx.client;
    const nodes = new Map(this.nodes.list().map((n) => [n.metadata.name ?? "", n]));
    const hsObjs = new Map(this.hostSubnets.list().map((h) => [h.metadata.name ?? "", h]));
    // HostSubnets made by an admin with the assign-subnet annotation (no Node behind them) get a
    // subnet and are never deleted by this controller.
    const assigned = new Set(
      [...hsObjs]
        .filter(([, h]) => h.metadata.annotations?.[ASSIGN_HOST_SUBNET_ANNOTATION] !== undefined)
        .map(([n]) => n),
    );
    const existing = [...hsObjs]
      .map(([name, h]) => ({ name, subnet: (h as unknown as HostSubnet).subnet }))
      .filter((h) => !(assigned.has(h.name) && h.subnet === ""));
    const r = allocateHostSubnets(cfg, [...new Set([...nodes.keys(), ...assigned])], existing);
    events.push(...r.events);
    let wrote = false;
    for (const name of r.delete) {
      if (assigned.has(name)) continue;
      try {
        await c.delete(hostSubnetType, "", name);
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
      this.hsExpect.deleted(name, hsObjs.get(name)?.metadata.uid);
      hsObjs.delete(name);
      wrote = true;
      this.ctx.log.info({ hostsubnet: name }, "deleted HostSubnet");
    }
    // Creates go out WRITE_CONCURRENCY at a time (a new cluster has thousands of nodes at once).
    await forEachLimited(r.create, WRITE_CONCURRENCY, async ({ node, subnet }) => {
      if (assigned.has(node)) {
        const h = hsObjs.get(node);
        if (!h || (h as unknown as HostSubnet).subnet !== "") return;
        this.hsExpect.written(await c.patch<KubeObject>(hostSubnetType, "", node, { subnet }));
        wrote = true;
        return;
      }
      const n = nodes.get(node);
      const ip = n ? nodeIP(n) : undefined;
      if (!n || !ip) {
        if (n)
          events.push({
            type: "Warning",
            reason: "NodeIPMissing",
            message: `node ${node} has no InternalIP or ExternalIP address; its HostSubnet is created once it has one`,
            object: { kind: "Node", name: node },
          });
        return;
      }
      const obj: KubeObject = {
        apiVersion: "network.openshift.io/v1",
        kind: "HostSubnet",
        metadata: { name: node },
        host: node,
        hostIP: ip,
        subnet,
      };
      try {
        this.hsExpect.written(await c.create<KubeObject>(hostSubnetType, obj));
        this.ctx.log.info({ hostsubnet: node, subnet, hostIP: ip }, "created HostSubnet");
      } catch (e) {
        if (!isAlreadyExists(e)) throw e;
      }
      wrote = true;
    });
    // A node whose address changed: follow it (upstream does the same).
    for (const [name, h] of hsObjs) {
      const n = nodes.get(name);
      const ip = n ? nodeIP(n) : undefined;
      if (!ip || assigned.has(name) || (h as unknown as HostSubnet).hostIP === ip) continue;
      this.hsExpect.written(await c.patch<KubeObject>(hostSubnetType, "", name, { hostIP: ip }));
      wrote = true;
    }
    return wrote;
  }

  private async syncEgress(events: DecisionEvent[]): Promise<void> {
    const c = this.ctx.client;
    const probe = this.ctx.options.egressIPReachabilityTimeoutMs > 0 ? this.reachability : undefined;
    const hsObjs = this.hostSubnets.list();
    const sdnNodes: SDNEgressNode[] = hsObjs.map((h) => {
      const hs = h as unknown as HostSubnet;
      const node = this.nodes.get(hs.host);
      const online = node !== undefined && isReady(node) && probe?.isReachable(hs.host) !== false;
      const subnet = primarySubnet(node);
      return {
        name: h.metadata.name ?? "",
        hostIP: hs.hostIP,
        online,
        ...(subnet ? { primarySubnet: subnet } : {}),
        egressCIDRs: hs.egressCIDRs ?? [],
        egressIPs: hs.egressIPs ?? [],
      };
    });
    const nnObjs = this.netNamespaces.list();
    const res = allocateProjectEgressIPs(
      sdnNodes,
      nnObjs.map((o) => {
        const nn = o as unknown as NetNamespace;
        return { name: o.metadata.name ?? "", netid: nn.netid, egressIPs: nn.egressIPs ?? [] };
      }),
    );
    events.push(...res.events);
    for (const name of res.changed) {
      const h = this.hostSubnets.get(name);
      if (!h) continue;
      const ips = res.hostSubnetEgressIPs.get(name) ?? [];
      const next: KubeObject = { ...h };
      if (ips.length > 0) next.egressIPs = ips;
      else delete next.egressIPs;
      // A full update with the cached resourceVersion: if the admin changed egressCIDRs meanwhile,
      // this conflicts and the queue retries with the new state.
      this.hsExpect.written(await c.update<KubeObject>(hostSubnetType, next));
      this.ctx.log.info({ hostsubnet: name, egressIPs: ips }, "placed project egress IPs");
    }
    for (const o of nnObjs) {
      const name = o.metadata.name ?? "";
      const st = res.projects.get(name);
      const pub = st ? publishedState(st) : undefined;
      const want = pub ? JSON.stringify(pub) : undefined;
      const have = o.metadata.annotations?.[EGRESS_IP_STATE_ANNOTATION];
      if (want === have) continue;
      try {
        this.nnExpect.written(
          await c.patch<KubeObject>(netNamespaceType, "", name, {
            metadata: { annotations: { [EGRESS_IP_STATE_ANNOTATION]: want ?? null } },
          }),
        );
      } catch (e) {
        if (isNotFound(e)) continue;
        throw e;
      }
      if (pub?.state === "normal")
        await this.ctx.recorder.record(
          refOf(o),
          "Normal",
          "EgressIPHosted",
          `egress IP ${pub.egressIP} is hosted on node ${pub.node} (${pub.nodeIP}); the project's external traffic leaves through it`,
        );
      else if (pub?.state === "dropped")
        await this.ctx.recorder.record(
          refOf(o),
          "Warning",
          "EgressIPDropped",
          `egress IP ${pub.egressIP}: ${pub.reason}; the project's external traffic is dropped`,
        );
    }
  }
}
