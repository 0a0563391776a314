// The reference bridge plugin (Debian containernetworking-plugins, /usr/lib/cni/bridge) delegating to
// the compiled whereabouts plugin, found through CNI_PATH as a runtime would. The bridge plugin runs
// inside a "node" network namespace created here (so the root namespace is never touched) and plugs
// veths into two "pod" namespaces. Needs root; skipped otherwise. Namespaces are deleted in `after`.
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { decodeState, networkFiles } from "../../../src/ipam/file-store.js";
import { cniEnv, PLUGIN } from "./helpers.js";

const BRIDGE = "/usr/lib/cni/bridge";
const skip =
  process.getuid?.() !== 0
    ? "needs root (network namespaces)"
    : !existsSync(BRIDGE)
      ? `${BRIDGE} is missing (containernetworking-plugins)`
      : false;

const tag = Math.random().toString(36).slice(2, 8);
const NODE = `wbtest-${tag}-node`;
const PODS = [`wbtest-${tag}-p1`, `wbtest-${tag}-p2`];

function ip(...args: string[]): string {
  return execFileSync("ip", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  json: Record<string, unknown> | undefined;
}

describe("bridge plugin delegating to whereabouts", { skip, timeout: 60_000 }, () => {
  let dir = "";
  let shimDir = "";
  let dataDir = "";
  const created: string[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "wb-bridge-"));
    shimDir = join(dir, "bin");
    dataDir = join(dir, "data");
    execFileSync("mkdir", ["-p", shimDir]);
    // What an installer puts into the CNI bin dir: an executable named after the plugin type.
    const shim = join(shimDir, "whereabouts");
    await writeFile(shim, `#!/bin/sh\nexec "${process.execPath}" "${PLUGIN}" "$@"\n`);
    await chmod(shim, 0o755);
    for (const ns of [NODE, ...PODS]) {
      ip("netns", "add", ns);
      created.push(ns);
    }
    ip("-n", NODE, "link", "set", "lo", "up");
  });

  after(async () => {
    for (const ns of created.reverse()) {
      try {
        ip("netns", "del", ns);
      } catch {
        // already gone
      }
    }
    await rm(dir, { recursive: true, force: true });
  });

  const netConf = (extra: Record<string, unknown> = {}) =>
    JSON.stringify({
      cniVersion: "1.0.0",
      name: "wbnet",
      type: "bridge",
      bridge: "wbbr0",
      isGateway: true,
      ...extra,
      ipam: {
        type: "whereabouts",
        datastore: "file",
        data_dir: dataDir,
        range: "10.77.0.0/24",
        gateway: "10.77.0.1",
        exclude: ["10.77.0.0/30"],
      },
    });

  /** Runs the bridge plugin in the node namespace, as a runtime on that node would. */
  function bridge(command: string, pod: number, stdin: string, ifName = "eth0"): Promise<Run> {
    const env = cniEnv({
      command,
      containerID: `ctr-${tag}-${pod}`,
      netns: `/var/run/netns/${PODS[pod]}`,
      ifName,
      path: `${shimDir}:/usr/lib/cni`,
      args: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=pod${pod}`,
      stdin,
    });
    return new Promise((resolve, reject) => {
      const child = spawn("ip", ["netns", "exec", NODE, BRIDGE], { env, stdio: ["pipe", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d: Buffer) => {
        stdout += d.toString();
      });
      child.stderr.on("data", (d: Buffer) => {
        stderr += d.toString();
      });
      child.on("error", reject);
      child.stdin.end(stdin);
      child.on("close", (code) => {
        let json: Record<string, unknown> | undefined;
        try {
          json = stdout.trim() ? (JSON.parse(stdout) as Record<string, unknown>) : undefined;
        } catch {
          json = undefined;
        }
        resolve({ code, stdout, stderr, json });
      });
    });
  }

  const podAddrs = (ns: string): string[] => {
    const links = JSON.parse(ip("-n", ns, "-j", "addr", "show", "dev", "eth0")) as {
      addr_info: { family: string; local: string; prefixlen: number }[];
    }[];
    return links.flatMap((l) =>
      l.addr_info.filter((a) => a.family === "inet").map((a) => `${a.local}/${a.prefixlen}`),
    );
  };

  const adds: Run[] = [];

  it("ADD through bridge puts the lowest free address on the pod's eth0; pods reach each other", async () => {
    for (const p of [0, 1]) {
      const r = await bridge("ADD", p, netConf());
      assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
      adds.push(r);
    }
    const ips = adds.map((r) => ((r.json?.ips ?? []) as { address: string }[]).map((i) => i.address));
    assert.deepEqual(ips, [["10.77.0.4/24"], ["10.77.0.5/24"]]);
    assert.deepEqual(podAddrs(PODS[0]!), ["10.77.0.4/24"]);
    assert.deepEqual(podAddrs(PODS[1]!), ["10.77.0.5/24"]);
    // The gateway address sits on the bridge in the node namespace, not on a pod.
    assert.match(ip("-n", NODE, "addr", "show", "dev", "wbbr0"), /10\.77\.0\.1\/24/);
    // iputils arping exits 0 only when pod 2 answered pod 1 across the bridge.
    execFileSync(
      "ip",
      ["netns", "exec", PODS[0]!, "arping", "-c", "1", "-w", "5", "-I", "eth0", "10.77.0.5"],
      {
        stdio: "ignore",
      },
    );
  });

  it("CHECK through bridge passes the prevResult to whereabouts", async () => {
    const r = await bridge("CHECK", 0, netConf({ prevResult: adds[0]?.json }));
    assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
  });

  it("an invalid IPAM config comes back as the plugin's CNI error", async () => {
    const conf = JSON.parse(netConf()) as { ipam: Record<string, unknown> };
    conf.ipam.range = "10.77.0.0/33";
    // A fresh interface name: bridge creates the veth before it calls IPAM and leaves it on failure.
    const r = await bridge("ADD", 1, JSON.stringify(conf), "net1");
    assert.notEqual(r.code, 0);
    assert.equal(r.json?.code, 7, r.stdout);
    assert.match(String(r.json?.msg), /ipam\.range/);
  });

  it("DEL through bridge releases the address; a repeated DEL succeeds", async () => {
    for (let i = 0; i < 2; i++) {
      const r = await bridge("DEL", 0, netConf({ prevResult: adds[0]?.json }));
      assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
    }
    const path = networkFiles(dataDir, "").state;
    const state = decodeState(await readFile(path, "utf8"), path);
    assert.deepEqual(
      Object.values(state.pools["10.77.0.0-24"]?.allocations ?? {}).map((a) => a.podref),
      ["default/pod1"],
    );
  });
});
