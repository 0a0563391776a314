// Endpoints of a Service with a selector: the selected pods that have an IP, ready ones in
// `addresses`, the others in `notReadyAddresses`, ports resolved from each service port's
// targetPort (numbers, or container port names looked up per pod). Pods whose resolved ports
// differ end up in different subsets, as Kubernetes does. Output is canonical (sorted) so it can
// be compared with what is stored. Pure: no I/O.

export interface EpPod {
  namespace: string;
  name: string;
  uid?: string;
  labels: Record<string, string>;
  podIP?: string;
  nodeName?: string;
  ready: boolean;
  terminating: boolean;
  phase?: string;
  /** Container ports by name (for named targetPorts). */
  namedPorts: Record<string, { port: number; protocol: string }>;
}

export interface EpServicePort {
  name?: string;
  port: number;
  protocol?: string;
  targetPort?: number | string;
}

export interface EpService {
  selector?: Record<string, string>;
  ports: EpServicePort[];
  publishNotReadyAddresses?: boolean;
}

export interface EndpointAddress {
  ip: string;
  nodeName?: string;
  targetRef: { kind: "Pod"; namespace: string; name: string; uid?: string };
}
export interface EndpointPort {
  name?: string;
  port: number;
  protocol: string;
}
export interface EndpointSubset {
  addresses?: EndpointAddress[];
  notReadyAddresses?: EndpointAddress[];
  ports?: EndpointPort[];
}

export function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

function resolvePort(sp: EpServicePort, pod: EpPod): EndpointPort | undefined {
  const protocol = sp.protocol ?? "TCP";
  const tp = sp.targetPort ?? sp.port;
  let port: number | undefined;
  if (typeof tp === "number") port = tp;
  else if (/^\d+$/.test(tp)) port = Number(tp);
  else {
    const named = pod.namedPorts[tp];
    if (named && named.protocol === protocol) port = named.port;
  }
  if (port === undefined || port < 1 || port > 65535) return undefined;
  return { ...(sp.name ? { name: sp.name } : {}), port, protocol };
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export function endpointSubsets(svc: EpService, pods: EpPod[]): EndpointSubset[] {
  const selector = svc.selector ?? {};
  const groups = new Map<
    string,
    { ports: EndpointPort[]; ready: EndpointAddress[]; notReady: EndpointAddress[] }
  >();
  for (const pod of pods) {
    if (!pod.podIP || pod.terminating || pod.phase === "Succeeded" || pod.phase === "Failed") continue;
    if (!selects(selector, pod.labels)) continue;
    const ports = svc.ports
      .map((sp) => resolvePort(sp, pod))
      .filter((p): p is EndpointPort => p !== undefined)
      .sort((a, b) => cmp(a.name ?? "", b.name ?? "") || a.port - b.port || cmp(a.protocol, b.protocol));
    // A pod that resolves none of the service's ports serves nothing (a portless service keeps it).
    if (svc.ports.length > 0 && ports.length === 0) continue;
    const key = JSON.stringify(ports);
    const g = groups.get(key) ?? { ports, ready: [], notReady: [] };
    groups.set(key, g);
    const addr: EndpointAddress = {
      ip: pod.podIP,
      ...(pod.nodeName ? { nodeName: pod.nodeName } : {}),
      targetRef: {
        kind: "Pod",
        namespace: pod.namespace,
        name: pod.name,
        ...(pod.uid ? { uid: pod.uid } : {}),
      },
    };
    (pod.ready || svc.publishNotReadyAddresses ? g.ready : g.notReady).push(addr);
  }
  const byIP = (a: EndpointAddress, b: EndpointAddress) =>
    cmp(a.ip, b.ip) || cmp(a.targetRef.name, b.targetRef.name);
  return [...groups.entries()]
    .sort(([a], [b]) => cmp(a, b))
    .map(([, g]) => ({
      ...(g.ready.length ? { addresses: g.ready.sort(byIP) } : {}),
      ...(g.notReady.length ? { notReadyAddresses: g.notReady.sort(byIP) } : {}),
      ...(g.ports.length ? { ports: g.ports } : {}),
    }));
}

/** Stored subsets in the same canonical form (for comparison). */
export function canonicalSubsets(subsets: EndpointSubset[] | undefined): string {
  const norm = (a: EndpointAddress): EndpointAddress => ({
    ip: a.ip,
    ...(a.nodeName ? { nodeName: a.nodeName } : {}),
    targetRef: {
      kind: "Pod",
      namespace: a.targetRef?.namespace,
      name: a.targetRef?.name,
      ...(a.targetRef?.uid ? { uid: a.targetRef.uid } : {}),
    },
  });
  const byIP = (a: EndpointAddress, b: EndpointAddress) =>
    cmp(a.ip, b.ip) || cmp(a.targetRef.name, b.targetRef.name);
  const out = (subsets ?? [])
    .map((s) => {
      const ports = (s.ports ?? [])
        .map((p) => ({ ...(p.name ? { name: p.name } : {}), port: p.port, protocol: p.protocol ?? "TCP" }))
        .sort((a, b) => cmp(a.name ?? "", b.name ?? "") || a.port - b.port || cmp(a.protocol, b.protocol));
      const ready = (s.addresses ?? []).map(norm).sort(byIP);
      const notReady = (s.notReadyAddresses ?? []).map(norm).sort(byIP);
      return {
        key: JSON.stringify(ports),
        v: {
          ...(ready.length ? { addresses: ready } : {}),
          ...(notReady.length ? { notReadyAddresses: notReady } : {}),
          ...(ports.length ? { ports } : {}),
        },
      };
    })
    .filter((s) => s.v.addresses || s.v.notReadyAddresses)
    .sort((a, b) => cmp(a.key, b.key));
  return JSON.stringify(out.map((s) => s.v));
}
