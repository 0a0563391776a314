// Test fixtures only: small JSON Schemas carrying the same patch metadata as the Kubernetes Go types
// (patchStrategy/patchMergeKey struct tags in k8s.io/api), for the strategic merge patch tests. Not
// imported by production code.

import type { JSONSchemaObject } from "./schema.js";

const str: JSONSchemaObject = { type: "string" };
const int: JSONSchemaObject = { type: "integer" };
const bool: JSONSchemaObject = { type: "boolean" };
const stringMap: JSONSchemaObject = { type: "object", additionalProperties: str };
const atomicStrings: JSONSchemaObject = { type: "array", items: str };

function obj(
  properties: Record<string, JSONSchemaObject>,
  extra: Partial<JSONSchemaObject> = {},
): JSONSchemaObject {
  return { type: "object", properties, ...extra };
}

function mergeList(mergeKey: string, items: JSONSchemaObject, strategy = "merge"): JSONSchemaObject {
  return {
    type: "array",
    items,
    "x-kubernetes-patch-strategy": strategy,
    "x-kubernetes-patch-merge-key": mergeKey,
  };
}

const condition = obj({
  type: str,
  status: str,
  reason: str,
  message: str,
  lastTransitionTime: str,
  lastHeartbeatTime: str,
  lastProbeTime: str,
});

export const objectMeta = obj({
  name: str,
  namespace: str,
  uid: str,
  resourceVersion: str,
  labels: stringMap,
  annotations: stringMap,
  // ObjectMeta.Finalizers: `patchStrategy:"merge"`, a list of strings.
  finalizers: { type: "array", items: str, "x-kubernetes-patch-strategy": "merge" },
  // ObjectMeta.OwnerReferences: `patchStrategy:"merge" patchMergeKey:"uid"`.
  ownerReferences: mergeList(
    "uid",
    obj({ apiVersion: str, kind: str, name: str, uid: str, controller: bool, blockOwnerDeletion: bool }),
  ),
});

const envVar = obj({
  name: str,
  value: str,
  valueFrom: obj({
    configMapKeyRef: obj({ name: str, key: str }),
    secretKeyRef: obj({ name: str, key: str }),
    fieldRef: obj({ fieldPath: str }),
  }),
});

export const container = obj({
  name: str,
  image: str,
  imagePullPolicy: str,
  command: atomicStrings,
  args: atomicStrings,
  // Container.Ports: `patchStrategy:"merge" patchMergeKey:"containerPort"`.
  ports: mergeList("containerPort", obj({ name: str, containerPort: int, protocol: str })),
  // Container.Env: `patchStrategy:"merge" patchMergeKey:"name"`.
  env: mergeList("name", envVar),
  resources: obj({ limits: stringMap, requests: stringMap }),
  // Container.VolumeMounts: `patchStrategy:"merge" patchMergeKey:"mountPath"`.
  volumeMounts: mergeList("mountPath", obj({ name: str, mountPath: str, readOnly: bool })),
  terminationMessagePath: str,
});

const volume = obj({
  name: str,
  hostPath: obj({ path: str, type: str }),
  emptyDir: obj({ medium: str, sizeLimit: str }),
  configMap: obj({ name: str }),
});

export const podSpec = obj({
  containers: mergeList("name", container),
  initContainers: mergeList("name", container),
  // PodSpec.Volumes: `patchStrategy:"merge,retainKeys" patchMergeKey:"name"`.
  volumes: mergeList("name", volume, "merge,retainKeys"),
  // PodSpec.Tolerations has no patch strategy: atomic.
  tolerations: {
    type: "array",
    items: obj({ key: str, operator: str, value: str, effect: str, tolerationSeconds: int }),
  },
  imagePullSecrets: mergeList("name", obj({ name: str })),
  nodeSelector: stringMap,
  restartPolicy: str,
  dnsPolicy: str,
  serviceAccountName: str,
});

export const podSchema = obj({
  apiVersion: str,
  kind: str,
  metadata: objectMeta,
  spec: podSpec,
  status: obj({
    phase: str,
    // PodStatus.Conditions: `patchStrategy:"merge" patchMergeKey:"type"`.
    conditions: mergeList("type", condition),
    // PodStatus.PodIPs: `patchStrategy:"merge" patchMergeKey:"ip"`.
    podIPs: mergeList("ip", obj({ ip: str })),
    podIP: str,
    containerStatuses: { type: "array", items: obj({ name: str, ready: bool, restartCount: int }) },
  }),
});

export const serviceSchema = obj({
  apiVersion: str,
  kind: str,
  metadata: objectMeta,
  spec: obj({
    type: str,
    selector: stringMap,
    clusterIP: str,
    externalIPs: atomicStrings,
    // ServiceSpec.Ports: `patchStrategy:"merge" patchMergeKey:"port"`.
    ports: mergeList("port", obj({ name: str, protocol: str, port: int, targetPort: {}, nodePort: int })),
  }),
});

export const nodeSchema = obj({
  apiVersion: str,
  kind: str,
  metadata: objectMeta,
  spec: obj({
    podCIDR: str,
    taints: { type: "array", items: obj({ key: str, value: str, effect: str }) },
  }),
  status: obj({
    // NodeStatus.Addresses and Conditions: `patchStrategy:"merge" patchMergeKey:"type"`.
    addresses: mergeList("type", obj({ type: str, address: str })),
    conditions: mergeList("type", condition),
    capacity: stringMap,
    allocatable: stringMap,
  }),
});

export const deploymentSchema = obj({
  apiVersion: str,
  kind: str,
  metadata: objectMeta,
  spec: obj({
    replicas: int,
    selector: obj({ matchLabels: stringMap }),
    template: obj({ metadata: objectMeta, spec: podSpec }),
    // DeploymentSpec.Strategy: `patchStrategy:"retainKeys"`.
    strategy: obj(
      { type: str, rollingUpdate: obj({ maxSurge: {}, maxUnavailable: {} }) },
      { "x-kubernetes-patch-strategy": "retainKeys" },
    ),
  }),
});
