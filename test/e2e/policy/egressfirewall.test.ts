// EgressNetworkPolicy / EgressFirewall end to end (MISSION §6) in a multitenant lab whose DNS
// answers with TTL 3 s and knows a name whose record the test moves (moving.lab). Real connections
// from pods to the lab's outside hosts: the seed 004-egress-network-policy.json applied unchanged
// (1.2.3.0/24 and www.foo.com reachable, other outside addresses not, DNS to the resolver and
// cluster traffic untouched), the same rules reversed (nothing outside), an EgressFirewall with
// ports and one with nodeSelector, a dnsName whose record changes (effective within the TTL plus a
// margin), and the restrictions: a policy in a global project is ignored, one in a joined project
// drops all the project's external traffic, both reported as annotation and Event. One lab for the
// file; `after` tears it down, also on failure.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { DEFAULT_TOPOLOGY } from "../../../src/lab/paths.js";
import { EXAMPLES, labSkip, OUTSIDE, PolicyLab, sleep, waitFor } from "./support/cluster.js";
import { addrTarget, assertMatrix, type MatrixPod, podTarget, type Target } from "./support/matrix.js";

const SKIP = labSkip();
const opts = { skip: SKIP, timeout: 90_000 };
const TTL = 3;
const L = new PolicyLab("f");
const pods = new Map<string, MatrixPod>();
const pod = (k: string) => pods.get(k)!;

const foo4 = addrTarget(OUTSIDE.foo4, 7000);
const foo5 = addrTarget(OUTSIDE.foo5, 7000);
const fooName = addrTarget("www.foo.com", 7000, "TCP", OUTSIDE.dns);
const web25 = addrTarget(OUTSIDE.web25, 7000);
const bar = addrTarget(OUTSIDE.bar, 7000);
const ext1 = addrTarget(OUTSIDE.ext1, 7000);
const dns = addrTarget("www.foo.com", 53, "DNS", OUTSIDE.dns);
const OUTSIDE_ALL = [foo4, foo5, fooName, web25, bar, ext1, dns];
const ENP = "network.openshift.io/v1";

const enp = (namespace: string, egress: object[]) => ({
  apiVersion: ENP,
  kind: "EgressNetworkPolicy",
  metadata: { name: "default", namespace },
  spec: { egress },
});

/** The lab topology plus a TTL and a record the test moves. */
function topology(): string {
  const text = readFileSync(DEFAULT_TOPOLOGY, "utf8");
  const out = text.replace(
    /^dns:\n {2}server: ext1\n {2}records:\n/m,
    `dns:\n  server: ext1\n  ttl: ${TTL}\n  records:\n    moving.lab: ${OUTSIDE.web25}\n`,
  );
  assert.notEqual(out, text, "lab/topology.yaml's dns section changed shape");
  return out;
}

before(async () => {
  if (SKIP) return;
  await L.up("multitenant", { topologyYaml: topology() });
  for (const ns of ["q", "r", "f", "n", "m", "g", "j1", "j2"]) await L.namespace(ns);
  const list = await L.pods([
    { namespace: "q", name: "a", node: "node1" },
    { namespace: "q", name: "b", node: "node2" },
    { namespace: "r", name: "a", node: "node3" },
    { namespace: "r", name: "b", node: "node1" },
    { namespace: "f", name: "a", node: "node2" },
    { namespace: "n", name: "a", node: "node1" },
    { namespace: "m", name: "a", node: "node3" },
    { namespace: "g", name: "a", node: "node1" },
    { namespace: "j1", name: "a", node: "node2" },
  ]);
  for (const p of list) pods.set(`${p.namespace}/${p.name}`, p);
});

after(() => {
  if (SKIP) return;
  L.down();
});

/** Annotation egress.openshift.io/firewall-effect of a policy, once written. */
async function effect(apiVersion: string, plural: string, ns: string): Promise<string | undefined> {
  const path = apiVersion === ENP ? `/apis/${ENP}` : `/apis/${apiVersion}`;
  const o = await (await L.api())
    .request<{ metadata: { annotations?: Record<string, string> } }>(
      "GET",
      `${path}/namespaces/${ns}/${plural}/default`,
    )
    .catch(() => undefined);
  return o?.metadata.annotations?.["egress.openshift.io/firewall-effect"];
}

async function events(ns: string): Promise<{ reason: string; message: string; name: string }[]> {
  const l = await (await L.api()).request<{
    items: { reason?: string; message?: string; involvedObject?: { name?: string } }[];
  }>("GET", `/api/v1/namespaces/${ns}/events`);
  return l.items.map((e) => ({
    reason: e.reason ?? "",
    message: e.message ?? "",
    name: e.involvedObject?.name ?? "",
  }));
}

