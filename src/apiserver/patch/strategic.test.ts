import assert from "node:assert/strict";
import { test } from "node:test";
import { Type } from "@sinclair/typebox";
import { PatchError } from "./errors.js";
import type { JSONSchemaObject } from "./schema.js";
import { applyStrategicMergePatch } from "./strategic.js";
import { deploymentSchema, nodeSchema, objectMeta, podSchema, serviceSchema } from "./test-schemas.js";

interface Case {
  name: string;
  schema: JSONSchemaObject;
  original: unknown;
  patch: unknown;
  want: unknown;
}

const metaOnly: JSONSchemaObject = { type: "object", properties: { metadata: objectMeta } };

const c = (name: string, image: string, extra: Record<string, unknown> = {}) => ({ name, image, ...extra });

const cases: Case[] = [
  {
    name: "null deletes a label, other labels stay (kubectl label app-)",
    schema: podSchema,
    original: { metadata: { labels: { app: "web", tier: "fe" } } },
    patch: { metadata: { labels: { app: null } } },
    want: { metadata: { labels: { tier: "fe" } } },
  },
  {
    name: "null for an absent key is ignored (IgnoreUnmatchedNulls)",
    schema: podSchema,
    original: { metadata: { labels: { a: "1" } } },
    patch: { metadata: { labels: { gone: null }, annotations: { x: null } } },
    want: { metadata: { labels: { a: "1" }, annotations: {} } },
  },
  {
    name: "containers merge by name: only the named container changes, server fields survive",
    schema: podSchema,
    original: {
      spec: {
        containers: [
          c("app", "nginx:1.25", { terminationMessagePath: "/dev/termination-log" }),
          c("log", "busybox"),
        ],
      },
    },
    patch: { spec: { containers: [{ name: "app", image: "nginx:1.27" }] } },
    want: {
      spec: {
        containers: [
          c("app", "nginx:1.27", { terminationMessagePath: "/dev/termination-log" }),
          c("log", "busybox"),
        ],
      },
    },
  },
  {
    // The example of the Kubernetes docs "Update API Objects in Place Using kubectl patch": the new
    // container comes out first (mergeSortedSlice puts items unknown to the live list before
    // server-only ones).
    name: "a new container without $setElementOrder lands before the server-only ones (kubectl patch docs)",
    schema: podSchema,
    original: { spec: { containers: [c("patch-demo-ctr", "nginx")] } },
    patch: { spec: { containers: [{ name: "patch-demo-ctr-2", image: "redis" }] } },
    want: { spec: { containers: [c("patch-demo-ctr-2", "redis"), c("patch-demo-ctr", "nginx")] } },
  },
  {
    name: "patch items keep patch order; server-only items are interleaved by live order",
    schema: podSchema,
    original: { spec: { containers: [c("a", "1"), c("b", "1"), c("c", "1")] } },
    patch: {
      spec: {
        containers: [
          { name: "c", image: "2" },
          { name: "a", image: "2" },
        ],
      },
    },
    // patch items [c, a]; server-only [b] goes before c only if it preceded c live (it did: 1 < 2).
    want: { spec: { containers: [c("b", "1"), c("c", "2"), c("a", "2")] } },
  },
  {
    name: "$patch: delete removes a container by merge key",
    schema: podSchema,
    original: { spec: { containers: [c("app", "nginx"), c("log-tailer", "busybox")] } },
    patch: { spec: { containers: [{ name: "log-tailer", $patch: "delete" }] } },
    want: { spec: { containers: [c("app", "nginx")] } },
  },
  {
    name: "$patch: delete of a missing element is a no-op",
    schema: podSchema,
    original: { spec: { containers: [c("app", "nginx")] } },
    patch: { spec: { containers: [{ name: "nope", $patch: "delete" }] } },
    want: { spec: { containers: [c("app", "nginx")] } },
  },
  {
    name: "$patch: replace in a list replaces the list with the other elements",
    schema: podSchema,
    original: {
      spec: { containers: [c("app", "nginx", { imagePullPolicy: "Always" }), c("log", "busybox")] },
    },
    patch: {
      spec: {
        containers: [
          { name: "app", image: "nginx:2", env: [{ name: "N", value: null }] },
          { $patch: "replace" },
        ],
      },
    },
    want: { spec: { containers: [{ name: "app", image: "nginx:2", env: [{ name: "N" }] }] } },
  },
  {
    name: "$patch: replace on a map replaces it",
    schema: podSchema,
    original: { spec: { nodeSelector: { zone: "a", disk: "ssd" } } },
    patch: { spec: { nodeSelector: { $patch: "replace", zone: "b" } } },
    want: { spec: { nodeSelector: { zone: "b" } } },
  },
  {
    name: "$patch: delete on a map empties it",
    schema: podSchema,
    original: { metadata: { labels: { a: "1" }, name: "p" } },
    patch: { metadata: { labels: { $patch: "delete" } } },
    want: { metadata: { labels: {}, name: "p" } },
  },
  {
    name: "$patch: delete on an absent map is a no-op",
    schema: podSchema,
    original: { metadata: { name: "p" } },
    patch: { metadata: { labels: { $patch: "delete" } } },
    want: { metadata: { name: "p" } },
  },
  {
    name: "$patch: merge is accepted as the default",
    schema: podSchema,
    original: { metadata: { labels: { a: "1" } } },
    patch: { metadata: { labels: { $patch: "merge", b: "2" } } },
    want: { metadata: { labels: { a: "1", b: "2" } } },
  },
  {
    name: "$setElementOrder reorders a list without patch items",
    schema: podSchema,
    original: { spec: { containers: [c("a", "1"), c("b", "1"), c("c", "1")] } },
    patch: { spec: { "$setElementOrder/containers": [{ name: "c" }, { name: "b" }, { name: "a" }] } },
    want: { spec: { containers: [c("c", "1"), c("b", "1"), c("a", "1")] } },
  },
  {
    // From the design proposal preserve-order-in-strategic-merge-patch: server-only items d and e keep
    // their place relative to the ordered items.
    name: "$setElementOrder with a new item keeps server-only items in place",
    schema: podSchema,
    original: { spec: { containers: [c("d", "1"), c("a", "1"), c("e", "1"), c("b", "1")] } },
    patch: {
      spec: {
        "$setElementOrder/containers": [{ name: "a" }, { name: "b" }, { name: "c" }],
        containers: [{ name: "c", image: "1" }],
      },
    },
    want: { spec: { containers: [c("d", "1"), c("a", "1"), c("e", "1"), c("b", "1"), c("c", "1")] } },
  },
  {
    name: "$setElementOrder reversing around a server-only item (mergeSortedSlice interleaving)",
    schema: podSchema,
    original: { spec: { containers: [c("a", "1"), c("s", "1"), c("b", "1")] } },
    patch: { spec: { "$setElementOrder/containers": [{ name: "b" }, { name: "a" }] } },
    // s preceded b live, so it is inserted before b.
    want: { spec: { containers: [c("s", "1"), c("b", "1"), c("a", "1")] } },
  },
  {
    name: "$setElementOrder for a list absent from the original adds it in order",
    schema: podSchema,
    original: { spec: {} },
    patch: {
      spec: {
        "$setElementOrder/volumes": [{ name: "b" }, { name: "a" }],
        volumes: [
          { name: "b", emptyDir: { medium: null } },
          { name: "a", emptyDir: {} },
        ],
      },
    },
    want: {
      spec: {
        volumes: [
          { name: "b", emptyDir: {} },
          { name: "a", emptyDir: {} },
        ],
      },
    },
  },
  {
    name: "finalizers: primitive merge list is a union, live order kept",
    schema: metaOnly,
    original: { metadata: { finalizers: ["a", "b"] } },
    patch: { metadata: { finalizers: ["b", "c"] } },
    want: { metadata: { finalizers: ["a", "b", "c"] } },
  },
  {
    name: "finalizers: a new value without $setElementOrder goes first",
    schema: metaOnly,
    original: { metadata: { finalizers: ["a", "b"] } },
    patch: { metadata: { finalizers: ["c"] } },
    want: { metadata: { finalizers: ["c", "a", "b"] } },
  },
  {
    name: "$deleteFromPrimitiveList/finalizers removes values",
    schema: metaOnly,
    original: { metadata: { finalizers: ["kubernetes", "example.com/x", "example.com/y"] } },
    patch: { metadata: { "$deleteFromPrimitiveList/finalizers": ["example.com/x", "absent"] } },
    want: { metadata: { finalizers: ["kubernetes", "example.com/y"] } },
  },
  {
    // What kubectl apply sends when finalizers change from [a, b] to [b, c].
    name: "finalizers: $setElementOrder + $deleteFromPrimitiveList + additions together",
    schema: metaOnly,
    original: { metadata: { finalizers: ["a", "b"] } },
    patch: {
      metadata: {
        "$deleteFromPrimitiveList/finalizers": ["a"],
        "$setElementOrder/finalizers": ["b", "c"],
        finalizers: ["c"],
      },
    },
    want: { metadata: { finalizers: ["b", "c"] } },
  },
  {
    name: "$patch: replace in a primitive merge list",
    schema: metaOnly,
    original: { metadata: { finalizers: ["a", "b"] } },
    patch: { metadata: { finalizers: [{ $patch: "replace" }, "c"] } },
    want: { metadata: { finalizers: ["c"] } },
  },
  {
    name: "$deleteFromPrimitiveList on an absent list is a no-op",
    schema: metaOnly,
    original: { metadata: { name: "x" } },
    patch: { metadata: { "$deleteFromPrimitiveList/finalizers": ["a"] } },
    want: { metadata: { name: "x" } },
  },
  {
    name: "empty patch list on a merge list changes nothing",
    schema: metaOnly,
    original: { metadata: { finalizers: ["a"] } },
    patch: { metadata: { finalizers: [] } },
    want: { metadata: { finalizers: ["a"] } },
  },
  {
    name: "null deletes a merge list",
    schema: metaOnly,
    original: { metadata: { finalizers: ["a"], name: "n" } },
    patch: { metadata: { finalizers: null } },
    want: { metadata: { name: "n" } },
  },
  {
    name: "ownerReferences merge by uid",
    schema: metaOnly,
    original: {
      metadata: {
        ownerReferences: [
          { apiVersion: "apps/v1", kind: "ReplicaSet", name: "rs1", uid: "u1", controller: true },
          { apiVersion: "v1", kind: "ConfigMap", name: "cm", uid: "u2" },
        ],
      },
    },
    patch: {
      metadata: {
        ownerReferences: [
          { uid: "u1", blockOwnerDeletion: true },
          { uid: "u2", $patch: "delete" },
        ],
      },
    },
    want: {
      metadata: {
        ownerReferences: [
          {
            apiVersion: "apps/v1",
            kind: "ReplicaSet",
            name: "rs1",
            uid: "u1",
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
    },
  },
  {
    name: "tolerations have no strategy: replaced whole",
    schema: podSchema,
    original: {
      spec: {
        tolerations: [
          {
            key: "node.kubernetes.io/not-ready",
            operator: "Exists",
            effect: "NoExecute",
            tolerationSeconds: 300,
          },
          { key: "a", operator: "Exists" },
        ],
      },
    },
    patch: { spec: { tolerations: [{ key: "b", operator: "Exists" }] } },
    want: { spec: { tolerations: [{ key: "b", operator: "Exists" }] } },
  },
  {
    name: "$patch: replace marker is dropped from an atomic list",
    schema: podSchema,
    original: { spec: { tolerations: [{ key: "a" }] } },
    patch: { spec: { tolerations: [{ key: "b" }, { $patch: "replace" }] } },
    want: { spec: { tolerations: [{ key: "b" }] } },
  },
  {
    name: "env by name: value → valueFrom as kubectl sends it",
    schema: podSchema,
    original: { spec: { initContainers: [c("init", "busybox", { env: [{ name: "X", value: "1" }] })] } },
    patch: {
      spec: {
        initContainers: [
          {
            name: "init",
            env: [{ name: "X", value: null, valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } }],
          },
        ],
      },
    },
    want: {
      spec: {
        initContainers: [
          c("init", "busybox", {
            env: [{ name: "X", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } }],
          }),
        ],
      },
    },
  },
  {
    name: "ports by containerPort and volumeMounts by mountPath",
    schema: podSchema,
    original: {
      spec: {
        containers: [
          c("app", "x", {
            ports: [{ containerPort: 80, protocol: "TCP" }],
            volumeMounts: [{ name: "data", mountPath: "/data" }],
          }),
        ],
      },
    },
    patch: {
      spec: {
        containers: [
          {
            name: "app",
            ports: [{ containerPort: 80, name: "http" }],
            volumeMounts: [{ mountPath: "/data", readOnly: true }],
          },
        ],
      },
    },
    want: {
      spec: {
        containers: [
          c("app", "x", {
            ports: [{ containerPort: 80, protocol: "TCP", name: "http" }],
            volumeMounts: [{ name: "data", mountPath: "/data", readOnly: true }],
          }),
        ],
      },
    },
  },
  {
    name: "volumes: $retainKeys switches a volume source (hostPath → emptyDir)",
    schema: podSchema,
    original: {
      spec: {
        volumes: [
          { name: "v", hostPath: { path: "/tmp" } },
          { name: "w", emptyDir: {} },
        ],
      },
    },
    patch: {
      spec: {
        "$setElementOrder/volumes": [{ name: "v" }, { name: "w" }],
        volumes: [{ $retainKeys: ["emptyDir", "name"], emptyDir: {}, name: "v" }],
      },
    },
    want: {
      spec: {
        volumes: [
          { name: "v", emptyDir: {} },
          { name: "w", emptyDir: {} },
        ],
      },
    },
  },
  {
    name: "Deployment strategy: $retainKeys drops rollingUpdate when switching to Recreate",
    schema: deploymentSchema,
    original: {
      spec: { replicas: 2, strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: "25%" } } },
    },
    patch: { spec: { strategy: { $retainKeys: ["type"], type: "Recreate", rollingUpdate: null } } },
    want: { spec: { replicas: 2, strategy: { type: "Recreate" } } },
  },
  {
    name: "Service ports merge by port",
    schema: serviceSchema,
    original: {
      spec: {
        ports: [
          { name: "http", port: 80, protocol: "TCP", targetPort: 8080 },
          { name: "metrics", port: 9090, protocol: "TCP", targetPort: 9090 },
        ],
      },
    },
    patch: {
      spec: {
        "$setElementOrder/ports": [{ port: 80 }, { port: 9090 }, { port: 443 }],
        ports: [
          { port: 80, targetPort: 8081 },
          { name: "https", port: 443, targetPort: 8443 },
        ],
      },
    },
    want: {
      spec: {
        ports: [
          { name: "http", port: 80, protocol: "TCP", targetPort: 8081 },
          { name: "metrics", port: 9090, protocol: "TCP", targetPort: 9090 },
          { name: "https", port: 443, targetPort: 8443 },
        ],
      },
    },
  },
  {
    name: "Node status: conditions and addresses merge by type (kubelet heartbeat)",
    schema: nodeSchema,
    original: {
      status: {
        addresses: [
          { type: "InternalIP", address: "192.168.126.10" },
          { type: "Hostname", address: "worker-0" },
        ],
        conditions: [
          { type: "MemoryPressure", status: "False", lastHeartbeatTime: "t0" },
          { type: "Ready", status: "False", lastHeartbeatTime: "t0", reason: "KubeletNotReady" },
        ],
      },
    },
    patch: {
      status: {
        "$setElementOrder/conditions": [{ type: "MemoryPressure" }, { type: "Ready" }],
        conditions: [
          { type: "MemoryPressure", lastHeartbeatTime: "t1" },
          { type: "Ready", status: "True", lastHeartbeatTime: "t1", reason: "KubeletReady" },
        ],
        addresses: [{ type: "InternalIP", address: "192.168.126.11" }],
      },
    },
    want: {
      status: {
        addresses: [
          { type: "InternalIP", address: "192.168.126.11" },
          { type: "Hostname", address: "worker-0" },
        ],
        conditions: [
          { type: "MemoryPressure", status: "False", lastHeartbeatTime: "t1" },
          { type: "Ready", status: "True", lastHeartbeatTime: "t1", reason: "KubeletReady" },
        ],
      },
    },
  },
  {
    name: "Pod status conditions merge by type (patch --subresource=status)",
    schema: podSchema,
    original: { status: { phase: "Pending", conditions: [{ type: "PodScheduled", status: "True" }] } },
    patch: { status: { phase: "Running", conditions: [{ type: "Ready", status: "True" }] } },
    want: {
      status: {
        phase: "Running",
        conditions: [
          { type: "Ready", status: "True" },
          { type: "PodScheduled", status: "True" },
        ],
      },
    },
  },
  {
    name: "unknown fields: maps merge, lists are replaced",
    schema: podSchema,
    original: { spec: { extra: { a: 1, list: [1, 2] } } },
    patch: { spec: { extra: { b: 2, list: [3] } } },
    want: { spec: { extra: { a: 1, b: 2, list: [3] } } },
  },
  {
    name: "type change replaces (string → map), nulls in the new value are dropped",
    schema: podSchema,
    original: { spec: { weird: "x" } },
    patch: { spec: { weird: { a: 1, b: null } } },
    want: { spec: { weird: { a: 1 } } },
  },
  {
    name: "top-level $patch: replace",
    schema: podSchema,
    original: { kind: "Pod", spec: { restartPolicy: "Always" } },
    patch: { $patch: "replace", kind: "Pod", metadata: { name: "p" } },
    want: { kind: "Pod", metadata: { name: "p" } },
  },
];

