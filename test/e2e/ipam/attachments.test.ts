// Secondary-network attachments end to end (root): the NetworkAttachmentDefinitions of
// examples/seed/003-ipam.yaml (parsed from the file, bridge names made unique) attached to a pod
// network namespace by src/agent/kubelet/attachments.ts, with the reference plugins from /usr/lib/cni
// run inside a node namespace we create, whereabouts (kubernetes datastore, our API server) through a
// shim dir, and DHCP from a real dnsmasq behind the dhcp bridge via the reference dhcp daemon. Every
// namespace and process is ours and removed in after(), also on failure.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import { run } from "../../../src/agent/exec.js";
import {
  attachNetworks,
  DhcpDaemonManager,
  detachNetworks,
  execPluginRunner,
  type NetworkStatus,
} from "../../../src/agent/kubelet/attachments.js";
import { EXAMPLES_DIR, startTestServer, type TestServer } from "../support/server.js";

const isRoot = process.getuid?.() === 0;
const PLUGIN = fileURLToPath(new URL("../../../src/cni/whereabouts.js", import.meta.url));
const tag = Math.random().toString(36).slice(2, 7);
const NODE = `wbatt-${tag}-node`;
const DHCPSRV = `wbatt-${tag}-dhcp`;
const podNs = (i: number) => `wbatt-${tag}-pod${i}`;

async function ip(...args: string[]): Promise<string> {
  return (await run("ip", args)).stdout;
}

