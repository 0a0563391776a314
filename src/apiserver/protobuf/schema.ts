// Message descriptors for the Kubernetes kinds whose protobuf bodies the API server decodes, as data.
// Each line is `<field number> <name> <type> [notes]`:
//   type  string | bytes | bool | int32 | int64 | Time | MicroTime | IntOrString | Quantity | FieldsV1 |
//         <Message> (same package) | <pkg>.<Message> | []<type> | map<string,<type>>
//   notes `*` Go pointer (present exactly when on the wire), `!` JSON tag without omitempty,
//         `*!` pointer without omitempty (null when absent), `inline` embedded struct (members merged
//         into the parent JSON object; the name is then the proto field name and is not a JSON key).
// Field numbers, names and types come from the generated.proto files (docs: /work/shared/docs/K8S-PROTOBUF.md)
// and are checked against the descriptors embedded in kubectl 1.32 by schema.test.ts; the notes come
// from the Go struct tags. Fields added after 1.32 are included where the doc lists them.
// Pure data plus a parser; no I/O.

export type Scalar = "string" | "bytes" | "bool" | "int32" | "int64";
export type Special = "Time" | "MicroTime" | "IntOrString" | "Quantity" | "FieldsV1";

export type ValueType =
  | { kind: "scalar"; scalar: Scalar }
  | { kind: "special"; special: Special }
  | { kind: "message"; message: string };

export interface FieldDesc {
  number: number;
  name: string;
  /** "single", "repeated" ([]T) or "map" (map<string,T>, entries {1: key, 2: value}). */
  shape: "single" | "repeated" | "map";
  type: ValueType;
  pointer: boolean;
  /** JSON tag without omitempty: printed even when zero/absent. */
  always: boolean;
  inline: boolean;
}

export interface MessageDesc {
  /** Qualified name such as `core.PodSpec`. */
  name: string;
  fields: readonly FieldDesc[];
  byNumber: ReadonlyMap<number, FieldDesc>;
}

type Table = Record<string, readonly string[]>;

/** Container and EphemeralContainerCommon share their fields (same numbers, same Go tags). */
const CONTAINER: readonly string[] = [
  "1 name string !",
  "2 image string",
  "3 command []string",
  "4 args []string",
  "5 workingDir string",
  "6 ports []ContainerPort",
  "19 envFrom []EnvFromSource",
  "7 env []EnvVar",
  "8 resources ResourceRequirements",
  "23 resizePolicy []ContainerResizePolicy",
  "24 restartPolicy string *",
  "9 volumeMounts []VolumeMount",
  "21 volumeDevices []VolumeDevice",
  "10 livenessProbe Probe *",
  "11 readinessProbe Probe *",
  "22 startupProbe Probe *",
  "12 lifecycle Lifecycle *",
  "13 terminationMessagePath string",
  "20 terminationMessagePolicy string",
  "14 imagePullPolicy string",
  "15 securityContext SecurityContext *",
  "16 stdin bool",
  "17 stdinOnce bool",
  "18 tty bool",
];

const META: Table = {
  ObjectMeta: [
    "1 name string",
    "2 generateName string",
    "3 namespace string",
    "4 selfLink string",
    "5 uid string",
    "6 resourceVersion string",
    "7 generation int64",
    "8 creationTimestamp Time",
    "9 deletionTimestamp Time *",
    "10 deletionGracePeriodSeconds int64 *",
    "11 labels map<string,string>",
    "12 annotations map<string,string>",
    "13 ownerReferences []OwnerReference",
    "14 finalizers []string",
    "17 managedFields []ManagedFieldsEntry",
  ],
  OwnerReference: [
    "5 apiVersion string !",
    "1 kind string !",
    "3 name string !",
    "4 uid string !",
    "6 controller bool *",
    "7 blockOwnerDeletion bool *",
  ],
  ManagedFieldsEntry: [
    "1 manager string",
    "2 operation string",
    "3 apiVersion string",
    "4 time Time *",
    "6 fieldsType string",
    "7 fieldsV1 FieldsV1 *",
    "8 subresource string",
  ],
  LabelSelector: ["1 matchLabels map<string,string>", "2 matchExpressions []LabelSelectorRequirement"],
  LabelSelectorRequirement: ["1 key string !", "2 operator string !", "3 values []string"],
  ListMeta: [
    "1 selfLink string",
    "2 resourceVersion string",
    "3 continue string",
    "4 remainingItemCount int64 *",
    "5 shardInfo ShardInfo *",
  ],
  ShardInfo: ["1 selector string"],
  Status: [
    "1 metadata ListMeta",
    "2 status string",
    "3 message string",
    "4 reason string",
    "5 details StatusDetails *",
    "6 code int32",
  ],
  StatusDetails: [
    "1 name string",
    "2 group string",
    "3 kind string",
    "6 uid string",
    "4 causes []StatusCause",
    "5 retryAfterSeconds int32",
  ],
  StatusCause: ["1 reason string", "2 message string", "3 field string"],
  Condition: [
    "1 type string !",
    "2 status string !",
    "3 observedGeneration int64",
    "4 lastTransitionTime Time !",
    "5 reason string !",
    "6 message string !",
  ],
  DeleteOptions: [
    "1 gracePeriodSeconds int64 *",
    "2 preconditions Preconditions *",
    "3 orphanDependents bool *",
    "4 propagationPolicy string *",
    "5 dryRun []string",
    "6 ignoreStoreReadErrorWithClusterBreakingPotential bool *",
  ],
  Preconditions: ["1 uid string *", "2 resourceVersion string *"],
};