for (const tc of cases) {
  test(`SMP: ${tc.name}`, () => {
    assert.deepEqual(applyStrategicMergePatch(tc.original, tc.patch, tc.schema), tc.want);
  });
}

interface ErrorCase {
  name: string;
  original: unknown;
  patch: unknown;
  schema?: JSONSchemaObject;
  code: 400 | 422;
  message: RegExp;
}

const errorCases: ErrorCase[] = [
  {
    name: "patch is a list",
    original: {},
    patch: [],
    code: 400,
    message: /patch must be a JSON object, got array/,
  },
  { name: "patch is null", original: {}, patch: null, code: 400, message: /got null/ },
  {
    name: "target is a string",
    original: "x",
    patch: {},
    code: 422,
    message: /target must be a JSON object/,
  },
  {
    name: "unknown $patch on a map",
    original: { metadata: {} },
    patch: { metadata: { labels: { $patch: "explode" } } },
    code: 400,
    message: /at metadata\.labels\.\$patch: unknown patch directive.*"explode"/,
  },
  {
    name: "unknown $patch in a list element",
    original: { spec: { containers: [c("a", "1")] } },
    patch: { spec: { containers: [{ name: "a", $patch: 7 }] } },
    code: 400,
    message: /at spec\.containers\[0\]\.\$patch: unknown patch directive: 7/,
  },
  {
    name: "$patch: delete without the merge key",
    original: { spec: { containers: [c("a", "1")] } },
    patch: { spec: { containers: [{ image: "1", $patch: "delete" }] } },
    code: 400,
    message: /spec\.containers\[0\]: \$patch: delete element must carry the merge key "name"/,
  },
  {
    name: "patch element without the merge key",
    original: { spec: { containers: [c("a", "1")] } },
    patch: { spec: { containers: [{ image: "2" }] } },
    code: 400,
    message: /spec\.containers\[0\]: list element has no merge key "name"/,
  },
  {
    name: "live element without the merge key",
    original: { spec: { containers: [{ image: "1" }] } },
    patch: { spec: { containers: [{ name: "a" }] } },
    code: 422,
    message: /spec\.containers\[0\]: list element has no merge key "name"/,
  },
  {
    name: "$setElementOrder is not a list",
    original: {},
    patch: { spec: { "$setElementOrder/containers": { name: "a" } } },
    code: 400,
    message: /spec\.\$setElementOrder\/containers: must be a list/,
  },
  {
    name: "$setElementOrder items without merge key",
    original: {},
    patch: { spec: { "$setElementOrder/containers": ["a"] } },
    code: 400,
    message: /list element has no merge key "name"/,
  },
  {
    name: "$setElementOrder contradicts the patch list",
    original: { spec: { containers: [c("a", "1"), c("b", "1")] } },
    patch: {
      spec: {
        "$setElementOrder/containers": [{ name: "a" }, { name: "b" }],
        containers: [
          { name: "b", image: "2" },
          { name: "a", image: "2" },
        ],
      },
    },
    code: 400,
    message: /different order/,
  },
  {
    name: "$retainKeys is not a list",
    original: { spec: { strategy: {} } },
    patch: { spec: { strategy: { $retainKeys: "type" } } },
    schema: deploymentSchema,
    code: 400,
    message: /\$retainKeys: must be a list of field names/,
  },
  {
    name: "$retainKeys omits a field the patch sets",
    original: { spec: { strategy: {} } },
    patch: { spec: { strategy: { $retainKeys: ["type"], type: "Recreate", rollingUpdate: {} } } },
    schema: deploymentSchema,
    code: 422,
    message: /patch sets field "rollingUpdate", which \$retainKeys does not list/,
  },
  {
    name: "$deleteFromPrimitiveList is not a list",
    original: { metadata: { finalizers: ["a"] } },
    patch: { metadata: { "$deleteFromPrimitiveList/finalizers": "a" } },
    code: 400,
    message: /must be a list of values to delete/,
  },
  {
    name: "$patch: delete in a primitive list",
    original: { metadata: { finalizers: ["a"] } },
    patch: { metadata: { finalizers: [{ $patch: "delete" }] } },
    code: 400,
    message: /\$deleteFromPrimitiveList/,
  },
  {
    name: "$patch: delete in an atomic list",
    original: { spec: { tolerations: [{ key: "a" }] } },
    patch: { spec: { tolerations: [{ key: "a", $patch: "delete" }] } },
    code: 422,
    message: /spec\.tolerations\[0\]: \$patch: delete needs a list with patch strategy merge/,
  },
  {
    name: "merge list of maps but the schema names no merge key",
    original: { items: [{ a: 1 }] },
    patch: { items: [{ a: 2 }] },
    schema: {
      type: "object",
      properties: { items: { type: "array", "x-kubernetes-patch-strategy": "merge" } },
    },
    code: 422,
    message: /at items: cannot merge a list of maps without a merge key/,
  },
  {
    name: "merge list with mixed element types",
    original: { metadata: { finalizers: ["a"] } },
    patch: { metadata: { finalizers: [1] } },
    code: 422,
    message: /list elements have different types \(string and number\)/,
  },
  {
    name: "merge list of lists",
    original: { metadata: { finalizers: [["a"]] } },
    patch: { metadata: { finalizers: [["b"]] } },
    code: 422,
    message: /lists of lists cannot be merged/,
  },
];

