// `egress lab up` with the default topology (own lab id and state dir), checked from inside its
// namespaces: underlay reachability, the echo server's view of source addresses over TCP, UDP and
// HTTP, the lab DNS (including a runtime change), the API server from the root namespace and from
// a node (and not from a node whose link is cut), status, exec, and a `lab down` that leaves no
// namespace or process behind and the root namespace unchanged.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { Client } from "../../../src/controllers/runtime/client.js";
import type { LabStatus } from "../../../src/lab/status.js";
import {
  alive,
  dnsProbe,
  ECHO,
  lab,
  labNamespaces,
  newLabId,
  nodeIn,
  rootSnapshot,
  SKIP,
  tcpProbe,
  udpProbe,
} from "./helpers.js";

const id = newLabId();
const base = mkdtempSync(join(tmpdir(), "egl-e2e-"));
const stateDir = join(base, "state");
const ns = (part: string) => `egl-${id}-${part}`;
let rootBefore: Record<string, string> = {};
let status: LabStatus | undefined;
let pids: number[] = [];
const opts = { skip: SKIP, timeout: 60_000 };

before(() => {
  if (SKIP) return;
  rootBefore = rootSnapshot();
  const up = lab(["up", "--id", id, "--state-dir", stateDir, "--no-agents"], 80_000);
  assert.equal(up.status, 0, `lab up failed:\n${up.stderr}\n${up.stdout}`);
  assert.match(up.stdout, new RegExp(`kubeconfig: ${stateDir}/kubeconfig`));
  const st = lab(["status", "--id", id, "--state-dir", stateDir, "--output", "json"]);
  assert.equal(st.status, 0, st.stderr);
  status = JSON.parse(st.stdout) as LabStatus;
  pids = status.processes.map((p) => p.pid).filter((p): p is number => p !== null);
});

after(() => {
  if (SKIP) return;
  lab(["down", "--id", id, "--state-dir", stateDir]);
  rmSync(base, { recursive: true, force: true });
});

test("namespaces of the lab exist, named for its id", opts, () => {
  assert.deepEqual(
    labNamespaces(id),
    [
      ...["cp", "ext1", "fabric", "node1", "node2", "node3", "router", "web"],
      // hosts of the default secondary networks (seed 003)
      ...["dhcpsrv", "staticgw"],
    ]
      .map(ns)
      .sort(),
  );
  const addr = nodeIn(
    ns("node1"),
    `import {execSync} from "node:child_process"; process.stdout.write(execSync("ip -o -4 addr").toString())`,
  );
  assert.match(addr.stdout, /eth0\s+inet 192\.168\.126\.11\/18/);
  assert.match(addr.stdout, /eth1\s+inet 192\.168\.12\.11\/24/);
  const sys = nodeIn(
    ns("node2"),
    `import {readFileSync as r} from "node:fs"; console.log(["ipv4/ip_forward","ipv4/conf/eth0/send_redirects"].map(k=>r("/proc/sys/net/"+k,"utf8").trim()).join(","))`,
  );
  assert.equal(sys.stdout.trim(), "1,0");
});

