// Builds the policy compiler's PolicyView from the informer caches (pure): the network mode from the
// ClusterNetwork, this node's pod subnet from its HostSubnet, every pod with an address (this node's
// kubelet's addresses win), namespaces with their NetNamespace netid and multicast flag,
// NetworkPolicies, and EgressFirewall/EgressNetworkPolicy rules with the effect and DNS addresses the
// egress-firewall controller publishes as annotations. Selectors are NOT resolved here (the compiler
// does that). No I/O: the caller reads the caches and the node's resolv.conf.
import { formatIPv4, isIP, parseCIDR } from "../api/ip.js";
import type { KubeObject } from "../api/object.js";
import {
  DNS_ADDRESSES_ANNOTATION,
  FIREWALL_EFFECT_ANNOTATION,
} from "../controllers/egressfirewall/publish.js";
import type {
  EgressFirewallRuleView,
  EgressFirewallView,
  NetworkMode,
  NetworkPolicyView,
  PolicyNamespace,
  PolicyNode,
  PolicyPod,
  PolicyProtocol,
  PolicyView,
} from "../dataplane/compile/policy/types.js";
import type { CompileWarning } from "../dataplane/compile/types.js";
import { ViewError } from "./view.js";

export const MULTICAST_ANNOTATION = "netnamespace.network.openshift.io/multicast-enabled";
/** Set by every Kubernetes API server since 1.21; ours does not, so the view adds it (selectors such
 *  as `kubernetes.io/metadata.name: foo` are common in NetworkPolicies). */
export const NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name";

const PLUGIN_MODES: Record<string, NetworkMode> = {
  "redhat/openshift-ovs-multitenant": "multitenant",
  "redhat/openshift-ovs-networkpolicy": "networkpolicy",
  "redhat/openshift-ovs-subnet": "subnet",
};

export interface PolicyState {
  nodeName: string;
  hostSubnets: KubeObject[];
  nodes: KubeObject[];
  clusterNetworks: KubeObject[];
  pods: KubeObject[];
  namespaces: KubeObject[];
  netNamespaces: KubeObject[];
  networkPolicies: KubeObject[];
  egressFirewalls: KubeObject[];
  egressNetworkPolicies: KubeObject[];
  /** Pods this node's kubelet runs, with their addresses (known before the API's status says so). */
  localPods: { namespace: string; name: string; ip: string }[];
  /** The node's upstream resolvers (--cluster-dns, else the node's resolv.conf nameservers); the
   *  view adds this node's cluster DNS address (see `nodeDnsAddress`). */
  dnsServers: string[];
}

/** Where the node's cluster DNS listens: the pod bridge's gateway, the first address of the node's
 *  pod subnet (as the CNI bridge plugin assigns it); undefined for a subnet without one. */
export function nodeDnsAddress(podSubnet: string): string | undefined {
  const c = parseCIDR(podSubnet);
  if (c?.family !== 4 || c.prefix > 30) return undefined;
  return formatIPv4(c.network + 1n);
}

export interface PolicyViewResult {
  view: PolicyView;
  /** Items left out or read with a fallback (bad annotation JSON, unknown plugin name ...). */
  warnings: CompileWarning[];
}

const PROTOCOLS = new Set<string>(["TCP", "UDP", "SCTP"]);
const isProtocol = (s: unknown): s is PolicyProtocol => typeof s === "string" && PROTOCOLS.has(s);
const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name);
const byNsName = (a: { namespace: string; name: string }, b: { namespace: string; name: string }) =>
  a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name);

function podIP(p: KubeObject): string | undefined {
  const s = (p.status ?? {}) as { podIP?: string; phase?: string };
  return s.phase === "Succeeded" || s.phase === "Failed" ? undefined : s.podIP || undefined;
}

/** Nameservers of a resolv.conf text, in order (the caller reads the file). */
export function resolvConfNameservers(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split("\n")) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (m && isIP(m[1]!) && !out.includes(m[1]!)) out.push(m[1]!);
  }
  return out;
}

/** The node's addresses: InternalIP first, then the other status addresses, then the host CIDRs the
 *  agent publishes (every address of the node's own networks). */
function nodeIPs(n: KubeObject): string[] {
  const addrs = ((n.status as { addresses?: { type?: string; address?: string }[] } | undefined)?.addresses ??
    []) as { type?: string; address?: string }[];
  const out: string[] = [];
  const add = (a: string | undefined) => {
    if (a && isIP(a) && !out.includes(a)) out.push(a);
  };
  for (const a of addrs) if (a.type === "InternalIP") add(a.address);
  for (const a of addrs) add(a.address);
  const raw = n.metadata.annotations?.["k8s.ovn.org/host-cidrs"];
  if (raw) {
    try {
      const cidrs: unknown = JSON.parse(raw);
      if (Array.isArray(cidrs)) for (const c of cidrs) if (typeof c === "string") add(c.split("/")[0]);
    } catch {
      // Unreadable: the status addresses still name the node.
    }
  }
  return out;
}

