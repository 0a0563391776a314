// The whereabouts plugin with the kubernetes datastore against our real API server (in-process
// `egress server`): CNI conformance through IPPool / OverlappingRangeIPReservation objects, the
// kubeconfig from the flat file (path overridden with $WHEREABOUTS_FLATFILE, never /etc) or from
// `ipam.kubernetes.kubeconfig`, then 200 parallel ADDs/DELs on one pool, and the same with plugin
// processes SIGKILLed at random moments followed by a reconcile: no address handed out twice, no leak.
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ipPoolType, overlappingRangeIPReservationType, podType } from "../../../src/api/kinds/index.js";
import type { KubeObject } from "../../../src/api/object.js";
import { reconcileOnce } from "../../../src/controllers/ipam/apply.js";
import { Client } from "../../../src/controllers/runtime/client.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { type CniCall, type CniOutcome, resultIPs, runCni, wbConfig } from "./helpers.js";

const N = 200;
const NS = "kube-system";

describe("whereabouts kubernetes datastore against the API server", { timeout: 480_000 }, () => {
  let srv: TestServer;
  let client: Client;
  let flat = "";
  before(async () => {
    srv = await startTestServer();
    client = Client.fromFile(srv.kubeconfigPath);
    flat = join(srv.dataDir, "whereabouts.conf");
    await writeFile(
      flat,
      JSON.stringify({ datastore: "kubernetes", kubernetes: { kubeconfig: srv.kubeconfigPath } }),
    );
  });
  after(async () => {
    await srv?.stop();
  });

  const call = (c: CniCall, onSpawn?: (child: ChildProcess) => void): Promise<CniOutcome> =>
    runCni(
      {
        ...c,
        env: { WHEREABOUTS_FLATFILE: flat, WHEREABOUTS_LOCK_DIR: join(srv.dataDir, "locks"), ...c.env },
      },
      onSpawn,
    );
  const podArgs = (name: string, ns = "default") => `K8S_POD_NAMESPACE=${ns};K8S_POD_NAME=${name}`;
  const pool = async (
    name: string,
  ): Promise<Record<string, { id: string; podref: string; ifname: string }>> => {
    try {
      const o = await client.get<KubeObject>(ipPoolType, NS, name);
      return (
        (o.spec as { allocations?: Record<string, { id: string; podref: string; ifname: string }> })
          .allocations ?? {}
      );
    } catch {
      return {};
    }
  };
  const reservations = async (prefix: string): Promise<KubeObject[]> =>
    (await client.list(overlappingRangeIPReservationType, NS)).items.filter((r) =>
      (r.metadata.name ?? "").startsWith(prefix),
    );

  it("conformance: ADD (flat-file kubeconfig), idempotent ADD, objects as upstream, CHECK, DEL twice, GC, STATUS", async () => {
    const conf = wbConfig({ range: "10.50.0.0/29", network_name: "conf", gateway: "10.50.0.1" });
    const a = await call({ command: "ADD", containerID: "c1", args: podArgs("p1"), stdin: conf });
    assert.equal(a.code, 0, a.stdout + a.stderr);
    assert.deepEqual(resultIPs(a.json), ["10.50.0.2/29"]); // .1 is the gateway
    const again = await call({ command: "ADD", containerID: "c1", args: podArgs("p1"), stdin: conf });
    assert.deepEqual(resultIPs(again.json), ["10.50.0.2/29"]);
    const b = await call({ command: "ADD", containerID: "c2", args: podArgs("p2"), stdin: conf });
    assert.deepEqual(resultIPs(b.json), ["10.50.0.3/29"]);

    const obj = await client.get<KubeObject>(ipPoolType, NS, "conf-10.50.0.0-29");
    assert.deepEqual(obj.spec, {
      range: "10.50.0.0/29",
      allocations: {
        "2": { id: "c1", podref: "default/p1", ifname: "eth0" },
        "3": { id: "c2", podref: "default/p2", ifname: "eth0" },
      },
    });
    const res = await client.get<KubeObject>(overlappingRangeIPReservationType, NS, "conf-10.50.0.2");
    assert.deepEqual(res.spec, { containerid: "c1", podref: "default/p1", ifname: "eth0" });

    const check = await call({
      command: "CHECK",
      containerID: "c1",
      args: podArgs("p1"),
      stdin: wbConfig(
        { range: "10.50.0.0/29", network_name: "conf", gateway: "10.50.0.1" },
        { prevResult: { cniVersion: "1.1.0", ips: [{ address: "10.50.0.2/29" }] } },
      ),
    });
    assert.equal(check.code, 0, check.stdout);

    for (let i = 0; i < 2; i++) {
      const d = await call({ command: "DEL", containerID: "c1", args: podArgs("p1"), stdin: conf });
      assert.equal(d.code, 0, d.stdout);
    }
    assert.deepEqual(Object.keys(await pool("conf-10.50.0.0-29")), ["3"]);
    assert.equal((await reservations("conf-10.50.0.2")).length, 0);

    const gc = await call({
      command: "GC",
      stdin: wbConfig({ range: "10.50.0.0/29", network_name: "conf" }, { "cni.dev/valid-attachments": [] }),
      env: { CNI_CONTAINERID: undefined, CNI_IFNAME: undefined, CNI_NETNS: undefined },
    });
    assert.equal(gc.code, 0, gc.stdout);
    assert.deepEqual(await pool("conf-10.50.0.0-29"), {});
    assert.equal((await reservations("conf-")).length, 0);

    const status = await call({
      command: "STATUS",
      stdin: conf,
      env: { CNI_CONTAINERID: undefined, CNI_IFNAME: undefined, CNI_NETNS: undefined },
    });
    assert.equal(status.code, 0, status.stdout);
  });

  it("kubeconfig from ipam.kubernetes.kubeconfig wins over the flat file; errors have CNI codes", async () => {
    const direct = wbConfig({ range: "10.51.0.0/24", kubernetes: { kubeconfig: srv.kubeconfigPath } });
    const ok = await call({
      command: "ADD",
      args: podArgs("d1"),
      stdin: direct,
      env: { WHEREABOUTS_FLATFILE: undefined },
    });
    assert.equal(ok.code, 0, ok.stdout);
    assert.deepEqual(resultIPs(ok.json), ["10.51.0.1/24"]);

    const missing = await call({
      command: "ADD",
      args: podArgs("d2"),
      stdin: wbConfig({ range: "10.51.0.0/24", kubernetes: { kubeconfig: "/nonexistent/kubeconfig" } }),
    });
    assert.equal(missing.json?.code, 7, missing.stdout);
    assert.match(String(missing.json?.msg), /ipam\.kubernetes\.kubeconfig/);

    const badFlat = await call({
      command: "ADD",
      args: podArgs("d3"),
      stdin: wbConfig({ range: "10.51.0.0/24" }),
      env: { WHEREABOUTS_FLATFILE: "/nonexistent/whereabouts.conf" },
    });
    assert.equal(badFlat.json?.code, 7, badFlat.stdout);
    assert.match(String(badFlat.json?.msg), /configuration_path/);

    // An API server that does not answer: "try again later" (11), as for a contended store.
    const deadFile = join(srv.dataDir, "dead.kubeconfig");
    const { readFile } = await import("node:fs/promises");
    await writeFile(
      deadFile,
      (await readFile(srv.kubeconfigPath, "utf8")).replace(/server: \S+/, "server: https://127.0.0.1:1"),
    );
    const dead = await call({
      command: "ADD",
      args: podArgs("d4"),
      stdin: wbConfig({ range: "10.51.0.0/24", kubernetes: { kubeconfig: deadFile } }),
    });
    assert.equal(dead.json?.code, 11, dead.stdout);
  });

  it(`${N} parallel ADDs on one pool get ${N} distinct addresses; ${N} parallel DELs empty it`, {
    timeout: 200_000,
  }, async () => {
    const conf = wbConfig({ range: "10.60.0.0/16", network_name: "par", lock_timeout_ms: 100_000 });
    const adds = await Promise.all(
      Array.from({ length: N }, (_, i) =>
        call({ command: "ADD", containerID: `c${i}`, args: podArgs(`p${i}`), stdin: conf }),
      ),
    );
    assert.deepEqual(
      adds.filter((a) => a.code !== 0).map((a) => a.stdout + a.stderr),
      [],
    );
    const ips = adds.flatMap((a) => resultIPs(a.json));
    assert.equal(new Set(ips).size, N, "duplicate address handed out");
    const held = await pool("par-10.60.0.0-16");
    assert.deepEqual(
      Object.keys(held)
        .map(Number)
        .sort((x, y) => x - y),
      Array.from({ length: N }, (_, i) => i + 1),
      "lowest free: exactly the first N usable addresses",
    );
    adds.forEach((a, i) => {
      const off = String(
        Number(resultIPs(a.json)[0]!.split("/")[0]!.split(".")[3]) +
          256 * Number(resultIPs(a.json)[0]!.split(".")[2]),
      );
      assert.equal(held[off]?.id, `c${i}`);
    });
    assert.equal((await reservations("par-")).length, N);
    const dels = await Promise.all(
      Array.from({ length: N }, (_, i) =>
        call({ command: "DEL", containerID: `c${i}`, args: podArgs(`p${i}`), stdin: conf }),
      ),
    );
    assert.deepEqual(
      dels.filter((d) => d.code !== 0).map((d) => d.stdout),
      [],
    );
    assert.deepEqual(await pool("par-10.60.0.0-16"), {});
    assert.equal((await reservations("par-")).length, 0);
  });

  it(`${N} parallel ADDs and DELs with random SIGKILLs: no duplicates; no leak after the reconciler`, {
    timeout: 240_000,
  }, async () => {
    const conf = wbConfig({ range: "10.61.0.0/16", network_name: "kill", lock_timeout_ms: 100_000 });
    const ids = Array.from({ length: N }, (_, i) => `k${i}`);
    const withKills = (command: string, list: string[], spreadMs: number) =>
      Promise.all(
        list.map((id, i) =>
          call({ command, containerID: id, args: podArgs(id), stdin: conf }, (child) => {
            if (i % 3 === 0) setTimeout(() => child.kill("SIGKILL"), Math.random() * spreadMs);
          }),
        ),
      );
    const t0 = performance.now();
    const adds = await withKills("ADD", ids, 30_000);
    const spread = performance.now() - t0;
    const ok = new Map<string, string>();
    const killed = new Set<string>();
    adds.forEach((a, i) => {
      if (a.signal === "SIGKILL") killed.add(ids[i]!);
      else {
        assert.equal(a.code, 0, a.stdout + a.stderr);
        ok.set(ids[i]!, resultIPs(a.json)[0]!.split("/")[0]!);
      }
    });
    assert.ok(killed.size > 0 && ok.size > 0, `killed ${killed.size}, survived ${ok.size}`);
    assert.equal(new Set(ok.values()).size, ok.size, "an address was handed out twice");
    const offsetOf = (ip: string) => {
      const [, , c, d] = ip.split(".").map(Number);
      return String(c! * 256 + d!);
    };
    let held = await pool("kill-10.61.0.0-16");
    for (const [id, ip] of ok) assert.equal(held[offsetOf(ip)]?.id, id, `ADD of ${id} is not recorded`);
    for (const a of Object.values(held))
      assert.ok(ok.has(a.id) || killed.has(a.id), `unexplained allocation of ${a.id}`);

    // The surviving pods exist and list their address; the killed ones' pods are gone.
    const pods = [...ok].map(([id, ip]) => ({
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name: id,
        namespace: "default",
        annotations: {
          "k8s.v1.cni.cncf.io/network-status": JSON.stringify([
            { name: "default/kill", interface: "eth0", ips: [ip] },
          ]),
        },
      },
      spec: { containers: [{ name: "c", image: "busybox" }] },
    }));
    for (let i = 0; i < pods.length; i += 20)
      await Promise.all(pods.slice(i, i + 20).map((p) => client.create(podType, p as KubeObject)));
    const r1 = await reconcileOnce(client, { graceMs: 0 });
    assert.deepEqual(r1.conflicts, []);
    held = await pool("kill-10.61.0.0-16");
    assert.deepEqual(
      Object.values(held)
        .map((a) => a.id)
        .sort(),
      [...ok.keys()].sort(),
      "after the reconciler exactly the survivors hold addresses",
    );
    assert.deepEqual(
      (await reservations("kill-")).map((r) => r.metadata.name).sort(),
      [...ok.values()].map((ip) => `kill-${ip}`).sort(),
    );

    // DEL every survivor, again with kills; then the pods go and the reconciler cleans up the rest.
    const survivors = [...ok.keys()];
    const dels = await withKills("DEL", survivors, spread / 2);
    dels.forEach((d) => {
      if (d.signal !== "SIGKILL") assert.equal(d.code, 0, d.stdout);
    });
    held = await pool("kill-10.61.0.0-16");
    for (const a of Object.values(held))
      assert.ok(
        dels[survivors.indexOf(a.id)]?.signal === "SIGKILL",
        `allocation of ${a.id} leaked without a kill`,
      );
    for (let i = 0; i < survivors.length; i += 20)
      await Promise.all(survivors.slice(i, i + 20).map((id) => client.delete(podType, "default", id)));
    const r2 = await reconcileOnce(client, { graceMs: 0 });
    assert.deepEqual(r2.conflicts, []);
    assert.deepEqual(await pool("kill-10.61.0.0-16"), {});
    assert.equal((await reservations("kill-")).length, 0);
    process.stdout.write(
      `# kube kill test: ADD killed ${killed.size}, survived ${ok.size}; reconcile 1 removed ${r1.removed.length}, reconcile 2 removed ${r2.removed.length}\n`,
    );
  });
});