test("status --output json lists nodes, external hosts, DNS and the API", opts, () => {
  const s = status!;
  assert.equal(s.phase, "up");
  assert.deepEqual(
    s.nodes.map((n) => [n.name, n.netns, n.addresses.map((a) => a.address)]),
    [
      ["node1", ns("node1"), ["192.168.126.11/18", "192.168.12.11/24"]],
      ["node2", ns("node2"), ["192.168.126.12/18", "192.168.12.12/24"]],
      ["node3", ns("node3"), ["192.168.126.13/18", "192.168.12.13/24"]],
    ],
  );
  const ext1 = s.externals.find((x) => x.name === "ext1")!;
  assert.deepEqual(ext1.echo, { tcp: [7000], udp: [7001], http: [8080], running: true });
  assert.equal(ext1.dns, true);
  assert.deepEqual(s.dns && { server: s.dns.server, running: s.dns.running }, {
    server: "192.168.126.200",
    running: true,
  });
  assert.equal(s.api?.reachable, true);
  assert.match(s.api!.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(s.api!.internalUrl, "https://192.168.126.2:6443");
  assert.deepEqual(s.pods, []);
  assert.ok(
    s.processes.every((p) => p.running),
    JSON.stringify(s.processes),
  );
  assert.deepEqual(s.processes.map((p) => p.name).sort(), [
    "apiserver",
    "dhcp/dhcpsrv",
    "dns/ext1",
    "echo/ext1",
    "echo/staticgw",
    "echo/web",
  ]);
  const text = lab(["status", "--id", id, "--state-dir", stateDir]);
  assert.match(text.stdout, /node2\s+eth0=192\.168\.126\.12\/18/);
});

test("the echo server sees each node's own address over TCP, UDP and HTTP", opts, () => {
  for (const [node, want] of [
    ["node1", "192.168.126.11"],
    ["node2", "192.168.126.12"],
  ] as const) {
    assert.match(
      nodeIn(ns(node), tcpProbe("192.168.126.200", 7000)).stdout,
      new RegExp(`^${want.replace(/\./g, "\\.")}:\\d+$`),
    );
    assert.match(
      nodeIn(ns(node), udpProbe("192.168.126.200", 7001)).stdout,
      new RegExp(`^${want.replace(/\./g, "\\.")}:\\d+\\nprobe$`),
    );
  }
  // Through the lab router to the outside servers (seed 001's 203.0.113.25-27, seed 004's 1.2.3.4).
  for (const dst of ["203.0.113.25", "203.0.113.27", "1.2.3.4"])
    assert.match(nodeIn(ns("node3"), tcpProbe(dst, 7000)).stdout, /^192\.168\.126\.13:\d+$/, dst);
  const http = nodeIn(
    ns("node3"),
    `const r = await fetch("http://203.0.113.26/"); console.log(r.status, (await r.text()).trim(), r.headers.get("x-echo-source"));`,
  );
  assert.match(http.stdout.trim(), /^200 192\.168\.126\.13:\d+ 192\.168\.126\.13:\d+$/);
  assert.match(nodeIn(ns("node3"), tcpProbe("203.0.113.26", 443)).stdout, /^192\.168\.126\.13:\d+$/);
  // node1's second NIC reaches the egress network's gateway (an RST from the router proves it).
  assert.equal(nodeIn(ns("node1"), tcpProbe("192.168.12.1", 9)).stdout.trim(), "ECONNREFUSED");
});

test("nodes reach each other over the underlay", opts, async () => {
  let srv: ChildProcess | undefined;
  try {
    srv = spawn("ip", ["netns", "exec", ns("node2"), process.execPath, ECHO, "--tcp", "7100"], {
      stdio: ["ignore", "pipe", "ignore"],
    });
    await new Promise<void>((resolve, reject) => {
      srv!.stdout!.once("data", () => resolve());
      srv!.once("exit", () => reject(new Error("echo server in node2 exited")));
    });
    assert.match(nodeIn(ns("node1"), tcpProbe("192.168.126.12", 7100)).stdout, /^192\.168\.126\.11:\d+$/);
    assert.match(nodeIn(ns("node3"), tcpProbe("192.168.126.12", 7100)).stdout, /^192\.168\.126\.13:\d+$/);
  } finally {
    srv?.kill("SIGKILL");
  }
});

test(
  "the lab DNS answers the lab names; a record changes at runtime with rewrite + SIGHUP",
  opts,
  async () => {
    const probe = () =>
      JSON.parse(
        nodeIn(
          ns("node1"),
          dnsProbe("192.168.126.200", ["www.foo.com", "www.example.com", "www.bar.com", "nope.invalid"]),
        ).stdout,
      ) as Record<string, string>;
    assert.deepEqual(probe(), {
      "www.foo.com": "1.2.3.4",
      "www.example.com": "192.168.1.10",
      "www.bar.com": "198.51.100.10",
      "nope.invalid": "ENOTFOUND",
    });
    const hosts = join(stateDir, "dns", "hosts");
    writeFileSync(hosts, readFileSync(hosts, "utf8").replace("1.2.3.4 www.foo.com", "1.2.3.5 www.foo.com"));
    const dns = status!.processes.find((p) => p.name === "dns/ext1")!;
    process.kill(dns.pid!, "SIGHUP");
    let got = "";
    for (let i = 0; i < 20 && got !== "1.2.3.5"; i++) {
      await new Promise((r) => setTimeout(r, 100));
      got = probe()["www.foo.com"] ?? "";
    }
    assert.equal(got, "1.2.3.5");
  },
);

test(
  "the API server answers in the root namespace and from a node, not from a cut-off node",
  opts,
  async () => {
    const client = Client.fromFile(status!.api!.kubeconfig);
    const list = await client.request<{ items: { metadata: { name: string } }[] }>(
      "GET",
      "/api/v1/namespaces",
    );
    assert.ok(list.items.some((n) => n.metadata.name === "default"));

    const dataDir = join(stateDir, "apiserver");
    const fromNode = (node: string) =>
      nodeIn(
        ns(node),
        `import https from "node:https"; import {readFileSync as r} from "node:fs";
       const req = https.get("https://192.168.126.2:6443/api/v1/namespaces/default", { ca: r(${JSON.stringify(join(dataDir, "pki", "ca.crt"))}), headers: { Authorization: "Bearer " + r(${JSON.stringify(join(dataDir, "token"))}, "utf8").trim() }, timeout: 1500 }, (res) => { let b = ""; res.on("data", (d) => b += d); res.on("end", () => console.log(res.statusCode, JSON.parse(b).metadata.name)); });
       req.on("timeout", () => { console.log("TIMEOUT"); req.destroy(); }); req.on("error", (e) => console.log(e.code ?? e.message));`,
      ).stdout.trim();
    assert.equal(fromNode("node1"), "200 default");
    const cut = (state: "down" | "up") =>
      assert.equal(
        nodeIn(
          ns("fabric"),
          `import {execSync} from "node:child_process"; execSync("ip link set node3-eth0 ${state}")`,
        ).status,
        0,
      );
    cut("down");
    try {
      assert.match(fromNode("node3"), /^(TIMEOUT|EHOSTUNREACH|ECONNRESET)/);
    } finally {
      cut("up");
    }
  },
);

test("lab exec runs in the right namespace and passes the exit code", opts, () => {
  const r = lab([
    "exec",
    "--id",
    id,
    "--state-dir",
    stateDir,
    "node/node3",
    "--",
    "ip",
    "-o",
    "-4",
    "addr",
    "show",
    "eth0",
  ]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /192\.168\.126\.13\/18/);
  const noDash = lab([
    "exec",
    "--id",
    id,
    "--state-dir",
    stateDir,
    "external/web",
    "ip",
    "-o",
    "-4",
    "addr",
    "show",
    "eth0",
  ]);
  assert.match(noDash.stdout, /203\.0\.113\.25\/24/);
  assert.equal(
    lab(["exec", "--id", id, "--state-dir", stateDir, "cp", "--", "sh", "-c", "exit 7"]).status,
    7,
  );
  const pod = lab(["exec", "--id", id, "--state-dir", stateDir, "namespace1/nope", "--", "true"]);
  assert.equal(pod.status, 1);
  assert.match(pod.stderr, new RegExp(`egp-${id}-[0-9a-f]{10} does not exist`));
});

test("a second `lab up` with the same id is refused and changes nothing", opts, () => {
  const again = lab(["up", "--id", id, "--state-dir", stateDir, "--no-agents"]);
  assert.equal(again.status, 1);
  assert.match(again.stderr, /already has a state file/);
  assert.equal(labNamespaces(id).length, 10);
});

test("lab down removes every namespace and process; the root namespace is unchanged", opts, () => {
  assert.ok(pids.length === 6 && pids.every(alive), `pids ${pids}`);
  const down = lab(["down", "--id", id, "--state-dir", stateDir]);
  assert.equal(down.status, 0, down.stderr);
  assert.match(down.stdout, /6 processes stopped, 10 namespaces deleted/);
  assert.deepEqual(labNamespaces(id), []);
  assert.deepEqual(pids.filter(alive), []);
  assert.throws(() => readFileSync(join(stateDir, "state.json")), /ENOENT/);
  const again = lab(["down", "--id", id, "--state-dir", stateDir]);
  assert.equal(again.status, 0);
  assert.match(again.stdout, /nothing to remove/);
  assert.deepEqual(rootSnapshot(), rootBefore);
});
