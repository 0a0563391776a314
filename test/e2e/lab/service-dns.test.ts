// Cluster DNS end to end in the lab (root): each node agent answers `cluster.local` on its pod
// bridge's gateway and forwards other names to the lab's dnsmasq (docs/dataplane.md "Cluster DNS").
// One lab without the seed; namespace `dnstest` with an echo pod on node1 behind Service `web`, a
// client pod on node2. Lookups run inside the client pod's namespace with `ip netns exec`, so they
// read the pod's resolv.conf exactly as the pod's own programs do.
// Cases, in order, sharing the lab:
//   1. the pod's resolv.conf: its node's gateway, the search path, ndots:5;
//   2. `web.dnstest.svc.cluster.local`, `web.dnstest` and `web` → the cluster IP, and a TCP
//      connection to `web:7000` reaches the echo pod (it reports the client pod's address);
//   3. an unknown Service is NXDOMAIN, AAAA of the IPv4-only Service is NODATA, a lab DNS name
//      (www.foo.com) still resolves through the forwarder, also behind an ExternalName Service;
//      the same over TCP to the gateway;
//   4. a Service created after the pod resolves within a few seconds;
//   5. a deny-all EgressNetworkPolicy: external names still resolve, the outside is unreachable;
//   6. deleting the pod removes its resolv.conf; 7. `lab down` leaves none behind.
// `after` runs `lab down` also when a test fails (SERVICE_DNS_KEEP=1 keeps the lab).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readdirSync, rmSync } from "node:fs";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { Lab, labSkip, now, type PodInfo, sh, waitFor } from "./probe.js";

const SKIP = labSkip();
const KEEP = process.env.SERVICE_DNS_KEEP === "1";
const opts = { skip: SKIP, timeout: 60_000 };
const NS = "dnstest";
const MESSAGE_JS = fileURLToPath(new URL("../../../src/agent/dns/message.js", import.meta.url));

const lab = new Lab("d");
let client: PodInfo;
let echo: PodInfo;
let gateway = "";
let clusterIP = "";
const log = (line: string) => process.stderr.write(`service-dns: ${line}\n`);