describe("secondary-network attachments (003-ipam.yaml)", {
  skip: !isRoot && "needs root",
  timeout: 120_000,
}, () => {
  let dir = "";
  let srv: TestServer | undefined;
  let dnsmasq: ChildProcess | undefined;
  let dnsmasqLog = "";
  let dhcp: DhcpDaemonManager | undefined;
  const nads = new Map<string, string>();
  const pods: string[] = [];
  let shim = "";
  const leaseFile = () => join(dir, "dnsmasq.leases");

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "wbatt-"));
    srv = await startTestServer();
    // NADs from the seed file; bridge names made unique (≤ 15 chars) for this run.
    const docs = parseAllDocuments(await readFile(join(EXAMPLES_DIR, "003-ipam.yaml"), "utf8")).map(
      (d) => d.toJSON() as Record<string, unknown>,
    );
    for (const d of docs) {
      if (d.kind !== "NetworkAttachmentDefinition") continue;
      const meta = d.metadata as { name: string; namespace: string };
      const config = JSON.parse((d.spec as { config: string }).config) as Record<string, unknown>;
      config.bridge = `${String(config.bridge).replace(/^br-/, "b")}-${tag}`.slice(0, 15);
      nads.set(`${meta.namespace}/${meta.name}`, JSON.stringify(config));
    }
    // whereabouts through a shim dir: the flat file (kubeconfig of our API server) named by env.
    shim = join(dir, "bin");
    await run("mkdir", ["-p", shim]);
    const flat = join(dir, "whereabouts.conf");
    await writeFile(
      flat,
      JSON.stringify({ datastore: "kubernetes", kubernetes: { kubeconfig: srv.kubeconfigPath } }),
    );
    await writeFile(
      join(shim, "whereabouts"),
      // Plugins run inside the node namespace; whereabouts only talks to the API server, which listens
      // on this process's loopback: so it re-enters this process's network namespace.
      `#!/bin/sh\nexport WHEREABOUTS_FLATFILE='${flat}' WHEREABOUTS_LOCK_DIR='${dir}/locks'\nexec nsenter --net=/proc/${process.pid}/ns/net -- '${process.execPath}' '${PLUGIN}' "$@"\n`,
    );
    await chmod(join(shim, "whereabouts"), 0o755);

    // The node namespace; the dhcp bridge made in advance so the DHCP server can hang off it.
    await ip("netns", "add", NODE);
    await ip("-n", NODE, "link", "set", "lo", "up");
    const dhcpBridge = String((JSON.parse(nads.get("default/dhcp-net")!) as { bridge: string }).bridge);
    await ip("-n", NODE, "link", "add", dhcpBridge, "type", "bridge");
    await ip("-n", NODE, "link", "set", dhcpBridge, "up");
    await ip("netns", "add", DHCPSRV);
    await ip("-n", DHCPSRV, "link", "set", "lo", "up");
    await ip("-n", NODE, "link", "add", "dsrv", "type", "veth", "peer", "name", "eth0", "netns", DHCPSRV);
    await ip("-n", NODE, "link", "set", "dsrv", "master", dhcpBridge, "up");
    await ip("-n", DHCPSRV, "addr", "add", "10.77.0.1/24", "dev", "eth0");
    await ip("-n", DHCPSRV, "link", "set", "eth0", "up");
    dnsmasq = spawn(
      "ip",
      [
        "netns",
        "exec",
        DHCPSRV,
        "dnsmasq",
        "--no-daemon",
        "--port=0",
        "--interface=eth0",
        "--bind-interfaces",
        "--dhcp-range=10.77.0.100,10.77.0.150,255.255.255.0,2m",
        `--dhcp-leasefile=${leaseFile()}`,
        "--dhcp-authoritative",
        "--log-dhcp",
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    dnsmasq.stderr?.on("data", (d: Buffer) => {
      dnsmasqLog += d.toString();
    });
    dhcp = new DhcpDaemonManager(join(dir, "dhcp.sock"), {
      log: (m) => {
        dnsmasqLog += `dhcp daemon: ${m}\n`;
      },
    });
  });

  after(async () => {
    for (const p of pods) await run("ip", ["netns", "del", p], { allowFailure: true });
    await dhcp?.stop();
    if (dnsmasq?.pid !== undefined && dnsmasq.exitCode === null) dnsmasq.kill("SIGTERM");
    await run("ip", ["netns", "del", DHCPSRV], { allowFailure: true });
    await run("ip", ["netns", "del", NODE], { allowFailure: true });
    await srv?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  let podCount = 0;
  const attach = async (networks: string) => {
    const ns = podNs(++podCount);
    pods.push(ns);
    await ip("netns", "add", ns);
    await ip("-n", ns, "link", "set", "lo", "up");
    const pod = {
      namespace: "default",
      name: `pod${podCount}`,
      uid: `uid-${tag}-${podCount}`,
      annotations: { "k8s.v1.cni.cncf.io/networks": networks },
    };
    const common = {
      pod,
      netnsPath: `/var/run/netns/${ns}`,
      binDirs: [shim, "/usr/lib/cni"],
      stateDir: join(dir, "state"),
      dhcp: dhcp!,
      // The Node plugin through the script shim above (its environment names the flat file); the
      // daemon route is tested in daemon.test.ts.
      whereabouts: null,
      runPlugin: execPluginRunner(NODE),
    };
    const r = await attachNetworks({
      ...common,
      getNetworkAttachmentDefinition: async (n, name) => nads.get(`${n}/${name}`),
    });
    return { ns, status: r.networkStatus, detach: () => detachNetworks(common) };
  };
  const addrs = async (ns: string, dev: string) =>
    (
      JSON.parse(await ip("-j", "-n", ns, "addr", "show", "dev", dev)) as {
        addr_info: { local: string; prefixlen: number; scope: string }[];
      }[]
    )
      .flatMap((l) => l.addr_info)
      .filter((a) => a.scope === "global")
      .map((a) => `${a.local}/${a.prefixlen}`);

  it("static: 191.168.1.7/24 with its route and DNS, in the pod and in network-status", async () => {
    const { ns, status, detach } = await attach("static-net");
    assert.deepEqual(status.length, 1);
    const s = status[0] as NetworkStatus;
    assert.equal(s.name, "default/static-net");
    assert.equal(s.interface, "net1");
    assert.deepEqual(s.ips, ["191.168.1.7"]);
    assert.match(s.mac ?? "", /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    assert.deepEqual(s.dns, { nameservers: ["191.168.1.1"], domain: "example.com", search: ["example.com"] });
    assert.deepEqual(await addrs(ns, "net1"), ["191.168.1.7/24"]);
    assert.match(await ip("-n", ns, "route", "show", "default"), /default via 191\.168\.1\.1 dev net1/);
    await detach();
    assert.doesNotMatch(await ip("-n", ns, "link", "show"), /net1/);
  });

  it("whereabouts: the first free address after the excludes (192.0.2.197), released on DEL", async () => {
    const a = await attach("whereabouts-net");
    // 192.0.2.192/27 minus 192.0.2.192/30 (.192–.195) and .196: .197 is the lowest usable.
    assert.deepEqual(a.status[0]?.ips, ["192.0.2.197"]);
    assert.deepEqual(await addrs(a.ns, "net1"), ["192.0.2.197/27"]);
    const b = await attach("whereabouts-net");
    assert.deepEqual(b.status[0]?.ips, ["192.0.2.198"]);
    await a.detach();
    const c = await attach("whereabouts-net");
    assert.deepEqual(c.status[0]?.ips, ["192.0.2.197"], "freed by DEL, handed out again");
    await b.detach();
    await c.detach();
  });

  it("tenant-a and tenant-b share a range but have independent pools; dual-stack gets both families", async () => {
    const { ns, status, detach } = await attach("tenant-a,tenant-b@tb0,dual-stack");
    assert.deepEqual(
      status.map((s) => [s.name, s.interface, s.ips]),
      [
        ["default/tenant-a", "net1", ["192.168.2.225"]],
        ["default/tenant-b", "tb0", ["192.168.2.225"]],
        ["default/dual-stack", "net3", ["192.168.10.1", "fd00:10::1"]],
      ],
    );
    assert.deepEqual(await addrs(ns, "net1"), ["192.168.2.225/28"]);
    assert.deepEqual(await addrs(ns, "tb0"), ["192.168.2.225/28"]);
    const ds = await addrs(ns, "net3");
    assert.ok(ds.includes("192.168.10.1/24") && ds.includes("fd00:10::1/64"), ds.join(","));
    await detach();
  });

  it("dhcp: a lease from dnsmasq through the dhcp daemon, released on DEL", async () => {
    const { ns, status, detach } = await attach('[{"name":"dhcp-net","namespace":"default"}]');
    const got = status[0]?.ips[0] ?? "";
    assert.match(got, /^10\.77\.0\.(1[0-4]\d|150)$/);
    assert.deepEqual(await addrs(ns, "net1"), [`${got}/24`]);
    assert.ok(dhcp?.pid, "the daemon was started for the DHCP attachment");
    const leases = await readFile(leaseFile(), "utf8");
    assert.match(leases, new RegExp(` ${got.replaceAll(".", "\\.")} `), `dnsmasq lease file: ${leases}`);
    await detach();
    // DHCPRELEASE removes the lease from dnsmasq's table (it rewrites the lease file).
    const start = Date.now();
    for (;;) {
      const now = await readFile(leaseFile(), "utf8").catch(() => "");
      if (!now.includes(` ${got} `)) break;
      assert.ok(Date.now() - start < 10_000, `lease of ${got} not released: ${now}\n${dnsmasqLog}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  });
});
