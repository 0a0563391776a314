// The simulated cluster of cluster.bench.ts as plain API objects: nodes in a few /16 subnets (most
// egress-assignable, all Ready), namespaces (half of them selected by one EgressIP each), pods with
// nodeName and podIP, EgressIPs of 1–4 IPs inside the node subnets, LoadBalancer Services with
// their Endpoints and EgressServices, and one IPAddressPool big enough for all of them. Pure and
// deterministic (same sizes → same objects); no I/O. Must not decide anything the controllers
// decide (no status the controllers write is generated here).

export interface ClusterSize {
  nodes: number;
  namespaces: number;
  pods: number;
  egressIPs: number;
  egressServices: number;
}

export const FULL_SIZE: ClusterSize = {
  nodes: 5000,
  namespaces: 10_000,
  pods: 150_000,
  egressIPs: 1000,
  egressServices: 1000,
};

export function scaled(size: ClusterSize, factor: number): ClusterSize {
  const s = (n: number) => Math.max(1, Math.round(n * factor));
  return {
    nodes: Math.max(20, s(size.nodes)),
    namespaces: s(size.namespaces),
    pods: s(size.pods),
    egressIPs: s(size.egressIPs),
    egressServices: s(size.egressServices),
  };
}

export const ASSIGNABLE_LABEL = "k8s.ovn.org/egress-assignable";
export const WORKER_LABEL = "node-role.kubernetes.io/worker";
export const PRIMARY_IFADDR = "k8s.ovn.org/node-primary-ifaddr";
export const EGRESSIP_NS_LABEL = "bench.egress.io/egressip";
export const POOL_NAME = "bench-pool";
/** Node subnets: 10.<s>.0.0/16 for s < SUBNETS. */
export const SUBNETS = 4;

type Obj = Record<string, unknown> & {
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
};

const pad = (n: number, w: number) => String(n).padStart(w, "0");
export const nodeName = (i: number) => `node-${pad(i, 5)}`;
export const namespaceName = (i: number) => `ns-${pad(i, 5)}`;
export const podName = (j: number) => `pod-${pad(j, 6)}`;
export const egressIPName = (e: number) => `eip-${pad(e, 4)}`;
export const serviceName = (s: number) => `lb-${pad(s, 4)}`;

/** Nodes whose index ends in 9 (10 %) carry no egress-assignable label. */
export const isAssignable = (i: number) => i % 10 !== 9;

function ipv4(n: number): string {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}
const base = (a: number, b: number) => ((a << 24) | (b << 16)) >>> 0;

export function nodeIP(i: number): string {
  const s = i % SUBNETS;
  return ipv4(base(10, s) + 1 + Math.floor(i / SUBNETS));
}

export function node(i: number): Obj {
  const ip = nodeIP(i);
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name: nodeName(i),
      labels: {
        "kubernetes.io/hostname": nodeName(i),
        [WORKER_LABEL]: "",
        ...(isAssignable(i) ? { [ASSIGNABLE_LABEL]: "" } : {}),
      },
      annotations: { [PRIMARY_IFADDR]: JSON.stringify({ ipv4: `${ip}/16` }) },
    },
    // No lastHeartbeatTime: the node lifecycle controller would otherwise mark every simulated
    // node Unknown after its grace period (no kubelet posts heartbeats here).
    status: {
      conditions: [{ type: "Ready", status: "True", reason: "KubeletReady" }],
      addresses: [
        { type: "InternalIP", address: ip },
        { type: "Hostname", address: nodeName(i) },
      ],
    },
  };
}

export function readyStatusPatch(ready: boolean): Record<string, unknown> {
  return {
    status: {
      conditions: [
        {
          type: "Ready",
          status: ready ? "True" : "False",
          reason: ready ? "KubeletReady" : "KubeletNotReady",
        },
      ],
    },
  };
}

/** Even namespaces are selected by EgressIP (i/2) mod egressIPs; odd ones by none. */
export function egressIPOfNamespace(i: number, size: ClusterSize): number | undefined {
  return i % 2 === 0 ? Math.floor(i / 2) % size.egressIPs : undefined;
}

export function namespace(i: number, size: ClusterSize): Obj {
  const e = egressIPOfNamespace(i, size);
  return {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: {
      name: namespaceName(i),
      labels: {
        "kubernetes.io/metadata.name": namespaceName(i),
        ...(e !== undefined ? { [EGRESSIP_NS_LABEL]: egressIPName(e) } : {}),
      },
    },
  };
}

export const podNamespaceIndex = (j: number, size: ClusterSize) => j % size.namespaces;
export const podNodeIndex = (j: number, size: ClusterSize) => (j * 7919) % size.nodes;
/** Pod IPs from 10.128.0.0/9, by index (the bench does not need them inside HostSubnets). */
export const podIP = (j: number) => ipv4(base(10, 128) + 2 + j);
export const podApp = (j: number, size: ClusterSize) => `web-${Math.floor(j / size.namespaces) % 3}`;

