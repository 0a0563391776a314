import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  AttachmentError,
  attachNetworks,
  DhcpDaemonManager,
  detachNetworks,
  NetworksAnnotationError,
  networkStatusOf,
  type PluginCall,
  parseNetworksAnnotation,
  pluginsOf,
  WhereaboutsDaemonManager,
} from "./attachments.js";

describe("attachments: k8s.v1.cni.cncf.io/networks", () => {
  const ok: [string, unknown][] = [
    ["", []],
    ["net-a", [{ name: "net-a", namespace: "pods", interface: "net1" }]],
    [
      "net-a, other/net-b@if1 ,net-c",
      [
        { name: "net-a", namespace: "pods", interface: "net1" },
        { name: "net-b", namespace: "other", interface: "if1" },
        { name: "net-c", namespace: "pods", interface: "net3" },
      ],
    ],
    [
      '[{"name":"static-net","namespace":"default","interface":"s0","ips":["191.168.1.7/24"],"mac":"02:00:00:00:00:01"},{"name":"dhcp-net"}]',
      [
        {
          name: "static-net",
          namespace: "default",
          interface: "s0",
          ips: ["191.168.1.7/24"],
          mac: "02:00:00:00:00:01",
        },
        { name: "dhcp-net", namespace: "pods", interface: "net2" },
      ],
    ],
  ];
  for (const [value, want] of ok)
    it(`parses ${JSON.stringify(value)}`, () =>
      assert.deepEqual(parseNetworksAnnotation(value, "pods"), want));

  const bad: [string, RegExp][] = [
    ["net-a,,net-b", /empty element/],
    ["Net_A", /network name "Net_A"/],
    ["bad ns/x", /namespace "bad ns"/],
    ["a@eth0", /eth0/],
    ["a@x,b@x", /interface x is used twice/],
    ["a@averyveryverylongname", /interface name/],
    ["[{]", /invalid JSON/],
    ['{"name":"a"}', /network name/],
    ['[{"namespace":"x"}]', /name is required/],
    ['[{"name":"a","ips":"10.0.0.1"}]', /ips must be a list/],
    ['[{"name":"a","interface":3}]', /interface must be a string/],
  ];
  for (const [value, re] of bad)
    it(`rejects ${JSON.stringify(value)} naming the annotation`, () =>
      assert.throws(
        () => parseNetworksAnnotation(value, "pods"),
        (e: unknown) =>
          e instanceof NetworksAnnotationError &&
          re.test(e.message) &&
          e.message.includes(JSON.stringify(value)),
      ));
});

describe("attachments: network-status entries", () => {
  const sel = { name: "static-net", namespace: "default", interface: "net1" };
  it("takes the pod interface's MAC and addresses, DNS; drops prefix lengths", () => {
    const st = networkStatusOf(sel, {
      cniVersion: "1.0.0",
      interfaces: [
        { name: "br-static", mac: "aa:aa:aa:aa:aa:aa" },
        { name: "veth1", mac: "bb:bb:bb:bb:bb:bb" },
        { name: "net1", mac: "02:42:ac:11:00:02", sandbox: "/var/run/netns/p" },
      ],
      ips: [{ address: "191.168.1.7/24", gateway: "191.168.1.1", interface: 2 }],
      routes: [{ dst: "0.0.0.0/0", gw: "191.168.1.1" }],
      dns: { nameservers: ["191.168.1.1"], domain: "example.com", search: ["example.com"] },
    });
    assert.deepEqual(st, {
      name: "default/static-net",
      interface: "net1",
      ips: ["191.168.1.7"],
      mac: "02:42:ac:11:00:02",
      dns: { nameservers: ["191.168.1.1"], domain: "example.com", search: ["example.com"] },
    });
  });
  it("addresses of other interfaces are not the pod's; empty DNS is left out", () => {
    const st = networkStatusOf(sel, {
      interfaces: [{ name: "br" }, { name: "net1", sandbox: "/x", mac: "m" }],
      ips: [
        { address: "10.0.0.1/24", interface: 0 },
        { address: "fd00::5/64", interface: 1 },
      ],
      dns: {},
    });
    assert.deepEqual(st.ips, ["fd00::5"]);
    assert.equal(st.dns, undefined);
  });
  it("plugin lists inherit name and cniVersion", () => {
    assert.deepEqual(
      pluginsOf({ name: "n", cniVersion: "1.0.0", plugins: [{ type: "bridge" }, { type: "tuning" }] }),
      [
        { type: "bridge", name: "n", cniVersion: "1.0.0" },
        { type: "tuning", name: "n", cniVersion: "1.0.0" },
      ],
    );
  });
});

