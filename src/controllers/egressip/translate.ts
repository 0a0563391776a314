// Translation between API objects and the EgressIP assigner's plain data: Node → EgressNode,
// EgressIP → EgressIPObject, the node's health endpoint for the reachability prober, and how to
// read a CloudPrivateIPConfig's status (confirmed / refused / pending). Pure: no I/O, no clock;
// it must not decide anything the assigner decides.
import { isRecord, type KubeObject } from "../../api/object.js";
import type { EgressIPObject, EgressIPStatusItem } from "./assign.js";
import {
  CLOUD_EGRESS_IPCONFIG_ANNOTATION,
  type CloudEgressIPConfig,
  CONTROL_PLANE_LABELS,
  EGRESS_ASSIGNABLE_LABEL,
  type EgressNode,
  HOST_CIDRS_ANNOTATION,
  NodeAnnotationError,
  PRIMARY_IFADDR_ANNOTATION,
  parseNodeEgressAnnotations,
} from "./node.js";

/** Full URL (http://host:port/path) that overrides the derived health endpoint of a node. */
export const HEALTH_ENDPOINT_ANNOTATION = "egress.openshift.io/health-endpoint";
/** On a CloudPrivateIPConfig: the EgressIP it was created for (upstream's owner annotation). */
export const EGRESSIP_OWNER_ANNOTATION = "k8s.ovn.org/egressip-owner-ref";
/** CloudPrivateIPConfig condition type and reasons (cloud-network-config-controller). */
export const CLOUD_ASSIGNED_CONDITION = "Assigned";
export const CLOUD_RESPONSE_SUCCESS = "CloudResponseSuccess";
export const CLOUD_RESPONSE_ERROR = "CloudResponseError";

const strMap = (v: unknown): Record<string, string> => {
  if (!isRecord(v)) return {};
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) if (typeof x === "string") out[k] = x;
  return out;
};
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const status = (o: KubeObject): Record<string, unknown> => (isRecord(o.status) ? o.status : {});
const spec = (o: KubeObject): Record<string, unknown> => (isRecord(o.spec) ? o.spec : {});

/** Ready condition with status "True". A node without conditions is not Ready. */
export function isNodeReady(node: KubeObject): boolean {
  return list(status(node).conditions).some((c) => isRecord(c) && c.type === "Ready" && c.status === "True");
}

/** status.addresses[].address, every type (InternalIP, ExternalIP, Hostname …). */
export function nodeAddresses(node: KubeObject): string[] {
  const out: string[] = [];
  for (const a of list(status(node).addresses))
    if (isRecord(a) && typeof a.address === "string") out.push(a.address);
  return out;
}

export const isEgressAssignable = (node: KubeObject): boolean =>
  Object.hasOwn(node.metadata.labels ?? {}, EGRESS_ASSIGNABLE_LABEL);

/** Where the node agent answers `GET /healthz`: the override annotation when set, otherwise
 *  `http://<first InternalIP>:<status.daemonEndpoints.kubeletEndpoint.Port>/healthz`. Undefined
 *  when the node publishes neither (it can then never pass the health check). */
export function healthEndpointOf(node: KubeObject): string | undefined {
  const override = node.metadata.annotations?.[HEALTH_ENDPOINT_ANNOTATION];
  if (override !== undefined && override !== "") return override;
  const addr = list(status(node).addresses).find(
    (a): a is Record<string, unknown> =>
      isRecord(a) && a.type === "InternalIP" && typeof a.address === "string",
  );
  const de = status(node).daemonEndpoints;
  const ke = isRecord(de) ? de.kubeletEndpoint : undefined;
  const port = isRecord(ke) ? ke.Port : undefined;
  if (!addr || typeof port !== "number" || !Number.isInteger(port) || port <= 0 || port > 65535)
    return undefined;
  const host = String(addr.address);
  return `http://${host.includes(":") ? `[${host}]` : host}:${port}/healthz`;
}

export interface TranslatedNode {
  node: EgressNode;
  /** Malformed egress annotation: the node is kept (its addresses still count for conflicts) but
   *  its egress-assignable label is dropped, so it gets nothing. */
  error?: NodeAnnotationError;
}

