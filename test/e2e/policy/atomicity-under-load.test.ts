// Policy changes are atomic in the dataplane (docs/policy.md: each policy program is written as a
// new generation of the table's sets, maps and chains in one nft transaction): while pods open new connections every 10 ms to a target that both the old and
// the new policy deny, the policies are flipped between deny variants as fast as the API takes
// them, and not one connection may succeed; a target every variant allows must never fail. Two
// scenarios in one networkpolicy-mode lab: NetworkPolicy variants (ingress to x/a, from a pod on
// another node and one on the same node), and EgressNetworkPolicy rule orders (egress to
// 203.0.113.25). The agents' logs prove the tables were really rewritten during the flood.
// `after` tears the lab down, also on failure.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { labSkip, OUTSIDE, PolicyLab, waitFor } from "./support/cluster.js";
import { addrTarget, type MatrixPod, podKey, podTarget } from "./support/matrix.js";

const SKIP = labSkip();
const opts = { skip: SKIP, timeout: 120_000 };
const L = new PolicyLab("t");
const pods = new Map<string, MatrixPod>();
const pod = (k: string) => pods.get(k)!;
const FLOOD_MS = 12_000;

/** Lines "policy updated" in a node's agent log (the lab's own log file). */
function policyUpdates(node: string): number {
  const st = L.lab.status();
  const p = st.processes.find((x) => x.name === `agent/${node}`)!;
  return (readFileSync(p.log, "utf8").match(/policy updated/g) ?? []).length;
}

before(async () => {
  if (SKIP) return;
  await L.up("networkpolicy");
  for (const n of ["x", "y", "e"]) await L.namespace(n, { ns: n });
  const list = await L.pods([
    { namespace: "x", name: "a", node: "node1", labels: { pod: "a" } },
    { namespace: "x", name: "b", node: "node2", labels: { pod: "b" } },
    { namespace: "y", name: "remote", node: "node3", labels: { pod: "remote" } },
    { namespace: "y", name: "local", node: "node1", labels: { pod: "local" } },
    { namespace: "e", name: "a", node: "node2", labels: { pod: "a" } },
  ]);
  for (const p of list) pods.set(podKey(p), p);
});

after(() => {
  if (SKIP) return;
  L.down();
});

/** Runs `flip(i)` back to back until `ms` passed; returns how many flips were made. */
async function flipFor(ms: number, flip: (i: number) => Promise<unknown>): Promise<number> {
  const end = Date.now() + ms;
  let i = 0;
  while (Date.now() < end) {
    await flip(i++);
    await new Promise((r) => setTimeout(r, 50));
  }
  return i;
}

test("NetworkPolicy flips between deny variants: no connection to x/a:7000 ever succeeds", opts, async () => {
  const variants = [
    {
      podSelector: { matchLabels: { pod: "a" } },
      ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: "nobody" } } }] }],
    },
    {
      podSelector: { matchLabels: { pod: "a" } },
      ingress: [{ from: [{ podSelector: { matchLabels: { pod: "b" } } }], ports: [{ port: 8080 }] }],
    },
    { podSelector: { matchLabels: { pod: "a" } }, policyTypes: ["Ingress"] },
    { podSelector: {}, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: "x" } } }] }] },
  ];
  const np = (i: number) => ({
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: { name: "flip", namespace: "x" },
    spec: variants[i % variants.length],
  });
  await L.apply([np(0)]);
  const target = podTarget(pod("x/a"), 7000);
  // Control: a pod in another namespace, selected by no variant (always open).
  const control2 = podTarget(pod("e/a"), 7000);
  // Wait until the first variant is in place (x/a closed to y, e/a open).
  const probeOnce = () => L.probers.get(pod("y/remote").netns).probe([target, control2], 800);
  await waitFor(
    "the first variant in place (x/a closed to y, e/a open)",
    async () => {
      const r = await probeOnce();
      return !r[target.key]?.ok && r[control2.key]?.ok;
    },
    20_000,
    200,
  );
  const updates0 = policyUpdates("node1");
  const floods = [pod("y/remote"), pod("y/local")].map((p) =>
    L.probers.get(p.netns).flood(target, { durationMs: FLOOD_MS, intervalMs: 10, timeoutMs: 300 }),
  );
  const controlFlood = L.probers
    .get(pod("y/remote").netns)
    .flood(control2, { durationMs: FLOOD_MS, intervalMs: 20, timeoutMs: 1500 });
  const flips = await flipFor(FLOOD_MS - 1000, (i) => L.apply([np(i + 1)]));
  const [remote, local] = await Promise.all(floods);
  const ctl = await controlFlood;
  const updates = policyUpdates("node1") - updates0;
  process.stdout.write(
    `# ${flips} policy flips, ${updates} policy table rewrites on node1; attempts ${remote!.attempts} (other node) + ${local!.attempts} (same node); control ${ctl.attempts - ctl.failures}/${ctl.attempts}\n`,
  );
  assert.deepEqual(remote!.successes, [], "connections from another node got through a policy change");
  assert.deepEqual(local!.successes, [], "connections from the same node got through a policy change");
  assert.ok(remote!.attempts > 200 && local!.attempts > 200, "the flood ran");
  assert.ok(updates >= 5, `only ${updates} policy rewrites on node1 during the flood`);
  assert.ok(ctl.successes.length > 0, "the control target was never reached (probe broken?)");
  assert.equal(ctl.failures, 0, "a connection every variant allows failed during a policy change");
  await L.remove("networking.k8s.io/v1", "NetworkPolicy", "x", "flip");
});