describe("attachments: ADD/DEL with a fake plugin runner", () => {
  const nads: Record<string, string> = {
    "default/a":
      '{"cniVersion":"1.0.0","name":"a","type":"bridge","ipam":{"type":"static","addresses":[{"address":"10.1.0.5/24"}]}}',
    "default/d":
      '{"cniVersion":"1.0.0","name":"d","plugins":[{"type":"bridge","ipam":{"type":"dhcp"}},{"type":"tuning"}]}',
    "default/broken": '{"cniVersion":"1.0.0","name":"broken","type":"fails"}',
  };
  const setup = async () => {
    const dir = await mkdtemp(join(tmpdir(), "att-"));
    const calls: PluginCall[] = [];
    const runPlugin = async (c: PluginCall) => {
      calls.push(c);
      if (c.config.type === "fails" && c.command === "ADD") throw new Error("boom");
      if (c.command === "DEL") return {};
      return (
        c.config.prevResult ?? {
          interfaces: [{ name: c.ifname, sandbox: c.netns, mac: "m" }],
          ips: [{ address: "10.1.0.5/24", interface: 0 }],
        }
      );
    };
    // A daemon manager whose ensure() is counted instead of starting the real daemon.
    const dhcp = new DhcpDaemonManager(join(dir, "dhcp.sock"));
    let ensured = 0;
    dhcp.ensure = async () => {
      ensured++;
      return dhcp.socketPath;
    };
    return { dir, calls, runPlugin, dhcp, ensured: () => ensured };
  };
  const pod = (networks: string) => ({
    namespace: "default",
    name: "p",
    uid: "u1",
    annotations: { "k8s.v1.cni.cncf.io/networks": networks },
  });

  it("runs each network in order, plugin lists chained; DEL uses the stored configs after the NAD is gone", async () => {
    const t = await setup();
    try {
      const nad = { ...nads };
      const r = await attachNetworks({
        pod: pod("a,d"),
        netnsPath: "/var/run/netns/x",
        binDirs: ["/shim", "/usr/lib/cni"],
        getNetworkAttachmentDefinition: async (ns, n) => nad[`${ns}/${n}`],
        stateDir: t.dir,
        dhcp: t.dhcp,
        runPlugin: t.runPlugin,
      });
      assert.deepEqual(
        r.networkStatus.map((s) => [s.name, s.interface, s.ips]),
        [
          ["default/a", "net1", ["10.1.0.5"]],
          ["default/d", "net2", ["10.1.0.5"]],
        ],
      );
      assert.deepEqual(
        t.calls.map((c) => `${c.command} ${c.config.type} ${c.ifname}`),
        ["ADD bridge net1", "ADD bridge net2", "ADD tuning net2"],
      );
      const dhcpBridge = t.calls[1]!.config;
      assert.deepEqual(dhcpBridge.ipam, { daemonSocketPath: t.dhcp.socketPath, type: "dhcp" });
      assert.ok(t.calls[2]!.config.prevResult, "second plugin of a list gets prevResult");
      assert.equal(t.calls[0]!.args.K8S_POD_NAME, "p");
      assert.equal(t.ensured(), 1);
      delete nad["default/d"];
      t.calls.length = 0;
      await detachNetworks({
        pod: pod("a,d"),
        netnsPath: "/var/run/netns/x",
        binDirs: ["/usr/lib/cni"],
        stateDir: t.dir,
        dhcp: t.dhcp,
        runPlugin: t.runPlugin,
      });
      assert.deepEqual(
        t.calls.map((c) => `${c.command} ${c.config.type} ${c.ifname}`),
        ["DEL dhcp net2", "DEL tuning net2", "DEL bridge net2", "DEL bridge net1"],
      );
      t.calls.length = 0;
      await detachNetworks({
        pod: pod("a,d"),
        netnsPath: "/x",
        binDirs: [],
        stateDir: t.dir,
        dhcp: t.dhcp,
        runPlugin: t.runPlugin,
      });
      assert.deepEqual(t.calls, [], "second DEL: nothing recorded any more");
    } finally {
      await rm(t.dir, { recursive: true, force: true });
    }
  });

  it("a failing network rolls back the ones before it and names network and annotation", async () => {
    const t = await setup();
    try {
      await assert.rejects(
        attachNetworks({
          pod: pod("a,broken"),
          netnsPath: "/x",
          binDirs: [],
          getNetworkAttachmentDefinition: async (ns, n) => nads[`${ns}/${n}`],
          stateDir: t.dir,
          dhcp: t.dhcp,
          runPlugin: t.runPlugin,
        }),
        (e: unknown) =>
          e instanceof AttachmentError &&
          /default\/broken/.test(e.message) &&
          /"a,broken"/.test(e.message) &&
          /boom/.test(e.message),
      );
      assert.deepEqual(
        t.calls.map((c) => `${c.command} ${c.config.type}`),
        ["ADD bridge", "ADD fails", "DEL fails", "DEL bridge"],
      );
      await assert.rejects(
        attachNetworks({
          pod: pod("missing"),
          netnsPath: "/x",
          binDirs: [],
          getNetworkAttachmentDefinition: async () => undefined,
          stateDir: t.dir,
          dhcp: t.dhcp,
          runPlugin: t.runPlugin,
        }),
        /default\/missing.*NetworkAttachmentDefinition not found/,
      );
    } finally {
      await rm(t.dir, { recursive: true, force: true });
    }
  });
});