test(
  "seed EgressNetworkPolicy applied unchanged: 1.2.3.0/24 and www.foo.com reachable, nothing else outside",
  opts,
  async () => {
    const file = join(EXAMPLES, "004-egress-network-policy.json");
    const r = await L.egress(["apply", "-f", file, "-n", "q", "--kubeconfig", L.kubeconfig]);
    assert.equal(r.code, 0, r.stderr);
    const q = [pod("q/a"), pod("q/b")];
    const targets: Target[] = [...OUTSIDE_ALL, podTarget(pod("q/b"), 7000), podTarget(pod("q/a"), 7000)];
    await assertMatrix(
      L.probers,
      [...q, pod("r/a")],
      targets,
      // Cluster traffic is not the firewall's business (but multitenant isolation keeps r and q apart).
      (f, t) =>
        t.pod
          ? t.pod.namespace === f.namespace
          : f.namespace === "r" || [foo4, foo5, fooName, dns].includes(t),
      { what: "seed EgressNetworkPolicy", deadlineMs: 30_000 },
    );
    assert.equal(await effect(ENP, "egressnetworkpolicies", "q"), "Enforced");
  },
);

test(
  "the seed's rules reversed (Deny 0.0.0.0/0 first): nothing outside reachable, DNS still is",
  opts,
  async () => {
    const seed = JSON.parse(readFileSync(join(EXAMPLES, "004-egress-network-policy.json"), "utf8")) as {
      spec: { egress: object[] };
    };
    await L.apply([enp("q", [...seed.spec.egress].reverse())]);
    await assertMatrix(
      L.probers,
      [pod("q/a"), pod("q/b"), pod("r/a")],
      [...OUTSIDE_ALL, podTarget(pod("q/b"), 7000)],
      (f, t) => (t.pod ? t.pod.namespace === f.namespace : f.namespace === "r" || t === dns),
      { what: "reversed rules", deadlineMs: 8000 },
    );
  },
);

test("EgressFirewall with ports: only the listed protocol/port per destination", opts, async () => {
  await L.apply([
    {
      apiVersion: "k8s.ovn.org/v1",
      kind: "EgressFirewall",
      metadata: { name: "default", namespace: "f" },
      spec: {
        egress: [
          { type: "Allow", to: { cidrSelector: "1.2.3.0/24" }, ports: [{ protocol: "TCP", port: 7000 }] },
          { type: "Allow", to: { dnsName: "www.bar.com" }, ports: [{ protocol: "TCP", port: 8080 }] },
          { type: "Deny", to: { cidrSelector: "0.0.0.0/0" } },
        ],
      },
    },
  ]);
  const fooUdp = addrTarget(OUTSIDE.foo4, 7001, "UDP");
  const fooHttp = addrTarget(OUTSIDE.foo4, 8080);
  const barHttp = addrTarget(OUTSIDE.bar, 8080);
  const allowed = [foo4, foo5, barHttp, dns];
  await assertMatrix(
    L.probers,
    [pod("f/a")],
    [foo4, foo5, fooUdp, fooHttp, bar, barHttp, web25, dns],
    (_f, t) => allowed.includes(t),
    {
      what: "EgressFirewall ports",
      deadlineMs: 10_000,
    },
  );
  const st = await (await L.api()).request<{ status?: { status?: string } }>(
    "GET",
    "/apis/k8s.ovn.org/v1/namespaces/f/egressfirewalls/default",
  );
  assert.match(st.status?.status ?? "", /applied/i);
});

test(
  "EgressFirewall nodeSelector: Allow selected nodes' addresses before Deny 0.0.0.0/0 (as upstream)",
  opts,
  async () => {
    await L.apply([
      {
        apiVersion: "k8s.ovn.org/v1",
        kind: "EgressFirewall",
        metadata: { name: "default", namespace: "n" },
        spec: {
          egress: [
            { type: "Allow", to: { nodeSelector: { matchLabels: { site: "springfield-1" } } } },
            { type: "Deny", to: { cidrSelector: "0.0.0.0/0" } },
          ],
        },
      },
    ]);
    // n/a runs on node1: node2 (springfield-1) and node3 (not) are remote nodes; their agents'
    // health endpoints answer HTTP on :10250.
    const node2 = addrTarget("192.168.126.12", 10250);
    const node3 = addrTarget("192.168.126.13", 10250);
    node2.http = node3.http = true;
    // r/b (node1 too, no firewall) is the control: both health endpoints answer it.
    await assertMatrix(
      L.probers,
      [pod("n/a"), pod("r/b")],
      [node2, node3, foo4, dns],
      (f, t) => f.namespace === "r" || t === node2 || t === dns,
      {
        what: "EgressFirewall nodeSelector",
        deadlineMs: 10_000,
      },
    );
  },
);