// This scenario used to leak: one connection in ~1000 to the denied 203.0.113.25 got through a rule
// reorder under load (the server saw node2's address). Two causes (docs/policy.md): the
// agents replaced the table (delete + recreate), so a packet filtered during the commit could miss a
// map element and fall through to accept (fixed by generational updates, src/dataplane/nft/
// generations.ts; 2 of 24 busy-loop runs still leaked with them); and a packet held up in the chains
// across two updates still ran the rules of a generation whose maps were gone, and a map miss fell
// through to an accept (guarded since: "Packets that outlive their generation"). 20 of 20 runs under
// three busy loops passed with a first guard that, as measured later, could not fire (a deleted set
// still answers); the guard is now a lookup in a hash map `live`, whose elements a deletion
// deactivates. It failed once more in CI with that guard: the third order denies through an
// interval map element, and a new interval map is empty for packets that reach it in the transaction
// that creates it (fixed: a generation is created in one transaction and activated in a second;
// docs/policy.md, "New sets are not ready in their own transaction"; generations-race.test.ts
// reproduces it deterministically with a UDP flood).
test(
  "EgressNetworkPolicy rule orders flip: 203.0.113.25 never reached, 1.2.3.4 never refused",
  opts,
  async () => {
    const orders = [
      [
        { type: "Deny", to: { cidrSelector: "203.0.113.25/32" } },
        { type: "Allow", to: { cidrSelector: "1.2.3.0/24" } },
        { type: "Deny", to: { cidrSelector: "0.0.0.0/0" } },
      ],
      [
        { type: "Allow", to: { cidrSelector: "1.2.3.0/24" } },
        { type: "Deny", to: { cidrSelector: "0.0.0.0/0" } },
        { type: "Allow", to: { cidrSelector: "203.0.113.25/32" } },
      ],
      [
        { type: "Deny", to: { cidrSelector: "203.0.113.0/24" } },
        { type: "Allow", to: { cidrSelector: "0.0.0.0/0" } },
      ],
    ];
    const enp = (i: number) => ({
      apiVersion: "network.openshift.io/v1",
      kind: "EgressNetworkPolicy",
      metadata: { name: "default", namespace: "e" },
      spec: { egress: orders[i % orders.length] },
    });
    await L.apply([enp(0)]);
    const denied = addrTarget(OUTSIDE.web25, 7000);
    const allowed = addrTarget(OUTSIDE.foo4, 7000);
    const prober = L.probers.get(pod("e/a").netns);
    await waitFor(
      "the first order in place",
      async () => {
        const r = await prober.probe([denied, allowed], 800);
        return !r[denied.key]?.ok && r[allowed.key]?.ok;
      },
      20_000,
      200,
    );
    const updates0 = policyUpdates("node2");
    const flood = prober.flood(denied, { durationMs: FLOOD_MS, intervalMs: 10, timeoutMs: 300 });
    const control = prober.flood(allowed, { durationMs: FLOOD_MS, intervalMs: 20, timeoutMs: 1500 });
    const flips = await flipFor(FLOOD_MS - 1000, (i) => L.apply([enp(i + 1)]));
    const [d, c] = await Promise.all([flood, control]);
    const updates = policyUpdates("node2") - updates0;
    process.stdout.write(
      `# ${flips} rule-order flips, ${updates} policy table rewrites on node2; denied attempts ${d.attempts}; allowed ${c.attempts - c.failures}/${c.attempts}\n`,
    );
    assert.deepEqual(d.successes, [], "a connection to 203.0.113.25 got through a rule reorder");
    assert.ok(d.attempts > 200, "the flood ran");
    assert.ok(updates >= 5, `only ${updates} policy rewrites on node2 during the flood`);
    assert.ok(c.successes.length > 0, "1.2.3.4 never reached (probe broken?)");
    assert.equal(c.failures, 0, "a connection every order allows failed during a reorder");
  },
);