const CORE: Table = {
  // --- Namespace, ConfigMap, Secret, ServiceAccount, references
  Namespace: ["1 metadata meta.ObjectMeta", "2 spec NamespaceSpec", "3 status NamespaceStatus"],
  NamespaceSpec: ["1 finalizers []string"],
  NamespaceStatus: ["1 phase string", "2 conditions []NamespaceCondition"],
  NamespaceCondition: [
    "1 type string !",
    "2 status string !",
    "4 lastTransitionTime Time",
    "5 reason string",
    "6 message string",
  ],
  ConfigMap: [
    "1 metadata meta.ObjectMeta",
    "4 immutable bool *",
    "2 data map<string,string>",
    "3 binaryData map<string,bytes>",
  ],
  Secret: [
    "1 metadata meta.ObjectMeta",
    "5 immutable bool *",
    "2 data map<string,bytes>",
    "4 stringData map<string,string>",
    "3 type string",
  ],
  ServiceAccount: [
    "1 metadata meta.ObjectMeta",
    "2 secrets []ObjectReference",
    "3 imagePullSecrets []LocalObjectReference",
    "4 automountServiceAccountToken bool *",
  ],
  LocalObjectReference: ["1 name string"],
  ObjectReference: [
    "1 kind string",
    "2 namespace string",
    "3 name string",
    "4 uid string",
    "5 apiVersion string",
    "6 resourceVersion string",
    "7 fieldPath string",
  ],
  TypedLocalObjectReference: ["1 apiGroup string *!", "2 kind string !", "3 name string !"],
  TypedObjectReference: [
    "1 apiGroup string *!",
    "2 kind string !",
    "3 name string !",
    "4 namespace string *",
  ],

  // --- Service
  Service: ["1 metadata meta.ObjectMeta", "2 spec ServiceSpec", "3 status ServiceStatus"],
  ServiceSpec: [
    "1 ports []ServicePort",
    "2 selector map<string,string>",
    "3 clusterIP string",
    "18 clusterIPs []string",
    "4 type string",
    "5 externalIPs []string",
    "7 sessionAffinity string",
    "8 loadBalancerIP string",
    "9 loadBalancerSourceRanges []string",
    "10 externalName string",
    "11 externalTrafficPolicy string",
    "12 healthCheckNodePort int32",
    "13 publishNotReadyAddresses bool",
    "14 sessionAffinityConfig SessionAffinityConfig *",
    "19 ipFamilies []string",
    "17 ipFamilyPolicy string *",
    "20 allocateLoadBalancerNodePorts bool *",
    "21 loadBalancerClass string *",
    "22 internalTrafficPolicy string *",
    "23 trafficDistribution string *",
  ],
  ServicePort: [
    "1 name string",
    "2 protocol string",
    "6 appProtocol string *",
    "3 port int32 !",
    "4 targetPort IntOrString",
    "5 nodePort int32",
  ],
  SessionAffinityConfig: ["1 clientIP ClientIPConfig *"],
  ClientIPConfig: ["1 timeoutSeconds int32 *"],
  ServiceStatus: ["1 loadBalancer LoadBalancerStatus", "2 conditions []meta.Condition"],
  LoadBalancerStatus: ["1 ingress []LoadBalancerIngress"],
  LoadBalancerIngress: ["1 ip string", "2 hostname string", "3 ipMode string *", "4 ports []PortStatus"],
  PortStatus: ["1 port int32 !", "2 protocol string !", "3 error string *"],

  // --- Pod
  Pod: ["1 metadata meta.ObjectMeta", "2 spec PodSpec", "3 status PodStatus"],
  PodTemplateSpec: ["1 metadata meta.ObjectMeta", "2 spec PodSpec"],
  PodSpec: [
    "1 volumes []Volume",
    "20 initContainers []Container",
    "2 containers []Container !",
    "34 ephemeralContainers []EphemeralContainer",
    "3 restartPolicy string",
    "4 terminationGracePeriodSeconds int64 *",
    "5 activeDeadlineSeconds int64 *",
    "6 dnsPolicy string",
    "7 nodeSelector map<string,string>",
    "8 serviceAccountName string",
    "9 serviceAccount string",
    "21 automountServiceAccountToken bool *",
    "10 nodeName string",
    "11 hostNetwork bool",
    "12 hostPID bool",
    "13 hostIPC bool",
    "27 shareProcessNamespace bool *",
    "14 securityContext PodSecurityContext *",
    "15 imagePullSecrets []LocalObjectReference",
    "16 hostname string",
    "17 subdomain string",
    "18 affinity Affinity *",
    "19 schedulerName string",
    "22 tolerations []Toleration",
    "23 hostAliases []HostAlias",
    "24 priorityClassName string",
    "25 priority int32 *",
    "26 dnsConfig PodDNSConfig *",
    "28 readinessGates []PodReadinessGate",
    "29 runtimeClassName string *",
    "30 enableServiceLinks bool *",
    "31 preemptionPolicy string *",
    "32 overhead map<string,Quantity>",
    "33 topologySpreadConstraints []TopologySpreadConstraint",
    "35 setHostnameAsFQDN bool *",
    "36 os PodOS *",
    "37 hostUsers bool *",
    "38 schedulingGates []PodSchedulingGate",
    "39 resourceClaims []PodResourceClaim",
    "40 resources ResourceRequirements *",
    "41 hostnameOverride string *",
  ],
  Container: CONTAINER,
  EphemeralContainerCommon: CONTAINER,
  EphemeralContainer: [
    "1 ephemeralContainerCommon EphemeralContainerCommon inline",
    "2 targetContainerName string",
  ],
  ContainerPort: [
    "1 name string",
    "2 hostPort int32",
    "3 containerPort int32 !",
    "4 protocol string",
    "5 hostIP string",
  ],
  EnvVar: ["1 name string !", "2 value string", "3 valueFrom EnvVarSource *"],
  EnvVarSource: [
    "1 fieldRef ObjectFieldSelector *",
    "2 resourceFieldRef ResourceFieldSelector *",
    "3 configMapKeyRef ConfigMapKeySelector *",
    "4 secretKeyRef SecretKeySelector *",
  ],
  ConfigMapKeySelector: [
    "1 localObjectReference LocalObjectReference inline",
    "2 key string !",
    "3 optional bool *",
  ],
  SecretKeySelector: [
    "1 localObjectReference LocalObjectReference inline",
    "2 key string !",
    "3 optional bool *",
  ],
  ObjectFieldSelector: ["1 apiVersion string", "2 fieldPath string !"],
  ResourceFieldSelector: ["1 containerName string", "2 resource string !", "3 divisor Quantity"],
  EnvFromSource: ["1 prefix string", "2 configMapRef ConfigMapEnvSource *", "3 secretRef SecretEnvSource *"],
  ConfigMapEnvSource: ["1 localObjectReference LocalObjectReference inline", "2 optional bool *"],
  SecretEnvSource: ["1 localObjectReference LocalObjectReference inline", "2 optional bool *"],
  SecurityContext: [
    "1 capabilities Capabilities *",
    "2 privileged bool *",
    "3 seLinuxOptions SELinuxOptions *",
    "10 windowsOptions WindowsSecurityContextOptions *",
    "4 runAsUser int64 *",
    "8 runAsGroup int64 *",
    "5 runAsNonRoot bool *",
    "6 readOnlyRootFilesystem bool *",
    "7 allowPrivilegeEscalation bool *",
    "9 procMount string *",
    "11 seccompProfile SeccompProfile *",
    "12 appArmorProfile AppArmorProfile *",
  ],
  Capabilities: ["1 add []string", "2 drop []string"],
  ResourceRequirements: [
    "1 limits map<string,Quantity>",
    "2 requests map<string,Quantity>",
    "3 claims []ResourceClaim",
  ],
  ResourceClaim: ["1 name string !", "2 request string"],
  ContainerResizePolicy: ["1 resourceName string !", "2 restartPolicy string !"],
  VolumeDevice: ["1 name string !", "2 devicePath string !"],
  VolumeMount: [
    "1 name string !",
    "2 readOnly bool",
    "7 recursiveReadOnly string *",
    "3 mountPath string !",
    "4 subPath string",
    "5 mountPropagation string *",
    "6 subPathExpr string",
  ],
  Probe: [
    "1 handler ProbeHandler inline",
    "2 initialDelaySeconds int32",
    "3 timeoutSeconds int32",
    "4 periodSeconds int32",
    "5 successThreshold int32",
    "6 failureThreshold int32",
    "7 terminationGracePeriodSeconds int64 *",
  ],
  ProbeHandler: [
    "1 exec ExecAction *",
    "2 httpGet HTTPGetAction *",
    "3 tcpSocket TCPSocketAction *",
    "4 grpc GRPCAction *",
  ],
  ExecAction: ["1 command []string"],
  HTTPGetAction: [
    "1 path string",
    "2 port IntOrString !",
    "3 host string",
    "4 scheme string",
    "5 httpHeaders []HTTPHeader",
  ],
  HTTPHeader: ["1 name string !", "2 value string !"],
  TCPSocketAction: ["1 port IntOrString !", "2 host string"],
  GRPCAction: ["1 port int32 !", "2 service string *!"],
  Lifecycle: ["1 postStart LifecycleHandler *", "2 preStop LifecycleHandler *", "3 stopSignal string *"],
  LifecycleHandler: [
    "1 exec ExecAction *",
    "2 httpGet HTTPGetAction *",
    "3 tcpSocket TCPSocketAction *",
    "4 sleep SleepAction *",
  ],
  SleepAction: ["1 seconds int64 !"],
  PodSecurityContext: [
    "1 seLinuxOptions SELinuxOptions *",
    "8 windowsOptions WindowsSecurityContextOptions *",
    "2 runAsUser int64 *",
    "6 runAsGroup int64 *",
    "3 runAsNonRoot bool *",
    "4 supplementalGroups []int64",
    "12 supplementalGroupsPolicy string *",
    "5 fsGroup int64 *",
    "7 sysctls []Sysctl",
    "9 fsGroupChangePolicy string *",
    "10 seccompProfile SeccompProfile *",
    "11 appArmorProfile AppArmorProfile *",
    "13 seLinuxChangePolicy string *",
  ],
  SELinuxOptions: ["1 user string", "2 role string", "3 type string", "4 level string"],
  WindowsSecurityContextOptions: [
    "1 gmsaCredentialSpecName string *",
    "2 gmsaCredentialSpec string *",
    "3 runAsUserName string *",
    "4 hostProcess bool *",
  ],
  SeccompProfile: ["1 type string !", "2 localhostProfile string *"],
  AppArmorProfile: ["1 type string !", "2 localhostProfile string *"],
  Sysctl: ["1 name string !", "2 value string !"],
  Affinity: [
    "1 nodeAffinity NodeAffinity *",
    "2 podAffinity PodAffinity *",
    "3 podAntiAffinity PodAntiAffinity *",
  ],
  NodeAffinity: [
    "1 requiredDuringSchedulingIgnoredDuringExecution NodeSelector *",
    "2 preferredDuringSchedulingIgnoredDuringExecution []PreferredSchedulingTerm",
  ],
  NodeSelector: ["1 nodeSelectorTerms []NodeSelectorTerm !"],
  NodeSelectorTerm: [
    "1 matchExpressions []NodeSelectorRequirement",
    "2 matchFields []NodeSelectorRequirement",
  ],
  NodeSelectorRequirement: ["1 key string !", "2 operator string !", "3 values []string"],
  PreferredSchedulingTerm: ["1 weight int32 !", "2 preference NodeSelectorTerm !"],
  PodAffinity: [
    "1 requiredDuringSchedulingIgnoredDuringExecution []PodAffinityTerm",
    "2 preferredDuringSchedulingIgnoredDuringExecution []WeightedPodAffinityTerm",
  ],
  PodAntiAffinity: [
    "1 requiredDuringSchedulingIgnoredDuringExecution []PodAffinityTerm",
    "2 preferredDuringSchedulingIgnoredDuringExecution []WeightedPodAffinityTerm",
  ],
  PodAffinityTerm: [
    "1 labelSelector meta.LabelSelector *",
    "2 namespaces []string",
    "3 topologyKey string !",
    "4 namespaceSelector meta.LabelSelector *",
    "5 matchLabelKeys []string",
    "6 mismatchLabelKeys []string",
  ],
  WeightedPodAffinityTerm: ["1 weight int32 !", "2 podAffinityTerm PodAffinityTerm !"],
  Toleration: [
    "1 key string",
    "2 operator string",
    "3 value string",
    "4 effect string",
    "5 tolerationSeconds int64 *",
  ],
  HostAlias: ["1 ip string !", "2 hostnames []string"],
  PodDNSConfig: ["1 nameservers []string", "2 searches []string", "3 options []PodDNSConfigOption"],
  PodDNSConfigOption: ["1 name string", "2 value string *"],
  PodReadinessGate: ["1 conditionType string !"],
  TopologySpreadConstraint: [
    "1 maxSkew int32 !",
    "2 topologyKey string !",
    "3 whenUnsatisfiable string !",
    "4 labelSelector meta.LabelSelector *",
    "5 minDomains int32 *",
    "6 nodeAffinityPolicy string *",
    "7 nodeTaintsPolicy string *",
    "8 matchLabelKeys []string",
  ],
  PodOS: ["1 name string !"],
  PodSchedulingGate: ["1 name string !"],
  PodResourceClaim: [
    "1 name string !",
    "3 resourceClaimName string *",
    "4 resourceClaimTemplateName string *",
  ],
  Volume: ["1 name string !", "2 volumeSource VolumeSource inline"],
  VolumeSource: [
    "1 hostPath HostPathVolumeSource *",
    "2 emptyDir EmptyDirVolumeSource *",
    "6 secret SecretVolumeSource *",
    "7 nfs NFSVolumeSource *",
    "10 persistentVolumeClaim PersistentVolumeClaimVolumeSource *",
    "16 downwardAPI DownwardAPIVolumeSource *",
    "19 configMap ConfigMapVolumeSource *",
    "26 projected ProjectedVolumeSource *",
    "28 csi CSIVolumeSource *",
    "29 ephemeral EphemeralVolumeSource *",
    "30 image ImageVolumeSource *",
  ],
  HostPathVolumeSource: ["1 path string !", "2 type string *"],
  EmptyDirVolumeSource: ["1 medium string", "2 sizeLimit Quantity *", "3 mode int32 *"],
  SecretVolumeSource: [
    "1 secretName string",
    "2 items []KeyToPath",
    "3 defaultMode int32 *",
    "4 optional bool *",
    "5 defaultUser int64 *",
  ],
  NFSVolumeSource: ["1 server string !", "2 path string !", "3 readOnly bool"],
  PersistentVolumeClaimVolumeSource: ["1 claimName string !", "2 readOnly bool"],
  ConfigMapVolumeSource: [
    "1 localObjectReference LocalObjectReference inline",
    "2 items []KeyToPath",
    "3 defaultMode int32 *",
    "4 optional bool *",
    "5 defaultUser int64 *",
  ],
  KeyToPath: ["1 key string !", "2 path string !", "3 mode int32 *", "4 user int64 *"],
  DownwardAPIVolumeSource: ["1 items []DownwardAPIVolumeFile", "2 defaultMode int32 *"],
  DownwardAPIVolumeFile: [
    "1 path string !",
    "2 fieldRef ObjectFieldSelector *",
    "3 resourceFieldRef ResourceFieldSelector *",
    "4 mode int32 *",
  ],
  ProjectedVolumeSource: ["1 sources []VolumeProjection !", "2 defaultMode int32 *"],
  VolumeProjection: [
    "1 secret SecretProjection *",
    "2 downwardAPI DownwardAPIProjection *",
    "3 configMap ConfigMapProjection *",
    "4 serviceAccountToken ServiceAccountTokenProjection *",
    "5 clusterTrustBundle ClusterTrustBundleProjection *",
  ],
  SecretProjection: [
    "1 localObjectReference LocalObjectReference inline",
    "2 items []KeyToPath",
    "4 optional bool *",
  ],
  ConfigMapProjection: [
    "1 localObjectReference LocalObjectReference inline",
    "2 items []KeyToPath",
    "4 optional bool *",
  ],
  DownwardAPIProjection: ["1 items []DownwardAPIVolumeFile"],
  ServiceAccountTokenProjection: ["1 audience string", "2 expirationSeconds int64 *", "3 path string !"],
  ClusterTrustBundleProjection: [
    "1 name string *",
    "2 signerName string *",
    "3 labelSelector meta.LabelSelector *",
    "5 optional bool *",
    "4 path string !",
  ],
  CSIVolumeSource: [
    "1 driver string !",
    "2 readOnly bool *",
    "3 fsType string *",
    "4 volumeAttributes map<string,string>",
    "5 nodePublishSecretRef LocalObjectReference *",
  ],
  EphemeralVolumeSource: ["1 volumeClaimTemplate PersistentVolumeClaimTemplate *"],
  PersistentVolumeClaimTemplate: ["1 metadata meta.ObjectMeta", "2 spec PersistentVolumeClaimSpec !"],
  PersistentVolumeClaimSpec: [
    "1 accessModes []string",
    "4 selector meta.LabelSelector *",
    "2 resources VolumeResourceRequirements",
    "3 volumeName string",
    "5 storageClassName string *",
    "6 volumeMode string *",
    "7 dataSource TypedLocalObjectReference *",
    "8 dataSourceRef TypedObjectReference *",
    "9 volumeAttributesClassName string *",
  ],
  VolumeResourceRequirements: ["1 limits map<string,Quantity>", "2 requests map<string,Quantity>"],
  ImageVolumeSource: ["1 reference string", "2 pullPolicy string"],
  PodStatus: [
    "17 observedGeneration int64",
    "1 phase string",
    "2 conditions []PodCondition",
    "3 message string",
    "4 reason string",
    "11 nominatedNodeName string",
    "5 hostIP string",
    "16 hostIPs []HostIP",
    "6 podIP string",
    "12 podIPs []PodIP",
    "7 startTime Time *",
    "10 initContainerStatuses []ContainerStatus",
    "8 containerStatuses []ContainerStatus",
    "9 qosClass string",
    "13 ephemeralContainerStatuses []ContainerStatus",
    "14 resize string",
    "15 resourceClaimStatuses []PodResourceClaimStatus",
  ],
  PodCondition: [
    "1 type string !",
    "7 observedGeneration int64",
    "2 status string !",
    "3 lastProbeTime Time",
    "4 lastTransitionTime Time",
    "5 reason string",
    "6 message string",
  ],
  PodIP: ["1 ip string !"],
  HostIP: ["1 ip string !"],
  PodResourceClaimStatus: ["1 name string !", "2 resourceClaimName string *"],
  ContainerStatus: [
    "1 name string !",
    "2 state ContainerState",
    "3 lastState ContainerState",
    "4 ready bool !",
    "5 restartCount int32 !",
    "6 image string !",
    "7 imageID string !",
    "8 containerID string",
    "9 started bool *",
    "10 allocatedResources map<string,Quantity>",
    "11 resources ResourceRequirements *",
    "12 volumeMounts []VolumeMountStatus",
    "13 user ContainerUser *",
    "14 allocatedResourcesStatus []ResourceStatus",
    "15 stopSignal string *",
  ],
  ContainerState: [
    "1 waiting ContainerStateWaiting *",
    "2 running ContainerStateRunning *",
    "3 terminated ContainerStateTerminated *",
  ],
  ContainerStateWaiting: ["1 reason string", "2 message string"],
  ContainerStateRunning: ["1 startedAt Time"],
  ContainerStateTerminated: [
    "1 exitCode int32 !",
    "2 signal int32",
    "3 reason string",
    "4 message string",
    "5 startedAt Time",
    "6 finishedAt Time",
    "7 containerID string",
  ],
  VolumeMountStatus: [
    "1 name string !",
    "2 mountPath string !",
    "3 readOnly bool",
    "4 recursiveReadOnly string *",
  ],
  ContainerUser: ["1 linux LinuxContainerUser *"],
  LinuxContainerUser: ["1 uid int64 !", "2 gid int64 !", "3 supplementalGroups []int64"],
  ResourceStatus: ["1 name string !", "2 resources []ResourceHealth"],
  ResourceHealth: ["1 resourceID string !", "2 health string"],

  // --- ReplicationController
  ReplicationController: [
    "1 metadata meta.ObjectMeta",
    "2 spec ReplicationControllerSpec",
    "3 status ReplicationControllerStatus",
  ],
  ReplicationControllerSpec: [
    "1 replicas int32 *",
    "4 minReadySeconds int32",
    "2 selector map<string,string>",
    "3 template PodTemplateSpec *",
  ],
  ReplicationControllerStatus: [
    "1 replicas int32 !",
    "2 fullyLabeledReplicas int32",
    "4 readyReplicas int32",
    "5 availableReplicas int32",
    "3 observedGeneration int64",
    "6 conditions []ReplicationControllerCondition",
  ],
  ReplicationControllerCondition: [
    "1 type string !",
    "2 status string !",
    "3 lastTransitionTime Time",
    "4 reason string",
    "5 message string",
  ],

  // --- Node
  Node: ["1 metadata meta.ObjectMeta", "2 spec NodeSpec", "3 status NodeStatus"],
  NodeSpec: [
    "1 podCIDR string",
    "7 podCIDRs []string",
    "3 providerID string",
    "4 unschedulable bool",
    "5 taints []Taint",
    "6 configSource NodeConfigSource *",
    "2 externalID string",
  ],
  Taint: ["1 key string !", "2 value string", "3 effect string !", "4 timeAdded Time *"],
  NodeConfigSource: ["2 configMap ConfigMapNodeConfigSource *"],
  ConfigMapNodeConfigSource: [
    "1 namespace string !",
    "2 name string !",
    "3 uid string",
    "4 resourceVersion string",
    "5 kubeletConfigKey string !",
  ],
  NodeStatus: [
    "1 capacity map<string,Quantity>",
    "2 allocatable map<string,Quantity>",
    "3 phase string",
    "4 conditions []NodeCondition",
    "5 addresses []NodeAddress",
    "6 daemonEndpoints NodeDaemonEndpoints",
    "7 nodeInfo NodeSystemInfo",
    "8 images []ContainerImage",
    "9 volumesInUse []string",
    "10 volumesAttached []AttachedVolume",
    "11 config NodeConfigStatus *",
    "12 runtimeHandlers []NodeRuntimeHandler",
    "13 features NodeFeatures *",
    "14 declaredFeatures []string",
  ],
  NodeCondition: [
    "1 type string !",
    "2 status string !",
    "3 lastHeartbeatTime Time",
    "4 lastTransitionTime Time",
    "5 reason string",
    "6 message string",
  ],
  NodeAddress: ["1 type string !", "2 address string !"],
  NodeDaemonEndpoints: ["1 kubeletEndpoint DaemonEndpoint"],
  DaemonEndpoint: ["1 Port int32 !"],
  NodeSystemInfo: [
    "1 machineID string !",
    "2 systemUUID string !",
    "3 bootID string !",
    "4 kernelVersion string !",
    "5 osImage string !",
    "6 containerRuntimeVersion string !",
    "7 kubeletVersion string !",
    "8 kubeProxyVersion string !",
    "9 operatingSystem string !",
    "10 architecture string !",
    "11 swap NodeSwapStatus *",
  ],
  NodeSwapStatus: ["1 capacity int64 *"],
  ContainerImage: ["1 names []string !", "2 sizeBytes int64"],
  AttachedVolume: ["1 name string !", "2 devicePath string !"],
  NodeConfigStatus: [
    "1 assigned NodeConfigSource *",
    "2 active NodeConfigSource *",
    "3 lastKnownGood NodeConfigSource *",
    "4 error string",
  ],
  NodeRuntimeHandler: ["1 name string !", "2 features NodeRuntimeHandlerFeatures *"],
  NodeRuntimeHandlerFeatures: ["1 recursiveReadOnlyMounts bool *", "2 userNamespaces bool *"],
  NodeFeatures: ["1 supplementalGroupsPolicy bool *"],

  // --- Endpoints, Event
  Endpoints: ["1 metadata meta.ObjectMeta", "2 subsets []EndpointSubset"],
  EndpointSubset: [
    "1 addresses []EndpointAddress",
    "2 notReadyAddresses []EndpointAddress",
    "3 ports []EndpointPort",
  ],
  EndpointAddress: [
    "1 ip string !",
    "3 hostname string",
    "4 nodeName string *",
    "2 targetRef ObjectReference *",
  ],
  EndpointPort: ["1 name string", "2 port int32 !", "3 protocol string", "4 appProtocol string *"],
  Event: [
    "1 metadata meta.ObjectMeta !",
    "2 involvedObject ObjectReference !",
    "3 reason string",
    "4 message string",
    "5 source EventSource",
    "6 firstTimestamp Time",
    "7 lastTimestamp Time",
    "8 count int32",
    "9 type string",
    "10 eventTime MicroTime",
    "11 series EventSeries *",
    "12 action string",
    "13 related ObjectReference *",
    "14 reportingComponent string !",
    "15 reportingInstance string !",
  ],
  EventSource: ["1 component string", "2 host string"],
  EventSeries: ["1 count int32", "2 lastObservedTime MicroTime"],
};

