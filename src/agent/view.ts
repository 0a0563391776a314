// Builds the dataplane compiler's NodeView from what the API says (pure): node subnets from
// HostSubnets, services from Services + Endpoints, EgressIP holders from EgressIP status and the
// pods each EgressIP serves (the same selection the controllers use), and project egress state from
// the NetNamespace annotation the HostSubnet controller publishes. No I/O.
import type { KubeObject } from "../api/object.js";
import { type EgressIPSelectorSpec, selectPodsForEgressIPs } from "../controllers/egressip/pods.js";
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

export function buildNodeView(s: ClusterState): NodeView {
  const nodesByName = new Map(s.nodes.map((n) => [n.metadata.name ?? "", n]));
  const subnets = s.hostSubnets.map(
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
  const self = nodeRefs.find((n) => n.name === s.nodeName);
  if (!self) throw new ViewError(`no HostSubnet with an address for node ${s.nodeName} yet`);
  const nodeIP = (name: string) =>
    nodeRefs.find((n) => n.name === name)?.nodeIP ?? internalIP(nodesByName.get(name));

  const cn = s.clusterNetworks.find((c) => c.metadata.name === "default") as
    | { clusterNetworks?: { CIDR?: string; cidr?: string }[]; serviceNetwork?: string }
    | undefined;
  const clusterCIDRs = (cn?.clusterNetworks ?? []).map((c) => c.CIDR ?? c.cidr ?? "").filter(Boolean);

  // Services: cluster IP ports with endpoints resolved by port name, as kube-proxy does.
  const endpointsByKey = new Map(s.endpoints.map((e) => [`${e.metadata.namespace}/${e.metadata.name}`, e]));
  const services: ServiceView[] = [];
  for (const svc of s.services) {
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

  // Pod addresses: the API's, overridden by what this node's kubelet knows first-hand. Pods are
  // indexed once (by key and by namespace): lookups per local pod or per project must not scan all
  // pods (at 10,000 pods that scan was 250 ms per view).
  const ipOf = new Map<string, string>();
  const podByKey = new Map<string, KubeObject>();
  const podsByNs = new Map<string, KubeObject[]>();
  for (const p of s.pods) {
    const key = `${p.metadata.namespace}/${p.metadata.name}`;
    podByKey.set(key, p);
    const ns = p.metadata.namespace ?? "";
    let list = podsByNs.get(ns);
    if (!list) {
      list = [];
      podsByNs.set(ns, list);
    }
    list.push(p);
    const ip = podIP(p);
    if (ip) ipOf.set(key, ip);
  }
  for (const p of s.localPods) ipOf.set(`${p.namespace}/${p.name}`, p.ip);

  const selection = selectPodsForEgressIPs(
    s.egressIPs.map((e) => {
      const spec = (e.spec ?? {}) as EgressIPSelectorSpec;
      return {
        name: e.metadata.name ?? "",
        ...(e.metadata.creationTimestamp ? { creationTimestamp: e.metadata.creationTimestamp } : {}),
        namespaceSelector: spec.namespaceSelector,
        ...(spec.podSelector ? { podSelector: spec.podSelector } : {}),
      };
    }),
    s.namespaces.map((n) => ({ name: n.metadata.name ?? "", labels: n.metadata.labels ?? {} })),
    s.pods.map((p) => ({
      namespace: p.metadata.namespace ?? "",
      name: p.metadata.name ?? "",
      labels: p.metadata.labels ?? {},
      hostNetwork: (p.spec as { hostNetwork?: boolean } | undefined)?.hostNetwork === true,
    })),
  );
  const egressIPs: EgressIPView[] = [];
  const ordered = [...s.egressIPs].sort(
    (a, b) =>
      (a.metadata.creationTimestamp ?? "").localeCompare(b.metadata.creationTimestamp ?? "") ||
      (a.metadata.name ?? "").localeCompare(b.metadata.name ?? ""),
  );
  for (const e of ordered) {
    const name = e.metadata.name ?? "";
    const items = (e.status as { items?: { node: string; egressIP: string }[] } | undefined)?.items ?? [];
    const ips = items.flatMap((i) => {
      const nip = nodeIP(i.node);
      return nip ? [{ ip: i.egressIP, node: i.node, nodeIP: nip }] : [];
    });
    const podIPs = (selection.podsOf.get(name) ?? []).map((k) => ipOf.get(k)).filter((x): x is string => !!x);
    egressIPs.push({ name, ips, podIPs });
  }

  const projectEgress: ProjectEgressView[] = [];
  for (const nn of s.netNamespaces) {
    const raw = nn.metadata.annotations?.[EGRESS_STATE_ANNOTATION];
    if (!raw) continue;
    let st: { state?: string; egressIP?: string; node?: string; nodeIP?: string };
    try {
      st = JSON.parse(raw) as typeof st;
    } catch {
      continue;
    }
    const ns = nn.metadata.name ?? "";
    const podIPs = (podsByNs.get(ns) ?? [])
      .map((p) => ipOf.get(`${ns}/${p.metadata.name}`))
      .filter((x): x is string => !!x);
    if (st.state === "normal" && st.egressIP && st.node && st.nodeIP) {
      projectEgress.push({
        namespace: ns,
        podIPs,
        state: { kind: "normal", egressIP: st.egressIP, node: st.node, nodeIP: st.nodeIP },
      });
    } else if (st.state === "dropped") {
      projectEgress.push({ namespace: ns, podIPs, state: { kind: "dropped" } });
    }
  }

  const localPods = s.localPods.map((p) => {
    const obj = podByKey.get(`${p.namespace}/${p.name}`);
    return { namespace: p.namespace, name: p.name, ip: p.ip, labels: obj?.metadata.labels ?? {} };
  });
  const serviceCIDR = typeof cn?.serviceNetwork === "string" ? cn.serviceNetwork : "172.30.0.0/16";
  return {
    node: { ...self, interfaces: s.interfaces, bridge: s.bridge },
    nodes: nodeRefs,
    clusterCIDRs: clusterCIDRs.length > 0 ? clusterCIDRs : ["10.128.0.0/14"],
    serviceCIDR,
    localPods,
    services,
    egressIPs,
    projectEgress,
  };
}