for (const ec of errorCases) {
  test(`SMP error: ${ec.name}`, () => {
    assert.throws(
      () => applyStrategicMergePatch(ec.original, ec.patch, ec.schema ?? podSchema),
      (e: unknown) => {
        assert.ok(e instanceof PatchError, `not a PatchError: ${String(e)}`);
        assert.equal(e.patchType, "strategic");
        assert.equal(e.code, ec.code, e.message);
        assert.match(e.message, ec.message);
        assert.match(e.message, /^strategic merge patch/);
        return true;
      },
    );
  });
}

test("SMP: TypeBox schemas carry patch metadata as options", () => {
  const schema = Type.Object({
    spec: Type.Object({
      ports: Type.Array(Type.Object({ port: Type.Integer(), name: Type.Optional(Type.String()) }), {
        "x-kubernetes-patch-strategy": "merge",
        "x-kubernetes-patch-merge-key": "port",
      }),
      nodes: Type.Union([Type.Array(Type.String(), { "x-kubernetes-patch-strategy": "merge" }), Type.Null()]),
    }),
  });
  const out = applyStrategicMergePatch(
    { spec: { ports: [{ port: 80 }, { port: 81 }], nodes: ["a"] } },
    { spec: { ports: [{ port: 81, name: "b" }], nodes: ["b"] } },
    schema,
  );
  assert.deepEqual(out, { spec: { ports: [{ port: 80 }, { port: 81, name: "b" }], nodes: ["b", "a"] } });
});

test("SMP: keys named __proto__ are data, not prototypes", () => {
  const patch = JSON.parse('{"metadata":{"labels":{"__proto__":{"polluted":"yes"}}}}');
  const out = applyStrategicMergePatch({ metadata: { labels: {} } }, patch, podSchema) as {
    metadata: { labels: Record<string, unknown> };
  };
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.ok(Object.hasOwn(out.metadata.labels, "__proto__"));
  assert.equal(JSON.stringify(out), '{"metadata":{"labels":{"__proto__":{"polluted":"yes"}}}}');
});
