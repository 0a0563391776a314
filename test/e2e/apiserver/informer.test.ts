// @kubernetes/client-node informers (list + watch, resume from a resourceVersion, 410 Gone →
// relist) against `egress server`: the path every controller of this project takes.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import * as k8s from "@kubernetes/client-node";
import { startTestServer, type TestServer } from "../support/server.js";

let srv: TestServer;
let kc: k8s.KubeConfig;
let core: k8s.CoreV1Api;

before(async () => {
  srv = await startTestServer();
  kc = new k8s.KubeConfig();
  kc.loadFromFile(srv.kubeconfigPath);
  core = kc.makeApiClient(k8s.CoreV1Api);
});
after(async () => {
  await srv?.stop();
});

async function until(pred: () => boolean, ms = 10_000): Promise<void> {
  const start = Date.now();
  while (!pred()) {
    if (Date.now() - start > ms) throw new Error("timed out waiting for the informer");
    await new Promise((r) => setTimeout(r, 25));
  }
}

const cm = (name: string, v: string): k8s.V1ConfigMap => ({ metadata: { name }, data: { v } });

test("informer: list, watch, resume, and relist after 410 Gone", async () => {
  const ns = "default";
  await core.createNamespacedConfigMap({ namespace: ns, body: cm("a", "1") });
  const informer = k8s.makeInformer(kc, `/api/v1/namespaces/${ns}/configmaps`, () =>
    core.listNamespacedConfigMap({ namespace: ns }),
  );
  const seen: string[] = [];
  informer.on("add", (o) => seen.push(`add ${o.metadata?.name}`));
  informer.on("update", (o) => seen.push(`update ${o.metadata?.name} ${o.data?.v}`));
  informer.on("delete", (o) => seen.push(`delete ${o.metadata?.name}`));
  const errors: unknown[] = [];
  // stop() aborts the informer's own watch request; client-node reports that as an AbortError.
  informer.on("error", (e) => {
    if ((e as { name?: string }).name !== "AbortError") errors.push(e);
  });
  const cached = () =>
    informer
      .list(ns)
      .map((o) => `${o.metadata?.name}=${o.data?.v}`)
      .sort();
  await informer.start();
  try {
    await until(() => seen.includes("add a"));
    await core.createNamespacedConfigMap({ namespace: ns, body: cm("b", "1") });
    await core.replaceNamespacedConfigMap({ name: "a", namespace: ns, body: cm("a", "2") });
    await core.deleteNamespacedConfigMap({ name: "b", namespace: ns });
    await until(() => seen.includes("delete b"));
    assert.deepEqual(seen, ["add a", "add b", "update a 2", "delete b"]);

    // Resume: changes made while the informer is stopped arrive when it watches again.
    await informer.stop();
    await core.createNamespacedConfigMap({ namespace: ns, body: cm("c", "1") });
    await informer.start();
    await until(() => seen.includes("add c"));

    // Too old: compact past the informer's version while it is stopped; it must relist.
    await informer.stop();
    await core.createNamespacedConfigMap({ namespace: ns, body: cm("d", "1") });
    await core.deleteNamespacedConfigMap({ name: "c", namespace: ns });
    await srv.storage.store.compact(srv.storage.store.revision());
    await informer.start();
    await until(() => JSON.stringify(cached()) === JSON.stringify(["a=2", "d=1"]));
    assert.deepEqual(cached(), ["a=2", "d=1"]);
    assert.equal(errors.length, 0, String(errors[0]));
  } finally {
    await informer.stop();
  }
});

test("watch with a too-old resourceVersion answers 410 Gone as an ERROR event", async () => {
  await core.createNamespacedConfigMap({ namespace: "default", body: cm("old", "1") });
  const rev = srv.storage.store.revision();
  await core.createNamespacedConfigMap({ namespace: "default", body: cm("newer", "1") });
  await srv.storage.store.compact(srv.storage.store.revision());
  const watch = new k8s.Watch(kc);
  const events: { type: string; obj: { code?: number; reason?: string } }[] = [];
  await new Promise<void>((resolve, reject) => {
    watch
      .watch(
        "/api/v1/namespaces/default/configmaps",
        { resourceVersion: String(rev - 1) },
        (type, obj) => events.push({ type, obj }),
        () => resolve(),
      )
      .catch(reject);
  });
  assert.equal(events[0]?.type, "ERROR");
  assert.equal(events[0]?.obj.code, 410);
  assert.equal(events[0]?.obj.reason, "Expired");
});
