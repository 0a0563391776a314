import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { formatTime } from "./decode.js";
import {
  decodeKubernetesProtobuf,
  isProtobufContentType,
  ProtobufDecodeError,
  type ProtobufErrorReason,
  UnsupportedKindError,
} from "./index.js";
import {
  type Bytes,
  envelope,
  hex,
  intOrInt,
  intOrStr,
  len,
  micro,
  msg,
  objectMeta,
  quantity,
  str,
  strEntry,
  time,
  vint,
} from "./test-encode.js";
import { fixturesDir } from "./test-fixtures.js";
import { encodeVarint } from "./wire.js";

function decode(apiVersion: string, kind: string, ...fields: Bytes[]): Record<string, unknown> {
  return decodeKubernetesProtobuf(envelope(apiVersion, kind, fields.flat())).object;
}

function throwsDecode(
  fn: () => unknown,
  reason: ProtobufErrorReason,
  offset: number | null,
  detail: RegExp,
  path = "",
) {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ProtobufDecodeError, `not a ProtobufDecodeError: ${String(e)}`);
    assert.equal(e.reason, reason, e.message);
    if (offset !== null) assert.equal(e.offset, offset, e.message);
    assert.match(e.detail, detail);
    assert.equal(e.path, path);
    return true;
  });
}

describe("real kubectl request bodies (captured by capture.ts)", () => {
  const root = fixturesDir();
  for (const version of ["1.32", "1.33"]) {
    const dir = join(root, version);
    const bodies = readdirSync(dir).filter((f) => f.endsWith(".pb"));
    it(`kubectl ${version}: at least 8 protobuf bodies were captured`, () => assert.ok(bodies.length >= 8));
    for (const file of bodies) {
      it(`kubectl ${version} ${file} decodes to exactly the --dry-run=client -o json object`, () => {
        const got = decodeKubernetesProtobuf(new Uint8Array(readFileSync(join(dir, file))));
        const want = JSON.parse(readFileSync(join(dir, file.replace(/\.pb$/, ".json")), "utf8")) as Record<
          string,
          unknown
        >;
        assert.deepEqual(got.object, want);
        assert.equal(got.apiVersion, want.apiVersion);
        assert.equal(got.kind, want.kind);
        assert.deepEqual(got.unknownFields, []);
      });
    }
    it(`kubectl ${version}: typed creates send protobuf and accept JSON; run and delete send JSON`, () => {
      const requests = JSON.parse(readFileSync(join(dir, "requests.json"), "utf8")) as Record<
        string,
        { method: string; contentType?: string; accept?: string }[]
      >;
      for (const [name, list] of Object.entries(requests)) {
        const write = list.find((r) => r.method !== "GET");
        assert.ok(write, name);
        if (bodies.includes(`${name}.pb`)) {
          assert.equal(write.contentType, "application/vnd.kubernetes.protobuf", name);
          assert.equal(write.accept, "application/vnd.kubernetes.protobuf,application/json", name);
        } else {
          assert.equal(write.contentType, "application/json", name);
        }
      }
    });
  }

  it("the captured namespace body is byte for byte the reference doc's worked example", () => {
    const doc = hex(`6b 38 73 00 0a 0f 0a 02 76 31 12 09 4e 61 6d 65 73 70 61 63 65 12 1b 0a 13 0a 03 66 6f 6f
      12 00 1a 00 22 00 2a 00 32 00 38 00 42 00 12 00 1a 02 0a 00 1a 00 22 00`);
    const captured = new Uint8Array(readFileSync(join(root, "1.32", "namespace.pb")));
    assert.deepEqual(captured.subarray(0, 22), doc.subarray(0, 22)); // envelope through "Namespace"
    const c = decodeKubernetesProtobuf(captured).object;
    assert.equal((c.metadata as { name: string }).name, "foo");
    assert.deepEqual(decodeKubernetesProtobuf(doc).object, {
      kind: "Namespace",
      apiVersion: "v1",
      metadata: { name: "foo", creationTimestamp: null },
      spec: {},
      status: {},
    });
  });
});

