// Core v1 Pod (and the PodSpec / PodTemplate shared with ReplicationController): schema with the
// Kubernetes strategic-merge-patch metadata, defaults, semantic validation, printer columns and
// field selectors. The parts tools and the egress router use are modelled field by field (containers,
// env, ports, volumeMounts, nodeSelector, hostNetwork ...); large Kubernetes sub-types (probes,
// securityContext, affinity, volume sources) are kept free-form. Pure: no I/O.
import type { Static } from "@sinclair/typebox";
import { duplicate, type FieldError, forbidden, invalid, notSupported, required } from "../errors.js";
import type { KubeObject } from "../object.js";
import { isRecord } from "../object.js";
import {
  AtomicList,
  as,
  Bool,
  dig,
  digArr,
  digStr,
  FreeForm,
  Int,
  Int64,
  KindSchema,
  LocalObjectReferenceSchema,
  MapOf,
  MergeList,
  ObjectMetaSchema,
  OpenStruct,
  Opt,
  Quantity,
  Str,
  Struct,
  Time,
} from "./common.js";
import { column, defineKind } from "./define.js";
import {
  dns1123LabelErrors,
  ianaSvcNameErrors,
  jsonEqual,
  pushAll,
  validateIP,
  validateLabels,
  validatePortNumber,
  validateProtocol,
} from "./rules.js";

const KeySelector = Struct({ name: Opt(Str()), key: Str(), optional: Opt(Bool()) });

export const EnvVarSchema = Struct({
  name: Str(),
  value: Opt(Str()),
  valueFrom: Opt(
    Struct({
      fieldRef: Opt(Struct({ apiVersion: Opt(Str()), fieldPath: Str() })),
      resourceFieldRef: Opt(Struct({ containerName: Opt(Str()), resource: Str(), divisor: Opt(Quantity()) })),
      configMapKeyRef: Opt(KeySelector),
      secretKeyRef: Opt(KeySelector),
    }),
  ),
});
export type EnvVar = Static<typeof EnvVarSchema>;

const EnvFromSource = Struct({
  prefix: Opt(Str()),
  configMapRef: Opt(Struct({ name: Opt(Str()), optional: Opt(Bool()) })),
  secretRef: Opt(Struct({ name: Opt(Str()), optional: Opt(Bool()) })),
});

export const ContainerPortSchema = Struct({
  name: Opt(Str()),
  hostPort: Opt(Int()),
  containerPort: Int(),
  protocol: Opt(Str()),
  hostIP: Opt(Str()),
});

const VolumeMount = Struct({
  name: Str(),
  readOnly: Opt(Bool()),
  recursiveReadOnly: Opt(Str()),
  mountPath: Str(),
  subPath: Opt(Str()),
  mountPropagation: Opt(Str()),
  subPathExpr: Opt(Str()),
});

export const ContainerSchema = Struct({
  name: Str(),
  image: Opt(Str()),
  command: Opt(AtomicList(Str())),
  args: Opt(AtomicList(Str())),
  workingDir: Opt(Str()),
  ports: Opt(MergeList(ContainerPortSchema, "containerPort")),
  envFrom: Opt(AtomicList(EnvFromSource)),
  env: Opt(MergeList(EnvVarSchema, "name")),
  resources: Opt(FreeForm("ResourceRequirements (limits, requests, claims); not modelled.")),
  resizePolicy: Opt(AtomicList(FreeForm())),
  restartPolicy: Opt(Str()),
  volumeMounts: Opt(MergeList(VolumeMount, "mountPath")),
  volumeDevices: Opt(MergeList(FreeForm(), "devicePath")),
  livenessProbe: Opt(FreeForm()),
  readinessProbe: Opt(FreeForm()),
  startupProbe: Opt(FreeForm()),
  lifecycle: Opt(FreeForm()),
  terminationMessagePath: Opt(Str()),
  terminationMessagePolicy: Opt(Str()),
  imagePullPolicy: Opt(Str()),
  securityContext: Opt(FreeForm()),
  stdin: Opt(Bool()),
  stdinOnce: Opt(Bool()),
  tty: Opt(Bool()),
});
export type Container = Static<typeof ContainerSchema>;

const Toleration = Struct({
  key: Opt(Str()),
  operator: Opt(Str()),
  value: Opt(Str()),
  effect: Opt(Str()),
  tolerationSeconds: Opt(Int64()),
});

