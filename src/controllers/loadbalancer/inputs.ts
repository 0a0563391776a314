// Translates Services and IPAddressPools into the plain inputs of allocateLoadBalancerIPs, and
// Service status the controller compares against. Pure: no I/O.
import type { IPAddressPool, Service } from "../../api/kinds/index.js";
import type { KubeObject } from "../../api/object.js";
import {
  ADDRESS_POOL_ANNOTATION,
  type AddressPool,
  type LBService,
  LOAD_BALANCER_IPS_ANNOTATION,
} from "./allocate.js";

export const METALLB_NAMESPACE = "metallb-system";

export function toAddressPool(obj: KubeObject): AddressPool {
  const spec = (obj as unknown as IPAddressPool).spec;
  return {
    name: obj.metadata.name ?? "",
    addresses: spec?.addresses ?? [],
    ...(spec?.autoAssign !== undefined ? { autoAssign: spec.autoAssign } : {}),
    ...(spec?.avoidBuggyIPs !== undefined ? { avoidBuggyIPs: spec.avoidBuggyIPs } : {}),
  };
}

/** status.loadBalancer.ingress[].ip (hostname-only entries skipped). */
export function ingressIPs(svc: KubeObject): string[] {
  const ing = (svc as unknown as Service).status?.loadBalancer?.ingress ?? [];
  return ing.map((i) => i.ip ?? "").filter((ip) => ip !== "");
}

/** A Service with spec.loadBalancerClass belongs to another load-balancer implementation (as in
 *  MetalLB without a class of its own): neither allocated nor cleared, its addresses not counted. */
export function isForeign(svc: KubeObject): boolean {
  const cls = (svc as unknown as Service).spec?.loadBalancerClass;
  return cls !== undefined && cls !== "";
}

/** Whether the allocator must see the Service: LoadBalancers, and others that still carry ingress
 *  IPs (to be cleared after a type change). */
export function concernsAllocator(svc: KubeObject): boolean {
  if (isForeign(svc)) return false;
  return (svc as unknown as Service).spec?.type === "LoadBalancer" || ingressIPs(svc).length > 0;
}

export function toLBService(svc: KubeObject): LBService {
  const spec = (svc as unknown as Service).spec;
  const ann = svc.metadata.annotations ?? {};
  const requested: string[] = [];
  if (spec?.loadBalancerIP) requested.push(spec.loadBalancerIP.trim());
  for (const ip of (ann[LOAD_BALANCER_IPS_ANNOTATION] ?? "").split(",")) {
    const t = ip.trim();
    if (t !== "" && !requested.includes(t)) requested.push(t);
  }
  const fams = (spec?.ipFamilies ?? []).filter((f): f is "IPv4" | "IPv6" => f === "IPv4" || f === "IPv6");
  const out: LBService = {
    namespace: svc.metadata.namespace ?? "",
    name: svc.metadata.name ?? "",
    type: spec?.type ?? "ClusterIP",
    currentIPs: ingressIPs(svc),
  };
  if (svc.metadata.creationTimestamp) out.creationTimestamp = svc.metadata.creationTimestamp;
  if (fams.length > 0) out.ipFamilies = fams;
  if (requested.length > 0) out.requestedIPs = requested;
  const pool = ann[ADDRESS_POOL_ANNOTATION];
  if (pool !== undefined && pool !== "") out.pool = pool;
  return out;
}

/** Whether the informer should wake the allocator: everything the allocation reads. */
export function serviceFingerprint(svc: KubeObject): string {
  const s = toLBService(svc);
  return JSON.stringify([s.type, s.requestedIPs, s.pool, s.ipFamilies, s.currentIPs, isForeign(svc)]);
}