/** The Pod `kubectl run p --image=nginx --labels=app=x --env=A=B --port=80` sends (as JSON; kubectl
 *  run does not use protobuf), encoded here the way client-go's gogo code would encode it. */
describe("Pod equivalent of kubectl run's JSON body", () => {
  it("decodes to the captured JSON body", () => {
    const container = msg(
      2,
      str(1, "p"),
      str(2, "nginx"),
      str(5, ""),
      msg(6, str(1, ""), vint(2, 0), vint(3, 80), str(4, ""), str(5, "")),
      msg(7, str(1, "A"), str(2, "B")),
      msg(8),
      str(13, ""),
      str(14, ""),
      vint(16, false),
      vint(17, false),
      vint(18, false),
      str(20, ""),
    );
    const spec = msg(
      2,
      container,
      str(3, "Always"),
      str(6, "ClusterFirst"),
      str(8, ""),
      str(9, ""),
      str(10, ""),
      vint(11, false),
      vint(12, false),
      vint(13, false),
      str(16, ""),
      str(17, ""),
      str(19, ""),
      str(24, ""),
    );
    const status = msg(
      3,
      str(1, ""),
      str(3, ""),
      str(4, ""),
      str(5, ""),
      str(6, ""),
      str(9, ""),
      str(11, ""),
    );
    const got = decode("v1", "Pod", objectMeta("p", "", strEntry(11, "app", "x")), spec, status);
    const want = JSON.parse(readFileSync(join(fixturesDir(), "1.33", "pod.request-body"), "utf8"));
    assert.deepEqual(got, want);
  });
});

