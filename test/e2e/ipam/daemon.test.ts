// The resident IPAM daemon (`egress ipam daemon`) driven through the compiled shim exactly as a runtime
// drives a plugin (one shim process per call, CNI_* in the environment, config on stdin), with the
// kubernetes datastore in our API server: the shim's answers equal the plugin process's; 200 parallel
// ADDs → 200 distinct addresses, 200 DELs → an empty pool; the daemon SIGKILLed in the middle of 200
// ADDs: no address handed out twice, every failed caller succeeds on retry, nothing leaks; without a
// daemon the shim falls back to the Node plugin. Servers and daemons are stopped also on failure.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  attachNetworks,
  DhcpDaemonManager,
  detachNetworks,
  execPluginRunner,
  WhereaboutsDaemonManager,
} from "../../../src/agent/kubelet/attachments.js";
import { ipPoolType, overlappingRangeIPReservationType } from "../../../src/api/kinds/index.js";
import type { KubeObject } from "../../../src/api/object.js";
import { Client } from "../../../src/controllers/runtime/client.js";
import { startTestServer, type TestServer } from "../support/server.js";
import {
  type CniCall,
  type CniOutcome,
  type DaemonProcess,
  resultIPs,
  runCni,
  SHIM,
  startDaemon,
  wbConfig,
} from "./helpers.js";

const N = 200;
const NS = "kube-system";
const built = existsSync(SHIM);