export const PodSpecSchema = Struct({
  volumes: Opt(
    MergeList(
      OpenStruct({ name: Str() }, "Volume: name plus one volume source (not modelled)."),
      "name",
      "merge,retainKeys",
    ),
  ),
  initContainers: Opt(MergeList(ContainerSchema, "name")),
  containers: MergeList(ContainerSchema, "name"),
  ephemeralContainers: Opt(MergeList(FreeForm(), "name")),
  restartPolicy: Opt(Str()),
  terminationGracePeriodSeconds: Opt(Int64()),
  activeDeadlineSeconds: Opt(Int64()),
  dnsPolicy: Opt(Str()),
  nodeSelector: Opt(MapOf(Str())),
  serviceAccountName: Opt(Str()),
  serviceAccount: Opt(Str()),
  automountServiceAccountToken: Opt(Bool()),
  nodeName: Opt(Str()),
  hostNetwork: Opt(Bool()),
  hostPID: Opt(Bool()),
  hostIPC: Opt(Bool()),
  shareProcessNamespace: Opt(Bool()),
  securityContext: Opt(FreeForm()),
  imagePullSecrets: Opt(MergeList(LocalObjectReferenceSchema, "name")),
  hostname: Opt(Str()),
  subdomain: Opt(Str()),
  affinity: Opt(FreeForm()),
  schedulerName: Opt(Str()),
  tolerations: Opt(AtomicList(Toleration)),
  hostAliases: Opt(MergeList(Struct({ ip: Str(), hostnames: Opt(AtomicList(Str())) }), "ip")),
  priorityClassName: Opt(Str()),
  priority: Opt(Int()),
  dnsConfig: Opt(FreeForm()),
  readinessGates: Opt(AtomicList(Struct({ conditionType: Str() }))),
  runtimeClassName: Opt(Str()),
  enableServiceLinks: Opt(Bool()),
  preemptionPolicy: Opt(Str()),
  overhead: Opt(MapOf(Quantity())),
  topologySpreadConstraints: Opt(MergeList(FreeForm(), "topologyKey")),
  setHostnameAsFQDN: Opt(Bool()),
  os: Opt(Struct({ name: Str() })),
  hostUsers: Opt(Bool()),
  schedulingGates: Opt(MergeList(Struct({ name: Str() }), "name")),
  resourceClaims: Opt(MergeList(FreeForm(), "name", "merge,retainKeys")),
  resources: Opt(FreeForm()),
});
export type PodSpec = Static<typeof PodSpecSchema>;

const ContainerStatus = OpenStruct({
  name: Str(),
  state: Opt(FreeForm()),
  lastState: Opt(FreeForm()),
  ready: Opt(Bool()),
  restartCount: Opt(Int()),
  image: Opt(Str()),
  imageID: Opt(Str()),
  containerID: Opt(Str()),
  started: Opt(Bool()),
});

const PodCondition = Struct({
  type: Str(),
  observedGeneration: Opt(Int64()),
  status: Str(),
  lastProbeTime: Opt(Time()),
  lastTransitionTime: Opt(Time()),
  reason: Opt(Str()),
  message: Opt(Str()),
});

export const PodStatusSchema = Struct({
  observedGeneration: Opt(Int64()),
  phase: Opt(Str()),
  conditions: Opt(MergeList(PodCondition, "type")),
  message: Opt(Str()),
  reason: Opt(Str()),
  nominatedNodeName: Opt(Str()),
  hostIP: Opt(Str()),
  hostIPs: Opt(MergeList(Struct({ ip: Str() }), "ip")),
  podIP: Opt(Str()),
  podIPs: Opt(MergeList(Struct({ ip: Str() }), "ip")),
  startTime: Opt(Time()),
  initContainerStatuses: Opt(AtomicList(ContainerStatus)),
  containerStatuses: Opt(AtomicList(ContainerStatus)),
  qosClass: Opt(Str()),
  ephemeralContainerStatuses: Opt(AtomicList(ContainerStatus)),
  resize: Opt(Str()),
  resourceClaimStatuses: Opt(MergeList(FreeForm(), "name", "merge,retainKeys")),
});

