// The egress-firewall controller through the API server with real kubectl and a real DNS server
// (dnsmasq on 127.0.0.1, ephemeral port, 2 s TTL): the seed EgressNetworkPolicy (applied
// unchanged) gets its dnsName's addresses published and refreshed when the DNS answer changes;
// restriction violations (default project, joined projects, two policies) are reported as
// annotations and Events; EgressFirewall gets its status.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { createSocket } from "node:dgram";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { eventType } from "../../../src/api/kinds/index.js";
import { EgressFirewallController } from "../../../src/controllers/egressfirewall/controller.js";
import { NodeDnsResolver } from "../../../src/controllers/egressfirewall/resolver.js";
import { eventually, startTestControlPlane, type TestControlPlane } from "../support/control-plane.js";
import { EXAMPLES_DIR } from "../support/server.js";

const SEED = join(EXAMPLES_DIR, "004-egress-network-policy.json");
const DNSMASQ = "/usr/sbin/dnsmasq";

async function freeUdpPort(): Promise<number> {
  const s = createSocket("udp4");
  await new Promise<void>((r) => s.bind(0, "127.0.0.1", r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe("egress firewall controller", () => {
  let cp: TestControlPlane;
  let dir: string;
  let dnsmasq: ChildProcess | undefined;
  let hosts: string;
  const k = () => cp.kubectl;

  const annotations = async (ns: string, name = "default") =>
    JSON.parse(
      (await k().ok([
        "get",
        "egressnetworkpolicy",
        name,
        "-n",
        ns,
        "-o",
        "jsonpath={.metadata.annotations}",
      ])) || "{}",
    ) as Record<string, string>;
  const effect = async (ns: string, name = "default") =>
    (await annotations(ns, name))["egress.openshift.io/firewall-effect"];
  const waitEffect = (ns: string, want: string, name = "default") =>
    eventually(
      async () => ((await effect(ns, name)) === want ? true : undefined),
      5000,
      `${ns}/${name} ${want}`,
    );
  const dnsOf = async (ns: string) =>
    JSON.parse((await annotations(ns))["egress.openshift.io/dns-addresses"] ?? "{}") as Record<
      string,
      { addresses: string[]; error?: string }
    >;
  const events = async (ns: string, reason: string) =>
    (
      await cp.client.list<{
        reason: string;
        message: string;
        type: string;
        involvedObject: { kind: string };
      }>(eventType, ns)
    ).items.filter((e) => e.reason === reason);
  const netns = (name: string, netid: number) =>
    k().ok(
      ["apply", "-f", "-"],
      JSON.stringify({
        apiVersion: "network.openshift.io/v1",
        kind: "NetNamespace",
        metadata: { name },
        netname: name,
        netid,
      }),
    );

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "egress-fw-dns-"));
    await chmod(dir, 0o755); // dnsmasq drops privileges before re-reading the hosts file
    hosts = join(dir, "hosts");
    await writeFile(hosts, "1.2.3.4 www.foo.com\n", { mode: 0o644 });
    const port = await freeUdpPort();
    dnsmasq = spawn(
      DNSMASQ,
      [
        "--no-daemon",
        `--port=${port}`,
        "--listen-address=127.0.0.1",
        "--bind-interfaces",
        "--no-resolv",
        "--no-hosts",
        // Authoritative for the test names: NODATA / NXDOMAIN instead of REFUSED (no upstream).
        "--local=/foo.com/",
        "--local=/example/",
        `--addn-hosts=${hosts}`,
        "--local-ttl=2",
        `--pid-file=${join(dir, "pid")}`,
        "--log-facility=-",
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    let stderr = "";
    dnsmasq.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
    const probe = new NodeDnsResolver({ servers: [`127.0.0.1:${port}`], timeoutMs: 200, tries: 1 });
    await eventually(
      async () => ((await probe.lookup("www.foo.com", 4)).ok ? true : undefined),
      5000,
      `dnsmasq to answer (${stderr})`,
    );
    cp = await startTestControlPlane([
      new EgressFirewallController({
        resolver: new NodeDnsResolver({ servers: [`127.0.0.1:${port}`], timeoutMs: 500, tries: 1 }),
        schedule: { minIntervalMs: 1000 },
      }),
    ]);
    for (const ns of ["p1", "p2", "p3"]) await k().ok(["create", "namespace", ns]);
    await netns("default", 0);
    await netns("p1", 11);
    await netns("p2", 12);
    await netns("p3", 13);
  });
  after(async () => {
    await cp?.stop();
    if (dnsmasq?.pid && dnsmasq.exitCode === null) {
      const exited = new Promise((r) => dnsmasq?.once("exit", r));
      dnsmasq.kill("SIGTERM");
      await exited;
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test("seed policy: dnsName addresses published, refreshed when the DNS answer changes", async () => {
    await k().ok(["apply", "-n", "p1", "-f", SEED]);
    await waitEffect("p1", "Enforced");
    const first = await eventually(async () => (await dnsOf("p1"))["www.foo.com"], 5000, "addresses");
    assert.deepEqual(first, { addresses: ["1.2.3.4"] });
    // Legacy v1 form lists the same stored object.
    const legacy = await cp.client.request<{
      items: { metadata: { annotations?: Record<string, string> } }[];
    }>("GET", "/api/v1/namespaces/p1/egressnetworkpolicies");
    assert.match(
      legacy.items[0]?.metadata.annotations?.["egress.openshift.io/dns-addresses"] ?? "",
      /1\.2\.3\.4/,
    );

    await writeFile(hosts, "5.6.7.8 www.foo.com\n5.6.7.9 www.foo.com\n");
    const changedAt = Date.now();
    dnsmasq?.kill("SIGHUP");
    await eventually(
      async () =>
        (await dnsOf("p1"))["www.foo.com"]?.addresses.join(",") === "5.6.7.8,5.6.7.9" ? true : undefined,
      6000,
      "new addresses",
    );
    // TTL 2 s (+ lookup and write latency): well within one TTL period after expiry.
    assert.ok(Date.now() - changedAt < 4500, `took ${Date.now() - changedAt} ms`);
  });

  test("default project: the policy is ignored and reported", async () => {
    await k().ok(["apply", "-f", SEED]); // the seed has no namespace: it lands in `default`
    await waitEffect("default", "Ignored");
    const evs = await eventually(async () => {
      const e = await events("default", "GlobalProject");
      return e.length > 0 ? e : undefined;
    });
    assert.equal(evs[0]?.type, "Warning");
    assert.match(evs[0]?.message ?? "", /not allowed in the default project/);
    await k().ok(["delete", "-f", SEED]);
  });

  test("joined projects: all external traffic of the project is dropped; recovers when isolated", async () => {
    await netns("p2", 11); // p2 joins p1's network
    await waitEffect("p1", "DropAll");
    const msg = (await annotations("p1"))["egress.openshift.io/firewall-message"];
    assert.match(msg ?? "", /shares netid 11 with p2; all external traffic of project p1 is dropped/);
    assert.equal((await events("p1", "JoinedProjects")).length, 1);
    await netns("p2", 12);
    await waitEffect("p1", "Enforced");
    await eventually(async () =>
      (await events("p1", "EgressFirewallApplied")).length === 1 ? true : undefined,
    );
  });

  test("two policies in one project: both report DropAll", async () => {
    await k().ok(
      ["apply", "-n", "p1", "-f", "-"],
      JSON.stringify({
        apiVersion: "network.openshift.io/v1",
        kind: "EgressNetworkPolicy",
        metadata: { name: "second" },
        spec: { egress: [{ type: "Deny", to: { cidrSelector: "10.0.0.0/8" } }] },
      }),
    );
    await waitEffect("p1", "DropAll");
    await waitEffect("p1", "DropAll", "second");
    const evs = await eventually(async () => {
      const e = await events("p1", "MultiplePolicies");
      return e.length === 2 ? e : undefined;
    });
    assert.match(evs[0]?.message ?? "", /project p1 has 2 egress firewall policies/);
    await k().ok(["delete", "egressnetworkpolicy", "second", "-n", "p1"]);
    await waitEffect("p1", "Enforced");
  });

  test("EgressFirewall: status written; failing names keep their addresses out of nothing", async () => {
    await k().ok(
      ["apply", "-n", "p3", "-f", "-"],
      JSON.stringify({
        apiVersion: "k8s.ovn.org/v1",
        kind: "EgressFirewall",
        metadata: { name: "default" },
        spec: {
          egress: [
            { type: "Allow", to: { dnsName: "www.foo.com" } },
            { type: "Allow", to: { dnsName: "missing.example" } },
            { type: "Deny", to: { cidrSelector: "0.0.0.0/0" } },
          ],
        },
      }),
    );
    const status = await eventually(async () => {
      const s = await k().ok([
        "get",
        "egressfirewall",
        "default",
        "-n",
        "p3",
        "-o",
        "jsonpath={.status.status}",
      ]);
      return s || undefined;
    });
    assert.equal(status, "EgressFirewall Rules applied");
    const dns = await eventually(async () => {
      const v = JSON.parse(
        (await k().ok([
          "get",
          "egressfirewall",
          "default",
          "-n",
          "p3",
          "-o",
          "jsonpath={.metadata.annotations.egress\\.openshift\\.io/dns-addresses}",
        ])) || "{}",
      ) as Record<string, { addresses: string[] }>;
      return v["www.foo.com"] && v["missing.example"] ? v : undefined;
    });
    assert.deepEqual(dns["www.foo.com"]?.addresses, ["5.6.7.8", "5.6.7.9"]);
    assert.deepEqual(dns["missing.example"]?.addresses, []);
  });
});