describe("Pod with most field shapes", () => {
  const fieldsV1 = JSON.stringify({ "f:metadata": { "f:labels": { ".": {} } } });
  const meta = objectMeta(
    "web",
    "ns",
    msg(8, vint(1, 1704067200), vint(2, 0)), // creationTimestamp seen twice: the last one wins
    len(9, []), // deletionTimestamp: set but zero -> null
    vint(10, 0), // deletionGracePeriodSeconds: pointer, zero kept
    strEntry(11, "app", "web"),
    msg(12, str(1, "note")), // annotation entry without a value -> ""
    msg(13, str(1, "ReplicationController"), str(3, "rc"), str(4, "u1"), str(5, "v1"), vint(6, true)),
    str(14, "f1"),
    str(14, "f2"),
    msg(
      17,
      str(1, "kubectl"),
      str(2, "Update"),
      str(3, "v1"),
      time(4, "2024-01-02T03:04:05Z"),
      str(6, "FieldsV1"),
      msg(7, str(1, fieldsV1)),
      str(8, ""),
    ),
  );
  const container = msg(
    2,
    str(1, "app"),
    str(2, "nginx"),
    str(3, "sh"),
    str(3, "-c"),
    msg(6, str(1, "http"), vint(2, 0), vint(3, 8080), str(4, "TCP"), str(5, "")),
    msg(7, str(1, "A"), str(2, "B")),
    msg(7, str(1, "POD"), str(2, ""), msg(3, msg(1, str(1, "v1"), str(2, "metadata.name")))),
    msg(7, str(1, "CPU"), msg(3, msg(2, str(1, ""), str(2, "limits.cpu")))),
    msg(7, str(1, "KEY"), msg(3, msg(4, msg(1, str(1, "sec")), str(2, "k"), vint(3, false)))),
    msg(
      8,
      msg(1, str(1, "cpu"), quantity(2, "500m")),
      msg(1, str(1, "memory"), quantity(2, "128Mi")),
      msg(2, str(1, "cpu"), quantity(2, "100m")),
    ),
    msg(9, str(1, "cache"), vint(2, false), str(3, "/cache")),
    msg(10, msg(1, msg(2, str(1, "/healthz"), intOrStr(2, "http"), str(3, ""), str(4, "HTTP"))), vint(4, 10)),
    msg(11, msg(1, msg(3, intOrInt(1, 8080), str(2, ""))), vint(2, 0)),
    msg(15, msg(1, str(2, "ALL")), vint(4, 1000), vint(5, true), vint(7, false)),
  );
  const spec = msg(
    2,
    msg(1, str(1, "cache"), msg(2, msg(2))), // emptyDir: {}
    msg(
      1,
      str(1, "cfg"),
      msg(2, msg(19, msg(1, str(1, "cm")), msg(2, str(1, "a"), str(2, "a.txt")), vint(3, 420))),
    ),
    msg(1, str(1, "old"), msg(2, msg(3, str(1, "pd")))), // gcePersistentDisk: skipped, reported
    container,
    str(3, "Always"),
    vint(4, 30),
    str(6, "ClusterFirst"),
    vint(11, false),
    msg(
      14,
      vint(2, 1000),
      len(4, [...encodeVarint(1000), ...encodeVarint(2000)]),
      vint(5, 2000),
      vint(6, -1),
    ),
    msg(18, msg(1, msg(1, msg(1, msg(1, str(1, "zone"), str(2, "In"), str(3, "a")))))),
    msg(22, str(1, "k"), str(2, "Exists"), str(3, ""), str(4, "NoSchedule"), vint(5, 300)),
    vint(25, 0),
    vint(30, false),
    msg(32, str(1, "cpu"), quantity(2, "250m")),
  );
  const status = msg(
    3,
    str(1, "Pending"),
    msg(2, str(1, "PodScheduled"), str(2, "True"), len(3, []), time(4, "2024-01-01T00:00:00Z")),
    time(7, "2024-01-01T00:00:01Z"),
  );

  const res = decodeKubernetesProtobuf(
    envelope("v1", "Pod", [
      ...objectMeta("ignored-by-merge"),
      ...meta, // metadata seen twice: messages merge, the later name wins
      ...spec,
      ...status,
    ]),
  );

  it("applies Go's JSON rules to every shape", () => {
    assert.deepEqual(res.object, {
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name: "web",
        namespace: "ns",
        creationTimestamp: "2024-01-01T00:00:00Z",
        deletionTimestamp: null,
        deletionGracePeriodSeconds: 0,
        labels: { app: "web" },
        annotations: { note: "" },
        ownerReferences: [
          { apiVersion: "v1", kind: "ReplicationController", name: "rc", uid: "u1", controller: true },
        ],
        finalizers: ["f1", "f2"],
        managedFields: [
          {
            manager: "kubectl",
            operation: "Update",
            apiVersion: "v1",
            time: "2024-01-02T03:04:05Z",
            fieldsType: "FieldsV1",
            fieldsV1: { "f:metadata": { "f:labels": { ".": {} } } },
          },
        ],
      },
      spec: {
        volumes: [
          { name: "cache", emptyDir: {} },
          { name: "cfg", configMap: { name: "cm", items: [{ key: "a", path: "a.txt" }], defaultMode: 420 } },
          { name: "old" },
        ],
        containers: [
          {
            name: "app",
            image: "nginx",
            command: ["sh", "-c"],
            ports: [{ name: "http", containerPort: 8080, protocol: "TCP" }],
            env: [
              { name: "A", value: "B" },
              { name: "POD", valueFrom: { fieldRef: { apiVersion: "v1", fieldPath: "metadata.name" } } },
              { name: "CPU", valueFrom: { resourceFieldRef: { resource: "limits.cpu", divisor: "0" } } },
              { name: "KEY", valueFrom: { secretKeyRef: { name: "sec", key: "k", optional: false } } },
            ],
            resources: { limits: { cpu: "500m", memory: "128Mi" }, requests: { cpu: "100m" } },
            volumeMounts: [{ name: "cache", mountPath: "/cache" }],
            livenessProbe: { httpGet: { path: "/healthz", port: "http", scheme: "HTTP" }, periodSeconds: 10 },
            readinessProbe: { tcpSocket: { port: 8080 } },
            securityContext: {
              capabilities: { drop: ["ALL"] },
              runAsUser: 1000,
              runAsNonRoot: true,
              allowPrivilegeEscalation: false,
            },
          },
        ],
        restartPolicy: "Always",
        terminationGracePeriodSeconds: 30,
        dnsPolicy: "ClusterFirst",
        securityContext: { runAsUser: 1000, runAsGroup: -1, supplementalGroups: [1000, 2000], fsGroup: 2000 },
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [{ matchExpressions: [{ key: "zone", operator: "In", values: ["a"] }] }],
            },
          },
        },
        tolerations: [{ key: "k", operator: "Exists", effect: "NoSchedule", tolerationSeconds: 300 }],
        priority: 0,
        enableServiceLinks: false,
        overhead: { cpu: "250m" },
      },
      status: {
        phase: "Pending",
        conditions: [
          {
            type: "PodScheduled",
            status: "True",
            lastProbeTime: null,
            lastTransitionTime: "2024-01-01T00:00:00Z",
          },
        ],
        startTime: "2024-01-01T00:00:01Z",
      },
    });
  });

  it("reports the skipped in-tree volume source", () => {
    assert.deepEqual(res.unknownFields, ["spec.volumes[2]#3 (wire type 2)"]);
  });
});

