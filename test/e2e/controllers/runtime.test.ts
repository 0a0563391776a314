// The controller runtime against `egress server`: leader election through a Lease with two replicas
// (one active; the other takes over when the first stops), shared informers feeding a controller,
// events recorded once with a count for repeats, and an informer whose first lists fail.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import * as k8s from "@kubernetes/client-node";
import { configMapType, eventType } from "../../../src/api/kinds/index.js";
import type { KubeObject } from "../../../src/api/object.js";
import { runControllers } from "../../../src/controllers/control-plane.js";
import { Client } from "../../../src/controllers/runtime/client.js";
import { EventRecorder } from "../../../src/controllers/runtime/events.js";
import {
  type Controller,
  type ControllerContext,
  SharedInformer,
} from "../../../src/controllers/runtime/manager.js";
import { logger } from "../../../src/util/log.js";
import { eventually } from "../support/control-plane.js";
import { startTestServer, type TestServer } from "../support/server.js";

let srv: TestServer;
let client: Client;
before(async () => {
  srv = await startTestServer();
  client = Client.fromFile(srv.kubeconfigPath);
});
after(async () => {
  await srv?.stop();
});

/** Counts the ConfigMaps it sees, through the shared informer. */
class Counter implements Controller {
  readonly name = "counter";
  seen = new Set<string>();
  running = false;
  setup(ctx: ControllerContext): void {
    ctx.informers.for(configMapType).on((type, obj: KubeObject) => {
      if (type !== "delete") this.seen.add(`${obj.metadata.namespace}/${obj.metadata.name}`);
    });
  }
  start(): void {
    this.running = true;
  }
  stop(): void {
    this.running = false;
  }
}

test("leader election: one of two replicas runs; the other takes over when it stops", async () => {
  const a = new Counter();
  const b = new Counter();
  const opts = { leaseName: "test-election", leaseNamespace: "default" };
  const ra = runControllers(client, [a], { ...opts, identity: "replica-a" });
  await ra.ready;
  const rb = runControllers(client, [b], { ...opts, identity: "replica-b" });
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(a.running, true);
  assert.equal(b.running, false);
  const lease = await client.request<{ spec: { holderIdentity: string } }>(
    "GET",
    "/apis/coordination.k8s.io/v1/namespaces/default/leases/test-election",
  );
  assert.equal(lease.spec.holderIdentity, "replica-a");
  await client.create(configMapType, {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "x", namespace: "default" },
  });
  await eventually(() => (a.seen.has("default/x") ? true : undefined), 5000, "informer add");
  await ra.stop(); // releases the lease
  await eventually(() => (b.running ? true : undefined), 10_000, "replica-b to lead");
  assert.ok(b.seen.has("default/x"), "the new leader's informer lists existing objects");
  await rb.stop();
});

test("events: recorded once, repeats counted", async () => {
  const rec = new EventRecorder(client, eventType, "test", logger("test"));
  const ref = { kind: "EgressIP", name: "eip-1", apiVersion: "k8s.ovn.org/v1", uid: "u-1" };
  await rec.record(ref, "Warning", "NoMatchingNodeFound", "no assignable nodes");
  await rec.record(ref, "Warning", "NoMatchingNodeFound", "no assignable nodes");
  const list = await client.list<{ reason: string; count: number; involvedObject: { name: string } }>(
    eventType,
    "default",
  );
  const mine = list.items.filter((e) => e.involvedObject.name === "eip-1");
  assert.equal(mine.length, 1);
  assert.equal(mine[0]!.count, 2);
  assert.equal(mine[0]!.reason, "NoMatchingNodeFound");
});

/** A client whose first `failures` lists of ConfigMaps fail (an API server too slow to answer). */
class FlakyListClient extends Client {
  lists = 0;
  constructor(
    path: string,
    private failures: number,
  ) {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(path);
    super(kc);
  }
  override request<T>(method: string, path: string, body?: unknown, contentType?: string): Promise<T> {
    if (method === "GET" && path.includes("/configmaps") && !path.includes("watch=")) {
      this.lists++;
      if (this.failures > 0) {
        this.failures--;
        return Promise.reject(new Error("injected: list timed out"));
      }
    }
    return super.request<T>(method, path, body, contentType);
  }
}

test("informer start resolves only once a list succeeded: failed lists are retried, the cache is never empty by mistake", async () => {
  await client.create(configMapType, {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "listed", namespace: "default" },
  });
  const flaky = new FlakyListClient(srv.kubeconfigPath, 2);
  const inf = new SharedInformer(flaky, configMapType, logger("test"));
  const added: string[] = [];
  inf.on((type, obj) => {
    if (type === "add") added.push(obj.metadata.name ?? "");
  });
  try {
    await inf.start();
    // client-node alone resolves start() after the first failure with an empty cache.
    assert.equal(flaky.lists, 3, "two failed lists, then one that succeeded");
    assert.ok(inf.get("listed", "default"), "the object is in the cache when start() resolves");
    assert.ok(added.includes("listed"));
    // And the watch runs: a later object arrives.
    await client.create(configMapType, {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "watched", namespace: "default" },
    });
    await eventually(() => (inf.get("watched", "default") ? true : undefined), 5000, "watch event");
  } finally {
    await inf.stop();
  }
});