/** dnsName → addresses from the controller's annotation; undefined when there is none. */
function dnsAddresses(
  obj: KubeObject,
  field: string,
  warnings: CompileWarning[],
): Map<string, string[]> | undefined {
  const raw = obj.metadata.annotations?.[DNS_ADDRESSES_ANNOTATION];
  if (raw === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (e) {
    warnings.push({
      field: `${field}.metadata.annotations[${DNS_ADDRESSES_ANNOTATION}]`,
      value: raw,
      detail: `not JSON (${(e as Error).message}): dnsName rules match no address`,
    });
    return new Map();
  }
  const out = new Map<string, string[]>();
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    warnings.push({
      field: `${field}.metadata.annotations[${DNS_ADDRESSES_ANNOTATION}]`,
      value: raw,
      detail: "not a JSON object: dnsName rules match no address",
    });
    return out;
  }
  for (const [name, entry] of Object.entries(parsed as Record<string, unknown>)) {
    const list = (entry as { addresses?: unknown } | null)?.addresses;
    if (!Array.isArray(list)) continue;
    out.set(
      name,
      list.filter((a): a is string => typeof a === "string" && isIP(a)),
    );
  }
  return out;
}

function firewallView(
  obj: KubeObject,
  kind: EgressFirewallView["kind"],
  warnings: CompileWarning[],
): EgressFirewallView {
  const ns = obj.metadata.namespace ?? "";
  const name = obj.metadata.name ?? "";
  const field = `${kind}/${ns}/${name}`;
  const rawEffect = obj.metadata.annotations?.[FIREWALL_EFFECT_ANNOTATION];
  let effect: EgressFirewallView["effect"] = "Enforced";
  if (rawEffect === "Enforced" || rawEffect === "Ignored" || rawEffect === "DropAll") effect = rawEffect;
  else if (rawEffect !== undefined)
    warnings.push({
      field: `${field}.metadata.annotations[${FIREWALL_EFFECT_ANNOTATION}]`,
      value: rawEffect,
      detail: "unknown effect: treated as Enforced",
    });
  const dns = dnsAddresses(obj, field, warnings);
  const rawRules = ((obj.spec as { egress?: unknown[] } | undefined)?.egress ?? []) as {
    type?: string;
    to?: { cidrSelector?: string; dnsName?: string; nodeSelector?: EgressFirewallRuleView["nodeSelector"] };
    ports?: { protocol?: string; port?: number }[];
  }[];
  const rules: EgressFirewallRuleView[] = [];
  rawRules.forEach((r, i) => {
    if (r.type !== "Allow" && r.type !== "Deny") {
      // Dropping a rule changes the meaning of the rest; a stored object always has a valid type
      // (validation), so this only guards against a foreign API server: deny in its place.
      warnings.push({
        field: `${field}.spec.egress[${i}].type`,
        value: r.type,
        detail: "unknown type: rule read as Deny",
      });
    }
    const rule: EgressFirewallRuleView = { type: r.type === "Allow" ? "Allow" : "Deny" };
    const to = r.to ?? {};
    if (to.cidrSelector !== undefined) rule.cidrSelector = to.cidrSelector;
    if (to.dnsName !== undefined) {
      rule.dnsName = to.dnsName;
      const addrs = dns?.get(to.dnsName);
      if (addrs) rule.dnsAddresses = addrs;
    }
    if (kind === "EgressFirewall" && to.nodeSelector !== undefined) rule.nodeSelector = to.nodeSelector;
    if (kind === "EgressFirewall" && r.ports && r.ports.length > 0) {
      const ports: { protocol: PolicyProtocol; port: number }[] = [];
      r.ports.forEach((p, j) => {
        if (isProtocol(p.protocol) && Number.isInteger(p.port))
          ports.push({ protocol: p.protocol, port: p.port! });
        else
          warnings.push({
            field: `${field}.spec.egress[${i}].ports[${j}]`,
            value: p,
            detail: "bad protocol or port: left out",
          });
      });
      // A rule whose every port was unusable must not widen to "all ports".
      if (ports.length > 0) rule.ports = ports;
      else {
        warnings.push({
          field: `${field}.spec.egress[${i}]`,
          value: r,
          detail: "no usable port: rule left out",
        });
        return;
      }
    }
    rules.push(rule);
  });
  return { namespace: ns, kind, name, effect, rules };
}