describe("other kinds", () => {
  it("Node: quantities, `!` strings always printed, DaemonEndpoint.Port", () => {
    const got = decode(
      "v1",
      "Node",
      objectMeta("n1"),
      msg(2, str(1, "10.244.0.0/24"), str(7, "10.244.0.0/24"), msg(5, str(1, "k"), str(3, "NoSchedule"))),
      msg(
        3,
        msg(1, str(1, "cpu"), quantity(2, "4")),
        msg(1, str(1, "pods"), quantity(2, "110")),
        msg(4, str(1, "Ready"), str(2, "True"), time(3, "2024-01-01T00:00:00Z"), len(4, [])),
        msg(5, str(1, "InternalIP"), str(2, "192.0.2.10")),
        msg(6, msg(1, vint(1, 10250))),
        msg(7, str(1, "m"), str(9, "linux")),
        msg(8, str(1, "nginx:1"), vint(2, 1234567890123)),
      ),
    );
    assert.deepEqual(got, {
      apiVersion: "v1",
      kind: "Node",
      metadata: { name: "n1", creationTimestamp: null },
      spec: {
        podCIDR: "10.244.0.0/24",
        podCIDRs: ["10.244.0.0/24"],
        taints: [{ key: "k", effect: "NoSchedule" }],
      },
      status: {
        capacity: { cpu: "4", pods: "110" },
        conditions: [
          {
            type: "Ready",
            status: "True",
            lastHeartbeatTime: "2024-01-01T00:00:00Z",
            lastTransitionTime: null,
          },
        ],
        addresses: [{ type: "InternalIP", address: "192.0.2.10" }],
        daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
        nodeInfo: {
          machineID: "m",
          systemUUID: "",
          bootID: "",
          kernelVersion: "",
          osImage: "",
          containerRuntimeVersion: "",
          kubeletVersion: "",
          kubeProxyVersion: "",
          operatingSystem: "linux",
          architecture: "",
        },
        images: [{ names: ["nginx:1"], sizeBytes: 1234567890123 }],
      },
    });
  });

  it("Event: MicroTime keeps microseconds, `!` fields present when absent", () => {
    const got = decode(
      "v1",
      "Event",
      objectMeta("e1", "default"),
      msg(2, str(1, "Pod"), str(3, "p")),
      str(3, "Started"),
      msg(5, str(1, "kubelet")),
      vint(8, 1),
      micro(10, 1704067200, 123456789),
      msg(11, vint(1, 2), micro(2, 1704067201, 999)),
    );
    assert.deepEqual(got, {
      apiVersion: "v1",
      kind: "Event",
      metadata: { name: "e1", namespace: "default", creationTimestamp: null },
      involvedObject: { kind: "Pod", name: "p" },
      reason: "Started",
      source: { component: "kubelet" },
      firstTimestamp: null,
      lastTimestamp: null,
      count: 1,
      eventTime: "2024-01-01T00:00:00.123456Z",
      series: { count: 2, lastObservedTime: "2024-01-01T00:00:01.000000Z" },
      reportingComponent: "",
      reportingInstance: "",
    });
  });

  it("Lease: pointer fields kept when zero", () => {
    const got = decode(
      "coordination.k8s.io/v1",
      "Lease",
      objectMeta("l", "kube-node-lease"),
      msg(2, str(1, "node-1"), vint(2, 40), micro(4, 1704067200, 5000), vint(5, 0)),
    );
    assert.deepEqual(got, {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: { name: "l", namespace: "kube-node-lease", creationTimestamp: null },
      spec: {
        holderIdentity: "node-1",
        leaseDurationSeconds: 40,
        renewTime: "2024-01-01T00:00:00.000005Z",
        leaseTransitions: 0,
      },
    });
  });

  it("NetworkPolicy: empty podSelector is {}, IntOrString port, ipBlock, empty egress rule", () => {
    const got = decode(
      "networking.k8s.io/v1",
      "NetworkPolicy",
      objectMeta("np", "default"),
      msg(
        2,
        msg(1),
        msg(
          2,
          msg(1, str(1, "TCP"), intOrInt(2, 80), vint(3, 90)),
          msg(1, intOrStr(2, "dns")),
          msg(2, msg(3, str(1, "10.0.0.0/8"), str(2, "10.1.0.0/16"))),
          msg(2, msg(2, strEntry(1, "team", "a"))),
        ),
        msg(3),
        str(4, "Ingress"),
        str(4, "Egress"),
      ),
    );
    assert.deepEqual(got, {
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: { name: "np", namespace: "default", creationTimestamp: null },
      spec: {
        podSelector: {},
        ingress: [
          {
            ports: [{ protocol: "TCP", port: 80, endPort: 90 }, { port: "dns" }],
            from: [
              { ipBlock: { cidr: "10.0.0.0/8", except: ["10.1.0.0/16"] } },
              { namespaceSelector: { matchLabels: { team: "a" } } },
            ],
          },
        ],
        egress: [{}],
        policyTypes: ["Ingress", "Egress"],
      },
    });
  });

  it("Endpoints and ReplicationController", () => {
    assert.deepEqual(
      decode(
        "v1",
        "Endpoints",
        objectMeta("svc", "default"),
        msg(
          2,
          msg(1, str(1, "10.0.0.1"), msg(2, str(1, "Pod"), str(3, "p"))),
          msg(3, str(1, ""), vint(2, 80), str(3, "TCP")),
        ),
      ),
      {
        apiVersion: "v1",
        kind: "Endpoints",
        metadata: { name: "svc", namespace: "default", creationTimestamp: null },
        subsets: [
          {
            addresses: [{ ip: "10.0.0.1", targetRef: { kind: "Pod", name: "p" } }],
            ports: [{ port: 80, protocol: "TCP" }],
          },
        ],
      },
    );
    assert.deepEqual(
      decode(
        "v1",
        "ReplicationController",
        objectMeta("rc"),
        msg(
          2,
          vint(1, 0),
          strEntry(2, "app", "x"),
          msg(3, objectMeta("", "", strEntry(11, "app", "x")), msg(2, msg(2, str(1, "c")))),
        ),
        msg(3),
      ),
      {
        apiVersion: "v1",
        kind: "ReplicationController",
        metadata: { name: "rc", creationTimestamp: null },
        spec: {
          replicas: 0,
          selector: { app: "x" },
          template: {
            metadata: { creationTimestamp: null, labels: { app: "x" } },
            spec: { containers: [{ name: "c", resources: {} }] },
          },
        },
        status: { replicas: 0 },
      },
    );
  });

  it("Secret and ConfigMap: bytes become base64, an entry without value is empty", () => {
    const got = decode(
      "v1",
      "Secret",
      objectMeta("s"),
      vint(5, true),
      msg(2, str(1, "bin"), len(2, [0x76, 0x00, 0xff])),
      msg(2, str(1, "empty")),
      strEntry(4, "plain", "text"),
      str(3, "Opaque"),
    );
    assert.deepEqual(got, {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "s", creationTimestamp: null },
      immutable: true,
      data: { bin: "dgD/", empty: "" },
      stringData: { plain: "text" },
      type: "Opaque",
    });
    const cm = decode(
      "v1",
      "ConfigMap",
      objectMeta("c"),
      strEntry(2, "k", "1"),
      strEntry(2, "k", "2"),
      msg(3, str(1, "b"), len(2, [1, 2, 3])),
    );
    assert.deepEqual(cm, {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "c", creationTimestamp: null },
      data: { k: "2" },
      binaryData: { b: "AQID" },
    });
  });

  it('a map key "__proto__" is an own property, not a prototype change', () => {
    const got = decode(
      "v1",
      "ConfigMap",
      objectMeta("c"),
      strEntry(2, "__proto__", "x"),
      strEntry(2, "a", "b"),
    );
    const data = got.data as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(data), Object.prototype);
    assert.deepEqual(Object.keys(data), ["__proto__", "a"]);
    assert.equal(Object.getOwnPropertyDescriptor(data, "__proto__")?.value, "x");
    assert.equal(JSON.stringify(data), '{"__proto__":"x","a":"b"}');
  });

  it("DeleteOptions (v1 and meta.k8s.io/v1)", () => {
    const want = {
      gracePeriodSeconds: 0,
      preconditions: { uid: "u" },
      propagationPolicy: "Background",
      dryRun: ["All"],
    };
    const fields = [vint(1, 0), msg(2, str(1, "u")), str(4, "Background"), str(5, "All")];
    assert.deepEqual(decode("v1", "DeleteOptions", ...fields), {
      apiVersion: "v1",
      kind: "DeleteOptions",
      ...want,
    });
    assert.deepEqual(decode("meta.k8s.io/v1", "DeleteOptions", ...fields), {
      apiVersion: "meta.k8s.io/v1",
      kind: "DeleteOptions",
      ...want,
    });
  });

  it("List kinds: ListMeta and items; no items prints null as Go does", () => {
    assert.deepEqual(
      decode("v1", "NamespaceList", msg(1, str(2, "5")), msg(2, objectMeta("a")), msg(2, objectMeta("b"))),
      {
        apiVersion: "v1",
        kind: "NamespaceList",
        metadata: { resourceVersion: "5" },
        items: [
          { metadata: { name: "a", creationTimestamp: null }, spec: {}, status: {} },
          { metadata: { name: "b", creationTimestamp: null }, spec: {}, status: {} },
        ],
      },
    );
    assert.deepEqual(decode("networking.k8s.io/v1", "IngressList", msg(1)), {
      apiVersion: "networking.k8s.io/v1",
      kind: "IngressList",
      metadata: {},
      items: null,
    });
  });

  it("an empty object still prints Go's zero value", () => {
    assert.deepEqual(decode("v1", "Pod"), {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { creationTimestamp: null },
      spec: { containers: null },
      status: {},
    });
  });

  it("uses the URL's apiVersion/kind when the envelope leaves them empty", () => {
    const body = envelope("", "", objectMeta("x"));
    const got = decodeKubernetesProtobuf(body, { defaultApiVersion: "v1", defaultKind: "ConfigMap" });
    assert.equal(got.kind, "ConfigMap");
    assert.deepEqual(got.object, {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "x", creationTimestamp: null },
    });
  });
});