const COORDINATION: Table = {
  Lease: ["1 metadata meta.ObjectMeta", "2 spec LeaseSpec"],
  LeaseSpec: [
    "1 holderIdentity string *",
    "2 leaseDurationSeconds int32 *",
    "3 acquireTime MicroTime *",
    "4 renewTime MicroTime *",
    "5 leaseTransitions int32 *",
    "6 strategy string *",
    "7 preferredHolder string *",
  ],
};

const NETWORKING: Table = {
  NetworkPolicy: ["1 metadata meta.ObjectMeta", "2 spec NetworkPolicySpec"],
  NetworkPolicySpec: [
    "1 podSelector meta.LabelSelector !",
    "2 ingress []NetworkPolicyIngressRule",
    "3 egress []NetworkPolicyEgressRule",
    "4 policyTypes []string",
  ],
  NetworkPolicyIngressRule: ["1 ports []NetworkPolicyPort", "2 from []NetworkPolicyPeer"],
  NetworkPolicyEgressRule: ["1 ports []NetworkPolicyPort", "2 to []NetworkPolicyPeer"],
  NetworkPolicyPeer: [
    "1 podSelector meta.LabelSelector *",
    "2 namespaceSelector meta.LabelSelector *",
    "3 ipBlock IPBlock *",
  ],
  NetworkPolicyPort: ["1 protocol string *", "2 port IntOrString *", "3 endPort int32 *"],
  IPBlock: ["1 cidr string !", "2 except []string"],
  Ingress: ["1 metadata meta.ObjectMeta", "2 spec IngressSpec", "3 status IngressStatus"],
  IngressSpec: [
    "4 ingressClassName string *",
    "1 defaultBackend IngressBackend *",
    "2 tls []IngressTLS",
    "3 rules []IngressRule",
  ],
  IngressBackend: ["4 service IngressServiceBackend *", "3 resource core.TypedLocalObjectReference *"],
  IngressServiceBackend: ["1 name string !", "2 port ServiceBackendPort"],
  ServiceBackendPort: ["1 name string", "2 number int32"],
  IngressTLS: ["1 hosts []string", "2 secretName string"],
  IngressRule: ["1 host string", "2 ingressRuleValue IngressRuleValue inline"],
  IngressRuleValue: ["1 http HTTPIngressRuleValue *"],
  HTTPIngressRuleValue: ["1 paths []HTTPIngressPath !"],
  HTTPIngressPath: ["1 path string", "3 pathType string *!", "2 backend IngressBackend !"],
  IngressStatus: ["1 loadBalancer IngressLoadBalancerStatus"],
  IngressLoadBalancerStatus: ["1 ingress []IngressLoadBalancerIngress"],
  IngressLoadBalancerIngress: ["1 ip string", "2 hostname string", "4 ports []IngressPortStatus"],
  IngressPortStatus: ["1 port int32 !", "2 protocol string !", "3 error string *"],
};