export function buildPolicyView(s: PolicyState): PolicyViewResult {
  const warnings: CompileWarning[] = [];

  const cn = s.clusterNetworks.find((c) => c.metadata.name === "default") as
    | (KubeObject & {
        pluginName?: string;
        network?: string;
        clusterNetworks?: { CIDR?: string; cidr?: string }[];
        serviceNetwork?: string;
      })
    | undefined;
  let mode: NetworkMode = "multitenant";
  if (cn?.pluginName) {
    const m = PLUGIN_MODES[cn.pluginName];
    if (m) mode = m;
    else
      warnings.push({
        field: "ClusterNetwork/default.pluginName",
        value: cn.pluginName,
        detail: "unknown plugin: multitenant isolation applies",
      });
  }
  let clusterCIDRs = (cn?.clusterNetworks ?? []).map((c) => c.CIDR ?? c.cidr ?? "").filter(Boolean);
  if (clusterCIDRs.length === 0 && cn?.network) clusterCIDRs = [cn.network];
  if (clusterCIDRs.length === 0) clusterCIDRs = ["10.128.0.0/14"];
  const serviceCIDR = typeof cn?.serviceNetwork === "string" ? cn.serviceNetwork : "172.30.0.0/16";

  const hs = s.hostSubnets
    .map((h) => h as unknown as { metadata: { name?: string }; host?: string; subnet?: string })
    .find((h) => (h.host ?? h.metadata.name) === s.nodeName);
  if (!hs?.subnet) throw new ViewError(`no HostSubnet for node ${s.nodeName} yet`);

  const nodes: PolicyNode[] = s.nodes
    .map((n) => ({ name: n.metadata.name ?? "", ips: nodeIPs(n), labels: n.metadata.labels ?? {} }))
    .sort(byName);

  const localIP = new Map(s.localPods.map((p) => [`${p.namespace}/${p.name}`, p.ip]));
  const pods: PolicyPod[] = [];
  for (const p of s.pods) {
    const spec = (p.spec ?? {}) as {
      hostNetwork?: boolean;
      nodeName?: string;
      containers?: { ports?: { name?: string; containerPort?: number; protocol?: string }[] }[];
    };
    if (spec.hostNetwork === true) continue;
    const namespace = p.metadata.namespace ?? "";
    const name = p.metadata.name ?? "";
    const own = localIP.get(`${namespace}/${name}`);
    const ip = own ?? podIP(p);
    if (!ip) continue;
    const ports: PolicyPod["ports"] = [];
    for (const c of spec.containers ?? [])
      for (const port of c.ports ?? []) {
        if (!port.name || !Number.isInteger(port.containerPort)) continue;
        const protocol = port.protocol ?? "TCP";
        if (!isProtocol(protocol)) continue;
        ports.push({ name: port.name, port: port.containerPort!, protocol });
      }
    pods.push({
      namespace,
      name,
      ip,
      labels: p.metadata.labels ?? {},
      ports,
      // The kubelet's word first; a pod bound here whose sandbox the kubelet has not (re)started yet
      // still counts as local, so its policy is in place when it starts.
      local: own !== undefined || spec.nodeName === s.nodeName,
    });
  }
  pods.sort(byNsName);

  const netNs = new Map(s.netNamespaces.map((n) => [n.metadata.name ?? "", n]));
  const nsNames = new Set([
    ...s.namespaces.map((n) => n.metadata.name ?? ""),
    ...s.netNamespaces.map((n) => n.metadata.name ?? ""),
  ]);
  nsNames.delete("");
  const nsObj = new Map(s.namespaces.map((n) => [n.metadata.name ?? "", n]));
  const namespaces: PolicyNamespace[] = [...nsNames].sort().map((name) => {
    const nn = netNs.get(name) as (KubeObject & { netid?: unknown }) | undefined;
    const ns: PolicyNamespace = {
      name,
      labels: { ...(nsObj.get(name)?.metadata.labels ?? {}), [NAMESPACE_NAME_LABEL]: name },
      multicast: nn?.metadata.annotations?.[MULTICAST_ANNOTATION] === "true",
    };
    if (typeof nn?.netid === "number" && Number.isInteger(nn.netid)) ns.netid = nn.netid;
    return ns;
  });

  const networkPolicies: NetworkPolicyView[] = s.networkPolicies
    .map((np) => ({
      namespace: np.metadata.namespace ?? "",
      name: np.metadata.name ?? "",
      spec: (np.spec ?? {}) as NetworkPolicyView["spec"],
    }))
    .sort(byNsName);

  const egressFirewalls: EgressFirewallView[] = [
    ...s.egressFirewalls.map((o) => firewallView(o, "EgressFirewall", warnings)),
    ...s.egressNetworkPolicies.map((o) => firewallView(o, "EgressNetworkPolicy", warnings)),
  ].sort((a, b) => byNsName(a, b) || a.kind.localeCompare(b.kind));

  return {
    view: {
      mode,
      node: s.nodeName,
      podSubnet: hs.subnet,
      clusterCIDRs,
      serviceCIDR,
      nodes,
      // Pods resolve through the node's cluster DNS, which forwards to the upstream ones: DNS to
      // either is never blocked by an egress firewall.
      dnsServers: [
        ...new Set([
          ...[nodeDnsAddress(hs.subnet)].filter((a): a is string => a !== undefined),
          ...s.dnsServers,
        ]),
      ],
      pods,
      namespaces,
      networkPolicies,
      egressFirewalls,
    },
    warnings,
  };
}