describe("typed errors", () => {
  const ns = new Uint8Array(readFileSync(join(fixturesDir(), "1.33", "namespace.pb")));

  it("empty body, missing magic, magic only", () => {
    throwsDecode(() => decodeKubernetesProtobuf(new Uint8Array()), "BadEnvelope", 0, /empty body/);
    throwsDecode(
      () => decodeKubernetesProtobuf(new TextEncoder().encode('{"kind":"Pod"}')),
      "BadEnvelope",
      0,
      /magic/,
    );
    throwsDecode(() => decodeKubernetesProtobuf(hex("6b 38 73")), "BadEnvelope", 3, /magic/);
    throwsDecode(() => decodeKubernetesProtobuf(hex("6b 38 73 00")), "BadEnvelope", 4, /no object/);
  });

  it("every truncation of a real body fails with a typed error, never silently", () => {
    for (let cut = 5; cut < ns.length; cut++) {
      const body = ns.subarray(0, cut);
      let failed = false;
      try {
        decodeKubernetesProtobuf(body);
      } catch (e) {
        assert.ok(e instanceof ProtobufDecodeError, String(e));
        assert.ok(e.offset <= cut, `offset ${e.offset} beyond ${cut}`);
        failed = true;
      }
      // A cut exactly between two fields of runtime.Unknown is still valid protobuf (Go decodes it too:
      // no raw means an empty object).
      if (!failed) assert.ok([21, 50, 52].includes(cut), `truncation at ${cut} decoded`);
    }
  });

  it("length past the end names the offset of the length", () => {
    // Unknown.raw claims 0x7f bytes.
    const body = Uint8Array.from(ns);
    body[22] = 0x7f;
    throwsDecode(() => decodeKubernetesProtobuf(body), "Malformed", 22, /length 127 runs past the end/);
  });

  it("a length inside the object past its own message end is caught with the field path", () => {
    // metadata (LEN 19) whose name claims 0x30 bytes.
    const body = Uint8Array.from(ns);
    body[26] = 0x30;
    throwsDecode(() => decodeKubernetesProtobuf(body), "Malformed", 26, /runs past/, "metadata");
  });

  it("bad wire types", () => {
    throwsDecode(
      () => decode("v1", "Namespace", vint(1, 5)),
      "Malformed",
      null,
      /wrong wire type 0 for field metadata/,
      "metadata",
    );
    throwsDecode(
      () => decode("v1", "Namespace", msg(1, str(7, "x"))),
      "Malformed",
      null,
      /wrong wire type 2 for field generation/,
      "metadata.generation",
    );
    throwsDecode(() => decode("v1", "Namespace", [0x0e]), "Malformed", null, /bad wire type 6/);
    throwsDecode(() => decode("v1", "Namespace", [0x2b, 0x2c]), "Malformed", null, /group/);
    throwsDecode(
      () => decode("v1", "Namespace", [0x09, 1, 2, 3, 4, 5, 6, 7, 8]),
      "Malformed",
      null,
      /wrong wire type 1 for field metadata/,
    );
  });

  it("unknown kinds and groups", () => {
    assert.throws(
      () => decode("apps/v1", "Deployment", objectMeta("d")),
      (e: unknown) =>
        e instanceof UnsupportedKindError &&
        e instanceof ProtobufDecodeError &&
        e.kind === "Deployment" &&
        e.apiVersion === "apps/v1" &&
        /Deployment/.test(e.message),
    );
    assert.throws(() => decode("v1", "PodSpec"), UnsupportedKindError);
    throwsDecode(
      () => decodeKubernetesProtobuf(envelope("", "", [])),
      "BadEnvelope",
      4,
      /no apiVersion\/kind/,
    );
  });

  it("compressed envelopes are refused", () => {
    const body = Uint8Array.from([
      0x6b,
      0x38,
      0x73,
      0x00,
      ...msg(1, str(1, "v1"), str(2, "Namespace")),
      ...str(3, "gzip"),
    ]);
    throwsDecode(() => decodeKubernetesProtobuf(body), "BadEnvelope", 4, /contentEncoding "gzip"/);
  });

  const svc = (port: Bytes) => decode("v1", "Service", objectMeta("s"), msg(2, msg(1, vint(3, 80), port)));
  const invalid: [string, () => unknown, RegExp, string][] = [
    [
      "IntOrString type 2",
      () => svc(msg(4, vint(1, 2), vint(2, 1))),
      /IntOrString type 2/,
      "spec.ports[0].targetPort",
    ],
    [
      "bad Quantity",
      () =>
        decode("v1", "Pod", msg(2, msg(2, str(1, "c"), msg(8, msg(1, str(1, "cpu"), quantity(2, "12xyz")))))),
      /invalid quantity "12xyz"/,
      'spec.containers[0].resources.limits["cpu"]',
    ],
    [
      "empty Quantity string",
      () => decode("v1", "Node", msg(3, msg(1, str(1, "cpu"), quantity(2, "")))),
      /invalid quantity ""/,
      'status.capacity["cpu"]',
    ],
    [
      "int64 beyond 2^53",
      () => decode("v1", "Namespace", msg(1, vint(7, 2n ** 60n))),
      /does not fit/,
      "metadata.generation",
    ],
    [
      "FieldsV1 not JSON",
      () => decode("v1", "Namespace", msg(1, msg(17, msg(7, str(1, "{nope"))))),
      /not valid JSON/,
      "metadata.managedFields[0].fieldsV1",
    ],
    [
      "year 10000",
      () => decode("v1", "Namespace", msg(1, msg(8, vint(1, 253402300800n)))),
      /outside the years/,
      "metadata.creationTimestamp",
    ],
  ];
  for (const [name, fn, detail, path] of invalid) {
    it(`invalid value: ${name}`, () => throwsDecode(fn, "InvalidValue", null, detail, path));
  }
});

