// Translates API objects (Node, EgressService, Service, Endpoints) into the plain inputs of
// electEgressServiceHosts, and reads back what the controller compares against (status.host).
// Pure: no I/O; the controller hands in objects from its informer caches.
import type { Endpoints, Node, Service } from "../../api/kinds/index.js";
import type { KubeObject } from "../../api/object.js";
import { isRecord } from "../../api/object.js";
import type { LabelSelector } from "../../api/selector.js";
import type { EgressServiceInput, ESNode } from "./elect.js";

/** Ready condition status is "True" (kubelet's heartbeat; NotReady and Unknown are not Ready). */
export function nodeReady(node: KubeObject): boolean {
  const conds = (node as unknown as Node).status?.conditions ?? [];
  return conds.some((c) => c.type === "Ready" && c.status === "True");
}

export function toESNode(node: KubeObject, reachable: boolean): ESNode {
  return {
    name: node.metadata.name ?? "",
    labels: node.metadata.labels ?? {},
    ready: nodeReady(node),
    reachable,
  };
}

/** Nodes running at least one ready endpoint address (subsets[].addresses[].nodeName; not-ready
 *  addresses do not count). An address without nodeName still means "the Service has endpoints":
 *  it is reported as the node name "", which no Node can carry, so externalTrafficPolicy Local never
 *  elects on its account while Cluster sees that endpoints exist. */
export function endpointNodes(ep: KubeObject | undefined): string[] {
  if (!ep) return [];
  const out = new Set<string>();
  for (const ss of (ep as unknown as Endpoints).subsets ?? []) {
    for (const a of ss.addresses ?? []) out.add(a.nodeName ?? "");
  }
  return [...out].sort();
}

/** status.loadBalancer.ingress[].ip of a Service (hostname-only entries skipped). */
export function ingressIPs(svc: KubeObject): string[] {
  const ing = (svc as unknown as Service).status?.loadBalancer?.ingress ?? [];
  return ing.map((i) => i.ip ?? "").filter((ip) => ip !== "");
}

/** status.host of an EgressService ("" when absent). */
export function currentHost(es: KubeObject): string {
  const st = es.status;
  return isRecord(st) && typeof st.host === "string" ? st.host : "";
}

export function toEgressServiceInput(
  es: KubeObject,
  svc: KubeObject | undefined,
  ep: KubeObject | undefined,
): EgressServiceInput {
  const spec = isRecord(es.spec) ? es.spec : {};
  const input: EgressServiceInput = {
    namespace: es.metadata.namespace ?? "",
    name: es.metadata.name ?? "",
    // Upstream's CRD defaults sourceIPBy to LoadBalancerIP.
    sourceIPBy: spec.sourceIPBy === "Network" ? "Network" : "LoadBalancerIP",
    currentHost: currentHost(es),
    endpointNodes: endpointNodes(ep),
  };
  if (isRecord(spec.nodeSelector)) input.nodeSelector = spec.nodeSelector as LabelSelector;
  if (svc) {
    const s = (svc as unknown as Service).spec;
    input.service = {
      type: s.type ?? "ClusterIP",
      ingressIPs: ingressIPs(svc),
      ...(s.externalTrafficPolicy === "Local" || s.externalTrafficPolicy === "Cluster"
        ? { externalTrafficPolicy: s.externalTrafficPolicy }
        : {}),
    };
  }
  return input;
}

/**
 * What the election reads of a Service (type, ingress IPs, externalTrafficPolicy), as a string:
 * a Service write that keeps it (labels, annotations, ports, status of other kinds) cannot change a
 * decision, so the controller does not re-elect for it. `undefined` for an absent Service.
 */
export function serviceElectionPrint(svc: KubeObject | undefined): string | undefined {
  if (!svc) return undefined;
  const s = (svc as unknown as Service).spec;
  return JSON.stringify([s?.type ?? "ClusterIP", ingressIPs(svc), s?.externalTrafficPolicy ?? ""]);
}

/**
 * What the election reads of an Endpoints object, as a string. With externalTrafficPolicy Local the
 * set of nodes running a ready endpoint decides (the host must be one of them); otherwise only
 * whether there is any ready endpoint. Pod churn rewrites Endpoints all the time (new IPs, pods
 * moving between the same nodes); a write that keeps this string cannot change any decision.
 */
export function endpointsElectionPrint(ep: KubeObject | undefined, local: boolean): string {
  const nodes = endpointNodes(ep);
  // Node names are DNS labels: neither "+" nor "-" can be one, so the three forms never collide.
  if (!local) return nodes.length > 0 ? "+" : "-";
  return nodes.length > 0 ? nodes.join("\n") : "-";
}

/** Whether a Service has externalTrafficPolicy Local (absent Service: no). */
export function isLocalPolicy(svc: KubeObject | undefined): boolean {
  return (svc as unknown as Service | undefined)?.spec?.externalTrafficPolicy === "Local";
}
