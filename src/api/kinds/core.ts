// Core v1 kinds other than Pod: Namespace, Node, Service, Endpoints, ConfigMap, Secret,
// ServiceAccount, ReplicationController, Event. Schemas follow k8s.io/api/core/v1 (field names,
// patch merge keys); the rules are the subset of Kubernetes' validation that matters here. Pure:
// no I/O; cluster IP allocation and node ports belong to the API server.
import type { Static } from "@sinclair/typebox";
import { duplicate, type FieldError, forbidden, invalid, notSupported, required } from "../errors.js";
import type { KubeObject } from "../object.js";
import { isRecord } from "../object.js";
import {
  AtomicList,
  as,
  Bool,
  ConditionSchema,
  dig,
  digArr,
  digStr,
  FreeForm,
  Int,
  Int64,
  IntOrString,
  KindSchema,
  LocalObjectReferenceSchema,
  MapOf,
  MergeList,
  MergeSet,
  ObjectReferenceSchema,
  OpenStruct,
  Opt,
  Quantity,
  Str,
  Struct,
  Time,
} from "./common.js";
import { column, defineKind } from "./define.js";
import { defaultPodSpec, PodTemplateSpecSchema, validatePodSpec } from "./pod.js";
import {
  configMapKeyErrors,
  dns1035LabelErrors,
  dns1123LabelErrors,
  dnsNameErrors,
  ianaSvcNameErrors,
  immutable,
  jsonEqual,
  pushAll,
  validateIP,
  validateLabels,
  validatePortNumber,
  validatePortNumOrName,
  validateProtocol,
} from "./rules.js";

// ---------------------------------------------------------------------------------------- Namespace

export const NamespaceSchema = KindSchema("Namespace provides a scope for Names.", {
  spec: Opt(Struct({ finalizers: Opt(AtomicList(Str())) })),
  status: Opt(
    Struct({
      phase: Opt(Str()),
      conditions: Opt(MergeList(OpenStruct({ type: Str(), status: Str() }), "type")),
    }),
  ),
});
export type Namespace = Static<typeof NamespaceSchema>;

export const namespaceType = defineKind({
  group: "",
  version: "v1",
  kind: "Namespace",
  plural: "namespaces",
  shortNames: ["ns"],
  nameRule: dns1123LabelErrors,
  namespaced: false,
  statusSubresource: true,
  builtin: true,
  schema: NamespaceSchema,
  openAPIName: "io.k8s.api.core.v1.Namespace",
  validate(obj) {
    const ns = as<Namespace>(obj);
    const errs: FieldError[] = [];
    const phase = ns.status?.phase;
    if (phase !== undefined && phase !== "Active" && phase !== "Terminating") {
      errs.push(notSupported("status.phase", phase, ["Active", "Terminating"]));
    }
    (ns.spec?.finalizers ?? []).forEach((f, i) => {
      if (f !== "kubernetes" && !f.includes("/")) {
        errs.push(
          invalid(
            `spec.finalizers[${i}]`,
            f,
            "name is neither a standard finalizer name nor is it fully qualified",
          ),
        );
      }
    });
    return errs;
  },
  defaults(obj) {
    if (!isRecord(obj.spec)) obj.spec = {};
    const spec = obj.spec as Record<string, unknown>;
    spec.finalizers ??= ["kubernetes"];
    if (!isRecord(obj.status)) obj.status = {};
    const status = obj.status as Record<string, unknown>;
    status.phase ??= "Active";
    // Kubernetes labels every namespace with its own name.
    if (typeof obj.metadata.name === "string" && obj.metadata.name !== "") {
      obj.metadata.labels = { ...obj.metadata.labels, "kubernetes.io/metadata.name": obj.metadata.name };
    }
  },
  columns: [column("Status", "string", "The namespace phase", (o) => digStr(o, "status", "phase"))],
  fieldSelectors: { "status.phase": (o) => digStr(o, "status", "phase") ?? "" },
});

// --------------------------------------------------------------------------------------------- Node

const NodeCondition = Struct({
  type: Str(),
  status: Str(),
  lastHeartbeatTime: Opt(Time()),
  lastTransitionTime: Opt(Time()),
  reason: Opt(Str()),
  message: Opt(Str()),
});
const NodeAddress = Struct({ type: Str(), address: Str() });

