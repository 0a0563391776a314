// applySysctls: each key written once, a key of an interface that does not exist yet (the pod
// bridge before the node's first pod) deferred instead of failing the node's whole program — with a
// stub execer, and with the real `sysctl` in a network namespace this test creates (and deletes).
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { after, before, test } from "node:test";
import type { SysctlSpec } from "../compile/types.js";
import { FakeIp, IpExecError, RealIp } from "./execer.js";
import { applySysctls } from "./reconciler.js";

const SPECS: SysctlSpec[] = [
  { key: "net.ipv4.ip_forward", value: "1" },
  { key: "net.ipv4.conf.all.send_redirects", value: "0" },
  { key: "net.ipv4.conf.cbr0.send_redirects", value: "0" },
  { key: "net.ipv4.conf.lo.send_redirects", value: "0" },
];

/** FakeIp whose kernel has no `cbr0` until `bridgeUp` is set; counts writes. */
class NoBridgeIp extends FakeIp {
  bridgeUp = false;
  writes = 0;
  override async setSysctl(key: string, value: string): Promise<void> {
    this.writes++;
    if (!this.bridgeUp && key.includes(".cbr0."))
      throw new IpExecError(
        ["sysctl", "-q", "-w", `${key}=${value}`],
        `sysctl: cannot stat /proc/sys/net/ipv4/conf/cbr0/send_redirects: No such file or directory`,
      );
    await super.setSysctl(key, value);
  }
}

test("a missing interface's sysctl is deferred, the others written once, the deferred one later", async () => {
  const ip = new NoBridgeIp();
  const written = new Map<string, string>();
  assert.deepEqual(await applySysctls(ip, SPECS, written), ["net.ipv4.conf.cbr0.send_redirects"]);
  assert.equal(ip.sysctls.get("net.ipv4.ip_forward"), "1");
  assert.equal(ip.sysctls.get("net.ipv4.conf.lo.send_redirects"), "0");
  assert.equal(ip.writes, 4);
  // Next sync: only the deferred key is tried again.
  assert.deepEqual(await applySysctls(ip, SPECS, written), ["net.ipv4.conf.cbr0.send_redirects"]);
  assert.equal(ip.writes, 5);
  ip.bridgeUp = true;
  assert.deepEqual(await applySysctls(ip, SPECS, written), []);
  assert.equal(ip.sysctls.get("net.ipv4.conf.cbr0.send_redirects"), "0");
  assert.equal(ip.writes, 6);
  assert.deepEqual(await applySysctls(ip, SPECS, written), []);
  assert.equal(ip.writes, 6, "nothing written when every value is in place");
  // A changed value is written again.
  await applySysctls(ip, [{ key: "net.ipv4.ip_forward", value: "0" }], written);
  assert.equal(ip.sysctls.get("net.ipv4.ip_forward"), "0");
});

test("other failures still throw (all/default keys, errors that are not a missing interface)", async () => {
  class Refusing extends FakeIp {
    override async setSysctl(key: string): Promise<void> {
      throw new IpExecError(
        ["sysctl", key],
        "sysctl: cannot stat /proc/sys/net/ipv4/conf/all/x: No such file",
      );
    }
  }
  await assert.rejects(
    applySysctls(new Refusing(), [{ key: "net.ipv4.conf.all.x", value: "0" }]),
    IpExecError,
  );
  class Denied extends FakeIp {
    override async setSysctl(): Promise<void> {
      throw new IpExecError(["sysctl"], "sysctl: permission denied on key 'net.ipv4.conf.eth0.rp_filter'");
    }
  }
  await assert.rejects(
    applySysctls(new Denied(), [{ key: "net.ipv4.conf.eth0.rp_filter", value: "2" }]),
    /permission denied/,
  );
});

const ns = `egress-sysctl-t${process.pid}`;
const canRun = process.getuid?.() === 0 && spawnSync("ip", ["-V"]).status === 0;
before(() => {
  if (canRun) execFileSync("ip", ["netns", "add", ns]);
});
after(() => {
  if (canRun) spawnSync("ip", ["netns", "del", ns]);
});

test("with the real sysctl: an absent interface is deferred, lo is written", {
  skip: !canRun && "needs root and ip",
}, async () => {
  const ip = new RealIp({ netns: ns });
  const missing = await applySysctls(ip, [
    { key: "net.ipv4.conf.nosuch0.send_redirects", value: "0" },
    { key: "net.ipv4.conf.lo.send_redirects", value: "0" },
  ]);
  assert.deepEqual(missing, ["net.ipv4.conf.nosuch0.send_redirects"]);
  const v = execFileSync("ip", ["netns", "exec", ns, "sysctl", "-n", "net.ipv4.conf.lo.send_redirects"], {
    encoding: "utf8",
  });
  assert.equal(v.trim(), "0");
});