/** The proto package each table prefix stands for; used by the descriptor cross-check. */
export const PACKAGES: Readonly<Record<string, string>> = {
  meta: "k8s.io.apimachinery.pkg.apis.meta.v1",
  core: "k8s.io.api.core.v1",
  coordination: "k8s.io.api.coordination.v1",
  networking: "k8s.io.api.networking.v1",
};

/** Every top-level kind that has a `<Kind>List` (metadata = ListMeta, items = []Kind). */
const LIST_KINDS: Record<string, readonly string[]> = {
  core: [
    "Namespace",
    "ConfigMap",
    "Secret",
    "ServiceAccount",
    "Service",
    "Endpoints",
    "Pod",
    "Node",
    "Event",
    "ReplicationController",
  ],
  coordination: ["Lease"],
  networking: ["NetworkPolicy", "Ingress"],
};

const SPECIALS: readonly string[] = ["Time", "MicroTime", "IntOrString", "Quantity", "FieldsV1"];
const SCALARS: readonly string[] = ["string", "bytes", "bool", "int32", "int64"];

export class SchemaError extends Error {
  override readonly name = "SchemaError";
}

function parseType(token: string, pkg: string, where: string): ValueType {
  if (SCALARS.includes(token)) return { kind: "scalar", scalar: token as Scalar };
  if (SPECIALS.includes(token)) return { kind: "special", special: token as Special };
  if (!/^(?:[a-z]+\.)?[A-Z][A-Za-z0-9]*$/.test(token)) throw new SchemaError(`${where}: bad type ${token}`);
  return { kind: "message", message: token.includes(".") ? token : `${pkg}.${token}` };
}

