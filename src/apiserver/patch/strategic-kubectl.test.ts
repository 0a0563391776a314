// End-to-end shaped scenarios for the strategic merge patch engine: live objects as kube-apiserver
// stores them and patches byte-for-byte as kubectl computes them (client-side apply, label, patch).

import assert from "node:assert/strict";
import { test } from "node:test";
import { applyStrategicMergePatch } from "./strategic.js";
import { podSchema } from "./test-schemas.js";

const LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";

/** kubectl stores the applied manifest as compact JSON followed by a newline. */
const lastApplied = (o: unknown) => `${JSON.stringify(o)}\n`;

function manifest(image: string, env: { name: string; value: string }[]) {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "web", namespace: "default", labels: { app: "web" } },
    spec: {
      containers: [
        { name: "app", image, env, ports: [{ containerPort: 8080 }] },
        { name: "sidecar", image: "busybox:1.36", command: ["sleep", "infinity"] },
      ],
    },
  };
}

test("kubectl apply: image change and one env var removed (kubectl 1.33 patch)", () => {
  const applied = manifest("nginx:1.25", [
    { name: "A", value: "1" },
    { name: "X", value: "old" },
    { name: "B", value: "2" },
  ]);
  const next = manifest("nginx:1.27", [
    { name: "A", value: "1" },
    { name: "B", value: "2" },
  ]);
  // The live object: what was applied plus server defaults, a webhook-injected env var, status.
  const live = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: "web",
      namespace: "default",
      uid: "9d3c1f1e-0000-4000-8000-000000000001",
      resourceVersion: "4711",
      labels: { app: "web" },
      annotations: { [LAST_APPLIED]: lastApplied(applied) },
    },
    spec: {
      containers: [
        {
          name: "app",
          image: "nginx:1.25",
          env: [
            { name: "A", value: "1" },
            { name: "X", value: "old" },
            { name: "B", value: "2" },
            { name: "INJECTED", value: "by-webhook" },
          ],
          ports: [{ containerPort: 8080, protocol: "TCP" }],
          imagePullPolicy: "IfNotPresent",
          terminationMessagePath: "/dev/termination-log",
        },
        {
          name: "sidecar",
          image: "busybox:1.36",
          command: ["sleep", "infinity"],
          imagePullPolicy: "IfNotPresent",
          terminationMessagePath: "/dev/termination-log",
        },
      ],
      restartPolicy: "Always",
      dnsPolicy: "ClusterFirst",
      tolerations: [
        {
          key: "node.kubernetes.io/not-ready",
          operator: "Exists",
          effect: "NoExecute",
          tolerationSeconds: 300,
        },
      ],
    },
    status: { phase: "Running", conditions: [{ type: "Ready", status: "True" }] },
  };
  // CreateThreeWayMergePatch(lastApplied, next, live), serialised with sorted keys as Go does.
  const patch = JSON.parse(
    JSON.stringify({
      metadata: { annotations: { [LAST_APPLIED]: lastApplied(next) } },
      spec: {
        "$setElementOrder/containers": [{ name: "app" }, { name: "sidecar" }],
        containers: [
          {
            "$setElementOrder/env": [{ name: "A" }, { name: "B" }],
            env: [{ $patch: "delete", name: "X" }],
            image: "nginx:1.27",
            name: "app",
          },
        ],
      },
    }),
  );
  const liveBefore = structuredClone(live);
  const out = applyStrategicMergePatch(live, patch, podSchema) as typeof live;
  assert.deepEqual(live, liveBefore, "live object must not be mutated");

  const want = structuredClone(live);
  want.metadata.annotations[LAST_APPLIED] = lastApplied(next);
  want.spec.containers[0]!.image = "nginx:1.27";
  want.spec.containers[0]!.env = [
    { name: "A", value: "1" },
    { name: "B", value: "2" },
    { name: "INJECTED", value: "by-webhook" },
  ];
  assert.deepEqual(out, want);
  // The annotation now round-trips to the new manifest, as `kubectl apply view-last-applied` shows.
  assert.deepEqual(JSON.parse(out.metadata.annotations[LAST_APPLIED]!), next);
});

test("kubectl apply: container removed from the manifest is deleted, order directive kept", () => {
  const live = {
    metadata: { name: "web" },
    spec: {
      containers: [
        { name: "app", image: "a" },
        { name: "sidecar", image: "b" },
        { name: "debug", image: "c" },
      ],
    },
  };
  const patch = {
    spec: {
      "$setElementOrder/containers": [{ name: "debug" }, { name: "app" }],
      containers: [{ $patch: "delete", name: "sidecar" }],
    },
  };
  assert.deepEqual(applyStrategicMergePatch(live, patch, podSchema), {
    metadata: { name: "web" },
    spec: {
      containers: [
        { name: "debug", image: "c" },
        { name: "app", image: "a" },
      ],
    },
  });
});

test("kubectl label --overwrite / annotate send plain map patches", () => {
  const live = { metadata: { name: "p", labels: { app: "web", env: "dev" }, annotations: { a: "1" } } };
  const labelled = applyStrategicMergePatch(
    live,
    { metadata: { labels: { env: "prod", team: "net" } } },
    podSchema,
  );
  assert.deepEqual(labelled, {
    metadata: { name: "p", labels: { app: "web", env: "prod", team: "net" }, annotations: { a: "1" } },
  });
  const annotated = applyStrategicMergePatch(
    labelled,
    { metadata: { annotations: { a: null, b: "2" } } },
    podSchema,
  );
  assert.deepEqual(annotated, {
    metadata: { name: "p", labels: { app: "web", env: "prod", team: "net" }, annotations: { b: "2" } },
  });
});