/** Node → EgressNode. `reachable` comes from the prober (always true when probing is off). */
export function toEgressNode(obj: KubeObject, reachable: boolean): TranslatedNode {
  const name = obj.metadata.name ?? "";
  const labels = strMap(obj.metadata.labels);
  const node: EgressNode = {
    name,
    labels,
    ready: isNodeReady(obj),
    reachable,
    addresses: nodeAddresses(obj),
  };
  try {
    const a = parseNodeEgressAnnotations(name, strMap(obj.metadata.annotations));
    if (a.primaryIfAddr) node.primaryIfAddr = a.primaryIfAddr;
    if (a.hostCIDRs) node.hostCIDRs = a.hostCIDRs;
    if (a.cloudConfig) node.cloudConfig = a.cloudConfig;
    return { node };
  } catch (e) {
    if (!(e instanceof NodeAnnotationError)) throw e;
    const { [EGRESS_ASSIGNABLE_LABEL]: _dropped, ...rest } = labels;
    return { node: { ...node, labels: rest }, error: e };
  }
}

/** The parts of a Node the EgressIP decision depends on; a Node update that leaves this unchanged
 *  (heartbeats, images, capacity) does not trigger a recomputation. */
export function egressFingerprint(obj: KubeObject): string {
  const ann = obj.metadata.annotations ?? {};
  const labels = obj.metadata.labels ?? {};
  // Only the labels the decision reads: other controllers label nodes too (EgressService hosts),
  // and each such write would otherwise start a recomputation for 5,000 nodes.
  return JSON.stringify([
    [EGRESS_ASSIGNABLE_LABEL, ...CONTROL_PLANE_LABELS].map((l) => Object.hasOwn(labels, l)),
    isNodeReady(obj),
    nodeAddresses(obj),
    ann[PRIMARY_IFADDR_ANNOTATION],
    ann[HOST_CIDRS_ANNOTATION],
    ann[CLOUD_EGRESS_IPCONFIG_ANNOTATION],
    healthEndpointOf(obj),
  ]);
}

export function statusItemsOf(obj: KubeObject): EgressIPStatusItem[] {
  const out: EgressIPStatusItem[] = [];
  for (const it of list(status(obj).items))
    if (isRecord(it) && typeof it.node === "string" && typeof it.egressIP === "string")
      out.push({ node: it.node, egressIP: it.egressIP });
  return out;
}

/** EgressIP → EgressIPObject with the given current status (the stored one by default). */
export function toEgressIPObject(obj: KubeObject, current?: EgressIPStatusItem[]): EgressIPObject {
  const out: EgressIPObject = {
    name: obj.metadata.name ?? "",
    egressIPs: list(spec(obj).egressIPs).filter((x): x is string => typeof x === "string"),
    status: current ?? statusItemsOf(obj),
  };
  if (obj.metadata.creationTimestamp) out.creationTimestamp = obj.metadata.creationTimestamp;
  return out;
}

export const itemKey = (it: EgressIPStatusItem): string => `${it.egressIP}\u0000${it.node}`;

/** Same items regardless of order. */
export function sameItems(a: EgressIPStatusItem[], b: EgressIPStatusItem[]): boolean {
  if (a.length !== b.length) return false;
  const s = new Set(a.map(itemKey));
  return b.every((it) => s.has(itemKey(it)));
}

export type CloudState =
  | { state: "confirmed"; node: string }
  | { state: "refused"; node: string; reason: string; message: string }
  | { state: "pending"; node: string };

/** What the cloud provider has said about a CloudPrivateIPConfig's current spec. A condition whose
 *  observedGeneration is older than the object's generation speaks about a previous spec.node and
 *  counts as pending. */
export function cloudStateOf(cpic: KubeObject): CloudState {
  const node = typeof spec(cpic).node === "string" ? (spec(cpic).node as string) : "";
  const st = status(cpic);
  const cond = list(st.conditions).find(
    (c): c is Record<string, unknown> => isRecord(c) && c.type === CLOUD_ASSIGNED_CONDITION,
  );
  if (!cond) return { state: "pending", node };
  const gen = cpic.metadata.generation;
  if (typeof cond.observedGeneration === "number" && typeof gen === "number" && cond.observedGeneration < gen)
    return { state: "pending", node };
  if (cond.status === "True" && st.node === node && node !== "") return { state: "confirmed", node };
  if (cond.status === "False")
    return {
      state: "refused",
      node,
      reason: typeof cond.reason === "string" ? cond.reason : CLOUD_RESPONSE_ERROR,
      message: typeof cond.message === "string" ? cond.message : "",
    };
  return { state: "pending", node };
}

/** Capacity clamp after a cloud refusal: the node holds `limit` addresses and takes no more. */
export function clampCloudCapacity(n: EgressNode, limit: number): EgressNode {
  if (!n.cloudConfig) return n;
  const c = n.cloudConfig.capacity;
  const total = c.ip ?? (c.ipv4 ?? 0) + (c.ipv6 ?? 0);
  const cloudConfig: CloudEgressIPConfig = { ...n.cloudConfig, capacity: { ip: Math.min(total, limit) } };
  return { ...n, cloudConfig };
}