describe("attachments: whereabouts through the resident daemon", () => {
  const nads: Record<string, string> = {
    "default/wb":
      '{"cniVersion":"1.0.0","name":"wb","type":"bridge","ipam":{"type":"whereabouts","range":"10.9.0.0/24"}}',
    "default/st":
      '{"cniVersion":"1.0.0","name":"st","type":"bridge","ipam":{"type":"static","addresses":[{"address":"10.1.0.5/24"}]}}',
  };
  const run = async (whereabouts: (dir: string) => WhereaboutsDaemonManager | null) => {
    const dir = await mkdtemp(join(tmpdir(), "att-wb-"));
    const calls: PluginCall[] = [];
    const logs: string[] = [];
    try {
      const opts = {
        pod: {
          namespace: "default",
          name: "p",
          uid: "u1",
          annotations: { "k8s.v1.cni.cncf.io/networks": "wb,st" },
        },
        netnsPath: "/x",
        binDirs: ["/usr/lib/cni"],
        stateDir: dir,
        dhcp: new DhcpDaemonManager(join(dir, "dhcp.sock")),
        whereabouts: whereabouts(dir),
        log: (m: string) => logs.push(m),
        runPlugin: async (c: PluginCall) => {
          calls.push(c);
          return { ips: [{ address: "10.9.0.1/24" }] };
        },
      };
      await attachNetworks({ ...opts, getNetworkAttachmentDefinition: async (ns, n) => nads[`${ns}/${n}`] });
      await detachNetworks(opts);
      return {
        calls: calls.map(
          (c) =>
            `${c.command} ${c.config.name} ${c.binDirs.join(":")} ${c.env?.WHEREABOUTS_DAEMON_SOCKET ?? "-"}`,
        ),
        logs,
        dir,
      };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };
  /** A manager with a (fake) built shim whose daemon start is stubbed. */
  const stubbed = (fail: boolean) => (dir: string) => {
    const shim = join(dir, "shim", "whereabouts");
    const m = new WhereaboutsDaemonManager(join(dir, "wb.sock"), { shim });
    m.ensure = async () => {
      if (fail) throw new Error("cannot start");
      return m.socketPath;
    };
    return m;
  };

  it("whereabouts attachments get the shim dir first and the daemon socket; others are untouched", async () => {
    const r = await run((dir) => {
      const m = stubbed(false)(dir);
      return m;
    }).catch((e: unknown) => e);
    // The shim file does not exist in this run: the manager reports no shim, so nothing changes.
    assert.ok(!(r instanceof Error), String(r));
    const withShim = await (async () => {
      const dir = await mkdtemp(join(tmpdir(), "att-wb-shim-"));
      const { mkdir } = await import("node:fs/promises");
      await mkdir(join(dir, "shim"));
      await writeFile(join(dir, "shim", "whereabouts"), "");
      try {
        return await run(() => stubbed(false)(dir));
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    })();
    const shimDir = withShim.calls[0]!.split(" ")[2]!.split(":")[0]!;
    assert.match(shimDir, /att-wb-shim-.*\/shim$/);
    assert.deepEqual(
      withShim.calls.map((c) => c.replace(shimDir, "SHIM").replace(/\S+wb\.sock$/, "SOCK")),
      [
        "ADD wb SHIM:/usr/lib/cni SOCK",
        "ADD st /usr/lib/cni -",
        "DEL st /usr/lib/cni -",
        "DEL wb SHIM:/usr/lib/cni SOCK",
      ],
    );
  });

  it("no manager (null), no built shim, or a daemon that cannot start: the plugin runs per call", async () => {
    const none = await run(() => null);
    assert.deepEqual(none.calls, [
      "ADD wb /usr/lib/cni -",
      "ADD st /usr/lib/cni -",
      "DEL st /usr/lib/cni -",
      "DEL wb /usr/lib/cni -",
    ]);
    const unbuilt = await run(stubbed(false));
    assert.deepEqual(unbuilt.calls, none.calls);
    const dir = await mkdtemp(join(tmpdir(), "att-wb-fail-"));
    try {
      const { mkdir } = await import("node:fs/promises");
      await mkdir(join(dir, "shim"));
      await writeFile(join(dir, "shim", "whereabouts"), "");
      const failing = await run(() => stubbed(true)(dir));
      assert.deepEqual(failing.calls, none.calls);
      assert.match(failing.logs.join("\n"), /whereabouts daemon unavailable.*cannot start/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