export const PodSchema = KindSchema("Pod is a collection of containers that can run on a host.", {
  spec: PodSpecSchema,
  status: Opt(PodStatusSchema),
});
export type Pod = Static<typeof PodSchema>;

export const PodTemplateSpecSchema = Struct({ metadata: Opt(ObjectMetaSchema), spec: Opt(PodSpecSchema) });

const RESTART_POLICIES = ["Always", "OnFailure", "Never"] as const;
const DNS_POLICIES = ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"] as const;
const PULL_POLICIES = ["Always", "IfNotPresent", "Never"] as const;
const TERMINATION_MESSAGE_POLICIES = ["File", "FallbackToLogsOnError"] as const;
const TOLERATION_OPS = ["Exists", "Equal"] as const;
const TAINT_EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute"] as const;

/** Defaults the Kubernetes API applies to a PodSpec that tools read back. */
export function defaultPodSpec(spec: unknown): void {
  if (!isRecord(spec)) return;
  spec.restartPolicy ??= "Always";
  spec.dnsPolicy ??= "ClusterFirst";
  spec.terminationGracePeriodSeconds ??= 30;
  spec.schedulerName ??= "default-scheduler";
  spec.securityContext ??= {};
  for (const list of [spec.initContainers, spec.containers]) {
    if (!Array.isArray(list)) continue;
    for (const c of list) {
      if (!isRecord(c)) continue;
      if (c.imagePullPolicy === undefined && typeof c.image === "string") {
        // Kubernetes: Always for ":latest" or no tag, IfNotPresent otherwise.
        const lastSegment = c.image.slice(c.image.lastIndexOf("/") + 1);
        const tagged = lastSegment.includes(":") || c.image.includes("@");
        c.imagePullPolicy = !tagged || c.image.endsWith(":latest") ? "Always" : "IfNotPresent";
      }
      c.terminationMessagePath ??= "/dev/termination-log";
      c.terminationMessagePolicy ??= "File";
      c.resources ??= {};
      if (Array.isArray(c.ports)) {
        for (const p of c.ports) if (isRecord(p)) p.protocol ??= "TCP";
      }
    }
  }
}

function enumCheck(v: unknown, path: string, values: readonly string[], errs: FieldError[]): void {
  if (v !== undefined && (typeof v !== "string" || !values.includes(v)))
    errs.push(notSupported(path, v, values));
}

function validateContainer(
  c: Container,
  path: string,
  volumeNames: Set<string>,
  errs: FieldError[],
  requireImage: boolean,
): void {
  pushAll(errs, `${path}.name`, c.name, dns1123LabelErrors(c.name));
  if (requireImage && (c.image === undefined || c.image.trim() === "")) errs.push(required(`${path}.image`));
  enumCheck(c.imagePullPolicy, `${path}.imagePullPolicy`, PULL_POLICIES, errs);
  enumCheck(
    c.terminationMessagePolicy,
    `${path}.terminationMessagePolicy`,
    TERMINATION_MESSAGE_POLICIES,
    errs,
  );
  const portNames = new Set<string>();
  const portKeys = new Set<string>();
  (c.ports ?? []).forEach((p, i) => {
    const pp = `${path}.ports[${i}]`;
    errs.push(...validatePortNumber(p.containerPort, `${pp}.containerPort`));
    if (p.hostPort !== undefined && p.hostPort !== 0)
      errs.push(...validatePortNumber(p.hostPort, `${pp}.hostPort`));
    errs.push(...validateProtocol(p.protocol, `${pp}.protocol`));
    if (p.name !== undefined) {
      pushAll(errs, `${pp}.name`, p.name, ianaSvcNameErrors(p.name));
      if (portNames.has(p.name)) errs.push(duplicate(`${pp}.name`, p.name));
      portNames.add(p.name);
    }
    if (p.hostIP !== undefined && p.hostIP !== "") errs.push(...validateIP(p.hostIP, `${pp}.hostIP`).errors);
    const key = `${p.containerPort}/${p.protocol ?? "TCP"}`;
    if (portKeys.has(key)) errs.push(duplicate(`${pp}`, key));
    portKeys.add(key);
  });
  (c.env ?? []).forEach((e, i) => {
    const ep = `${path}.env[${i}]`;
    if (e.name === "") errs.push(required(`${ep}.name`));
    else if (e.name.includes("=") || !/^[\x20-\x7e]+$/.test(e.name)) {
      errs.push(
        invalid(
          `${ep}.name`,
          e.name,
          "a valid environment variable name must consist only of printable ASCII characters other than '='",
        ),
      );
    }
    if (e.valueFrom !== undefined) {
      const sources = ["fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef"].filter(
        (k) => (e.valueFrom as Record<string, unknown>)[k] !== undefined,
      );
      if (sources.length !== 1) {
        errs.push(invalid(`${ep}.valueFrom`, "", "may not have more than one field specified at a time"));
      }
      if (e.value !== undefined && e.value !== "") {
        errs.push(invalid(`${ep}.valueFrom`, "", "may not be specified when `value` is not empty"));
      }
      for (const k of ["configMapKeyRef", "secretKeyRef"] as const) {
        const ref = e.valueFrom[k];
        if (ref === undefined) continue;
        if (ref.key === "") errs.push(required(`${ep}.valueFrom.${k}.key`));
        if (ref.name === undefined || ref.name === "") errs.push(required(`${ep}.valueFrom.${k}.name`));
      }
    }
  });
  const mountPaths = new Set<string>();
  (c.volumeMounts ?? []).forEach((m, i) => {
    const mp = `${path}.volumeMounts[${i}]`;
    if (!volumeNames.has(m.name)) errs.push(notFoundValue(`${mp}.name`, m.name));
    if (m.mountPath === "") errs.push(required(`${mp}.mountPath`));
    else if (mountPaths.has(m.mountPath))
      errs.push(invalid(`${mp}.mountPath`, m.mountPath, "must be unique"));
    mountPaths.add(m.mountPath);
  });
}

