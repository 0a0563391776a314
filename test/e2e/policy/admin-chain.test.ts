// The admin output chain (MISSION §7) in a multitenant lab: `inet egress-admin admin-output` exists
// empty on every node after start; rules an admin adds there with `nft` (inside the node namespaces)
// apply to pod → outside traffic only, after the egress firewall (a destination the firewall drops
// never reaches the chain's counter), never to pod → pod traffic or to traffic through an egress
// router pod (seed 001 applied unchanged), and the rules survive policy re-syncs and an agent
// restart (never flushed). One lab for the file; `after` tears it down, also on failure.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { EXAMPLES, labSkip, OUTSIDE, PolicyLab, waitFor } from "./support/cluster.js";
import { addrTarget, assertMatrix, type MatrixPod, podTarget, type Target } from "./support/matrix.js";

const SKIP = labSkip();
const opts = { skip: SKIP, timeout: 120_000 };
const L = new PolicyLab("a");
const NODES = ["node1", "node2", "node3"];
let client: MatrixPod;
let peer: MatrixPod;
let router: Target;

const web25 = addrTarget(OUTSIDE.web25, 7000);
const web26 = addrTarget(OUTSIDE.web26, 7000);
const web27 = addrTarget("203.0.113.27", 7000);
const foo4 = addrTarget(OUTSIDE.foo4, 7000);

/** The admin's rules: each with a comment so its counter can be read back. */
const ADMIN_RULES = [
  `ip daddr ${OUTSIDE.web25} counter drop comment "drop-25"`,
  `ip daddr ${OUTSIDE.web26} counter comment "count-26"`,
  `ip daddr 203.0.113.27 counter comment "count-27"`,
  `ip daddr 10.128.0.0/14 counter drop comment "pods"`,
];