test(`dnsName whose record changes: followed within the TTL (${TTL} s) plus a margin`, opts, async () => {
  await L.apply([
    enp("m", [
      { type: "Allow", to: { dnsName: "moving.lab" } },
      { type: "Deny", to: { cidrSelector: "0.0.0.0/0" } },
    ]),
  ]);
  const m = [pod("m/a")];
  const moving = addrTarget("moving.lab", 53, "DNS", OUTSIDE.dns);
  await assertMatrix(L.probers, m, [web25, bar, foo4, moving], (_f, t) => t === web25 || t === moving, {
    what: "dnsName before the change",
    deadlineMs: 15_000,
  });
  // Move the record: edit the lab DNS hosts file, SIGHUP dnsmasq (pid from this lab's status).
  const st = L.lab.status();
  const dnsProc = st.processes.find((p) => p.name.startsWith("dns/"));
  assert.ok(dnsProc?.pid && st.dns, "lab DNS process");
  const hosts = readFileSync(st.dns.hostsFile, "utf8");
  assert.match(hosts, /^203\.0\.113\.25 moving\.lab$/m);
  writeFileSync(
    st.dns.hostsFile,
    hosts.replace(/^203\.0\.113\.25 moving\.lab$/m, `${OUTSIDE.bar} moving.lab`),
  );
  const changedAt = Date.now();
  process.kill(dnsProc.pid, "SIGHUP");
  let effectiveAt = 0;
  await assertMatrix(L.probers, m, [web25, bar], (_f, t) => t === bar, {
    what: "dnsName after the change",
    deadlineMs: 15_000,
    timeoutMs: 500,
    matched: (at) => {
      effectiveAt = at;
    },
  });
  const ms = effectiveAt - changedAt;
  process.stdout.write(`# dnsName change in effect ${ms} ms after the record changed\n`);
  assert.ok(ms <= TTL * 1000 + 2000, `took ${ms} ms, TTL ${TTL} s + 2 s margin`);
  const res = await L.probers.get(pod("m/a").netns).probe([moving], 2000);
  assert.equal(res[moving.key]?.src, OUTSIDE.bar, "the resolver answers the new address");
});

test("restriction: a policy in a global project is ignored (annotation and Event)", opts, async () => {
  const r = await L.egress(["adm", "pod-network", "make-projects-global", "g"]);
  assert.equal(r.code, 0, r.stderr);
  await L.apply([enp("g", [{ type: "Deny", to: { cidrSelector: "0.0.0.0/0" } }])]);
  await waitFor(
    "effect Ignored",
    async () => (await effect(ENP, "egressnetworkpolicies", "g")) === "Ignored",
    10_000,
    200,
  );
  await waitFor(
    "GlobalProject event",
    async () => (await events("g")).some((e) => e.reason === "GlobalProject" && e.name === "default"),
    10_000,
    200,
  );
  // Give the agents a moment to (not) apply it, then everything outside is still reachable.
  await sleep(1000);
  await assertMatrix(L.probers, [pod("g/a")], [foo4, web25, bar, ext1], () => true, {
    what: "global project",
    deadlineMs: 3000,
  });
});

test(
  "restriction: a policy in a joined project drops all its external traffic (annotation and Event)",
  opts,
  async () => {
    const r = await L.egress(["adm", "pod-network", "join-projects", "--to=j1", "j2"]);
    assert.equal(r.code, 0, r.stderr);
    await L.apply([enp("j1", [{ type: "Allow", to: { cidrSelector: "0.0.0.0/0" } }])]);
    await waitFor(
      "effect DropAll",
      async () => (await effect(ENP, "egressnetworkpolicies", "j1")) === "DropAll",
      10_000,
      200,
    );
    await waitFor(
      "JoinedProjects event",
      async () => (await events("j1")).some((e) => e.reason === "JoinedProjects" && e.name === "default"),
      10_000,
      200,
    );
    await assertMatrix(L.probers, [pod("j1/a")], [foo4, web25, bar, ext1, dns], (_f, t) => t === dns, {
      what: "joined project DropAll",
      deadlineMs: 8000,
    });
  },
);