function parseField(line: string, pkg: string, where: string): FieldDesc {
  const parts = line.split(" ");
  const [num, name, type, notes = "", ...rest] = parts;
  if (!num || !name || !type || rest.length > 0 || !/^[1-9][0-9]*$/.test(num)) {
    throw new SchemaError(`${where}: cannot parse field line ${JSON.stringify(line)}`);
  }
  if (!["", "*", "!", "*!", "inline"].includes(notes)) throw new SchemaError(`${where}: bad notes ${notes}`);
  let shape: FieldDesc["shape"] = "single";
  let inner = type;
  if (type.startsWith("[]")) {
    shape = "repeated";
    inner = type.slice(2);
  } else if (type.startsWith("map<string,") && type.endsWith(">")) {
    shape = "map";
    inner = type.slice("map<string,".length, -1);
  }
  return {
    number: Number(num),
    name,
    shape,
    type: parseType(inner, pkg, `${where}.${name}`),
    pointer: notes.includes("*"),
    always: notes.includes("!"),
    inline: notes === "inline",
  };
}

function buildRegistry(): Map<string, MessageDesc> {
  const reg = new Map<string, MessageDesc>();
  const tables: [string, Table][] = [
    ["meta", META],
    ["core", CORE],
    ["coordination", COORDINATION],
    ["networking", NETWORKING],
  ];
  for (const [pkg, kinds] of Object.entries(LIST_KINDS)) {
    const lists: Table = {};
    for (const k of kinds) lists[`${k}List`] = ["1 metadata meta.ListMeta", `2 items []${k} !`];
    tables.push([pkg, lists]);
  }
  for (const [pkg, table] of tables) {
    for (const [msg, lines] of Object.entries(table)) {
      const name = `${pkg}.${msg}`;
      const fields = lines.map((l) => parseField(l, pkg, name));
      const byNumber = new Map<number, FieldDesc>();
      for (const f of fields) {
        if (byNumber.has(f.number)) throw new SchemaError(`${name}: duplicate field number ${f.number}`);
        byNumber.set(f.number, f);
      }
      reg.set(name, { name, fields, byNumber });
    }
  }
  for (const m of reg.values()) {
    for (const f of m.fields) {
      if (f.type.kind === "message" && !reg.has(f.type.message)) {
        throw new SchemaError(`${m.name}.${f.name}: unknown message ${f.type.message}`);
      }
      if (f.inline && (f.type.kind !== "message" || f.shape !== "single")) {
        throw new SchemaError(`${m.name}.${f.name}: only a single message can be inline`);
      }
    }
  }
  return reg;
}