function notFoundValue(field: string, value: unknown): FieldError {
  return invalid(field, value, "not found: no volume of that name in spec.volumes");
}

/** PodSpec rules; `path` is the spec's path ("spec" or "spec.template.spec"). */
export function validatePodSpec(spec: PodSpec, path: string, requireImage = true): FieldError[] {
  const errs: FieldError[] = [];
  const volumeNames = new Set<string>();
  (spec.volumes ?? []).forEach((v, i) => {
    const vp = `${path}.volumes[${i}].name`;
    pushAll(errs, vp, v.name, dns1123LabelErrors(v.name));
    if (volumeNames.has(v.name)) errs.push(duplicate(vp, v.name));
    volumeNames.add(v.name);
  });
  if (!Array.isArray(spec.containers) || spec.containers.length === 0) {
    errs.push(required(`${path}.containers`));
  }
  const names = new Set<string>();
  for (const [list, field] of [
    [spec.initContainers ?? [], "initContainers"],
    [spec.containers ?? [], "containers"],
  ] as const) {
    list.forEach((c, i) => {
      const cp = `${path}.${field}[${i}]`;
      validateContainer(c, cp, volumeNames, errs, requireImage);
      if (names.has(c.name)) errs.push(duplicate(`${cp}.name`, c.name));
      names.add(c.name);
    });
  }
  enumCheck(spec.restartPolicy, `${path}.restartPolicy`, RESTART_POLICIES, errs);
  enumCheck(spec.dnsPolicy, `${path}.dnsPolicy`, DNS_POLICIES, errs);
  if (spec.terminationGracePeriodSeconds !== undefined && spec.terminationGracePeriodSeconds < 0) {
    errs.push(
      invalid(
        `${path}.terminationGracePeriodSeconds`,
        spec.terminationGracePeriodSeconds,
        "must be greater than or equal to 0",
      ),
    );
  }
  if (spec.activeDeadlineSeconds !== undefined && spec.activeDeadlineSeconds <= 0) {
    errs.push(invalid(`${path}.activeDeadlineSeconds`, spec.activeDeadlineSeconds, "must be greater than 0"));
  }
  errs.push(...validateLabels(spec.nodeSelector, `${path}.nodeSelector`));
  if (spec.nodeName !== undefined && spec.nodeName !== "") {
    // Node names are DNS-1123 subdomains.
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(spec.nodeName)) {
      errs.push(
        invalid(`${path}.nodeName`, spec.nodeName, "must be a valid node name (a DNS-1123 subdomain)"),
      );
    }
  }
  for (const f of ["serviceAccountName", "hostname"] as const) {
    const v = spec[f];
    if (v !== undefined && v !== "")
      pushAll(errs, `${path}.${f}`, v, f === "hostname" ? dns1123LabelErrors(v) : dns1123SubdomainLike(v));
  }
  (spec.tolerations ?? []).forEach((t, i) => {
    const tp = `${path}.tolerations[${i}]`;
    enumCheck(t.operator, `${tp}.operator`, TOLERATION_OPS, errs);
    if (t.effect !== undefined && t.effect !== "") enumCheck(t.effect, `${tp}.effect`, TAINT_EFFECTS, errs);
    if (t.operator === "Exists" && t.value !== undefined && t.value !== "") {
      errs.push(invalid(`${tp}.operator`, t.operator, "value must be empty when `operator` is 'Exists'"));
    }
  });
  (spec.hostAliases ?? []).forEach((h, i) => {
    errs.push(...validateIP(h.ip, `${path}.hostAliases[${i}].ip`).errors);
  });
  return errs;
}

