// The policy compiler's input (PolicyView: plain data the agent fills from the API) and output
// (PolicyProgram: one nftables table script plus the structured rules it was rendered from, which
// `egress trace` evaluates). The compiler resolves selectors itself, so the view carries the
// objects' own fields, not precomputed answers. Pure types: no I/O. Design: docs/policy.md.
import type { NetworkPolicy } from "../../../api/kinds/networking.js";
import type { CompileWarning } from "../types.js";
import type { PolicyIR } from "./ir.js";

/** ClusterNetwork.pluginName: redhat/openshift-ovs-multitenant | -networkpolicy | -subnet. */
export type NetworkMode = "multitenant" | "networkpolicy" | "subnet";

export type PolicyProtocol = "TCP" | "UDP" | "SCTP";

export interface PolicyPod {
  namespace: string;
  name: string;
  /** The pod's (primary, cluster network) address. Pods without one are left out of the view. */
  ip: string;
  labels: Record<string, string>;
  /** Named container ports, for NetworkPolicy named ports. */
  ports: { name: string; port: number; protocol: PolicyProtocol }[];
  /** Runs on this node: its packets enter this node's forward hook from the pod bridge. */
  local: boolean;
}

export interface PolicyNamespace {
  name: string;
  labels: Record<string, string>;
  /** NetNamespace.netid; undefined when the namespace has no NetNamespace (yet). */
  netid?: number;
  /** NetNamespace annotation netnamespace.network.openshift.io/multicast-enabled == "true". */
  multicast: boolean;
}

export interface PolicyNode {
  name: string;
  /** The node's addresses (InternalIP first), for EgressFirewall nodeSelector destinations. */
  ips: string[];
  labels: Record<string, string>;
}

export interface NetworkPolicyView {
  namespace: string;
  name: string;
  spec: NetworkPolicy["spec"];
}

export interface EgressFirewallRuleView {
  type: "Allow" | "Deny";
  /** to.cidrSelector */
  cidrSelector?: string;
  /** to.dnsName as written */
  dnsName?: string;
  /** to.dnsName resolved by the control plane (annotation egress.openshift.io/dns-addresses);
   *  empty or absent = not resolved yet: the rule matches nothing. */
  dnsAddresses?: string[];
  /** to.nodeSelector (EgressFirewall only): the destination is every address of the selected nodes. */
  nodeSelector?: NetworkPolicy["spec"]["podSelector"];
  /** EgressFirewall only; absent or empty = all ports and protocols. */
  ports?: { protocol: PolicyProtocol; port: number }[];
}

export interface EgressFirewallView {
  namespace: string;
  kind: "EgressFirewall" | "EgressNetworkPolicy";
  name: string;
  /** Annotation egress.openshift.io/firewall-effect written by the control plane; a policy
   *  without it (not yet seen by the control plane) is treated as Enforced. */
  effect: "Enforced" | "Ignored" | "DropAll";
  rules: EgressFirewallRuleView[];
}

export interface PolicyView {
  mode: NetworkMode;
  /** This node's name and pod subnet (its local pods' packets are the ones it filters as sources). */
  node: string;
  podSubnet: string;
  /** Cluster destinations: pod networks, the service network and every node address. Traffic to
   *  anything else "leaves the cluster" (egress firewalls, admin chain). */
  clusterCIDRs: string[];
  serviceCIDR: string;
  nodes: PolicyNode[];
  /** The resolver(s) pods use; DNS (UDP/TCP 53) to them is never blocked by an egress firewall. */
  dnsServers: string[];
  /** Every pod of the cluster with an address (local and remote). */
  pods: PolicyPod[];
  namespaces: PolicyNamespace[];
  networkPolicies: NetworkPolicyView[];
  egressFirewalls: EgressFirewallView[];
}

/** nft table the policy program owns completely (swapped atomically like `inet egress-node`). */
export const POLICY_TABLE = { family: "inet", name: "egress-policy" } as const;
/** The admin's table and chain (MISSION §7): created if absent, never flushed by the agent. */
export const ADMIN_TABLE = { family: "inet", name: "egress-admin" } as const;
export const ADMIN_CHAIN = "admin-output";
/** Packet-mark bit the policy table sets on pod → outside packets the egress firewall let through;
 *  the admin table's hook chain jumps to ADMIN_CHAIN only for packets carrying it. Outside the
 *  egress table's holder-mark field 0x0fff0000. */
export const POD_OUTSIDE_MARK = 0x00008000;

export interface PolicyProgram {
  table: typeof POLICY_TABLE;
  /** Whole-table script for `nft -f -` (create-if-absent, delete, full definition: one transaction). */
  nft: string;
  /** The structure `nft` was rendered from, with each rule's origin; tracePolicy (trace.ts) evaluates it. */
  ir: PolicyIR;
  warnings: CompileWarning[];
  stats: Record<string, number>;
}

// ------------------------------------------------------------------ resolved NetworkPolicy (internal)
// What `resolveNetworkPolicies(view)` (networkpolicy.ts) hands the renderer: per local pod, the
// traffic its policies allow, with selectors, namespaces, named ports and ipBlock excepts resolved.

/** Inclusive IPv4 range as unsigned 32-bit numbers. */
export interface V4Range {
  start: number;
  end: number;
}

/** Which rule of which policy allowed something (for `egress trace` and counters). */
export interface RuleOrigin {
  /** "<namespace>/<name>" */
  policy: string;
  direction: "ingress" | "egress";
  /** Index of the rule in spec.ingress / spec.egress. */
  rule: number;
}

/** One allowed (peer, protocol, port range) combination. A rule with several peers and ports may
 *  become several entries (e.g. egress named ports resolve per peer pod). */
export interface AllowEntry {
  /** Peer addresses (source for ingress, destination for egress), sorted, non-overlapping;
   *  "any" when the rule has no from/to. */
  peers: V4Range[] | "any";
  /** The peers as written, one list per peer component: each selector peer's pods (single
   *  addresses) and the rule's ipBlocks (merged). Their union is exactly `peers`; the lists are
   *  shared between every entry and pod using the same peer, so the compiler renders each once as
   *  its own set. Absent (or `peers` is "any"): `peers` is the only component. */
  components?: V4Range[][];
  /** Absent = every protocol (the rule has no ports). */
  protocol?: PolicyProtocol;
  /** Inclusive port range; absent = every port of the protocol. */
  ports?: [number, number];
  origin: RuleOrigin;
}

export interface LocalPodPolicy {
  namespace: string;
  name: string;
  ip: number;
  /** Selected by some policy with Ingress (resp. Egress) in its policyTypes. */
  ingressIsolated: boolean;
  egressIsolated: boolean;
  /** Sorted by origin (policy, direction, rule) then peers; empty when isolated and nothing allows. */
  ingress: AllowEntry[];
  egress: AllowEntry[];
}