/** Pod without status (create drops it: Pod has a status subresource). */
export function pod(j: number, size: ClusterSize, name = podName(j)): Obj {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name,
      namespace: namespaceName(podNamespaceIndex(j, size)),
      labels: { app: podApp(j, size) },
    },
    spec: {
      nodeName: nodeName(podNodeIndex(j, size)),
      containers: [
        {
          name: "app",
          image: "registry.example/app:1",
          ports: [{ name: "http", containerPort: 8080, protocol: "TCP" }],
        },
      ],
    },
  };
}

export function podStatus(j: number): Record<string, unknown> {
  const ip = podIP(j);
  return {
    status: {
      phase: "Running",
      podIP: ip,
      podIPs: [{ ip }],
      conditions: [{ type: "Ready", status: "True" }],
    },
  };
}

/** The k-th egress IP overall (k = 0…): inside node subnet k mod SUBNETS, above the node IPs. */
export function egressIPAddress(k: number): string {
  const s = k % SUBNETS;
  return ipv4(base(10, s) + (200 << 8) + Math.floor(k / SUBNETS));
}

/** EgressIP e has 1 + (e mod 4) IPs; returns them with the running IP index. */
export function egressIPs(size: ClusterSize): { name: string; ips: string[] }[] {
  const out: { name: string; ips: string[] }[] = [];
  let k = 0;
  for (let e = 0; e < size.egressIPs; e++) {
    const ips: string[] = [];
    for (let j = 0; j < 1 + (e % 4); j++) ips.push(egressIPAddress(k++));
    out.push({ name: egressIPName(e), ips });
  }
  return out;
}

export function egressIP(name: string, ips: string[]): Obj {
  return {
    apiVersion: "k8s.ovn.org/v1",
    kind: "EgressIP",
    metadata: { name },
    spec: { egressIPs: ips, namespaceSelector: { matchLabels: { [EGRESSIP_NS_LABEL]: name } } },
  };
}

/** Service s lives in namespace s * (namespaces / egressServices) and selects app=web-0 there. */
export function serviceNamespaceIndex(s: number, size: ClusterSize): number {
  return Math.floor((s * size.namespaces) / size.egressServices) % size.namespaces;
}
export const localPolicy = (s: number) => s % 4 === 0;

export function service(s: number, size: ClusterSize): Obj {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: serviceName(s), namespace: namespaceName(serviceNamespaceIndex(s, size)) },
    spec: {
      type: "LoadBalancer",
      selector: { app: "web-0" },
      externalTrafficPolicy: localPolicy(s) ? "Local" : "Cluster",
      ports: [{ name: "http", protocol: "TCP", port: 80, targetPort: 8080 }],
    },
  };
}

/** The pods of the initial load that a service's selector matches. */
export function servicePods(s: number, size: ClusterSize): number[] {
  const ns = serviceNamespaceIndex(s, size);
  const out: number[] = [];
  for (let j = ns; j < size.pods; j += size.namespaces) if (podApp(j, size) === "web-0") out.push(j);
  return out;
}

/** Endpoints as the endpoints controller would write them (so it finds nothing to change). */
export function endpoints(s: number, size: ClusterSize, uidOf: (j: number) => string | undefined): Obj {
  const ns = namespaceName(serviceNamespaceIndex(s, size));
  const addrs = servicePods(s, size)
    .map((j) => {
      const uid = uidOf(j);
      return {
        ip: podIP(j),
        nodeName: nodeName(podNodeIndex(j, size)),
        targetRef: { kind: "Pod", namespace: ns, name: podName(j), ...(uid ? { uid } : {}) },
      };
    })
    .sort((a, b) => (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0));
  return {
    apiVersion: "v1",
    kind: "Endpoints",
    metadata: { name: serviceName(s), namespace: ns },
    subsets:
      addrs.length > 0 ? [{ addresses: addrs, ports: [{ name: "http", port: 8080, protocol: "TCP" }] }] : [],
  };
}

export function egressService(s: number, size: ClusterSize): Obj {
  return {
    apiVersion: "k8s.ovn.org/v1",
    kind: "EgressService",
    metadata: { name: serviceName(s), namespace: namespaceName(serviceNamespaceIndex(s, size)) },
    spec: {
      sourceIPBy: "LoadBalancerIP",
      ...(s % 2 === 1 ? { nodeSelector: { matchLabels: { [WORKER_LABEL]: "" } } } : {}),
    },
  };
}

/** 10.250.0.0/16: 65,536 addresses, far more than the services need. */
export function addressPool(): Obj {
  return {
    apiVersion: "metallb.io/v1beta1",
    kind: "IPAddressPool",
    metadata: { name: POOL_NAME, namespace: "metallb-system" },
    spec: { addresses: ["10.250.0.0/16"], autoAssign: true },
  };
}
