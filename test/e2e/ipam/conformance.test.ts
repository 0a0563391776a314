// CNI conformance of the compiled whereabouts plugin, driven as a runtime drives it: one process per
// call, CNI_* environment, config on stdin, result or error JSON on stdout, exit status. Needs no root.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { lockExclusive, networkFiles } from "../../../src/ipam/file-store.js";
import { type CniCall, type CniOutcome, resultIPs, runCni, wbConfig } from "./helpers.js";

describe("whereabouts CNI conformance (process per call)", { timeout: 60_000 }, () => {
  let dir = "";
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "wb-conf-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const ipam = (sub: string, extra: Record<string, unknown> = {}) => ({
    range: "10.30.0.0/24",
    datastore: "file",
    data_dir: join(dir, sub),
    ...extra,
  });
  const pod = (n: number) => ({
    containerID: `ctr${n}`,
    args: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=pod${n}`,
  });
  const expectError = (out: CniOutcome, code: number): Record<string, unknown> => {
    assert.notEqual(out.code, 0, "exit status must be non-zero");
    assert.ok(out.json, `stdout must be the error JSON, got ${JSON.stringify(out.stdout)}`);
    assert.deepEqual(Object.keys(out.json).sort(), ["cniVersion", "code", "details", "msg"]);
    assert.equal(out.json.code, code, out.stdout);
    return out.json;
  };

  it("VERSION lists the supported spec versions", async () => {
    const out = await runCni({
      command: "VERSION",
      stdin: '{"cniVersion":"1.1.0"}',
      env: { CNI_CONTAINERID: undefined },
    });
    assert.equal(out.code, 0);
    assert.deepEqual(out.json?.supportedVersions, ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]);
  });

  it("ADD: result shape per cniVersion, lowest free, idempotent per pod + interface", async () => {
    const shapes: [string, Record<string, unknown>][] = [
      ["1.1.0", { address: "10.30.0.1/24", gateway: "10.30.0.254" }],
      ["1.0.0", { address: "10.30.0.2/24", gateway: "10.30.0.254" }],
      ["0.4.0", { version: "4", address: "10.30.0.3/24", gateway: "10.30.0.254" }],
      ["0.3.1", { version: "4", address: "10.30.0.4/24", gateway: "10.30.0.254" }],
    ];
    let n = 0;
    for (const [v, ip] of shapes) {
      const out = await runCni({
        command: "ADD",
        ...pod(++n),
        stdin: wbConfig(ipam("shape", { gateway: "10.30.0.254" }), {}, v),
      });
      assert.equal(out.code, 0, out.stdout);
      assert.deepEqual(out.json, { cniVersion: v, ips: [ip], dns: {} });
    }
    const again = await runCni({ command: "ADD", ...pod(1), stdin: wbConfig(ipam("shape")) });
    assert.deepEqual(resultIPs(again.json), ["10.30.0.1/24"]);
    const otherIf = await runCni({
      command: "ADD",
      ...pod(1),
      ifName: "net1",
      stdin: wbConfig(ipam("shape")),
    });
    assert.deepEqual(resultIPs(otherIf.json), ["10.30.0.5/24"]);
  });

  it("dual stack with ipRanges, exclusions, static addresses, routes and dns", async () => {
    const conf = wbConfig(
      ipam("dual", {
        range: "192.0.2.192/27",
        exclude: ["192.0.2.192/30", "192.0.2.196/32"],
        ipRanges: [{ range: "fd00:10::/64", range_start: "fd00:10::8000:0:0:0" }],
        addresses: [{ address: "198.51.100.7/24", gateway: "198.51.100.1" }],
        routes: [{ dst: "0.0.0.0/0", gw: "192.0.2.193" }],
        dns: { nameservers: ["192.0.2.193"], search: ["example.com"] },
      }),
    );
    const out = await runCni({ command: "ADD", ...pod(1), stdin: conf });
    assert.equal(out.code, 0, out.stdout);
    assert.deepEqual(out.json, {
      cniVersion: "1.1.0",
      ips: [
        { address: "192.0.2.197/27" },
        { address: "fd00:10:0:0:8000::/64" },
        { address: "198.51.100.7/24", gateway: "198.51.100.1" },
      ],
      routes: [{ dst: "0.0.0.0/0", gw: "192.0.2.193" }],
      dns: { nameservers: ["192.0.2.193"], search: ["example.com"] },
    });
  });

  it("CHECK, DEL (repeatable), GC and STATUS", async () => {
    const conf = (extra: Record<string, unknown> = {}) =>
      wbConfig(ipam("life", { range: "10.31.0.0/29" }), extra);
    const add1 = await runCni({ command: "ADD", ...pod(1), stdin: conf() });
    const add2 = await runCni({ command: "ADD", ...pod(2), stdin: conf() });
    assert.deepEqual([...resultIPs(add1.json), ...resultIPs(add2.json)], ["10.31.0.1/29", "10.31.0.2/29"]);
    assert.equal(
      (await runCni({ command: "CHECK", ...pod(1), stdin: conf({ prevResult: add1.json }) })).code,
      0,
    );
    expectError(await runCni({ command: "CHECK", ...pod(1), stdin: conf({ prevResult: add2.json }) }), 999);
    for (let i = 0; i < 2; i++) {
      const del = await runCni({
        command: "DEL",
        ...pod(1),
        netns: "",
        stdin: conf({ prevResult: add1.json }),
      });
      assert.deepEqual([del.code, del.stdout], [0, ""]);
    }
    expectError(await runCni({ command: "CHECK", ...pod(1), stdin: conf() }), 999);
    const add3 = await runCni({ command: "ADD", ...pod(3), stdin: conf() });
    assert.deepEqual(resultIPs(add3.json), ["10.31.0.1/29"]);
    // GC with only pod 3 still attached frees pod 2's address.
    const gc = await runCni({
      command: "GC",
      stdin: conf({ "cni.dev/valid-attachments": [{ containerID: "ctr3", ifname: "eth0" }] }),
      env: { CNI_CONTAINERID: undefined, CNI_IFNAME: undefined, CNI_NETNS: undefined },
    });
    assert.equal(gc.code, 0, gc.stdout);
    assert.deepEqual(resultIPs((await runCni({ command: "ADD", ...pod(4), stdin: conf() })).json), [
      "10.31.0.2/29",
    ]);
    const status: CniCall = {
      command: "STATUS",
      stdin: conf(),
      env: { CNI_CONTAINERID: undefined, CNI_IFNAME: undefined },
    };
    assert.equal((await runCni(status)).code, 0);
    for (const n of [5, 6, 7, 8]) await runCni({ command: "ADD", ...pod(n), stdin: conf() });
    expectError(await runCni(status), 50);
    const full = expectError(await runCni({ command: "ADD", ...pod(9), stdin: conf() }), 999);
    assert.match(String(full.details), /no free address in ipam.range/);
  });

  it("error codes 1, 4, 6, 7 and 11", async () => {
    expectError(await runCni({ command: "ADD", ...pod(1), stdin: wbConfig(ipam("err"), {}, "0.2.0") }), 1);
    expectError(await runCni({ command: "GC", stdin: wbConfig(ipam("err"), {}, "1.0.0") }), 1);
    expectError(
      await runCni({ command: "ADD", stdin: wbConfig(ipam("err")), env: { CNI_CONTAINERID: undefined } }),
      4,
    );
    expectError(
      await runCni({ command: "ADD", ...pod(1), args: "BOGUS=1", stdin: wbConfig(ipam("err")) }),
      4,
    );
    expectError(await runCni({ command: "ADD", ...pod(1), stdin: "{not json" }), 6);
    const bad = expectError(
      await runCni({ command: "ADD", ...pod(1), stdin: wbConfig(ipam("err", { range_end: "10.99.0.1" })) }),
      7,
    );
    assert.equal(bad.msg, "invalid network config: ipam.range_end");
    // Hold the network's lock like a stuck plugin would; a short timeout yields "try again later".
    const d = join(dir, "busy");
    const conf = wbConfig(ipam("busy", { lock_timeout_ms: 300 }));
    assert.equal((await runCni({ command: "ADD", ...pod(1), stdin: conf })).code, 0);
    const held = await lockExclusive(networkFiles(d, "").lock, 1000);
    try {
      expectError(await runCni({ command: "ADD", ...pod(2), stdin: conf }), 11);
      expectError(await runCni({ command: "DEL", ...pod(1), stdin: conf }), 11);
    } finally {
      held.release();
    }
    assert.equal((await runCni({ command: "DEL", ...pod(1), stdin: conf })).code, 0);
  });
});
