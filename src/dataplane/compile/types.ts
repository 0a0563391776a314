// The node compiler's input (NodeView: plain data the agent fills from the API) and output
// (NodeProgram: one nftables table script plus desired `ip` state and sysctls). Pure types: no I/O.
// Addresses are strings as the API carries them; the compiler parses and canonicalises them.

/** An underlay (host network) interface of this node with its address in CIDR form. The first
 *  interface in NodeView.node.interfaces is the primary one. */
export interface UnderlayInterface {
  name: string;
  /** e.g. "192.168.126.11/18" */
  address: string;
  /** Next hop of the node's default route through this interface (the agent reads it from the main
   *  table: the lowest-metric `default via G dev <name>`). Used only when a secondary interface holds
   *  egress IPs: it becomes the default route of that interface's egress routing table. Absent: the
   *  table has no way out of the interface's own networks (`unreachable default`). Entries of the
   *  same interface (one per address) carry the same value. */
  gateway?: string;
  /** Other main-table routes through this interface with a next hop (`<dst> via <via> dev <name>`),
   *  copied into the interface's egress routing table like the gateway. */
  routes?: { dst: string; via: string }[];
}

export interface NodeRef {
  name: string;
  /** The node's primary underlay address, e.g. "192.168.126.12" */
  nodeIP: string;
  /** The node's pod subnet (HostSubnet.subnet), e.g. "10.128.2.0/23" */
  podSubnet: string;
}

export interface LocalNode extends NodeRef {
  interfaces: UnderlayInterface[];
  /** The pod bridge in the node namespace (CNI bridge plugin), e.g. "egbr0". */
  bridge: string;
}

export interface LocalPod {
  namespace: string;
  name: string;
  ip: string;
  labels?: Record<string, string>;
}

export type ServiceProtocol = "TCP" | "UDP" | "SCTP";

export interface ServiceEndpoint {
  ip: string;
  /** Defaults to the port's targetPort (the agent resolves named target ports per endpoint). */
  port?: number;
}

export interface ServicePort {
  name?: string;
  port: number;
  protocol: ServiceProtocol;
  targetPort: number;
  /** Endpoints for this port; when absent the service-level `endpoints` are used. */
  endpoints?: ServiceEndpoint[];
}

export interface ServiceView {
  namespace: string;
  name: string;
  clusterIP: string;
  ports: ServicePort[];
  endpoints?: ServiceEndpoint[];
}

/** One assigned IP of an EgressIP (status.items[] joined with the node's address). */
export interface EgressIPHolder {
  ip: string;
  node: string;
  nodeIP: string;
  /** Interface on the holding node; when absent the compiler picks the interface whose network
   *  contains the IP by longest prefix, else the primary interface. */
  interface?: string;
}

export interface EgressIPView {
  name: string;
  /** Assigned IPs only (unassigned spec IPs are left out). Empty = no holder: pods use their node IP. */
  ips: EgressIPHolder[];
  /** IPs of all pods (any node) this EgressIP serves. A pod listed under several EgressIPs is
   *  served by the first in NodeView.egressIPs order (the agent orders them oldest first). */
  podIPs: string[];
}

export type ProjectEgressState =
  | { kind: "normal"; egressIP: string; node: string; nodeIP: string; interface?: string }
  | { kind: "dropped" };

/** openshift-sdn static per-project egress IP (MISSION §8) for one namespace. */
export interface ProjectEgressView {
  namespace: string;
  /** IPs of all pods of the namespace, on any node. */
  podIPs: string[];
  state: ProjectEgressState;
}

export interface NodeView {
  node: LocalNode;
  /** All nodes of the cluster, this one included. */
  nodes: NodeRef[];
  clusterCIDRs: string[];
  serviceCIDR: string;
  localPods: LocalPod[];
  services: ServiceView[];
  egressIPs: EgressIPView[];
  projectEgress: ProjectEgressView[];
}

/** `ip route` entry. All routes the program emits carry protocol ROUTE_PROTO. */
export interface RouteSpec {
  /** "main" or a numeric table id. */
  table: "main" | number;
  /** CIDR or "default". */
  dst: string;
  via?: string;
  /** Output interface; absent only for `type: "unreachable"`. */
  dev?: string;
  /** Absent = a unicast route. "unreachable": lookups matching it fail with EHOSTUNREACH (ICMP host
   *  unreachable for forwarded packets) instead of going on to the next rule. */
  type?: "unreachable";
}

/** `ip rule fwmark <mark>/<mask> lookup <table> priority <priority> protocol ROUTE_PROTO`. */
export interface RuleSpec {
  priority: number;
  fwmark: number;
  fwmask: number;
  table: number;
}

/** An extra address (an egress IP) on an underlay interface, always /32, label `<dev>:eg`. */
export interface AddressSpec {
  dev: string;
  /** e.g. "192.168.126.10/32" */
  address: string;
  label: string;
  /** Valid and preferred lifetime in seconds when added (a lease the agent renews); permanent when
   *  absent. Not part of the identity: the diff compares dev and address only. */
  lifetimeS?: number;
}

export interface SysctlSpec {
  key: string;
  value: string;
}

export interface IpProgram {
  routes: RouteSpec[];
  rules: RuleSpec[];
  addresses: AddressSpec[];
}

/** A problem with one input item that the compiler skipped (the rest of the program stands). */
export interface CompileWarning {
  field: string;
  value: unknown;
  detail: string;
}

export interface NodeProgram {
  /** nft family and table name the script owns. */
  table: { family: "inet"; name: string };
  /** Whole-table script for `nft -f -`: create-if-absent, delete, full definition (one transaction). */
  nft: string;
  ip: IpProgram;
  /** Sysctls of the node's network namespace (never the root namespace). */
  sysctls: SysctlSpec[];
  warnings: CompileWarning[];
  /** Sizes, for logs and benchmarks. */
  stats: {
    egressPods: number;
    snatEntries: number;
    droppedPods: number;
    serviceKeys: number;
    remoteHolders: number;
  };
}