describe("Time formatting (Go's metav1.Time / MicroTime JSON)", () => {
  const fail = (d: string): never => {
    throw new Error(d);
  };
  const cases: [string, bigint, bigint, boolean, string | null][] = [
    ["epoch", 0n, 0n, false, "1970-01-01T00:00:00Z"],
    ["doc example", 1704067200n, 0n, false, "2024-01-01T00:00:00Z"],
    ["nanos dropped for Time", 1704067200n, 999_999_999n, false, "2024-01-01T00:00:00Z"],
    ["micro truncates nanos", 1704067200n, 123_456_789n, true, "2024-01-01T00:00:00.123456Z"],
    ["negative nanos normalise", 1704067200n, -1n, true, "2023-12-31T23:59:59.999999Z"],
    ["Go zero time is null", -62135596800n, 0n, false, null],
    ["year 0", -62167219200n, 0n, false, "0000-01-01T00:00:00Z"],
    ["year 9999", 253402300799n, 0n, false, "9999-12-31T23:59:59Z"],
    ["before 1970", -1n, 0n, false, "1969-12-31T23:59:59Z"],
  ];
  for (const [name, s, n, micro, want] of cases) {
    it(name, () => assert.equal(formatTime(s, n, micro, fail), want));
  }
});

describe("isProtobufContentType", () => {
  const cases: [string, boolean][] = [
    ["application/vnd.kubernetes.protobuf", true],
    ["Application/VND.Kubernetes.Protobuf", true],
    ["application/vnd.kubernetes.protobuf; charset=utf-8", true],
    ["application/vnd.kubernetes.protobuf;stream=watch", false],
    ["application/vnd.kubernetes.protobuf; stream = watch", false],
    ["application/json", false],
    ["application/vnd.kubernetes.protobuf+json", false],
    ["application/apply-patch+yaml", false],
    ["", false],
  ];
  for (const [ct, want] of cases) it(JSON.stringify(ct), () => assert.equal(isProtobufContentType(ct), want));
});