export const NodeSchema = KindSchema("Node is a worker node.", {
  spec: Opt(
    Struct({
      podCIDR: Opt(Str()),
      podCIDRs: Opt(MergeSet(Str())),
      providerID: Opt(Str()),
      unschedulable: Opt(Bool()),
      taints: Opt(
        AtomicList(Struct({ key: Str(), value: Opt(Str()), effect: Str(), timeAdded: Opt(Time()) })),
      ),
      configSource: Opt(FreeForm()),
      externalID: Opt(Str()),
    }),
  ),
  status: Opt(
    Struct({
      capacity: Opt(MapOf(Quantity())),
      allocatable: Opt(MapOf(Quantity())),
      phase: Opt(Str()),
      conditions: Opt(MergeList(NodeCondition, "type")),
      addresses: Opt(MergeList(NodeAddress, "type")),
      daemonEndpoints: Opt(FreeForm()),
      nodeInfo: Opt(
        OpenStruct({
          machineID: Opt(Str()),
          systemUUID: Opt(Str()),
          bootID: Opt(Str()),
          kernelVersion: Opt(Str()),
          osImage: Opt(Str()),
          containerRuntimeVersion: Opt(Str()),
          kubeletVersion: Opt(Str()),
          kubeProxyVersion: Opt(Str()),
          operatingSystem: Opt(Str()),
          architecture: Opt(Str()),
        }),
      ),
      images: Opt(AtomicList(FreeForm())),
      volumesInUse: Opt(AtomicList(Str())),
      volumesAttached: Opt(AtomicList(FreeForm())),
      config: Opt(FreeForm()),
      runtimeHandlers: Opt(AtomicList(FreeForm())),
      features: Opt(FreeForm()),
    }),
  ),
});
export type Node = Static<typeof NodeSchema>;

/** Ready / NotReady / Unknown, plus ",SchedulingDisabled" (kubectl's STATUS column). */
export function nodeStatusText(obj: KubeObject): string {
  const ready = digArr(obj, "status", "conditions").find((c) => isRecord(c) && c.type === "Ready");
  let s = "Unknown";
  if (isRecord(ready))
    s = ready.status === "True" ? "Ready" : ready.status === "False" ? "NotReady" : "Unknown";
  if (dig(obj, "spec", "unschedulable") === true) s += ",SchedulingDisabled";
  return s;
}

function nodeAddress(obj: KubeObject, type: string): string | undefined {
  const a = digArr(obj, "status", "addresses").find((x) => isRecord(x) && x.type === type);
  return isRecord(a) && typeof a.address === "string" ? a.address : undefined;
}

export const nodeType = defineKind({
  group: "",
  version: "v1",
  kind: "Node",
  plural: "nodes",
  shortNames: ["no"],
  namespaced: false,
  statusSubresource: true,
  builtin: true,
  schema: NodeSchema,
  openAPIName: "io.k8s.api.core.v1.Node",
  validate(obj) {
    const node = as<Node>(obj);
    const errs: FieldError[] = [];
    if (node.spec?.podCIDR) errs.push(...cidrErrors(node.spec.podCIDR, "spec.podCIDR"));
    (node.spec?.podCIDRs ?? []).forEach((c, i) => {
      errs.push(...cidrErrors(c, `spec.podCIDRs[${i}]`));
    });
    (node.spec?.taints ?? []).forEach((t, i) => {
      if (!["NoSchedule", "PreferNoSchedule", "NoExecute"].includes(t.effect)) {
        errs.push(
          notSupported(`spec.taints[${i}].effect`, t.effect, ["NoSchedule", "PreferNoSchedule", "NoExecute"]),
        );
      }
    });
    (node.status?.addresses ?? []).forEach((a, i) => {
      const types = ["Hostname", "InternalIP", "ExternalIP", "InternalDNS", "ExternalDNS"];
      if (!types.includes(a.type)) errs.push(notSupported(`status.addresses[${i}].type`, a.type, types));
      if (a.type === "InternalIP" || a.type === "ExternalIP") {
        errs.push(...validateIP(a.address, `status.addresses[${i}].address`).errors);
      }
    });
    return errs;
  },
  columns: [
    column("Status", "string", "Ready condition, and SchedulingDisabled", nodeStatusText),
    column("Roles", "string", "node-role.kubernetes.io/<role> labels", (o) => {
      const roles = Object.keys(o.metadata.labels ?? {})
        .filter((k) => k.startsWith("node-role.kubernetes.io/"))
        .map((k) => k.slice("node-role.kubernetes.io/".length))
        .filter((r) => r !== "");
      const kubeRole = o.metadata.labels?.["kubernetes.io/role"];
      if (kubeRole) roles.push(kubeRole);
      return roles.length > 0 ? [...new Set(roles)].sort().join(",") : undefined;
    }),
    column("Version", "string", "Kubelet version", (o) => digStr(o, "status", "nodeInfo", "kubeletVersion")),
    column("Internal-IP", "string", "InternalIP address", (o) => nodeAddress(o, "InternalIP"), 1),
    column("External-IP", "string", "ExternalIP address", (o) => nodeAddress(o, "ExternalIP"), 1),
    column("OS-Image", "string", "OS image", (o) => digStr(o, "status", "nodeInfo", "osImage"), 1),
    column(
      "Kernel-Version",
      "string",
      "Kernel version",
      (o) => digStr(o, "status", "nodeInfo", "kernelVersion"),
      1,
    ),
    column(
      "Container-Runtime",
      "string",
      "Container runtime",
      (o) => digStr(o, "status", "nodeInfo", "containerRuntimeVersion"),
      1,
    ),
  ],
  fieldSelectors: { "spec.unschedulable": (o) => String(dig(o, "spec", "unschedulable") === true) },
});

