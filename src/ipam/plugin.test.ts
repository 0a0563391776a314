import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runPlugin } from "../cni/skel.js";
import { MemoryStore } from "./memory-store.js";
import { whereaboutsPlugin } from "./plugin.js";
import { type IPAMStore, StoreTimeoutError } from "./store.js";

const baseEnv = { CNI_NETNS: "/var/run/netns/x", CNI_IFNAME: "eth0", CNI_PATH: "/opt/cni/bin" };
const config = (ipam: Record<string, unknown>, extra: Record<string, unknown> = {}, v = "1.1.0") =>
  JSON.stringify({
    cniVersion: v,
    name: "wb",
    type: "bridge",
    ...extra,
    ipam: { type: "whereabouts", datastore: "file", ...ipam },
  });

function harness(store: IPAMStore = new MemoryStore()) {
  const plugin = whereaboutsPlugin(async () => store);
  const run = async (cmd: string, stdin: string, env: Record<string, string> = {}) => {
    const out = await runPlugin(
      { ...baseEnv, CNI_COMMAND: cmd, CNI_CONTAINERID: "c1", ...env },
      stdin,
      plugin,
    );
    return {
      ...out,
      json: out.stdout === "" ? undefined : (JSON.parse(out.stdout) as Record<string, unknown>),
    };
  };
  return { run, store };
}
const pod = (n: number) => ({
  CNI_CONTAINERID: `c${n}`,
  CNI_ARGS: `K8S_POD_NAMESPACE=default;K8S_POD_NAME=p${n}`,
});

describe("whereabouts commands (in-process, memory store)", () => {
  it("ADD returns allocated IPs (gateway per family) then static addresses, routes and dns", async () => {
    const { run } = harness();
    const out = await run(
      "ADD",
      config({
        range: "10.0.0.0/24",
        ipRanges: [{ range: "fd00:10::/64" }],
        gateway: "10.0.0.1",
        addresses: [{ address: "192.168.1.7/24", gateway: "192.168.1.1" }],
        routes: [{ dst: "0.0.0.0/0", gw: "10.0.0.1" }],
        dns: { nameservers: ["10.0.0.53"] },
      }),
      pod(1),
    );
    assert.equal(out.exitCode, 0, out.stdout);
    assert.deepEqual(out.json, {
      cniVersion: "1.1.0",
      ips: [
        { address: "10.0.0.2/24", gateway: "10.0.0.1" },
        { address: "fd00:10::1/64" },
        { address: "192.168.1.7/24", gateway: "192.168.1.1" },
      ],
      routes: [{ dst: "0.0.0.0/0", gw: "10.0.0.1" }],
      dns: { nameservers: ["10.0.0.53"] },
    });
  });

  it("0.3.1 result shape and idempotent ADD", async () => {
    const { run } = harness();
    const c = config({ range: "10.0.0.0/24" }, {}, "0.3.1");
    const a = await run("ADD", c, pod(1));
    const b = await run("ADD", c, pod(1));
    assert.deepEqual(a.json?.ips, [{ version: "4", address: "10.0.0.1/24" }]);
    assert.deepEqual(b.json, a.json);
  });

  it("CHECK passes for a held address matching prevResult, fails otherwise", async () => {
    const { run } = harness();
    const c = { range: "10.0.0.0/24" };
    const add = await run("ADD", config(c), pod(1));
    assert.equal((await run("CHECK", config(c, { prevResult: add.json }), pod(1))).exitCode, 0);
    const wrong = await run(
      "CHECK",
      config(c, { prevResult: { cniVersion: "1.1.0", ips: [{ address: "10.0.0.9/24" }] } }),
      pod(1),
    );
    assert.deepEqual([wrong.exitCode, wrong.json?.code], [1, 999]);
    const none = await run("CHECK", config(c), pod(2));
    assert.match(String(none.json?.details), /holds no address in ipam.range/);
  });

  it("DEL frees the address; repeat DEL succeeds", async () => {
    const { run } = harness();
    const c = config({ range: "10.0.0.0/24" });
    await run("ADD", c, pod(1));
    await run("ADD", c, pod(2));
    for (let i = 0; i < 2; i++) assert.deepEqual((await run("DEL", c, pod(1))).exitCode, 0);
    assert.deepEqual((await run("ADD", c, pod(3))).json?.ips, [{ address: "10.0.0.1/24" }]);
  });

  it("GC keeps only the valid attachments; GC without the list is error 7", async () => {
    const { run } = harness();
    const ipam = { range: "10.0.0.0/24" };
    for (const n of [1, 2, 3]) await run("ADD", config(ipam), pod(n));
    const gc = await run(
      "GC",
      config(ipam, { "cni.dev/valid-attachments": [{ containerID: "c2", ifname: "eth0" }] }),
    );
    assert.equal(gc.exitCode, 0, gc.stdout);
    assert.deepEqual((await run("ADD", config(ipam), pod(4))).json?.ips, [{ address: "10.0.0.1/24" }]);
    assert.deepEqual((await run("ADD", config(ipam), pod(5))).json?.ips, [{ address: "10.0.0.3/24" }]);
    const bad = await run("GC", config(ipam));
    assert.deepEqual(
      [bad.json?.code, bad.json?.msg],
      [7, "invalid network config: cni.dev/valid-attachments"],
    );
  });

  it("STATUS succeeds with free addresses and is error 50 when a range is exhausted", async () => {
    const { run } = harness();
    const c = config({ range: "10.0.0.0/30" });
    assert.equal((await run("STATUS", c)).exitCode, 0);
    await run("ADD", c, pod(1));
    await run("ADD", c, pod(2));
    const st = await run("STATUS", c);
    assert.equal(st.json?.code, 50);
    const full = await run("ADD", c, pod(3));
    assert.deepEqual([full.json?.code, full.json?.msg], [999, "no free address"]);
  });

  it("invalid config is error 7 naming the field", async () => {
    const { run } = harness();
    const out = await run("ADD", config({ range: "10.0.0.0/24", exclude: ["bogus"] }), pod(1));
    assert.deepEqual(
      [out.exitCode, out.json?.code, out.json?.msg],
      [1, 7, "invalid network config: ipam.exclude[0]"],
    );
    assert.match(String(out.json?.details), /"bogus"/);
  });

  it("an unreadable kubeconfig for the kubernetes datastore is error 7 naming it", async () => {
    const out = await runPlugin(
      { ...baseEnv, CNI_COMMAND: "ADD", CNI_CONTAINERID: "c1" },
      config({
        range: "10.0.0.0/24",
        datastore: "kubernetes",
        kubernetes: { kubeconfig: "/nonexistent/kubeconfig" },
      }),
      whereaboutsPlugin(),
    );
    assert.equal(
      (JSON.parse(out.stdout) as { msg: string }).msg,
      "invalid network config: ipam.kubernetes.kubeconfig",
    );
  });

  it("a contended store is error 11", async () => {
    const busy: IPAMStore = {
      read: async () => {
        throw new StoreTimeoutError("lock x", 10);
      },
      transact: async () => {
        throw new StoreTimeoutError("lock x", 10);
      },
      close: async () => {},
    };
    const { run } = harness(busy);
    const out = await run("ADD", config({ range: "10.0.0.0/24" }), pod(1));
    assert.equal(out.json?.code, 11);
  });
});
