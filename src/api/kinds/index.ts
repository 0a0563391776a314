// Every resource kind the system serves, and lookups over them (by URL resource, by
// apiVersion+kind honouring legacy aliases, by short name). The static TypeScript types of the kinds
// are re-exported here for controllers. Pure: no I/O.
import { parseApiVersion, type ResourceType } from "../resource.js";
import { ipPoolType, networkAttachmentDefinitionType, overlappingRangeIPReservationType } from "./cni.js";
import {
  configMapType,
  endpointsType,
  eventType,
  namespaceType,
  nodeType,
  replicationControllerType,
  secretType,
  serviceAccountType,
  serviceType,
} from "./core.js";
import { bgpAdvertisementType, bgpPeerType, ipAddressPoolType, l2AdvertisementType } from "./metallb.js";
import { ingressType, leaseType, networkPolicyType } from "./networking.js";
import {
  cloudPrivateIPConfigType,
  clusterNetworkType,
  egressNetworkPolicyType,
  hostSubnetType,
  netNamespaceType,
  routeType,
} from "./openshift.js";
import { egressFirewallType, egressIPType, egressServiceType } from "./ovn.js";
import { podType } from "./pod.js";

export const resourceTypes: readonly ResourceType[] = Object.freeze([
  namespaceType,
  podType,
  nodeType,
  serviceType,
  endpointsType,
  configMapType,
  secretType,
  serviceAccountType,
  replicationControllerType,
  eventType,
  leaseType,
  networkPolicyType,
  ingressType,
  egressIPType,
  egressServiceType,
  egressFirewallType,
  netNamespaceType,
  hostSubnetType,
  clusterNetworkType,
  egressNetworkPolicyType,
  networkAttachmentDefinitionType,
  ipPoolType,
  overlappingRangeIPReservationType,
  ipAddressPoolType,
  bgpAdvertisementType,
  l2AdvertisementType,
  bgpPeerType,
  cloudPrivateIPConfigType,
  routeType,
]);

/** Every group/version a kind is served at: its own first, then its aliases. */
export function servedVersions(rt: ResourceType): { group: string; version: string }[] {
  return [{ group: rt.group, version: rt.version }, ...rt.aliases];
}

const byGVR = new Map<string, ResourceType>();
const byGVK = new Map<string, ResourceType>();
const byShortName = new Map<string, ResourceType>();
for (const rt of resourceTypes) {
  for (const gv of servedVersions(rt)) {
    byGVR.set(`${gv.group}/${gv.version}/${rt.plural}`, rt);
    byGVK.set(`${gv.group}/${gv.version}/${rt.kind}`, rt);
  }
  for (const s of rt.shortNames) byShortName.set(s, rt);
}

/** The kind served at /api(s)/<group>/<version>/<plural> (aliases included). */
export function findByGroupVersionResource(
  group: string,
  version: string,
  plural: string,
): ResourceType | undefined {
  return byGVR.get(`${group}/${version}/${plural}`);
}

/** The kind for an object's apiVersion and kind ("v1"+"EgressNetworkPolicy" finds the legacy alias). */
export function findByKind(apiVersion: string, kind: string): ResourceType | undefined {
  const { group, version } = parseApiVersion(apiVersion);
  return byGVK.get(`${group}/${version}/${kind}`);
}

export function findByShortName(shortName: string): ResourceType | undefined {
  return byShortName.get(shortName.toLowerCase());
}

/** What `kubectl get <name>` resolves: plural, singular, short name or kind, optionally qualified
 *  with a group ("egressips.k8s.ovn.org", "eip"). Case-insensitive; core/builtin kinds win ties. */
export function findByResourceName(name: string): ResourceType | undefined {
  const lower = name.toLowerCase();
  const dot = lower.indexOf(".");
  const base = dot < 0 ? lower : lower.slice(0, dot);
  const group = dot < 0 ? undefined : lower.slice(dot + 1);
  const matches = resourceTypes.filter(
    (rt) =>
      (group === undefined || rt.group === group) &&
      (rt.plural === base ||
        rt.singular === base ||
        rt.kind.toLowerCase() === base ||
        rt.shortNames.includes(base)),
  );
  return matches[0];
}

/** Kinds in a category ("all"). */
export function findByCategory(category: string): ResourceType[] {
  return resourceTypes.filter((rt) => rt.categories.includes(category));
}

export type {
  IPAllocation,
  IPPool,
  NetworkAttachmentDefinition,
  OverlappingRangeIPReservation,
} from "./cni.js";
export type {
  Condition,
  LabelSelector,
  ObjectMeta as ObjectMetaType,
} from "./common.js";
export type {
  ConfigMap,
  Endpoints,
  Event,
  Namespace,
  Node,
  ReplicationController,
  Secret,
  Service,
  ServiceAccount,
  ServicePort,
} from "./core.js";
export type { BGPAdvertisement, BGPPeer, IPAddressPool, L2Advertisement } from "./metallb.js";
export { bgpAdvertisementNodeSelectors, poolAddressError } from "./metallb.js";
export type { Ingress, Lease, NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort } from "./networking.js";
export { formatLabelSelector } from "./networking.js";
export type {
  CloudPrivateIPConfig,
  ClusterNetwork,
  EgressNetworkPolicy,
  EgressNetworkPolicyRule,
  HostSubnet,
  NetNamespace,
  Route,
} from "./openshift.js";
export {
  ASSIGN_HOST_SUBNET_ANNOTATION,
  cloudPrivateIPConfigName,
  EGRESS_NETWORK_POLICY_MAX_RULES,
  HSTS_ANNOTATION,
  HSTS_REGEX,
  MAX_VNID,
} from "./openshift.js";
export type {
  EgressFirewall,
  EgressFirewallRule,
  EgressIP,
  EgressIPStatusItem,
  EgressService,
} from "./ovn.js";
export { EGRESS_FIREWALL_MAX_RULES } from "./ovn.js";
export type { Container, EnvVar, Pod, PodSpec } from "./pod.js";
export { podStatusText } from "./pod.js";
export {
  bgpAdvertisementType,
  bgpPeerType,
  cloudPrivateIPConfigType,
  clusterNetworkType,
  configMapType,
  egressFirewallType,
  egressIPType,
  egressNetworkPolicyType,
  egressServiceType,
  endpointsType,
  eventType,
  hostSubnetType,
  ingressType,
  ipAddressPoolType,
  ipPoolType,
  l2AdvertisementType,
  leaseType,
  namespaceType,
  netNamespaceType,
  networkAttachmentDefinitionType,
  networkPolicyType,
  nodeType,
  overlappingRangeIPReservationType,
  podType,
  replicationControllerType,
  routeType,
  secretType,
  serviceAccountType,
  serviceType,
};