function dns1123SubdomainLike(s: string): string[] {
  return /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(s) && s.length <= 253
    ? []
    : ["must be a valid DNS-1123 subdomain"];
}

/** Pod spec fields Kubernetes lets an update change (everything else is immutable). */
function podSpecUpdateErrors(spec: PodSpec, old: PodSpec): FieldError[] {
  const errs: FieldError[] = [];
  // nodeName: set once (by binding/scheduling), never moved.
  if (old.nodeName !== undefined && old.nodeName !== "" && spec.nodeName !== old.nodeName) {
    errs.push(invalid("spec.nodeName", spec.nodeName ?? "", "field is immutable once set"));
  }
  const mask = (s: PodSpec): Record<string, unknown> => {
    const c = structuredClone(s) as Record<string, unknown>;
    delete c.activeDeadlineSeconds;
    delete c.terminationGracePeriodSeconds;
    delete c.tolerations;
    delete c.nodeName;
    delete c.schedulingGates;
    for (const f of ["containers", "initContainers"]) {
      const list = c[f];
      if (Array.isArray(list)) for (const ct of list) if (isRecord(ct)) delete ct.image;
    }
    return c;
  };
  if (!jsonEqual(mask(spec), mask(old))) {
    errs.push(
      forbidden(
        "spec",
        "pod updates may not change fields other than `spec.containers[*].image`, `spec.initContainers[*].image`, `spec.activeDeadlineSeconds`, `spec.tolerations` (only additions to existing tolerations), `spec.terminationGracePeriodSeconds`, `spec.schedulingGates` (only removals) or `spec.nodeName` (only set once)",
      ),
    );
  }
  return errs;
}

export function validatePod(obj: KubeObject, old?: KubeObject): FieldError[] {
  const pod = as<Pod>(obj);
  const errs = validatePodSpec(pod.spec, "spec");
  const st = pod.status;
  if (st?.podIP !== undefined && st.podIP !== "") errs.push(...validateIP(st.podIP, "status.podIP").errors);
  (st?.podIPs ?? []).forEach((p, i) => {
    errs.push(...validateIP(p.ip, `status.podIPs[${i}].ip`).errors);
  });
  if (st?.hostIP !== undefined && st.hostIP !== "")
    errs.push(...validateIP(st.hostIP, "status.hostIP").errors);
  if (old !== undefined) errs.push(...podSpecUpdateErrors(pod.spec, as<Pod>(old).spec));
  return errs;
}

interface ContainerStatusLike {
  ready?: boolean;
  restartCount?: number;
  state?: Record<string, unknown>;
}

/** The STATUS column as kubectl computes it (phase, then init/container waiting/terminated
 *  reasons, Terminating). */
