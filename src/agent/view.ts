// Builds the dataplane compiler's NodeView from what the API says (pure): node subnets from
// HostSubnets, services from Services + Endpoints, EgressIP holders from EgressIP status and the
// pods each EgressIP serves (the same selection the controllers use), and project egress state from
// the NetNamespace annotation the HostSubnet controller publishes. No I/O.
import type { KubeObject } from "../api/object.js";
import {
  byPod,
  EgressIPMatcher,
  type EgressIPSelectorSpec,
  type NamespaceInfo,
  type PodInfo,
  selectorKey,
  selectPodsForEgressIPs,
} from "../controllers/egressip/pods.js";
import type {
  EgressIPView,
  NodeRef,
  NodeView,
  ProjectEgressView,
  ServicePort,
  ServiceProtocol,
  ServiceView,
  UnderlayInterface,
} from "../dataplane/compile/types.js";

export interface ClusterState {
  nodeName: string;
  bridge: string;
  interfaces: UnderlayInterface[];
  hostSubnets: KubeObject[];
  nodes: KubeObject[];
  clusterNetworks: KubeObject[];
  pods: KubeObject[];
  namespaces: KubeObject[];
  egressIPs: KubeObject[];
  services: KubeObject[];
  endpoints: KubeObject[];
  netNamespaces: KubeObject[];
  /** Pods this node's kubelet runs, with their addresses (authoritative even before status is written). */
  localPods: { namespace: string; name: string; ip: string }[];
}

const EGRESS_STATE_ANNOTATION = "network.openshift.io/egress-ip-state";

function podIP(p: KubeObject): string | undefined {
  const s = (p.status ?? {}) as { podIP?: string; phase?: string };
  return s.phase === "Succeeded" || s.phase === "Failed" ? undefined : s.podIP || undefined;
}

function internalIP(n: KubeObject | undefined): string | undefined {
  const addrs =
    (n?.status as { addresses?: { type: string; address: string }[] } | undefined)?.addresses ?? [];
  return addrs.find((a) => a.type === "InternalIP")?.address;
}

export class ViewError extends Error {
  override name = "ViewError";
}

/** Node addresses, pod subnets and cluster CIDRs: what the view reads of HostSubnets, Nodes and the
 *  ClusterNetwork. */
interface NodePart {
  nodeRefs: NodeRef[];
  self: NodeRef;
  nodeIP: (name: string) => string | undefined;
  clusterCIDRs: string[];
  serviceCIDR: string;
}