export const MESSAGES: ReadonlyMap<string, MessageDesc> = buildRegistry();

/** Which message decodes a top-level object, by apiVersion and kind. */
export function messageForKind(apiVersion: string, kind: string): MessageDesc | undefined {
  let pkg: string | undefined;
  if (apiVersion === "v1") pkg = kind === "DeleteOptions" || kind === "Status" ? "meta" : "core";
  else if (apiVersion === "meta.k8s.io/v1")
    pkg = kind === "DeleteOptions" || kind === "Status" ? "meta" : undefined;
  else if (apiVersion === "coordination.k8s.io/v1") pkg = "coordination";
  else if (apiVersion === "networking.k8s.io/v1") pkg = "networking";
  if (!pkg || !/^[A-Z][A-Za-z]*$/.test(kind)) return undefined;
  const top = TOP_LEVEL[pkg];
  if (!top?.has(kind)) return undefined;
  return MESSAGES.get(`${pkg}.${kind}`);
}

const TOP_LEVEL: Record<string, ReadonlySet<string>> = {
  meta: new Set(["DeleteOptions", "Status"]),
  core: new Set([...(LIST_KINDS.core ?? []), ...(LIST_KINDS.core ?? []).map((k) => `${k}List`)]),
  coordination: new Set(["Lease", "LeaseList"]),
  networking: new Set(["NetworkPolicy", "NetworkPolicyList", "Ingress", "IngressList"]),
};
