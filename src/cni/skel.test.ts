import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CniCode, CniError } from "./errors.js";
import { type CmdArgs, interfaceNameProblem, type Plugin, parseCniArgs, runPlugin } from "./skel.js";
import { renderResult } from "./version.js";

function recorder(): { plugin: Plugin; calls: CmdArgs[] } {
  const calls: CmdArgs[] = [];
  const plugin: Plugin = {
    knownArgs: ["K8S_POD_NAME"],
    add: async (a) => {
      calls.push(a);
      return { cniVersion: a.cniVersion, ips: [] };
    },
    del: async (a) => void calls.push(a),
    check: async (a) => void calls.push(a),
    gc: async (a) => void calls.push(a),
    status: async (a) => {
      calls.push(a);
      throw new Error("plain failure");
    },
  };
  return { plugin, calls };
}

const env = (cmd: string, extra: Record<string, string> = {}) => ({
  CNI_COMMAND: cmd,
  CNI_CONTAINERID: "abc",
  CNI_NETNS: "/var/run/netns/x",
  CNI_IFNAME: "eth0",
  CNI_PATH: "/opt/cni/bin",
  ...extra,
});
const conf = (v = "1.1.0") => JSON.stringify({ cniVersion: v, name: "n", ipam: {} });
const code = (stdout: string) => (JSON.parse(stdout) as { code: number }).code;

describe("skel: environment and config checks", () => {
  const table: { name: string; env: Record<string, string | undefined>; stdin: string; code: number }[] = [
    { name: "missing CNI_COMMAND", env: { ...env("ADD"), CNI_COMMAND: undefined }, stdin: conf(), code: 4 },
    { name: "unknown CNI_COMMAND", env: env("FROB"), stdin: conf(), code: 4 },
    { name: "ADD without CNI_NETNS", env: { ...env("ADD"), CNI_NETNS: "" }, stdin: conf(), code: 4 },
    { name: "DEL without CNI_IFNAME", env: { ...env("DEL"), CNI_IFNAME: undefined }, stdin: conf(), code: 4 },
    { name: "GC without CNI_PATH", env: { ...env("GC"), CNI_PATH: "" }, stdin: conf(), code: 4 },
    { name: "bad container id", env: env("ADD", { CNI_CONTAINERID: "-x/y" }), stdin: conf(), code: 4 },
    {
      name: "interface name too long",
      env: env("ADD", { CNI_IFNAME: "a234567890123456" }),
      stdin: conf(),
      code: 4,
    },
    { name: "unknown CNI_ARGS", env: env("ADD", { CNI_ARGS: "FOO=1" }), stdin: conf(), code: 4 },
    { name: "malformed CNI_ARGS", env: env("ADD", { CNI_ARGS: "FOO" }), stdin: conf(), code: 4 },
    { name: "bad JSON", env: env("ADD"), stdin: "{", code: 6 },
    { name: "JSON array", env: env("ADD"), stdin: "[]", code: 6 },
    { name: "unsupported version", env: env("ADD"), stdin: conf("0.2.0"), code: 1 },
    { name: "no version", env: env("ADD"), stdin: "{}", code: 1 },
    { name: "CHECK on 0.3.1", env: env("CHECK"), stdin: conf("0.3.1"), code: 1 },
    { name: "GC on 1.0.0", env: env("GC"), stdin: conf("1.0.0"), code: 1 },
    { name: "STATUS on 1.0.0", env: env("STATUS"), stdin: conf("1.0.0"), code: 1 },
    { name: "plugin throws a plain Error", env: env("STATUS"), stdin: conf(), code: 999 },
  ];
  for (const t of table) {
    it(`${t.name} → code ${t.code}`, async () => {
      const out = await runPlugin(t.env, t.stdin, recorder().plugin);
      assert.equal(out.exitCode, 1);
      const err = JSON.parse(out.stdout) as Record<string, unknown>;
      assert.deepEqual(Object.keys(err).sort(), ["cniVersion", "code", "details", "msg"]);
      assert.equal(code(out.stdout), t.code);
    });
  }
});

describe("skel: dispatch", () => {
  it("VERSION needs no environment but the command", async () => {
    const out = await runPlugin({ CNI_COMMAND: "VERSION" }, '{"cniVersion":"1.1.0"}', recorder().plugin);
    assert.equal(out.exitCode, 0);
    assert.deepEqual(JSON.parse(out.stdout), {
      cniVersion: "1.1.0",
      supportedVersions: ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"],
    });
    assert.equal((await runPlugin({ CNI_COMMAND: "VERSION" }, "", recorder().plugin)).exitCode, 0);
  });
  it("passes decoded args to the plugin; IgnoreUnknown lets unknown keys through", async () => {
    const r = recorder();
    const out = await runPlugin(
      env("ADD", { CNI_ARGS: "IgnoreUnknown=1;K8S_POD_NAME=p;X=y=z" }),
      conf("1.0.0"),
      r.plugin,
    );
    assert.equal(out.exitCode, 0, out.stdout);
    assert.equal(r.calls[0]?.args.get("X"), "y=z");
    assert.equal(r.calls[0]?.cniVersion, "1.0.0");
  });
  it("DEL without CNI_NETNS succeeds and prints nothing", async () => {
    const out = await runPlugin({ ...env("DEL"), CNI_NETNS: "" }, conf(), recorder().plugin);
    assert.deepEqual(out, { stdout: "", exitCode: 0 });
  });
  it("maps plugin errors with toCniError", async () => {
    const r = recorder();
    r.plugin.toCniError = () => new CniError(CniCode.TryAgainLater, "busy");
    const out = await runPlugin(env("STATUS"), conf(), r.plugin);
    assert.equal(code(out.stdout), 11);
  });
  it("parseCniArgs and interface names", () => {
    assert.deepEqual(
      [...parseCniArgs("A=1;;B=", ["A", "B"])],
      [
        ["A", "1"],
        ["B", ""],
      ],
    );
    assert.equal(interfaceNameProblem("eth0"), undefined);
    assert.ok(interfaceNameProblem("a:b"));
    assert.ok(interfaceNameProblem(".."));
  });
});

describe("result shapes per version", () => {
  const r = {
    ips: [
      { address: "10.0.0.2/24", gateway: "10.0.0.1", family: 4 as const },
      { address: "fd00::2/64", family: 6 as const },
    ],
    routes: [{ dst: "0.0.0.0/0", gw: "10.0.0.1", extra: { mtu: 1400 } }],
  };
  it("1.x: no ips[].version, route extras kept", () => {
    assert.deepEqual(renderResult("1.1.0", r), {
      cniVersion: "1.1.0",
      ips: [{ address: "10.0.0.2/24", gateway: "10.0.0.1" }, { address: "fd00::2/64" }],
      routes: [{ mtu: 1400, dst: "0.0.0.0/0", gw: "10.0.0.1" }],
      dns: {},
    });
  });
  it("0.3.1/0.4.0: ips[].version", () => {
    for (const v of ["0.3.1", "0.4.0"]) {
      const out = renderResult(v, r) as { ips: { version: string }[]; routes: unknown[] };
      assert.deepEqual(
        out.ips.map((i) => i.version),
        ["4", "6"],
      );
      assert.deepEqual(out.routes, [{ dst: "0.0.0.0/0", gw: "10.0.0.1" }]);
    }
  });
});