function nodePart(
  nodeName: string,
  hostSubnets: KubeObject[],
  nodes: KubeObject[],
  clusterNetworks: KubeObject[],
): NodePart {
  const nodesByName = new Map(nodes.map((n) => [n.metadata.name ?? "", n]));
  const subnets = hostSubnets.map(
    (h) => h as unknown as { metadata: { name: string }; host?: string; hostIP?: string; subnet?: string },
  );
  const nodeRefs: NodeRef[] = subnets
    .filter((h) => h.subnet && (h.hostIP || internalIP(nodesByName.get(h.host ?? h.metadata.name))))
    .map((h) => ({
      name: h.host ?? h.metadata.name,
      nodeIP: h.hostIP || internalIP(nodesByName.get(h.host ?? h.metadata.name))!,
      podSubnet: h.subnet!,
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
  const self = nodeRefs.find((n) => n.name === nodeName);
  if (!self) throw new ViewError(`no HostSubnet with an address for node ${nodeName} yet`);
  const refByName = new Map<string, NodeRef>();
  for (const n of nodeRefs) if (!refByName.has(n.name)) refByName.set(n.name, n);
  const nodeIP = (name: string) => refByName.get(name)?.nodeIP ?? internalIP(nodesByName.get(name));
  const cn = clusterNetworks.find((c) => c.metadata.name === "default") as
    | { clusterNetworks?: { CIDR?: string; cidr?: string }[]; serviceNetwork?: string }
    | undefined;
  const clusterCIDRs = (cn?.clusterNetworks ?? []).map((c) => c.CIDR ?? c.cidr ?? "").filter(Boolean);
  return {
    nodeRefs,
    self,
    nodeIP,
    clusterCIDRs: clusterCIDRs.length > 0 ? clusterCIDRs : ["10.128.0.0/14"],
    serviceCIDR: typeof cn?.serviceNetwork === "string" ? cn.serviceNetwork : "172.30.0.0/16",
  };
}

/** Services: cluster IP ports with endpoints resolved by port name, as kube-proxy does. */
function servicesOf(svcs: KubeObject[], endpoints: KubeObject[]): ServiceView[] {
  const endpointsByKey = new Map(endpoints.map((e) => [`${e.metadata.namespace}/${e.metadata.name}`, e]));
  const services: ServiceView[] = [];
  for (const svc of svcs) {
    const spec = (svc.spec ?? {}) as {
      clusterIP?: string;
      type?: string;
      ports?: { name?: string; port: number; protocol?: string; targetPort?: number | string }[];
    };
    if (!spec.clusterIP || spec.clusterIP === "None" || spec.type === "ExternalName") continue;
    const ep = endpointsByKey.get(`${svc.metadata.namespace}/${svc.metadata.name}`) as
      | {
          subsets?: {
            addresses?: { ip: string }[];
            ports?: { name?: string; port: number; protocol?: string }[];
          }[];
        }
      | undefined;
    const ports: ServicePort[] = (spec.ports ?? []).map((p) => {
      const protocol = (p.protocol ?? "TCP") as ServiceProtocol;
      const endpoints = (ep?.subsets ?? []).flatMap((sub) => {
        const port = (sub.ports ?? []).find(
          (q) => (q.name ?? "") === (p.name ?? "") && (q.protocol ?? "TCP") === protocol,
        );
        if (!port) return [];
        return (sub.addresses ?? []).map((a) => ({ ip: a.ip, port: port.port }));
      });
      return {
        ...(p.name ? { name: p.name } : {}),
        port: p.port,
        protocol,
        targetPort: typeof p.targetPort === "number" ? p.targetPort : p.port,
        endpoints,
      };
    });
    services.push({
      namespace: svc.metadata.namespace ?? "",
      name: svc.metadata.name ?? "",
      clusterIP: spec.clusterIP,
      ports,
    });
  }
  return services;
}

function selectorSpec(e: KubeObject): EgressIPSelectorSpec {
  const spec = (e.spec ?? {}) as EgressIPSelectorSpec;
  return {
    name: e.metadata.name ?? "",
    ...(e.metadata.creationTimestamp ? { creationTimestamp: e.metadata.creationTimestamp } : {}),
    namespaceSelector: spec.namespaceSelector,
    ...(spec.podSelector ? { podSelector: spec.podSelector } : {}),
  };
}

const nsInfo = (n: KubeObject): NamespaceInfo => ({
  name: n.metadata.name ?? "",
  labels: n.metadata.labels ?? {},
});

const podInfo = (p: KubeObject): PodInfo => ({
  namespace: p.metadata.namespace ?? "",
  name: p.metadata.name ?? "",
  labels: p.metadata.labels ?? {},
  hostNetwork: (p.spec as { hostNetwork?: boolean } | undefined)?.hostNetwork === true,
});

/** EgressIPs in the view's order: oldest first (the order the compiler claims pods in). */
function orderedEgressIPs(egressIPs: KubeObject[]): KubeObject[] {
  return [...egressIPs].sort(
    (a, b) =>
      (a.metadata.creationTimestamp ?? "").localeCompare(b.metadata.creationTimestamp ?? "") ||
      (a.metadata.name ?? "").localeCompare(b.metadata.name ?? ""),
  );
}

/** The holders of an EgressIP from its status (holders on nodes without an address are left out). */
function holdersOf(e: KubeObject, nodeIP: (name: string) => string | undefined): EgressIPView["ips"] {
  const items = (e.status as { items?: { node: string; egressIP: string }[] } | undefined)?.items ?? [];
  return items.flatMap((i) => {
    const nip = nodeIP(i.node);
    return nip ? [{ ip: i.egressIP, node: i.node, nodeIP: nip }] : [];
  });
}

/** Project egress states published on NetNamespaces (unparseable or unknown states are skipped). */
function projectStates(
  netNamespaces: KubeObject[],
): { namespace: string; state: ProjectEgressView["state"] }[] {
  const out: { namespace: string; state: ProjectEgressView["state"] }[] = [];
  for (const nn of netNamespaces) {
    const raw = nn.metadata.annotations?.[EGRESS_STATE_ANNOTATION];
    if (!raw) continue;
    let st: { state?: string; egressIP?: string; node?: string; nodeIP?: string };
    try {
      st = JSON.parse(raw) as typeof st;
    } catch {
      continue;
    }
    const namespace = nn.metadata.name ?? "";
    if (st.state === "normal" && st.egressIP && st.node && st.nodeIP)
      out.push({
        namespace,
        state: { kind: "normal", egressIP: st.egressIP, node: st.node, nodeIP: st.nodeIP },
      });
    else if (st.state === "dropped") out.push({ namespace, state: { kind: "dropped" } });
  }
  return out;
}

/** The reference: the whole view rebuilt from the caches. `IncrementalNodeView` must equal it. */
export function buildNodeView(s: ClusterState): NodeView {
  const nodes = nodePart(s.nodeName, s.hostSubnets, s.nodes, s.clusterNetworks);
  const services = servicesOf(s.services, s.endpoints);

  // Pod addresses: the API's, overridden by what this node's kubelet knows first-hand. Pods are
  // indexed once (by key and by namespace): lookups per local pod or per project must not scan all
  // pods (at 10,000 pods that scan was 250 ms per view).
  const ipOf = new Map<string, string>();
  const podByKey = new Map<string, KubeObject>();
  const podsByNs = new Map<string, string[]>();
  for (const p of s.pods) {
    const key = `${p.metadata.namespace}/${p.metadata.name}`;
    podByKey.set(key, p);
    const ns = p.metadata.namespace ?? "";
    let list = podsByNs.get(ns);
    if (!list) {
      list = [];
      podsByNs.set(ns, list);
    }
    list.push(key);
    const ip = podIP(p);
    if (ip) ipOf.set(key, ip);
  }
  for (const p of s.localPods) ipOf.set(`${p.namespace}/${p.name}`, p.ip);

  const selection = selectPodsForEgressIPs(
    s.egressIPs.map(selectorSpec),
    s.namespaces.map(nsInfo),
    s.pods.map(podInfo),
  );
  const egressIPs: EgressIPView[] = [];
  for (const e of orderedEgressIPs(s.egressIPs)) {
    const name = e.metadata.name ?? "";
    const podIPs = (selection.podsOf.get(name) ?? []).map((k) => ipOf.get(k)).filter((x): x is string => !!x);
    egressIPs.push({ name, ips: holdersOf(e, nodes.nodeIP), podIPs });
  }

  // A project's pods in pod-key order (the compiler sorts anyway; a fixed order lets the
  // incremental view produce the same lists without knowing the caches' order).
  const projectEgress: ProjectEgressView[] = projectStates(s.netNamespaces).map(({ namespace, state }) => ({
    namespace,
    podIPs: [...new Set(podsByNs.get(namespace) ?? [])]
      .sort(byPod)
      .map((k) => ipOf.get(k))
      .filter((x): x is string => !!x),
    state,
  }));

  const localPods = s.localPods.map((p) => {
    const obj = podByKey.get(`${p.namespace}/${p.name}`);
    return { namespace: p.namespace, name: p.name, ip: p.ip, labels: obj?.metadata.labels ?? {} };
  });
  return {
    node: { ...nodes.self, interfaces: s.interfaces, bridge: s.bridge },
    nodes: nodes.nodeRefs,
    clusterCIDRs: nodes.clusterCIDRs,
    serviceCIDR: nodes.serviceCIDR,
    localPods,
    services,
    egressIPs,
    projectEgress,
  };
}

/** The kinds the node view reads besides Pods. */
export type ViewKind =
  | "hostSubnets"
  | "nodes"
  | "clusterNetworks"
  | "namespaces"
  | "egressIPs"
  | "services"
  | "endpoints"
  | "netNamespaces";

/** Where the incremental view reads the cluster: the informer caches (lists per kind, pods by key)
 *  and the kubelet's local pods. */
export interface ClusterSource {
  nodeName: string;
  bridge: string;
  interfaces: UnderlayInterface[];
  list(kind: ViewKind | "pods"): KubeObject[];
  pod(namespace: string, name: string): KubeObject | undefined;
  localPods: { namespace: string; name: string; ip: string }[];
}

type LocalAddress = { namespace: string; name: string; ip: string };

/** Larger changes of the kubelet's list are diffed whole rather than entry by entry. */
const MAX_LOCAL_DIFF = 64;

interface PodEntry {
  info: PodInfo;
  ip: string | undefined;
  labels: Record<string, string>;
}

/**
 * The node view kept up to date from change notifications instead of rebuilt on every sync: the
 * caller reports which pods changed (`podChanged`) and which other kinds changed (`changed`), and
 * `view()` recomputes only what those feed. A pod event re-selects that one pod (the
 * namespace × EgressIP matches are cached in an `EgressIPMatcher`, dropped only when a namespace's
 * labels or an EgressIP's selector change) and rebuilds the pod lists of the EgressIP(s) and the
 * project it left or joined; unchanged EgressIPs keep their `EgressIPView` objects (the incremental
 * compiler then compares them by reference). Anything it cannot follow (first call, a failed call,
 * `reset()`) rebuilds everything. The result always equals `buildNodeView` of the same caches
 * (property-tested). Pure: no I/O.
 */
export class IncrementalNodeView {
  private full = true;
  private readonly dirtyKinds = new Set<ViewKind>();
  private readonly dirtyPods = new Set<string>();

  private nodes: NodePart | undefined;
  private services: ServiceView[] = [];
  private matcher = new EgressIPMatcher([]);
  private matcherKey = "";
  private ordered: KubeObject[] = [];
  private readonly namespaces = new Map<string, { info: NamespaceInfo; key: string }>();
  private readonly pods = new Map<string, PodEntry>();
  private readonly podsByNs = new Map<string, Set<string>>();
  private readonly local = new Map<string, string>();
  private localList: { namespace: string; name: string; ip: string }[] = [];
  private localView: NodeView["localPods"] = [];
  private localListChanged = false;
  /** Where the kubelet's list changed (`updateLocal`): the view is patched there. */
  private localPatch: { head: number; tail: number; mid: LocalAddress[] } | undefined;
  private readonly servedBy = new Map<string, string>();
  /** EgressIP name → keys of the pods it serves, sorted by `byPod`. */
  private readonly podsOf = new Map<string, string[]>();
  private readonly eipViews = new Map<string, EgressIPView>();
  private projects: { namespace: string; state: ProjectEgressView["state"] }[] = [];
  private readonly projectViews = new Map<string, ProjectEgressView>();

  /** A pod was added, updated or deleted (by key; the cache is read at the next `view()`). */
  podChanged(namespace: string, name: string): void {
    this.dirtyPods.add(`${namespace}/${name}`);
  }

  /** Objects of another kind changed. */
  changed(kind: ViewKind): void {
    this.dirtyKinds.add(kind);
  }

  /** Forget everything: the next `view()` rebuilds from the caches (after a re-list). */
  reset(): void {
    this.full = true;
  }

  view(src: ClusterSource): NodeView {
    try {
      const v = this.full ? this.rebuild(src) : this.update(src);
      this.full = false;
      return v;
    } catch (e) {
      this.full = true;
      throw e;
    } finally {
      this.dirtyKinds.clear();
      this.dirtyPods.clear();
    }
  }

  private ipOf(key: string): string | undefined {
    return this.local.get(key) ?? this.pods.get(key)?.ip;
  }

  private rebuild(src: ClusterSource): NodeView {
    this.nodes = nodePart(
      src.nodeName,
      src.list("hostSubnets"),
      src.list("nodes"),
      src.list("clusterNetworks"),
    );
    this.services = servicesOf(src.list("services"), src.list("endpoints"));
    this.matcherKey = ""; // a fresh matcher: namespaces may have changed unseen
    this.setEgressIPs(src.list("egressIPs"));
    this.namespaces.clear();
    for (const n of src.list("namespaces")) {
      const info = nsInfo(n);
      this.namespaces.set(info.name, { info, key: JSON.stringify(info.labels) });
    }
    this.pods.clear();
    this.podsByNs.clear();
    this.servedBy.clear();
    this.podsOf.clear();
    for (const p of src.list("pods")) {
      const key = `${p.metadata.namespace}/${p.metadata.name}`;
      this.setPod(key, p);
      const eip = this.select(key);
      if (eip !== undefined) {
        this.servedBy.set(key, eip);
        let l = this.podsOf.get(eip);
        if (!l) {
          l = [];
          this.podsOf.set(eip, l);
        }
        l.push(key);
      }
    }
    for (const l of this.podsOf.values()) l.sort(byPod);
    this.local.clear();
    for (const p of src.localPods) this.local.set(`${p.namespace}/${p.name}`, p.ip);
    this.localList = src.localPods;
    this.localListChanged = false;
    this.localPatch = undefined;
    this.localView = this.localPodsView();
    this.projects = projectStates(src.list("netNamespaces"));
    this.eipViews.clear();
    this.projectViews.clear();
    return this.assemble(src, undefined, undefined);
  }

  private update(src: ClusterSource): NodeView {
    const d = this.dirtyKinds;
    let allEips = false;
    if (d.has("hostSubnets") || d.has("nodes") || d.has("clusterNetworks")) {
      this.nodes = nodePart(
        src.nodeName,
        src.list("hostSubnets"),
        src.list("nodes"),
        src.list("clusterNetworks"),
      );
      allEips = true; // holders' node addresses
    }
    if (d.has("services") || d.has("endpoints"))
      this.services = servicesOf(src.list("services"), src.list("endpoints"));
    /** Pods to select again (their namespace's labels or the selectors changed). */
    const reselect = new Set<string>(this.dirtyPods);
    let reselectAll = false;
    if (d.has("egressIPs")) {
      reselectAll = this.setEgressIPs(src.list("egressIPs"));
      allEips = true;
    }
    if (d.has("namespaces")) {
      const seen = new Set<string>();
      for (const n of src.list("namespaces")) {
        const info = nsInfo(n);
        seen.add(info.name);
        const key = JSON.stringify(info.labels);
        if (this.namespaces.get(info.name)?.key === key) continue;
        this.namespaces.set(info.name, { info, key });
        this.matcher.forgetNamespace(info.name);
        for (const k of this.podsByNs.get(info.name) ?? []) reselect.add(k);
      }
      for (const name of [...this.namespaces.keys()])
        if (!seen.has(name)) {
          this.namespaces.delete(name);
          this.matcher.forgetNamespace(name);
          for (const k of this.podsByNs.get(name) ?? []) reselect.add(k);
        }
    }
    const eips = new Set<string>();
    const projects = new Set<string>();
    let localLabels = false;
    // Addresses the kubelet reports for its pods.
    const ipChanged = this.updateLocal(src.localPods);
    for (const k of ipChanged) {
      const e = this.servedBy.get(k);
      if (e !== undefined) eips.add(e);
      const p = this.pods.get(k);
      if (p) projects.add(p.info.namespace);
    }
    // Pods that changed: their entry, their address, their namespace's pod set.
    for (const key of this.dirtyPods) {
      const before = this.pods.get(key);
      const slash = key.indexOf("/");
      const obj = src.pod(key.slice(0, slash), key.slice(slash + 1));
      if (before) this.unsetPod(key, before);
      if (obj) this.setPod(key, obj);
      const after = this.pods.get(key);
      if (before?.ip !== after?.ip || !before !== !after) {
        projects.add(key.slice(0, slash));
        const e = this.servedBy.get(key);
        if (e !== undefined) eips.add(e);
      }
      if (this.local.has(key) && !sameLabels(before?.labels, after?.labels)) {
        const patch = this.localPatch;
        // Entries in the patched part are built afresh below; others need the whole list again.
        if (!patch?.mid.some((p) => p.name === key.slice(slash + 1) && p.namespace === key.slice(0, slash)))
          localLabels = true;
      }
    }
    // Selection: every pod when the selectors changed, else only the pods that need it.
    for (const key of reselectAll ? [...this.pods.keys(), ...this.servedBy.keys()] : reselect) {
      const was = this.servedBy.get(key);
      const now = this.pods.has(key) ? this.select(key) : undefined;
      if (was === now) continue;
      if (was !== undefined) {
        this.servedBy.delete(key);
        removeSorted(this.podsOf.get(was)!, key);
        eips.add(was);
      }
      if (now !== undefined) {
        this.servedBy.set(key, now);
        let l = this.podsOf.get(now);
        if (!l) {
          l = [];
          this.podsOf.set(now, l);
        }
        insertSorted(l, key);
        eips.add(now);
      }
    }
    const patch = this.localPatch;
    if (this.localListChanged || localLabels) this.localView = this.localPodsView();
    else if (patch) {
      const v = this.localView;
      this.localView = [
        ...v.slice(0, patch.head),
        ...patch.mid.map((p) => this.localPodView(p)),
        ...v.slice(v.length - patch.tail),
      ];
    }
    this.localListChanged = false;
    this.localPatch = undefined;
    if (d.has("netNamespaces")) {
      this.projects = projectStates(src.list("netNamespaces"));
      this.projectViews.clear();
    }
    return this.assemble(src, allEips ? undefined : eips, projects);
  }

  /** New EgressIP objects: keeps the matcher (and its namespace cache) when no selector changed.
   *  Returns whether every pod must be selected again. */
  private setEgressIPs(objs: KubeObject[]): boolean {
    this.ordered = orderedEgressIPs(objs);
    const specs = objs.map(selectorSpec);
    const key = specs
      .map(selectorKey)
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
      .join("\n");
    if (key === this.matcherKey) return false;
    this.matcher = new EgressIPMatcher(specs);
    this.matcherKey = key;
    return true;
  }

  private select(key: string): string | undefined {
    const p = this.pods.get(key);
    if (!p) return undefined;
    return this.matcher.select(p.info, this.namespaces.get(p.info.namespace)?.info)[0];
  }

  private setPod(key: string, obj: KubeObject): void {
    const info = podInfo(obj);
    this.pods.set(key, { info, ip: podIP(obj), labels: info.labels });
    let set = this.podsByNs.get(info.namespace);
    if (!set) {
      set = new Set();
      this.podsByNs.set(info.namespace, set);
    }
    set.add(key);
  }

  private unsetPod(key: string, p: PodEntry): void {
    this.pods.delete(key);
    const set = this.podsByNs.get(p.info.namespace);
    set?.delete(key);
    if (set?.size === 0) this.podsByNs.delete(p.info.namespace);
  }

  /**
   * Takes the kubelet's list; returns the keys whose local address changed. The kubelet's list keeps
   * its order (a pod added at the end, one removed in place), so the common head and tail are
   * skipped and only the entries between them are looked at; the local pods' view is patched there
   * at the end of `update` (`localPatch`). A large change is diffed whole.
   */
  private updateLocal(list: LocalAddress[]): Set<string> {
    const changed = new Set<string>();
    const old = this.localList;
    if (list === old) return changed;
    this.localList = list;
    const same = (a: LocalAddress, b: LocalAddress) =>
      a.namespace === b.namespace && a.name === b.name && a.ip === b.ip;
    const n = Math.min(list.length, old.length);
    let head = 0;
    while (head < n && same(list[head]!, old[head]!)) head++;
    let tail = 0;
    while (tail < n - head && same(list[list.length - 1 - tail]!, old[old.length - 1 - tail]!)) tail++;
    if (head === list.length && head === old.length) return changed;
    const oldMid = old.slice(head, old.length - tail);
    const newMid = list.slice(head, list.length - tail);
    if (oldMid.length + newMid.length > MAX_LOCAL_DIFF) {
      const next = new Map<string, string>();
      for (const p of list) next.set(`${p.namespace}/${p.name}`, p.ip);
      for (const [k, ip] of this.local) if (next.get(k) !== ip) changed.add(k);
      for (const [k, ip] of next) if (this.local.get(k) !== ip) changed.add(k);
      this.local.clear();
      for (const [k, ip] of next) this.local.set(k, ip);
      this.localListChanged = true;
      return changed;
    }
    for (const p of [...oldMid, ...newMid]) {
      const k = `${p.namespace}/${p.name}`;
      if (changed.has(k)) continue;
      // The last entry of a pod wins (as in the full rebuild); it may lie outside the middle.
      let ip: string | undefined;
      for (let i = list.length - 1; i >= 0; i--) {
        const q = list[i]!;
        if (q.name === p.name && q.namespace === p.namespace) {
          ip = q.ip;
          break;
        }
      }
      if (this.local.get(k) === ip) continue;
      changed.add(k);
      if (ip === undefined) this.local.delete(k);
      else this.local.set(k, ip);
    }
    this.localPatch = { head, tail, mid: newMid };
    return changed;
  }

  private localPodsView(): NodeView["localPods"] {
    return this.localList.map((p) => this.localPodView(p));
  }

  private localPodView(p: LocalAddress): NodeView["localPods"][number] {
    return {
      namespace: p.namespace,
      name: p.name,
      ip: p.ip,
      labels: this.pods.get(`${p.namespace}/${p.name}`)?.labels ?? {},
    };
  }

  /** The view from the parts; EgressIPs outside `eips` (undefined: all) and projects outside
   *  `projects` (undefined: all) keep their previous view objects. */
  private assemble(
    src: ClusterSource,
    eips: Set<string> | undefined,
    projects: Set<string> | undefined,
  ): NodeView {
    const nodes = this.nodes!;
    const egressIPs: EgressIPView[] = [];
    const names = new Set<string>();
    for (const e of this.ordered) {
      const name = e.metadata.name ?? "";
      names.add(name);
      let v = this.eipViews.get(name);
      if (!v || !eips || eips.has(name)) {
        const podIPs: string[] = [];
        for (const k of this.podsOf.get(name) ?? []) {
          const ip = this.ipOf(k);
          if (ip) podIPs.push(ip);
        }
        const ips = v && eips ? v.ips : holdersOf(e, nodes.nodeIP);
        v = { name, ips, podIPs };
        this.eipViews.set(name, v);
      }
      egressIPs.push(v);
    }
    for (const name of [...this.eipViews.keys()]) if (!names.has(name)) this.eipViews.delete(name);
    const projectEgress: ProjectEgressView[] = [];
    for (const { namespace, state } of this.projects) {
      let v = this.projectViews.get(namespace);
      if (!v || !projects || projects.has(namespace) || v.state !== state) {
        v = {
          namespace,
          podIPs: [...(this.podsByNs.get(namespace) ?? [])]
            .sort(byPod)
            .map((k) => this.ipOf(k))
            .filter((x): x is string => !!x),
          state,
        };
        this.projectViews.set(namespace, v);
      }
      projectEgress.push(v);
    }
    return {
      node: { ...nodes.self, interfaces: src.interfaces, bridge: src.bridge },
      nodes: nodes.nodeRefs,
      clusterCIDRs: nodes.clusterCIDRs,
      serviceCIDR: nodes.serviceCIDR,
      localPods: this.localView,
      services: this.services,
      egressIPs,
      projectEgress,
    };
  }
}

/** Same label content (a status update replaces the object, not the labels). */
function sameLabels(a: Record<string, string> | undefined, b: Record<string, string> | undefined): boolean {
  if (a === b) return true;
  if (!a || !b) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => b[k] === a[k]);
}

function lowerBound(list: string[], key: string): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (byPod(list[mid]!, key) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function insertSorted(list: string[], key: string): void {
  list.splice(lowerBound(list, key), 0, key);
}

function removeSorted(list: string[], key: string): void {
  const i = lowerBound(list, key);
  if (list[i] === key) list.splice(i, 1);
}

/** The reference input of a source (all lists read): `buildNodeView(clusterStateOf(src))`. */
export function clusterStateOf(src: ClusterSource): ClusterState {
  return {
    nodeName: src.nodeName,
    bridge: src.bridge,
    interfaces: src.interfaces,
    hostSubnets: src.list("hostSubnets"),
    nodes: src.list("nodes"),
    clusterNetworks: src.list("clusterNetworks"),
    pods: src.list("pods"),
    namespaces: src.list("namespaces"),
    egressIPs: src.list("egressIPs"),
    services: src.list("services"),
    endpoints: src.list("endpoints"),
    netNamespaces: src.list("netNamespaces"),
    localPods: src.localPods,
  };
}