function cidrErrors(s: string, path: string): FieldError[] {
  return /^[0-9a-fA-F:.]+\/\d{1,3}$/.test(s) &&
    validateIP(s.slice(0, s.indexOf("/")), path).errors.length === 0
    ? []
    : [invalid(path, s, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)")];
}

// ------------------------------------------------------------------------------------------ Service

export const ServicePortSchema = Struct({
  name: Opt(Str()),
  protocol: Opt(Str()),
  appProtocol: Opt(Str()),
  port: Int(),
  targetPort: Opt(IntOrString()),
  nodePort: Opt(Int()),
});
export type ServicePort = Static<typeof ServicePortSchema>;

const PortStatus = Struct({ port: Int(), protocol: Str(), error: Opt(Str()) });
const LoadBalancerStatus = Struct({
  ingress: Opt(
    AtomicList(
      Struct({
        ip: Opt(Str()),
        hostname: Opt(Str()),
        ipMode: Opt(Str()),
        ports: Opt(AtomicList(PortStatus)),
      }),
    ),
  ),
});

export const ServiceSchema = KindSchema("Service is a named abstraction of a software service.", {
  spec: Struct({
    ports: Opt(MergeList(ServicePortSchema, "port")),
    selector: Opt(MapOf(Str())),
    clusterIP: Opt(Str()),
    clusterIPs: Opt(AtomicList(Str())),
    type: Opt(Str()),
    externalIPs: Opt(AtomicList(Str())),
    sessionAffinity: Opt(Str()),
    loadBalancerIP: Opt(Str()),
    loadBalancerSourceRanges: Opt(AtomicList(Str())),
    externalName: Opt(Str()),
    externalTrafficPolicy: Opt(Str()),
    healthCheckNodePort: Opt(Int()),
    publishNotReadyAddresses: Opt(Bool()),
    sessionAffinityConfig: Opt(FreeForm()),
    ipFamilies: Opt(AtomicList(Str())),
    ipFamilyPolicy: Opt(Str()),
    allocateLoadBalancerNodePorts: Opt(Bool()),
    loadBalancerClass: Opt(Str()),
    internalTrafficPolicy: Opt(Str()),
    trafficDistribution: Opt(Str()),
  }),
  status: Opt(
    Struct({
      loadBalancer: Opt(LoadBalancerStatus),
      conditions: Opt(MergeList(ConditionSchema, "type")),
    }),
  ),
});
export type Service = Static<typeof ServiceSchema>;

const SERVICE_TYPES = ["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"] as const;

export function validateService(obj: KubeObject, old?: KubeObject): FieldError[] {
  const svc = as<Service>(obj);
  const spec = svc.spec;
  const errs: FieldError[] = [];
  const type = spec.type ?? "ClusterIP";
  if (!(SERVICE_TYPES as readonly string[]).includes(type))
    errs.push(notSupported("spec.type", spec.type, SERVICE_TYPES));
  const ports = spec.ports ?? [];
  if (type === "ExternalName") {
    if (!spec.externalName) errs.push(required("spec.externalName"));
    else pushAll(errs, "spec.externalName", spec.externalName, dnsNameErrors(spec.externalName, false));
  } else if (ports.length === 0 && spec.clusterIP !== "None") {
    errs.push(required("spec.ports"));
  }
  const names = new Set<string>();
  const keys = new Set<string>();
  ports.forEach((p, i) => {
    const pp = `spec.ports[${i}]`;
    if (p.name === undefined || p.name === "") {
      if (ports.length > 1) errs.push(required(`${pp}.name`));
    } else {
      pushAll(errs, `${pp}.name`, p.name, dns1123LabelErrors(p.name));
      if (names.has(p.name)) errs.push(duplicate(`${pp}.name`, p.name));
      names.add(p.name);
    }
    errs.push(...validatePortNumber(p.port, `${pp}.port`));
    errs.push(...validateProtocol(p.protocol, `${pp}.protocol`));
    if (p.targetPort !== undefined && !(typeof p.targetPort === "number" && p.targetPort === 0)) {
      if (typeof p.targetPort === "string")
        pushAll(errs, `${pp}.targetPort`, p.targetPort, ianaSvcNameErrors(p.targetPort));
      else errs.push(...validatePortNumOrName(p.targetPort, `${pp}.targetPort`));
    }
    if (p.nodePort !== undefined && p.nodePort !== 0) {
      errs.push(...validatePortNumber(p.nodePort, `${pp}.nodePort`));
      if (type === "ClusterIP" || type === "ExternalName") {
        errs.push(forbidden(`${pp}.nodePort`, `may not be used when \`type\` is '${type}'`));
      }
    }
    const key = `${p.port}/${p.protocol ?? "TCP"}`;
    if (keys.has(key)) errs.push(duplicate(pp, key));
    keys.add(key);
  });
  errs.push(...validateLabels(spec.selector, "spec.selector"));
  if (
    spec.sessionAffinity !== undefined &&
    spec.sessionAffinity !== "None" &&
    spec.sessionAffinity !== "ClientIP"
  ) {
    errs.push(notSupported("spec.sessionAffinity", spec.sessionAffinity, ["ClientIP", "None"]));
  }
  if (spec.clusterIP !== undefined && spec.clusterIP !== "" && spec.clusterIP !== "None") {
    errs.push(...validateIP(spec.clusterIP, "spec.clusterIP").errors);
  }
  (spec.clusterIPs ?? []).forEach((ip, i) => {
    if (ip !== "None") errs.push(...validateIP(ip, `spec.clusterIPs[${i}]`).errors);
  });
  (spec.externalIPs ?? []).forEach((ip, i) => {
    errs.push(...validateIP(ip, `spec.externalIPs[${i}]`).errors);
  });
  if (spec.loadBalancerIP) errs.push(...validateIP(spec.loadBalancerIP, "spec.loadBalancerIP").errors);
  for (const [f, values] of [
    ["externalTrafficPolicy", ["Cluster", "Local"]],
    ["internalTrafficPolicy", ["Cluster", "Local"]],
    ["ipFamilyPolicy", ["SingleStack", "PreferDualStack", "RequireDualStack"]],
  ] as const) {
    const v = spec[f];
    if (v !== undefined && v !== "" && !(values as readonly string[]).includes(v))
      errs.push(notSupported(`spec.${f}`, v, values));
  }
  (spec.ipFamilies ?? []).forEach((f, i) => {
    if (f !== "IPv4" && f !== "IPv6") errs.push(notSupported(`spec.ipFamilies[${i}]`, f, ["IPv4", "IPv6"]));
  });
  if (spec.externalTrafficPolicy === "Local" && type !== "NodePort" && type !== "LoadBalancer") {
    errs.push(
      invalid(
        "spec.externalTrafficPolicy",
        spec.externalTrafficPolicy,
        "may only be set when `type` is 'NodePort' or 'LoadBalancer'",
      ),
    );
  }
  if (old !== undefined) {
    const oldSpec = as<Service>(old).spec;
    // clusterIP is immutable once allocated (except when switching to/from ExternalName).
    if (
      oldSpec.clusterIP !== undefined &&
      oldSpec.clusterIP !== "" &&
      type !== "ExternalName" &&
      oldSpec.type !== "ExternalName" &&
      spec.clusterIP !== undefined &&
      spec.clusterIP !== "" &&
      spec.clusterIP !== oldSpec.clusterIP
    ) {
      errs.push(immutable("spec.clusterIP", spec.clusterIP));
    }
  }
  return errs;
}

/** kubectl's EXTERNAL-IP cell. */
export function serviceExternalIP(obj: KubeObject): string | undefined {
  const type = digStr(obj, "spec", "type") ?? "ClusterIP";
  const external = digArr(obj, "spec", "externalIPs").filter((s): s is string => typeof s === "string");
  if (type === "ExternalName") return digStr(obj, "spec", "externalName");
  if (type === "LoadBalancer") {
    const ing = digArr(obj, "status", "loadBalancer", "ingress")
      .map((i) => (isRecord(i) ? (typeof i.ip === "string" && i.ip !== "" ? i.ip : i.hostname) : undefined))
      .filter((s): s is string => typeof s === "string" && s !== "");
    const all = [...ing, ...external];
    return all.length > 0 ? all.join(",") : "<pending>";
  }
  return external.length > 0 ? external.join(",") : undefined;
}

export function servicePorts(obj: KubeObject): string | undefined {
  const ports = digArr(obj, "spec", "ports").filter(isRecord);
  if (ports.length === 0) return undefined;
  return ports
    .map((p) => {
      const proto = typeof p.protocol === "string" ? p.protocol : "TCP";
      return typeof p.nodePort === "number" && p.nodePort > 0
        ? `${String(p.port)}:${p.nodePort}/${proto}`
        : `${String(p.port)}/${proto}`;
    })
    .join(",");
}

function formatSelectorMap(m: unknown): string | undefined {
  if (!isRecord(m) || Object.keys(m).length === 0) return undefined;
  return Object.entries(m)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(",");
}

export const serviceType = defineKind({
  group: "",
  version: "v1",
  kind: "Service",
  plural: "services",
  shortNames: ["svc"],
  nameRule: dns1035LabelErrors,
  categories: ["all"],
  namespaced: true,
  statusSubresource: true,
  builtin: true,
  schema: ServiceSchema,
  openAPIName: "io.k8s.api.core.v1.Service",
  prepareUpdate(obj, old) {
    // Kubernetes (dropTypeDependentFields): leaving NodePort/LoadBalancer drops the node ports the
    // user did not change, so `kubectl patch -p '{"spec":{"type":"ClusterIP"}}'` just works.
    if (!isRecord(obj.spec) || !isRecord(old.spec)) return;
    const type = obj.spec.type ?? "ClusterIP";
    const oldType = old.spec.type;
    if (
      (type !== "ClusterIP" && type !== "ExternalName") ||
      (oldType !== "NodePort" && oldType !== "LoadBalancer")
    )
      return;
    const oldPorts = Array.isArray(old.spec.ports)
      ? (old.spec.ports as { port?: number; nodePort?: number }[])
      : [];
    for (const p of Array.isArray(obj.spec.ports)
      ? (obj.spec.ports as { port?: number; nodePort?: number }[])
      : []) {
      if (p.nodePort !== undefined && oldPorts.some((o) => o.port === p.port && o.nodePort === p.nodePort))
        delete p.nodePort;
    }
  },
  validate: validateService,
  defaults(obj) {
    if (!isRecord(obj.spec)) return;
    const spec = obj.spec;
    spec.type ??= "ClusterIP";
    if (spec.type === "ExternalName") return;
    spec.sessionAffinity ??= "None";
    spec.internalTrafficPolicy ??= "Cluster";
    if (
      (spec.type === "NodePort" || spec.type === "LoadBalancer") &&
      spec.externalTrafficPolicy === undefined
    ) {
      spec.externalTrafficPolicy = "Cluster";
    }
    if (spec.type === "LoadBalancer") spec.allocateLoadBalancerNodePorts ??= true;
    if (Array.isArray(spec.ports)) {
      for (const p of spec.ports) {
        if (!isRecord(p)) continue;
        p.protocol ??= "TCP";
        if (p.targetPort === undefined || p.targetPort === 0 || p.targetPort === "") p.targetPort = p.port;
      }
    }
    if (obj.status === undefined) obj.status = { loadBalancer: {} };
  },
  columns: [
    column("Type", "string", "Service type", (o) => digStr(o, "spec", "type") ?? "ClusterIP"),
    column("Cluster-IP", "string", "Cluster IP", (o) => digStr(o, "spec", "clusterIP")),
    column("External-IP", "string", "External IPs / load-balancer ingress", serviceExternalIP),
    column("Port(s)", "string", "Ports", servicePorts),
    column("Selector", "string", "Pod selector", (o) => formatSelectorMap(dig(o, "spec", "selector")), 1),
  ],
  fieldSelectors: {
    "spec.clusterIP": (o) => digStr(o, "spec", "clusterIP") ?? "",
    "spec.type": (o) => digStr(o, "spec", "type") ?? "",
  },
});

// ---------------------------------------------------------------------------------------- Endpoints

const EndpointAddress = Struct({
  ip: Str(),
  hostname: Opt(Str()),
  nodeName: Opt(Str()),
  targetRef: Opt(ObjectReferenceSchema),
});
const EndpointPort = Struct({ name: Opt(Str()), port: Int(), protocol: Opt(Str()), appProtocol: Opt(Str()) });

export const EndpointsSchema = KindSchema(
  "Endpoints is a collection of endpoints that implement a service.",
  {
    subsets: Opt(
      AtomicList(
        Struct({
          addresses: Opt(AtomicList(EndpointAddress)),
          notReadyAddresses: Opt(AtomicList(EndpointAddress)),
          ports: Opt(AtomicList(EndpointPort)),
        }),
      ),
    ),
  },
);
export type Endpoints = Static<typeof EndpointsSchema>;

/** kubectl's ENDPOINTS cell: "ip:port,..." with at most 3 shown and "+ N more...". */
export function endpointsText(obj: KubeObject): string | undefined {
  const all: string[] = [];
  for (const ss of digArr(obj, "subsets")) {
    const addrs = digArr(ss, "addresses");
    const ports = digArr(ss, "ports");
    for (const a of addrs) {
      const ip = digStr(a, "ip");
      if (ip === undefined) continue;
      const host = ip.includes(":") ? `[${ip}]` : ip;
      if (ports.length === 0) all.push(ip);
      for (const p of ports) all.push(`${host}:${String(digStr(p, "port"))}`);
    }
  }
  if (all.length === 0) return undefined;
  return all.length > 3 ? `${all.slice(0, 3).join(",")} + ${all.length - 3} more...` : all.join(",");
}

export const endpointsType = defineKind({
  group: "",
  version: "v1",
  kind: "Endpoints",
  listKind: "EndpointsList",
  plural: "endpoints",
  singular: "endpoints",
  shortNames: ["ep"],
  namespaced: true,
  builtin: true,
  schema: EndpointsSchema,
  openAPIName: "io.k8s.api.core.v1.Endpoints",
  validate(obj) {
    const ep = as<Endpoints>(obj);
    const errs: FieldError[] = [];
    (ep.subsets ?? []).forEach((ss, i) => {
      for (const f of ["addresses", "notReadyAddresses"] as const) {
        (ss[f] ?? []).forEach((a, j) => {
          errs.push(...validateIP(a.ip, `subsets[${i}].${f}[${j}].ip`).errors);
        });
      }
      (ss.ports ?? []).forEach((p, j) => {
        errs.push(...validatePortNumber(p.port, `subsets[${i}].ports[${j}].port`));
        errs.push(...validateProtocol(p.protocol, `subsets[${i}].ports[${j}].protocol`));
      });
    });
    return errs;
  },
  columns: [column("Endpoints", "string", "Ready endpoint addresses", endpointsText)],
});

// --------------------------------------------------------------------------------- ConfigMap, Secret

const MAX_DATA_BYTES = 1024 * 1024;

function validateDataKeys(maps: [string, unknown][], errs: FieldError[]): void {
  const seen = new Set<string>();
  let size = 0;
  for (const [field, m] of maps) {
    if (!isRecord(m)) continue;
    for (const [k, v] of Object.entries(m)) {
      pushAll(errs, `${field}[${k}]`, k, configMapKeyErrors(k));
      if (seen.has(k)) errs.push(duplicate(`${field}[${k}]`, k));
      seen.add(k);
      size += k.length + (typeof v === "string" ? v.length : 0);
    }
  }
  if (size > MAX_DATA_BYTES) {
    errs.push({
      field: maps[0]![0],
      type: "FieldValueTooLong",
      detail: `must have at most ${MAX_DATA_BYTES} bytes`,
    });
  }
}

export const ConfigMapSchema = KindSchema("ConfigMap holds configuration data for pods to consume.", {
  data: Opt(MapOf(Str())),
  binaryData: Opt(MapOf(Bytes())),
  immutable: Opt(Bool()),
});
export type ConfigMap = Static<typeof ConfigMapSchema>;

/** []byte fields travel base64-encoded; the encoding is checked by the kind's rules so the error
 *  names the key. */
function Bytes() {
  return Str("base64-encoded bytes");
}

function immutableDataErrors(obj: KubeObject, old: KubeObject | undefined, fields: string[]): FieldError[] {
  if (old === undefined || old.immutable !== true) return [];
  const errs: FieldError[] = [];
  if (obj.immutable !== true) errs.push(forbidden("immutable", "field is immutable when `immutable` is set"));
  for (const f of fields) {
    if (!jsonEqual(obj[f] ?? {}, old[f] ?? {}))
      errs.push(forbidden(f, "field is immutable when `immutable` is set"));
  }
  return errs;
}

export const configMapType = defineKind({
  group: "",
  version: "v1",
  kind: "ConfigMap",
  plural: "configmaps",
  shortNames: ["cm"],
  namespaced: true,
  builtin: true,
  schema: ConfigMapSchema,
  openAPIName: "io.k8s.api.core.v1.ConfigMap",
  validate(obj, old) {
    const errs: FieldError[] = [];
    validateDataKeys(
      [
        ["data", obj.data],
        ["binaryData", obj.binaryData],
      ],
      errs,
    );
    if (isRecord(obj.binaryData)) {
      for (const [k, v] of Object.entries(obj.binaryData)) {
        if (typeof v === "string" && !isBase64(v))
          errs.push(invalid(`binaryData[${k}]`, v, "must be base64-encoded"));
      }
    }
    errs.push(...immutableDataErrors(obj, old, ["data", "binaryData"]));
    return errs;
  },
  columns: [
    column(
      "Data",
      "integer",
      "Number of keys",
      (o) =>
        Object.keys(isRecord(o.data) ? o.data : {}).length +
        Object.keys(isRecord(o.binaryData) ? o.binaryData : {}).length,
    ),
  ],
});

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
export const isBase64 = (s: string): boolean => BASE64.test(s);

export const SecretSchema = KindSchema("Secret holds secret data of a certain type.", {
  data: Opt(MapOf(Bytes())),
  stringData: Opt(MapOf(Str())),
  type: Opt(Str()),
  immutable: Opt(Bool()),
});
export type Secret = Static<typeof SecretSchema>;

const SECRET_REQUIRED_KEYS: Record<string, string[]> = {
  "kubernetes.io/tls": ["tls.crt", "tls.key"],
  "kubernetes.io/dockerconfigjson": [".dockerconfigjson"],
  "kubernetes.io/dockercfg": [".dockercfg"],
  "kubernetes.io/ssh-auth": ["ssh-privatekey"],
};

export const secretType = defineKind({
  group: "",
  version: "v1",
  kind: "Secret",
  plural: "secrets",
  namespaced: true,
  builtin: true,
  schema: SecretSchema,
  openAPIName: "io.k8s.api.core.v1.Secret",
  validate(obj, old) {
    const secret = as<Secret>(obj);
    const errs: FieldError[] = [];
    validateDataKeys(
      [
        ["data", secret.data],
        ["stringData", secret.stringData],
      ],
      errs,
    );
    for (const [k, v] of Object.entries(secret.data ?? {})) {
      if (!isBase64(v)) errs.push(invalid(`data[${k}]`, v, "must be base64-encoded"));
    }
    const type = secret.type ?? "Opaque";
    const keys = new Set([...Object.keys(secret.data ?? {}), ...Object.keys(secret.stringData ?? {})]);
    for (const k of SECRET_REQUIRED_KEYS[type] ?? []) if (!keys.has(k)) errs.push(required(`data[${k}]`));
    if (type === "kubernetes.io/basic-auth" && !keys.has("username") && !keys.has("password")) {
      errs.push(required("data[username]", "one of username or password is required"));
    }
    if (
      type === "kubernetes.io/service-account-token" &&
      !obj.metadata.annotations?.["kubernetes.io/service-account.name"]
    ) {
      errs.push(required("metadata.annotations[kubernetes.io/service-account.name]"));
    }
    if (old !== undefined && (as<Secret>(old).type ?? "Opaque") !== type)
      errs.push(immutable("type", secret.type));
    errs.push(...immutableDataErrors(obj, old, ["data"]));
    return errs;
  },
  defaults(obj) {
    obj.type ??= "Opaque";
    // As the API server does: stringData is write-only and merged into data.
    if (isRecord(obj.stringData)) {
      const data = (isRecord(obj.data) ? obj.data : {}) as Record<string, unknown>;
      for (const [k, v] of Object.entries(obj.stringData)) {
        if (typeof v === "string") data[k] = Buffer.from(v, "utf8").toString("base64");
      }
      obj.data = data;
      delete obj.stringData;
    }
  },
  columns: [
    column("Type", "string", "Secret type", (o) => (typeof o.type === "string" ? o.type : "Opaque")),
    column("Data", "integer", "Number of keys", (o) => Object.keys(isRecord(o.data) ? o.data : {}).length),
  ],
  fieldSelectors: { type: (o) => (typeof o.type === "string" ? o.type : "") },
});

// ----------------------------------------------------------------------------------- ServiceAccount

export const ServiceAccountSchema = KindSchema("ServiceAccount binds a name to an identity.", {
  secrets: Opt(MergeList(ObjectReferenceSchema, "name")),
  imagePullSecrets: Opt(AtomicList(LocalObjectReferenceSchema)),
  automountServiceAccountToken: Opt(Bool()),
});
export type ServiceAccount = Static<typeof ServiceAccountSchema>;

export const serviceAccountType = defineKind({
  group: "",
  version: "v1",
  kind: "ServiceAccount",
  plural: "serviceaccounts",
  shortNames: ["sa"],
  namespaced: true,
  builtin: true,
  schema: ServiceAccountSchema,
  openAPIName: "io.k8s.api.core.v1.ServiceAccount",
  validate: () => [],
  columns: [column("Secrets", "integer", "Number of secrets", (o) => digArr(o, "secrets").length)],
});

// ---------------------------------------------------------------------------- ReplicationController

export const ReplicationControllerSchema = KindSchema(
  "ReplicationController keeps a number of pod replicas running.",
  {
    spec: Opt(
      Struct({
        replicas: Opt(Int()),
        minReadySeconds: Opt(Int()),
        selector: Opt(MapOf(Str())),
        template: Opt(PodTemplateSpecSchema),
      }),
    ),
    status: Opt(
      Struct({
        replicas: Int(),
        fullyLabeledReplicas: Opt(Int()),
        readyReplicas: Opt(Int()),
        availableReplicas: Opt(Int()),
        observedGeneration: Opt(Int64()),
        conditions: Opt(
          MergeList(
            Struct({
              type: Str(),
              status: Str(),
              lastTransitionTime: Opt(Time()),
              reason: Opt(Str()),
              message: Opt(Str()),
            }),
            "type",
          ),
        ),
      }),
    ),
  },
);
export type ReplicationController = Static<typeof ReplicationControllerSchema>;

export const replicationControllerType = defineKind({
  group: "",
  version: "v1",
  kind: "ReplicationController",
  plural: "replicationcontrollers",
  shortNames: ["rc"],
  categories: ["all"],
  namespaced: true,
  statusSubresource: true,
  builtin: true,
  hasGeneration: true,
  schema: ReplicationControllerSchema,
  openAPIName: "io.k8s.api.core.v1.ReplicationController",
  validate(obj) {
    const rc = as<ReplicationController>(obj);
    const errs: FieldError[] = [];
    const spec = rc.spec;
    if (spec === undefined) return [required("spec")];
    if (spec.replicas !== undefined && spec.replicas < 0) {
      errs.push(invalid("spec.replicas", spec.replicas, "must be greater than or equal to 0"));
    }
    const selector = spec.selector ?? {};
    if (Object.keys(selector).length === 0) errs.push(required("spec.selector"));
    errs.push(...validateLabels(spec.selector, "spec.selector"));
    if (spec.template === undefined) {
      errs.push(required("spec.template"));
      return errs;
    }
    const labels = spec.template.metadata?.labels ?? {};
    errs.push(...validateLabels(labels, "spec.template.metadata.labels"));
    if (Object.entries(selector).some(([k, v]) => labels[k] !== v)) {
      errs.push(
        invalid("spec.template.metadata.labels", labels, "`selector` does not match template `labels`"),
      );
    }
    if (spec.template.spec === undefined) errs.push(required("spec.template.spec"));
    else {
      errs.push(...validatePodSpec(spec.template.spec, "spec.template.spec"));
      const rp = spec.template.spec.restartPolicy;
      if (rp !== undefined && rp !== "Always")
        errs.push(notSupported("spec.template.spec.restartPolicy", rp, ["Always"]));
    }
    return errs;
  },
  defaults(obj) {
    if (!isRecord(obj.spec)) return;
    const spec = obj.spec;
    spec.replicas ??= 1;
    const tmpl = spec.template;
    if (isRecord(tmpl)) {
      defaultPodSpec(tmpl.spec);
      // Kubernetes: selector and labels default from each other.
      const meta = isRecord(tmpl.metadata) ? tmpl.metadata : undefined;
      if (meta && spec.selector === undefined && isRecord(meta.labels)) spec.selector = { ...meta.labels };
    }
    if (isRecord(spec.selector) && obj.metadata.labels === undefined)
      obj.metadata.labels = { ...spec.selector } as Record<string, string>;
  },
  columns: [
    column(
      "Desired",
      "integer",
      "Desired replicas",
      (o) => (dig(o, "spec", "replicas") as number | undefined) ?? 1,
    ),
    column(
      "Current",
      "integer",
      "Current replicas",
      (o) => (dig(o, "status", "replicas") as number | undefined) ?? 0,
    ),
    column(
      "Ready",
      "integer",
      "Ready replicas",
      (o) => (dig(o, "status", "readyReplicas") as number | undefined) ?? 0,
    ),
    column(
      "Containers",
      "string",
      "Container names",
      (o) =>
        digArr(o, "spec", "template", "spec", "containers")
          .map((c) => digStr(c, "name"))
          .join(","),
      1,
    ),
    column(
      "Images",
      "string",
      "Container images",
      (o) =>
        digArr(o, "spec", "template", "spec", "containers")
          .map((c) => digStr(c, "image"))
          .join(","),
      1,
    ),
    column("Selector", "string", "Selector", (o) => formatSelectorMap(dig(o, "spec", "selector")), 1),
  ],
  fieldSelectors: {
    "status.replicas": (o) => String((dig(o, "status", "replicas") as number | undefined) ?? 0),
  },
});

// -------------------------------------------------------------------------------------------- Event

export const EventSchema = KindSchema("Event is a report of an event somewhere in the cluster.", {
  involvedObject: ObjectReferenceSchema,
  reason: Opt(Str()),
  message: Opt(Str()),
  source: Opt(Struct({ component: Opt(Str()), host: Opt(Str()) })),
  firstTimestamp: Opt(Time()),
  lastTimestamp: Opt(Time()),
  count: Opt(Int()),
  type: Opt(Str()),
  eventTime: Opt(Time()),
  series: Opt(Struct({ count: Opt(Int()), lastObservedTime: Opt(Time()) })),
  action: Opt(Str()),
  related: Opt(ObjectReferenceSchema),
  reportingComponent: Opt(Str()),
  reportingInstance: Opt(Str()),
});
export type Event = Static<typeof EventSchema>;

export const eventType = defineKind({
  group: "",
  version: "v1",
  kind: "Event",
  plural: "events",
  shortNames: ["ev"],
  namespaced: true,
  builtin: true,
  schema: EventSchema,
  openAPIName: "io.k8s.api.core.v1.Event",
  validate(obj) {
    const ev = as<Event>(obj);
    const errs: FieldError[] = [];
    if (ev.type !== undefined && ev.type !== "" && ev.type !== "Normal" && ev.type !== "Warning") {
      errs.push(notSupported("type", ev.type, ["Normal", "Warning"]));
    }
    const ns = obj.metadata.namespace;
    const ino = ev.involvedObject.namespace;
    if (ns && ino && ino !== ns) {
      errs.push(invalid("involvedObject.namespace", ino, "does not match event.namespace"));
    }
    if (ev.count !== undefined && ev.count < 0)
      errs.push(invalid("count", ev.count, "must be greater than or equal to 0"));
    return errs;
  },
  columns: [
    column(
      "Last Seen",
      "date",
      "Time of the last occurrence",
      (o) =>
        digStr(o, "series", "lastObservedTime") ??
        digStr(o, "lastTimestamp") ??
        digStr(o, "eventTime") ??
        digStr(o, "firstTimestamp"),
    ),
    column("Type", "string", "Normal or Warning", (o) => digStr(o, "type")),
    column("Reason", "string", "Reason", (o) => digStr(o, "reason")),
    column("Object", "string", "Involved object", (o) => {
      const kind = digStr(o, "involvedObject", "kind") ?? "";
      const name = digStr(o, "involvedObject", "name") ?? "";
      return `${kind.toLowerCase()}/${name}`;
    }),
    column("Message", "string", "Message", (o) => digStr(o, "message")),
    column(
      "Source",
      "string",
      "Reporting component",
      (o) => digStr(o, "source", "component") ?? digStr(o, "reportingComponent"),
      1,
    ),
    column(
      "First Seen",
      "date",
      "Time of the first occurrence",
      (o) => digStr(o, "firstTimestamp") ?? digStr(o, "eventTime"),
      1,
    ),
    column(
      "Count",
      "integer",
      "Occurrences",
      (o) =>
        (dig(o, "series", "count") as number | undefined) ?? (dig(o, "count") as number | undefined) ?? 1,
      1,
    ),
    column("Name", "string", "Event name", (o) => o.metadata.name, 1),
  ],
  fieldSelectors: {
    "involvedObject.kind": (o) => digStr(o, "involvedObject", "kind") ?? "",
    "involvedObject.namespace": (o) => digStr(o, "involvedObject", "namespace") ?? "",
    "involvedObject.name": (o) => digStr(o, "involvedObject", "name") ?? "",
    "involvedObject.uid": (o) => digStr(o, "involvedObject", "uid") ?? "",
    "involvedObject.apiVersion": (o) => digStr(o, "involvedObject", "apiVersion") ?? "",
    "involvedObject.resourceVersion": (o) => digStr(o, "involvedObject", "resourceVersion") ?? "",
    "involvedObject.fieldPath": (o) => digStr(o, "involvedObject", "fieldPath") ?? "",
    reason: (o) => digStr(o, "reason") ?? "",
    reportingComponent: (o) => digStr(o, "reportingComponent") ?? "",
    source: (o) => digStr(o, "source", "component") ?? "",
    type: (o) => digStr(o, "type") ?? "",
  },
});