function adminChain(node: string): string {
  const r = L.inNode(node, ["nft", "list", "chain", "inet", "egress-admin", "admin-output"]);
  assert.equal(r.code, 0, `${node}: ${r.stderr}`);
  return r.stdout.replace(/\s*# handle \d+/g, "").trim();
}

/** Packets counted by the rule with `comment` on `node`. */
function counter(node: string, comment: string): number {
  const m = new RegExp(`counter packets (\\d+) bytes \\d+[^\\n]*comment "${comment}"`).exec(adminChain(node));
  assert.ok(m, `${node}: no rule ${comment} in\n${adminChain(node)}`);
  return Number(m[1]);
}

const total = (comment: string) => NODES.reduce((n, node) => n + counter(node, comment), 0);

before(async () => {
  if (SKIP) return;
  await L.up("multitenant");
  await L.namespace("adm");
  const list = await L.pods([
    { namespace: "adm", name: "client", node: "node1" },
    { namespace: "adm", name: "peer", node: "node2" },
  ]);
  client = list[0]!;
  peer = list[1]!;
  // Seed 001's egress router (redirect mode, EGRESS_SOURCE 192.168.12.99) in `default`, global:
  // the client reaches it; port 80 is redirected to 203.0.113.25:80.
  const r = await L.egress([
    "apply",
    "-f",
    join(EXAMPLES, "001-egress-router-redirect.yaml"),
    "-n",
    "default",
    "--kubeconfig",
    L.kubeconfig,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const api = await L.api();
  const ip = await waitFor(
    "egress-multi Running",
    async () => {
      const p = await api
        .request<{ status?: { phase?: string; podIP?: string } }>(
          "GET",
          "/api/v1/namespaces/default/pods/egress-multi",
        )
        .catch(() => undefined);
      return p?.status?.phase === "Running" && p.status.podIP ? p.status.podIP : undefined;
    },
    60_000,
    250,
  );
  router = addrTarget(ip, 80);
  router.key = "router:t80→203.0.113.25:80";
});

after(() => {
  if (SKIP) return;
  L.down();
});

test("admin-output exists, empty, on every node", opts, async () => {
  for (const node of NODES)
    await waitFor(
      `${node}: admin-output`,
      () => L.inNode(node, ["nft", "list", "chain", "inet", "egress-admin", "admin-output"]).code === 0,
      30_000,
      250,
    );
  for (const node of NODES) {
    const rules = adminChain(node)
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => !/^(table|chain) .*\{$/.test(l) && l !== "}");
    assert.deepEqual(rules, [], `${node}: admin-output not empty`);
  }
  // Baseline: everything reachable (also the router's redirect) before the admin adds rules.
  await assertMatrix(
    L.probers,
    [client],
    [web25, web26, web27, foo4, podTarget(peer, 7000), router],
    () => true,
    {
      what: "before admin rules",
      deadlineMs: 30_000,
    },
  );
});

test(
  "admin rules apply to pod → outside only, not to pod → pod, not to egress-router traffic",
  opts,
  async () => {
    for (const node of NODES)
      for (const rule of ADMIN_RULES) {
        const r = L.inNode(node, ["sh", "-c", `nft add rule inet egress-admin admin-output ${rule}`]);
        assert.equal(r.code, 0, `${node}: ${r.stderr}`);
      }
    const before26 = total("count-26");
    await assertMatrix(
      L.probers,
      [client],
      [web25, web26, foo4, podTarget(peer, 7000), router],
      (_f, t) => t !== web25,
      { what: "admin rules", deadlineMs: 5000 },
    );
    assert.ok(total("count-26") > before26, "pod → 203.0.113.26 passed through admin-output");
    assert.equal(total("pods"), 0, "pod → pod traffic reached admin-output");
    // The router redirected to 203.0.113.25 (dropped by the admin rule for pods) and still got through.
  },
);

test(
  "admin-output comes after the egress firewall: a destination the firewall drops is never counted",
  opts,
  async () => {
    await L.apply([
      {
        apiVersion: "network.openshift.io/v1",
        kind: "EgressNetworkPolicy",
        metadata: { name: "default", namespace: "adm" },
        spec: { egress: [{ type: "Deny", to: { cidrSelector: "203.0.113.27/32" } }] },
      },
    ]);
    const before26 = total("count-26");
    await assertMatrix(L.probers, [client], [web26, web27, foo4], (_f, t) => t !== web27, {
      what: "firewall + admin",
      deadlineMs: 8000,
    });
    // Probes to .27 may have been counted while the firewall was being applied; from now on none may.
    const before27 = total("count-27");
    await assertMatrix(L.probers, [client], [web27], () => false, {
      what: "firewall drop",
      deadlineMs: 1000,
    });
    assert.equal(total("count-27"), before27, "a packet the egress firewall dropped reached admin-output");
    assert.ok(total("count-26") > before26);
  },
);

test("admin rules survive policy re-syncs and an agent restart", opts, async () => {
  const snapshot = NODES.map((n) => adminChain(n).replace(/counter packets \d+ bytes \d+/g, "counter"));
  // A re-sync: the firewall changes, the policy table is rewritten on every node.
  await L.apply([
    {
      apiVersion: "network.openshift.io/v1",
      kind: "EgressNetworkPolicy",
      metadata: { name: "default", namespace: "adm" },
      spec: { egress: [{ type: "Deny", to: { cidrSelector: "203.0.113.26/32" } }] },
    },
  ]);
  // .26 now dropped by the firewall, .25 still by the admin rule, .27 open again.
  await assertMatrix(L.probers, [client], [web26, web27, web25], (_f, t) => t === web27, {
    what: "after re-sync",
    deadlineMs: 8000,
  });
  // Agent restart on the client's node (SIGKILL the pid from this lab's state file, start again as
  // `lab up` did; the restarted pid is killed by `down`).
  const rec = L.lab.agentRecord("node1");
  assert.ok(rec.pid);
  process.kill(rec.pid, "SIGKILL");
  const log = join(L.lab.base, "agent-node1-restarted.log");
  await L.lab.restartAgent("node1", log);
  await waitFor(
    "restarted agent applied its policy program",
    () => existsSync(log) && /policy updated/.test(readFileSync(log, "utf8")),
    30_000,
    250,
  );
  const after = NODES.map((n) => adminChain(n).replace(/counter packets \d+ bytes \d+/g, "counter"));
  // The restarted agent adopts its pods: none is torn down and set up again (an informer that
  // started with a failed list once made it take every pod for deleted).
  const restartedLog = readFileSync(log, "utf8");
  assert.doesNotMatch(
    restartedLog,
    /pod torn down/,
    `the restarted agent tore pods down:\n${restartedLog.slice(-4000)}`,
  );
  // The test's prober in the client pod was started by this process before the restart; it is
  // started afresh in case the restart ended it.
  L.probers.drop(client.netns);
  assert.deepEqual(after, snapshot, "admin-output changed");
  await assertMatrix(
    L.probers,
    [client],
    [web25, web26, foo4, podTarget(peer, 7000), router],
    (_f, t) => t !== web25 && t !== web26,
    {
      what: "after agent restart",
      deadlineMs: 8000,
    },
  );
});
