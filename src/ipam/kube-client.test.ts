import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { CustomObjectsApi, KubeConfig } from "@kubernetes/client-node";
import { formatIP } from "../api/ip.js";
import { planAdd, planDel } from "./allocator.js";
import { parseConfig } from "./config.js";
import { CustomObjectsIPAMClient } from "./kube-client.js";
import { KubernetesStore } from "./kube-store.js";

/** Just enough of the API server for two custom resources: resourceVersion preconditions on PUT,
 *  AlreadyExists on POST, 404 on missing objects. Loopback, ephemeral port. */
function fakeApiServer() {
  const objects = new Map<string, Record<string, unknown> & { metadata: Record<string, unknown> }>();
  const requests: string[] = [];
  let rv = 0;
  const prefix = "/apis/whereabouts.cni.cncf.io/v1alpha1/namespaces/kube-system/";
  const send = (res: ServerResponse, code: number, body: unknown) => {
    res.writeHead(code, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  };
  const status = (code: number, reason: string) => ({
    kind: "Status",
    apiVersion: "v1",
    status: "Failure",
    reason,
    code,
  });
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    let text = "";
    for await (const c of req) text += c;
    const url = new URL(req.url ?? "/", "http://x");
    requests.push(`${req.method} ${url.pathname}`);
    if (!url.pathname.startsWith(prefix)) return send(res, 404, status(404, "NotFound"));
    const [plural, name] = url.pathname.slice(prefix.length).split("/");
    const key = `${plural}/${name}`;
    if (req.method === "GET" && name === undefined) {
      const items = [...objects].filter(([k]) => k.startsWith(`${plural}/`)).map(([, v]) => v);
      return send(res, 200, { kind: "List", apiVersion: "v1", metadata: {}, items });
    }
    if (req.method === "GET")
      return objects.has(key) ? send(res, 200, objects.get(key)) : send(res, 404, status(404, "NotFound"));
    if (req.method === "DELETE") {
      if (!objects.delete(key)) return send(res, 404, status(404, "NotFound"));
      return send(res, 200, status(200, ""));
    }
    const body = JSON.parse(text) as Record<string, unknown> & { metadata: Record<string, unknown> };
    const k = `${plural}/${String(body.metadata.name)}`;
    if (req.method === "POST") {
      if (objects.has(k)) return send(res, 409, status(409, "AlreadyExists"));
    } else if (req.method === "PUT") {
      const cur = objects.get(k);
      if (!cur || cur.metadata.resourceVersion !== body.metadata.resourceVersion)
        return send(res, 409, status(409, "Conflict"));
    }
    body.metadata.resourceVersion = String(++rv);
    objects.set(k, body);
    return send(res, req.method === "POST" ? 201 : 200, body);
  });
  return { server, objects, requests };
}

describe("kubernetes datastore over HTTP (client-node against a fake API server)", () => {
  const api = fakeApiServer();
  let client: CustomObjectsIPAMClient;
  before(async () => {
    await new Promise<void>((r) => api.server.listen(0, "127.0.0.1", r));
    const port = (api.server.address() as AddressInfo).port;
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: "c", server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
      users: [{ name: "u" }],
      contexts: [{ name: "x", cluster: "c", user: "u" }],
      currentContext: "x",
    });
    client = new CustomObjectsIPAMClient(kc.makeApiClient(CustomObjectsApi), "kube-system");
  });
  after(async () => {
    await new Promise((r) => (api.server as Server).close(r));
  });

  it("ADD and DEL write upstream-shaped IPPool and OverlappingRangeIPReservation objects", async () => {
    const c = parseConfig({
      cniVersion: "1.0.0",
      name: "n",
      ipam: {
        type: "whereabouts",
        datastore: "kubernetes",
        range: "192.168.2.225/28",
        network_name: "tenant-a",
      },
    });
    const scope = {
      network: "tenant-a",
      pools: c.ranges.map((r) => ({ name: r.pool, range: r.cidr })),
      reservations: true,
    };
    const store = new KubernetesStore(client, { timeoutMs: 5000 });
    const owner = { containerID: "c1", podRef: "default/pod1", ifName: "net1" };
    const ips = await Promise.all(
      [owner, { ...owner, containerID: "c2", podRef: "default/pod2" }].map((o) =>
        store.transact(scope, (snap) => {
          const p = planAdd(c.ranges, o, snap, { networkName: "tenant-a", overlapping: true });
          return { result: formatIP(p.assigned[0]!.ip), change: p.change };
        }),
      ),
    );
    assert.deepEqual(ips.sort(), ["192.168.2.225", "192.168.2.226"]);
    const pool = api.objects.get("ippools/tenant-a-192.168.2.224-28");
    assert.equal(pool?.kind, "IPPool");
    assert.deepEqual((pool?.spec as { range?: string } | undefined)?.range, "192.168.2.224/28");
    assert.ok(api.objects.has("overlappingrangeipreservations/tenant-a-192.168.2.225"));
    await store.transact(scope, (snap) => ({
      result: 0,
      change: planDel(c.ranges, "c1", "net1", snap, "tenant-a").change,
    }));
    const left = await client.getPool("tenant-a-192.168.2.224-28");
    assert.equal(Object.keys(left?.allocations ?? {}).length, 1);
    assert.equal((await client.listReservations()).length, 1);
    assert.equal(await client.getPool("absent"), undefined);
    await client.deleteReservation("absent"); // 404 is fine
  });
});
