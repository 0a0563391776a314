// Multitenant isolation end to end (MISSION §5) in a lab with networkMode multitenant: projects
// p1, p2, p3 with pods spread over the three nodes, a pod in `default`, and a ClusterIP service in
// p1 and p3. Real TCP and UDP connections from every pod to every pod and service are compared with
// the rule "same netid, or either side global (netid 0)" after each `egress adm pod-network`
// command: join-projects (open within 1 s of the command returning, measured with a connection
// attempt every 50 ms), isolate-projects (closed again), make-projects-global (p3 reaches all and
// all reach p3). One lab for the file; `after` tears it down, also when a test fails.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Probe } from "../lab/probe.js";
import { labSkip, PolicyLab } from "./support/cluster.js";
import { addrTarget, assertMatrix, type MatrixPod, podTarget, type Target } from "./support/matrix.js";

const SKIP = labSkip();
const opts = { skip: SKIP, timeout: 120_000 };
const L = new PolicyLab("m");
let pods: MatrixPod[] = [];
let targets: Target[] = [];
/** Service target key → its namespace. */
const serviceNs = new Map<string, string>();

/** The model the dataplane must match: project → network (0 = global). */
const net: Record<string, number> = { default: 0, p1: 1, p2: 2, p3: 3 };
const reach = (a: string, b: string) => net[a] === 0 || net[b] === 0 || net[a] === net[b];
const nsOf = (t: Target) => t.pod?.namespace ?? serviceNs.get(t.key)!;
const expectNow = (from: MatrixPod, to: Target) => reach(from.namespace, nsOf(to));

before(async () => {
  if (SKIP) return;
  await L.up("multitenant");
  for (const p of ["p1", "p2", "p3"]) await L.namespace(p, { team: p });
  for (const p of ["p1", "p2", "p3", "default"]) await L.netid(p);
  pods = await L.pods([
    { namespace: "p1", name: "a", node: "node1", labels: { project: "p1" } },
    { namespace: "p1", name: "b", node: "node2", labels: { project: "p1" } },
    { namespace: "p2", name: "a", node: "node2", labels: { project: "p2" } },
    { namespace: "p2", name: "b", node: "node3", labels: { project: "p2" } },
    { namespace: "p3", name: "a", node: "node3", labels: { project: "p3" } },
    { namespace: "p3", name: "b", node: "node1", labels: { project: "p3" } },
    { namespace: "default", name: "d", node: "node2", labels: { project: "default" } },
  ]);
  targets = pods.flatMap((p) => [podTarget(p, 7000), podTarget(p, 7001, "UDP")]);
  const api = await L.api();
  for (const ns of ["p1", "p3"]) {
    const svc = await api.request<{ spec: { clusterIP: string } }>(
      "POST",
      `/api/v1/namespaces/${ns}/services`,
      {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: "web", namespace: ns },
        spec: {
          selector: { project: ns },
          ports: [{ name: "echo", port: 80, targetPort: 7000, protocol: "TCP" }],
        },
      },
    );
    const t = addrTarget(svc.spec.clusterIP, 80);
    t.key = `svc ${ns}/web:t80`;
    serviceNs.set(t.key, ns);
    targets.push(t);
  }
});

after(() => {
  if (SKIP) return;
  L.down();
});

test("initial: projects isolated from each other, default reaches and is reached by all", opts, async () => {
  // The first matrix also waits for the echo servers and the agents' first programs.
  await assertMatrix(L.probers, pods, targets, expectNow, { deadlineMs: 30_000, what: "initial isolation" });
  // The services really had endpoints: a same-project pod got through.
  assert.ok(expectNow(pods[1]!, targets.find((t) => t.key === "svc p1/web:t80")!));
});

test("join-projects --to=p1 p2: p1↔p2 open within 1 s of the command returning", opts, async () => {
  const [p1a] = pods;
  const p2b = pods.find((p) => p.namespace === "p2" && p.name === "b")!;
  assert.notEqual(p1a!.node, p2b.node);
  const probe = new Probe(p1a!.netns, "connect", p2b.ip, 7000, 50, 300);
  await probe.ready(3);
  const startedAt = Date.now();
  const r = await L.egress(["adm", "pod-network", "join-projects", "--to=p1", "p2"]);
  assert.equal(r.code, 0, r.stderr);
  await new Promise((res) => setTimeout(res, 2000));
  await probe.stop();
  const recs = probe.connects.sort((a, b) => a.t0 - b.t0);
  const early = recs.filter((x) => x.ok && x.t0 < startedAt);
  assert.deepEqual(early, [], "connections succeeded before the command ran");
  const first = recs.find((x) => x.ok);
  assert.ok(first, `never opened: ${JSON.stringify(recs.slice(-3))}`);
  const openMs = first.t1 - r.endedAt;
  process.stdout.write(
    `# join-projects: first connection ${Math.round(openMs)} ms after the command returned\n`,
  );
  assert.ok(openMs <= 1000, `opened ${Math.round(openMs)} ms after the command returned (limit 1000)`);
  const laterFails = recs.filter((x) => !x.ok && x.t0 > first.t1);
  assert.deepEqual(laterFails, [], "connections failed after the projects were joined");
  assert.equal(await L.netid("p2"), await L.netid("p1"));
  net.p2 = net.p1!;
  await assertMatrix(L.probers, pods, targets, expectNow, { what: "after join-projects" });
});

test("isolate-projects p2: p1↔p2 closed again", opts, async () => {
  const r = await L.egress(["adm", "pod-network", "isolate-projects", "p2"]);
  assert.equal(r.code, 0, r.stderr);
  assert.notEqual(await L.netid("p2"), await L.netid("p1"));
  net.p2 = 22;
  await assertMatrix(L.probers, pods, targets, expectNow, { what: "after isolate-projects" });
});

test("make-projects-global p3: p3 reaches all, all reach p3 (pods and its service)", opts, async () => {
  const r = await L.egress(["adm", "pod-network", "make-projects-global", "p3"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await L.netid("p3"), 0);
  net.p3 = 0;
  await assertMatrix(L.probers, pods, targets, expectNow, { what: "after make-projects-global" });
});