export function podStatusText(obj: KubeObject): string {
  const status = (obj.status ?? {}) as Record<string, unknown>;
  let reason = digStr(status, "reason") ?? digStr(status, "phase") ?? "Pending";
  const inits = digArr(status, "initContainerStatuses") as ContainerStatusLike[];
  const initSpecs = digArr(obj, "spec", "initContainers");
  let initializing = false;
  for (let i = 0; i < inits.length; i++) {
    const cs = inits[i]!;
    const term = dig(cs, "state", "terminated");
    const waitReason = digStr(cs, "state", "waiting", "reason");
    if (isRecord(term) && term.exitCode === 0) continue;
    initializing = true;
    if (isRecord(term)) {
      reason =
        typeof term.reason === "string" && term.reason !== ""
          ? `Init:${term.reason}`
          : term.signal
            ? `Init:Signal:${String(term.signal)}`
            : `Init:ExitCode:${String(term.exitCode)}`;
    } else if (waitReason !== undefined && waitReason !== "" && waitReason !== "PodInitializing") {
      reason = `Init:${waitReason}`;
    } else {
      reason = `Init:${i}/${initSpecs.length}`;
    }
    break;
  }
  if (!initializing) {
    let hasRunning = false;
    const cstats = digArr(status, "containerStatuses") as ContainerStatusLike[];
    for (let i = cstats.length - 1; i >= 0; i--) {
      const cs = cstats[i]!;
      const waitReason = digStr(cs, "state", "waiting", "reason");
      const term = dig(cs, "state", "terminated");
      if (waitReason !== undefined && waitReason !== "") reason = waitReason;
      else if (isRecord(term)) {
        reason =
          typeof term.reason === "string" && term.reason !== ""
            ? term.reason
            : term.signal
              ? `Signal:${String(term.signal)}`
              : `ExitCode:${String(term.exitCode)}`;
      } else if (isRecord(dig(cs, "state", "running")) && cs.ready) hasRunning = true;
    }
    if (reason === "Completed" && hasRunning) reason = "Running";
  }
  if (obj.metadata.deletionTimestamp) reason = status.reason === "NodeLost" ? "Unknown" : "Terminating";
  return reason;
}

export const podType = defineKind({
  group: "",
  version: "v1",
  kind: "Pod",
  plural: "pods",
  shortNames: ["po"],
  categories: ["all"],
  namespaced: true,
  statusSubresource: true,
  builtin: true,
  schema: PodSchema,
  openAPIName: "io.k8s.api.core.v1.Pod",
  validate: validatePod,
  defaults(obj) {
    defaultPodSpec(obj.spec);
    if (isRecord(obj.spec) && obj.spec.enableServiceLinks === undefined) obj.spec.enableServiceLinks = true;
    if (obj.status === undefined) obj.status = { phase: "Pending" };
    else if (isRecord(obj.status) && obj.status.phase === undefined) obj.status.phase = "Pending";
  },
  columns: [
    column("Ready", "string", "Ready containers / containers", (o) => {
      const cs = digArr(o, "status", "containerStatuses") as ContainerStatusLike[];
      return `${cs.filter((c) => c.ready).length}/${digArr(o, "spec", "containers").length}`;
    }),
    column("Status", "string", "Pod status as kubectl computes it", podStatusText),
    column("Restarts", "integer", "Container restarts", (o) =>
      (digArr(o, "status", "containerStatuses") as ContainerStatusLike[]).reduce(
        (n, c) => n + (c.restartCount ?? 0),
        0,
      ),
    ),
    column("IP", "string", "Pod IP", (o) => digStr(o, "status", "podIP"), 1),
    column("Node", "string", "Node the pod runs on", (o) => digStr(o, "spec", "nodeName"), 1),
    column("Nominated Node", "string", "Nominated node", (o) => digStr(o, "status", "nominatedNodeName"), 1),
    column(
      "Readiness Gates",
      "string",
      "Readiness gates",
      (o) => {
        const gates = digArr(o, "spec", "readinessGates");
        return gates.length === 0 ? undefined : `${gates.length}`;
      },
      1,
    ),
  ],
  fieldSelectors: {
    "spec.nodeName": (o) => digStr(o, "spec", "nodeName") ?? "",
    "spec.restartPolicy": (o) => digStr(o, "spec", "restartPolicy") ?? "",
    "spec.schedulerName": (o) => digStr(o, "spec", "schedulerName") ?? "",
    "spec.serviceAccountName": (o) => digStr(o, "spec", "serviceAccountName") ?? "",
    "spec.hostNetwork": (o) => String(dig(o, "spec", "hostNetwork") === true),
    "status.phase": (o) => digStr(o, "status", "phase") ?? "",
    "status.podIP": (o) => digStr(o, "status", "podIP") ?? "",
    "status.nominatedNodeName": (o) => digStr(o, "status", "nominatedNodeName") ?? "",
  },
});