/** Runs an ES module script in the client pod (ip netns exec: the pod's resolv.conf applies). */
function inPod(script: string, timeoutMs = 20_000): unknown {
  const r = sh(
    ["ip", "netns", "exec", client.netns, process.execPath, "--input-type=module", "-e", script],
    timeoutMs,
  );
  assert.equal(r.code, 0, `script failed in ${client.netns}: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").at(-1) ?? "null");
}

/** inPod without blocking this process: `first` resolves with the script's first stdout line,
 *  `done` with its last line parsed as JSON. */
function inPodAsync(script: string): { first: Promise<string>; done: Promise<unknown> } {
  const c = spawn(
    "ip",
    ["netns", "exec", client.netns, process.execPath, "--input-type=module", "-e", script],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let out = "";
  let err = "";
  let firstLine: (l: string) => void = () => {};
  const first = new Promise<string>((resolve) => {
    firstLine = resolve;
  });
  c.stdout.on("data", (d) => {
    out += d;
    if (out.includes("\n")) firstLine(out.split("\n")[0]!);
  });
  c.stderr.on("data", (d) => {
    err += d;
  });
  const done = new Promise<unknown>((resolve, reject) => {
    c.on("error", reject);
    c.on("close", (code) => {
      firstLine("");
      if (code !== 0) reject(new Error(`script failed in ${client.netns} (${code}): ${err}`));
      else resolve(JSON.parse(out.trim().split("\n").at(-1) ?? "null"));
    });
  });
  return { first, done };
}

/** The script prelude: `lookup(name)` (getaddrinfo, search path applies) and `cares(fn)` (c-ares,
 *  the name as given), both giving the address(es) or "ERR:<code>". */
const PRELUDE = `
import dns from "node:dns/promises";
import net from "node:net";
const lookup = (n) => dns.lookup(n, { family: 4 }).then((r) => r.address, (e) => "ERR:" + e.code);
const cares = (f) => f(new dns.Resolver()).then((r) => r, (e) => "ERR:" + e.code);
const line = (host, port) => new Promise((res) => {
  const c = net.connect(port, host);
  c.setTimeout(3000, () => { c.destroy(); res("ERR:timeout"); });
  c.on("data", (d) => { res(String(d).trim()); c.destroy(); });
  c.on("error", (e) => res("ERR:" + e.code));
});
`;

async function post(path: string, body: object): Promise<void> {
  await (await lab.api()).request("POST", path, body);
}

const service = (name: string) => ({
  apiVersion: "v1",
  kind: "Service",
  metadata: { name, namespace: NS },
  spec: {
    selector: { app: "web" },
    ports: [{ name: "echo", port: 7000, targetPort: 7000, protocol: "TCP" }],
  },
});

before(async () => {
  if (SKIP) return;
  const t0 = now();
  lab.up([]);
  log(`lab ${lab.id} up in ${Math.round(now() - t0)} ms`);
  await post("/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: NS } });
  await post(`/api/v1/namespaces/${NS}/pods`, {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "echo", namespace: NS, labels: { app: "web" } },
    spec: {
      nodeName: "node1",
      containers: [{ name: "main", image: "egress/echo", ports: [{ containerPort: 7000 }] }],
    },
  });
  await post(`/api/v1/namespaces/${NS}/services`, service("web"));
  await post(`/api/v1/namespaces/${NS}/services`, {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "foo", namespace: NS },
    spec: { type: "ExternalName", externalName: "www.foo.com" },
  });
  client = await lab.createPod(NS, "client", "node2");
  echo = await waitFor(
    "echo pod Running",
    () => lab.status().pods.find((p) => p.name === "echo" && p.phase === "Running" && p.ip),
    30_000,
    250,
  );
  const api = await lab.api();
  const svc = await api.request<{ spec: { clusterIP: string } }>(
    "GET",
    `/api/v1/namespaces/${NS}/services/web`,
  );
  clusterIP = svc.spec.clusterIP;
  const hs = await api.request<{ subnet: string }>("GET", "/apis/network.openshift.io/v1/hostsubnets/node2");
  gateway = hs.subnet.replace(/\.0\/\d+$/, ".1");
  // The Service has its endpoint before connections are tried.
  await waitFor(
    "Endpoints of web",
    async () => {
      const e = await api
        .request<{ subsets?: { addresses?: { ip: string }[] }[] }>(
          "GET",
          `/api/v1/namespaces/${NS}/endpoints/web`,
        )
        .catch(() => undefined);
      return e?.subsets?.[0]?.addresses?.some((a) => a.ip === echo.ip);
    },
    20_000,
    200,
  );
  log(
    `ready ${Math.round(now() - t0)} ms after start: client ${client.ip} on node2 (gateway ${gateway}), web ${clusterIP}`,
  );
});

let down = false;
/** The resolv.conf directories of this lab's pods (`ip netns exec` reads /etc/netns/<netns>/). */
const resolvDirs = () =>
  existsSync("/etc/netns") ? readdirSync("/etc/netns").filter((d) => d.startsWith(`egp-${lab.id}-`)) : [];

after(() => {
  if (SKIP) return;
  if (KEEP) return log(`kept lab: egress lab down --id ${lab.id} --state-dir ${lab.stateDir}`);
  if (!down) {
    const r = lab.down();
    if (r.code !== 0) log(`lab down failed (${r.code}): ${r.stderr}`);
  }
  // Whatever a failed run left (the last test asserts there is nothing).
  for (const d of resolvDirs()) rmSync(`/etc/netns/${d}`, { recursive: true, force: true });
  lab.removeBase();
});

test("the pod's resolv.conf names its node's cluster DNS with the kubelet's search path", opts, () => {
  const text = sh(["ip", "netns", "exec", client.netns, "cat", "/etc/resolv.conf"]).stdout;
  assert.equal(
    text,
    `nameserver ${gateway}\nsearch ${NS}.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n`,
  );
});

test("Service names resolve (full and short forms) and connect through the cluster IP", opts, () => {
  const r = inPod(`${PRELUDE}
    console.log(JSON.stringify({
      fqdn: await lookup("web.${NS}.svc.cluster.local"),
      dotted: await lookup("web.${NS}.svc.cluster.local."),
      ns: await lookup("web.${NS}"),
      short: await lookup("web"),
      echo: await line("web", 7000),
    }));`) as Record<string, string>;
  assert.deepEqual(
    { ...r, echo: r.echo?.split(":")[0] },
    { fqdn: clusterIP, dotted: clusterIP, ns: clusterIP, short: clusterIP, echo: client.ip },
  );
});

test(
  "unknown Service → NXDOMAIN, AAAA of an IPv4 Service → NODATA, lab names still resolve (UDP and TCP)",
  opts,
  () => {
    const r = inPod(`${PRELUDE}
    import { encodeMessage, parseMessage } from ${JSON.stringify(MESSAGE_JS)};
    // One query over TCP straight to the nameserver of resolv.conf (the gateway).
    const tcp = (name) => new Promise((res) => {
      const q = encodeMessage({ id: 77, flags: { qr: false, opcode: 0, aa: false, tc: false, rd: true, ra: false, ad: false, cd: false, rcode: 0 },
        questions: [{ name, type: 1, class: 1 }], answers: [], authorities: [], additionals: [] });
      const c = net.connect(53, ${JSON.stringify(gateway)});
      let buf = Buffer.alloc(0);
      c.setTimeout(3000, () => { c.destroy(); res("ERR:timeout"); });
      c.on("connect", () => { const h = Buffer.alloc(2); h.writeUInt16BE(q.length); c.write(Buffer.concat([h, q])); });
      c.on("data", (d) => {
        buf = Buffer.concat([buf, d]);
        if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          const m = parseMessage(buf.subarray(2, 2 + buf.readUInt16BE(0)));
          res({ rcode: m.flags.rcode, a: m.answers.map((x) => x.data.address) });
          c.destroy();
        }
      });
      c.on("error", (e) => res("ERR:" + e.code));
    });
    console.log(JSON.stringify({
      unknown: await cares((d) => d.resolve4("nope.${NS}.svc.cluster.local")),
      unknownShort: await lookup("nope"),
      unknownNs: await cares((d) => d.resolve4("web.nosuchns.svc.cluster.local")),
      aaaa: await cares((d) => d.resolve6("web.${NS}.svc.cluster.local")),
      external: await lookup("www.foo.com"),
      externalNameService: await lookup("foo"),
      externalCares: await cares((d) => d.resolve4("www.example.com")),
      externalUnknown: await cares((d) => d.resolve4("nothing.example.org")),
      tcpService: await tcp("web.${NS}.svc.cluster.local"),
      tcpExternal: await tcp("www.foo.com"),
      tcpUnknown: await tcp("nope.${NS}.svc.cluster.local"),
    }));`) as Record<string, unknown>;
    assert.deepEqual(r, {
      unknown: "ERR:ENOTFOUND",
      unknownShort: "ERR:ENOTFOUND",
      unknownNs: "ERR:ENOTFOUND",
      aaaa: "ERR:ENODATA",
      external: "1.2.3.4",
      externalNameService: "1.2.3.4",
      externalCares: ["192.168.1.10"],
      externalUnknown: "ERR:ENOTFOUND",
      tcpService: { rcode: 0, a: [clusterIP] },
      tcpExternal: { rcode: 0, a: ["1.2.3.4"] },
      tcpUnknown: { rcode: 3, a: [] },
    });
  },
);

test("a Service created after the pod resolves within a few seconds", opts, async () => {
  // The pod polls by itself (no process start per try) and says when its first lookup failed;
  // the Service is created only then. Both clocks are this machine's.
  const poll = inPodAsync(`${PRELUDE}
    const t0 = Date.now();
    for (let i = 0; ; i++) {
      const a = await lookup("late");
      if (!a.startsWith("ERR:")) { console.log(JSON.stringify({ address: a, at: Date.now() })); break; }
      if (i === 0) console.log("polling " + a);
      if (Date.now() - t0 > 15000) { console.log(JSON.stringify({ address: a, at: -1 })); break; }
      await new Promise((r) => setTimeout(r, 100));
    }`);
  assert.equal(await poll.first, "polling ERR:ENOTFOUND");
  const created = Date.now();
  await post(`/api/v1/namespaces/${NS}/services`, service("late"));
  const out = (await poll.done) as { address?: string; at?: number };
  const svc = await (await lab.api()).request<{ spec: { clusterIP: string } }>(
    "GET",
    `/api/v1/namespaces/${NS}/services/late`,
  );
  const ms = (out.at ?? -1) - created;
  log(`late Service resolved ${ms} ms after its create request`);
  assert.equal(out.address, svc.spec.clusterIP);
  assert.ok(out.at !== -1 && ms < 5000, `resolved ${ms} ms after the create`);
});

test(
  "a deny-all EgressNetworkPolicy leaves DNS working: names resolve, the outside does not answer",
  opts,
  async () => {
    const open = inPod(`${PRELUDE} console.log(JSON.stringify(await line("1.2.3.4", 7000)));`) as string;
    assert.ok(!open.startsWith("ERR:"), `the outside echo server answers before the policy (${open})`);
    await post(`/apis/network.openshift.io/v1/namespaces/${NS}/egressnetworkpolicies`, {
      apiVersion: "network.openshift.io/v1",
      kind: "EgressNetworkPolicy",
      metadata: { name: "default", namespace: NS },
      spec: { egress: [{ type: "Deny", to: { cidrSelector: "0.0.0.0/0" } }] },
    });
    // Wait until the firewall is in force (the outside echo server no longer answers).
    await waitFor(
      "deny-all in force",
      () =>
        (inPod(`${PRELUDE} console.log(JSON.stringify(await line("1.2.3.4", 7000)));`) as string).startsWith(
          "ERR:",
        ),
      20_000,
      300,
    );
    const r = inPod(`${PRELUDE}
    console.log(JSON.stringify({
      external: await lookup("www.foo.com"),
      service: await lookup("web"),
      echo: await line("web", 7000),
    }));`) as Record<string, string>;
    assert.deepEqual(
      { ...r, echo: r.echo?.split(":")[0] },
      { external: "1.2.3.4", service: clusterIP, echo: client.ip },
    );
  },
);

test("deleting the pod removes its resolv.conf", opts, async () => {
  const dir = `/etc/netns/${client.netns}`;
  assert.ok(existsSync(`${dir}/resolv.conf`), `${dir}/resolv.conf exists while the pod runs`);
  await (await lab.api()).request("DELETE", `/api/v1/namespaces/${NS}/pods/client`);
  await waitFor(
    "pod namespace and its resolv.conf gone",
    () => !existsSync(dir) && !existsSync(`/var/run/netns/${client.netns}`),
    20_000,
    200,
  );
});

test("lab down leaves no pod resolv.conf behind (the agents remove theirs when they stop)", opts, () => {
  if (KEEP) return;
  assert.ok(resolvDirs().length > 0, "the echo pod has its resolv.conf before");
  const r = lab.down();
  down = true;
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(resolvDirs(), []);
});