describe("whereabouts daemon + shim against the API server", {
  timeout: 300_000,
  skip: built ? false : `shim not built (${SHIM}): run node scripts/build-native.mjs`,
}, () => {
  let srv: TestServer;
  let client: Client;
  let flat = "";
  let socket = "";
  const daemons: DaemonProcess[] = [];
  before(async () => {
    srv = await startTestServer();
    client = Client.fromFile(srv.kubeconfigPath);
    flat = join(srv.dataDir, "whereabouts.conf");
    socket = join(srv.dataDir, "wb", "daemon.sock");
    await writeFile(
      flat,
      JSON.stringify({ datastore: "kubernetes", kubernetes: { kubeconfig: srv.kubeconfigPath } }),
    );
    daemons.push(await startDaemon(socket));
  });
  after(async () => {
    for (const d of daemons) await d.stop().catch(() => undefined);
    await srv?.stop();
  });

  const baseEnv = () => ({
    WHEREABOUTS_FLATFILE: flat,
    WHEREABOUTS_LOCK_DIR: join(srv.dataDir, "locks"),
    WHEREABOUTS_DAEMON_SOCKET: socket,
  });
  const shim = (c: CniCall): Promise<CniOutcome> =>
    runCni({ ...c, env: { ...baseEnv(), ...c.env } }, undefined, [SHIM]);
  const plugin = (c: CniCall): Promise<CniOutcome> => runCni({ ...c, env: { ...baseEnv(), ...c.env } });
  const podArgs = (name: string) => `K8S_POD_NAMESPACE=default;K8S_POD_NAME=${name}`;
  const pool = async (name: string): Promise<Record<string, { id: string }>> => {
    try {
      const o = await client.get<KubeObject>(ipPoolType, NS, name);
      return (o.spec as { allocations?: Record<string, { id: string }> }).allocations ?? {};
    } catch {
      return {};
    }
  };
  const reservations = async (prefix: string): Promise<KubeObject[]> =>
    (await client.list(overlappingRangeIPReservationType, NS)).items.filter((r) =>
      (r.metadata.name ?? "").startsWith(prefix),
    );
  const offsetOf = (cidr: string): string => {
    const [, , c, d] = cidr.split("/")[0]!.split(".").map(Number);
    return String(c! * 256 + d!);
  };

  it("answers exactly as the plugin process does (results, idempotency, errors, VERSION)", async () => {
    const conf = wbConfig({ range: "10.70.0.0/29", network_name: "same", gateway: "10.70.0.1" }, {}, "0.4.0");
    const viaPlugin = await plugin({ command: "ADD", containerID: "c1", args: podArgs("p1"), stdin: conf });
    const viaShim = await shim({ command: "ADD", containerID: "c1", args: podArgs("p1"), stdin: conf });
    assert.equal(viaPlugin.code, 0, viaPlugin.stdout + viaPlugin.stderr);
    assert.deepEqual([viaShim.code, viaShim.stdout], [viaPlugin.code, viaPlugin.stdout]);
    const next = await shim({ command: "ADD", containerID: "c2", args: podArgs("p2"), stdin: conf });
    assert.deepEqual(resultIPs(next.json), ["10.70.0.3/29"]);
    const cases: CniCall[] = [
      { command: "VERSION", stdin: "" },
      { command: "ADD", containerID: "c3", args: podArgs("p3"), stdin: conf, env: { CNI_NETNS: "" } },
      { command: "ADD", args: podArgs("p4"), stdin: wbConfig({ range: "10.70.0.0/33" }) },
      { command: "ADD", args: "FOO=1", stdin: conf },
      { command: "ADD", args: podArgs("p5"), stdin: "{" },
      {
        command: "ADD",
        args: podArgs("p6"),
        stdin: wbConfig({ range: "10.70.1.0/24", kubernetes: { kubeconfig: "/nonexistent/kubeconfig" } }),
      },
    ];
    for (const c of cases) {
      const [a, b] = [await plugin(c), await shim(c)];
      assert.deepEqual([b.code, b.stdout], [a.code, a.stdout], `${c.command} ${c.stdin}`);
    }
    for (const id of ["c1", "c2"]) {
      const d = await shim({ command: "DEL", containerID: id, args: podArgs(id), stdin: conf });
      assert.deepEqual([d.code, d.stdout], [0, ""]);
    }
    assert.deepEqual(await pool("same-10.70.0.0-29"), {});
  });

  it(`${N} parallel ADDs through the shim get ${N} distinct addresses; ${N} parallel DELs empty the pool`, async () => {
    const conf = wbConfig({ range: "10.71.0.0/16", network_name: "dpar" });
    const adds = await Promise.all(
      Array.from({ length: N }, (_, i) =>
        shim({ command: "ADD", containerID: `c${i}`, args: podArgs(`p${i}`), stdin: conf }),
      ),
    );
    assert.deepEqual(
      adds.filter((a) => a.code !== 0).map((a) => a.stdout + a.stderr),
      [],
    );
    const ips = adds.map((a) => resultIPs(a.json)[0]!);
    assert.equal(new Set(ips).size, N, "duplicate address handed out");
    const held = await pool("dpar-10.71.0.0-16");
    assert.deepEqual(
      Object.keys(held)
        .map(Number)
        .sort((x, y) => x - y),
      Array.from({ length: N }, (_, i) => i + 1),
      "lowest free: exactly the first N usable addresses",
    );
    ips.forEach((ip, i) => {
      assert.equal(held[offsetOf(ip)]?.id, `c${i}`);
    });
    assert.equal((await reservations("dpar-")).length, N);
    const dels = await Promise.all(
      Array.from({ length: N }, (_, i) =>
        shim({ command: "DEL", containerID: `c${i}`, args: podArgs(`p${i}`), stdin: conf }),
      ),
    );
    assert.deepEqual(
      dels.filter((d) => d.code !== 0).map((d) => d.stdout),
      [],
    );
    assert.deepEqual(await pool("dpar-10.71.0.0-16"), {});
    assert.equal((await reservations("dpar-")).length, 0);
  });

  it(`the daemon SIGKILLed during ${N} ADDs: no duplicates, failed callers succeed on retry, no leak`, async () => {
    const conf = wbConfig({ range: "10.72.0.0/16", network_name: "dkill", lock_timeout_ms: 60_000 });
    const call = (i: number) =>
      shim({ command: "ADD", containerID: `k${i}`, args: podArgs(`k${i}`), stdin: conf });
    const first = daemons[daemons.length - 1]!;
    let answered = 0;
    const killAt = 40 + Math.floor(Math.random() * 80);
    const runs = Array.from({ length: N }, (_, i) =>
      call(i).then((o) => {
        if (++answered === killAt) first.child.kill("SIGKILL");
        return o;
      }),
    );
    const outs = await Promise.all(runs);
    assert.equal(
      first.child.signalCode ?? (await new Promise((r) => first.child.once("exit", (_c, s) => r(s)))),
      "SIGKILL",
    );
    const got = new Map<number, string>();
    const failed: number[] = [];
    outs.forEach((o, i) => {
      if (o.code === 0) got.set(i, resultIPs(o.json)[0]!);
      else {
        // A call cut off by the kill: "try again later", never a half-written result.
        assert.equal(o.json?.code, 11, o.stdout + o.stderr);
        failed.push(i);
      }
    });
    assert.equal(new Set(got.values()).size, got.size, "an address was handed out twice");
    // The calls after the kill found a dead socket and fell back to the plugin process; calls in
    // flight at the kill failed. Retried through a new daemon, every one succeeds.
    daemons.push(await startDaemon(socket));
    const retried = await Promise.all(failed.map((i) => call(i)));
    retried.forEach((o, j) => {
      assert.equal(o.code, 0, o.stdout + o.stderr);
      got.set(failed[j]!, resultIPs(o.json)[0]!);
    });
    assert.equal(got.size, N);
    assert.equal(new Set(got.values()).size, N, "an address was handed out twice");
    const held = await pool("dkill-10.72.0.0-16");
    assert.equal(Object.keys(held).length, N, "allocations leaked by the killed daemon");
    for (const [i, ip] of got) assert.equal(held[offsetOf(ip)]?.id, `k${i}`);
    assert.equal((await reservations("dkill-")).length, N, "reservations leaked by the killed daemon");
    process.stdout.write(
      `# daemon kill test: killed after ${killAt} answers, ${failed.length} callers retried\n`,
    );
  });

  it("without a daemon the shim runs the plugin itself (no socket, a stale socket file)", async () => {
    const conf = wbConfig({ range: "10.73.0.0/24", network_name: "dfall" });
    const none = await shim({
      command: "ADD",
      containerID: "f1",
      args: podArgs("f1"),
      stdin: conf,
      env: { WHEREABOUTS_DAEMON_SOCKET: join(srv.dataDir, "absent.sock") },
    });
    assert.equal(none.code, 0, none.stdout + none.stderr);
    assert.deepEqual(resultIPs(none.json), ["10.73.0.1/24"]);
    const stale = join(srv.dataDir, "stale.sock");
    await writeFile(stale, "");
    const staleRun = await shim({
      command: "ADD",
      containerID: "f2",
      args: podArgs("f2"),
      stdin: conf,
      env: { WHEREABOUTS_DAEMON_SOCKET: stale },
    });
    assert.equal(staleRun.code, 0, staleRun.stdout + staleRun.stderr);
    assert.deepEqual(resultIPs(staleRun.json), ["10.73.0.2/24"]);
    const del = await shim({
      command: "DEL",
      containerID: "f1",
      args: podArgs("f1"),
      stdin: conf,
      env: { WHEREABOUTS_DAEMON_SOCKET: join(srv.dataDir, "absent2.sock") },
    });
    assert.equal(del.code, 0, del.stdout);
  });

  it("agent attachments: the agent starts its daemon on the first whereabouts attachment and calls go through the shim", async () => {
    const dir = join(srv.dataDir, "agent");
    const manager = new WhereaboutsDaemonManager(join(dir, "whereabouts.sock"));
    const dataDir = join(dir, "ipam");
    const nad = JSON.stringify({
      cniVersion: "1.0.0",
      name: "wb-agent",
      type: "whereabouts",
      ipam: { type: "whereabouts", datastore: "file", data_dir: dataDir, range: "10.74.0.0/24" },
    });
    const calls: string[] = [];
    const exec = execPluginRunner();
    const common = {
      pod: {
        namespace: "default",
        name: "a1",
        uid: "uid-a1",
        annotations: { "k8s.v1.cni.cncf.io/networks": "wb" },
      },
      netnsPath: "/var/run/netns/none",
      binDirs: ["/usr/lib/cni"],
      stateDir: join(dir, "state"),
      dhcp: new DhcpDaemonManager(join(dir, "dhcp.sock")),
      whereabouts: manager,
      runPlugin: async (c: Parameters<typeof exec>[0]) => {
        calls.push(`${c.command} ${c.binDirs[0]} ${c.env?.WHEREABOUTS_DAEMON_SOCKET}`);
        return exec(c);
      },
    };
    try {
      const r = await attachNetworks({ ...common, getNetworkAttachmentDefinition: async () => nad });
      assert.deepEqual(r.networkStatus[0]?.ips, ["10.74.0.1"]);
      assert.ok(manager.pid, "daemon started");
      assert.deepEqual(calls, [`ADD ${manager.shimDir} ${manager.socketPath}`]);
      const state = JSON.parse(await readFile(join(dataDir, "network.json"), "utf8")) as {
        ipPools: Record<string, { spec: { allocations: Record<string, { id: string }> } }>;
      };
      assert.equal(state.ipPools["10.74.0.0-24"]?.spec.allocations["1"]?.id, "uid-a1");
      await detachNetworks(common);
      const freed = JSON.parse(await readFile(join(dataDir, "network.json"), "utf8")) as typeof state;
      assert.deepEqual(freed.ipPools["10.74.0.0-24"]?.spec.allocations, {});
    } finally {
      const pid = manager.pid;
      await manager.stop();
      if (pid) assert.throws(() => process.kill(pid, 0), "daemon still running after stop()");
    }
  });
});
