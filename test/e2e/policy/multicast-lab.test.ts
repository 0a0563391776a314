// Multicast per project end to end (MISSION §9, issue 7 point 5) in a lab with networkMode
// multitenant: the real agents (MulticastSync behind DataplaneSync) program their nodes, and real
// UDP multicast between pods decides. Projects p1, p2, p3 and `default` (global) with pods pinned
// over the three nodes; in each pod a peer process (run with `ip netns exec` in the pod's namespace)
// joins GROUP:PORT, reports every datagram it receives, and sends on request. Sequence: off by
// default; on for p1 only (same node and across nodes, nobody else; first copies within 1 s of the
// patch returning, measured with a 50 ms stream); p2 joined to p1 with multicast off on p2 (p2
// receives nothing, its sends reach nobody); on for both (p1↔p2); the annotation removed from p1 (p1
// stops within 1 s, same stream measurement); p3 made global and multicast on for default and p3
// (they exchange only among themselves, p1/p2 only among theirs); p2 isolated again (each project
// keeps its own); a p1 pod created later on a node without p1 pods joins in.
// A round sends from every sender at once (fresh tags) and compares the receivers with the
// expectation; rounds repeat only until a deadline to wait for the agents to apply a change, never to
// retry a single cell. Negative cases that must hold at every moment are observed for a whole window.
// One lab for the file; `after` kills the peers by pid and tears the lab down, also on failure.
import assert from "node:assert/strict";
import { type ChildProcessByStdio, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import type { Readable, Writable } from "node:stream";
import { after, before, test } from "node:test";
import { MULTICAST_ANNOTATION } from "../../../src/agent/policy-view.js";
import { findByKind } from "../../../src/api/kinds/index.js";
import { labSkip, PolicyLab, sleep, waitFor } from "./support/cluster.js";
import type { MatrixPod } from "./support/matrix.js";

const SKIP = labSkip();
const opts = { skip: SKIP, timeout: 60_000 };
const L = new PolicyLab("mc");

const GROUP = "239.1.2.3";
const PORT = 5000;
/** How long a change may take to reach the packets (agents apply within ~1 s; loaded machine). */
const CONVERGE_MS = 8_000;
/** How soon switching multicast on or off must reach the packets, from the patch returning. */
const LIMIT_MS = 1_000;

// One process per pod: receives on MC_GROUP:MC_PORT and prints one JSON line per datagram (tag,
// sequence number, source, receive time); a stdin line "<tag> <count> <intervalMs>" sends <count>
// datagrams "<tag> <seq>" to the group with TTL 1, one every <intervalMs>.
const PEER = `
const dgram = require("node:dgram");
const rl = require("node:readline");
const G = process.env.MC_GROUP, P = Number(process.env.MC_PORT);
const out = (o) => process.stdout.write(JSON.stringify(o) + "\\n");
const r = dgram.createSocket({ type: "udp4", reuseAddr: true });
const s = dgram.createSocket("udp4");
r.on("message", (m, ri) => { const [tag, seq] = m.toString().split(" "); out({ tag, seq: Number(seq), from: ri.address, t: Date.now() }); });
r.bind(P, () => { r.addMembership(G); s.bind(() => { s.setMulticastTTL(1); out({ ready: true }); }); });
rl.createInterface({ input: process.stdin }).on("line", (l) => {
  const [tag, count, every] = l.split(" ");
  let i = 0;
  const one = () => { s.send(Buffer.from(tag + " " + i), P, G); if (++i >= Number(count)) clearInterval(t); };
  const t = setInterval(one, Number(every));
  one();
});
`;

interface Got {
  tag: string;
  seq: number;
  from: string;
  t: number;
}

interface Peer {
  pod: MatrixPod;
  key: string;
  child?: ChildProcessByStdio<Writable, Readable, null>;
  got: Got[];
}

const peers: Peer[] = [];
const P = (key: string): Peer => {
  const p = peers.find((x) => x.key === key);
  if (!p) throw new Error(`no peer ${key}`);
  return p;
};

function startPeer(p: Peer): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const child = spawn("ip", ["netns", "exec", p.pod.netns, process.execPath, "-e", PEER], {
      env: { ...process.env, MC_GROUP: GROUP, MC_PORT: String(PORT) },
      stdio: ["pipe", "pipe", "inherit"],
    });
    p.child = child;
    let buf = "";
    const timer = setTimeout(() => reject(new Error(`peer ${p.key} not ready after 15 s`)), 15_000);
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`peer ${p.key} exited (${code}) before it was ready`)));
    child.stdout.on("data", (b: Buffer) => {
      buf += b.toString("utf8");
      for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
        const msg = JSON.parse(buf.slice(0, i)) as Got & { ready?: boolean };
        buf = buf.slice(i + 1);
        if (msg.ready) {
          clearTimeout(timer);
          resolve();
        } else p.got.push(msg);
      }
    });
  });
}

function send(from: Peer, tag: string, count: number, everyMs: number): void {
  from.child!.stdin.write(`${tag} ${count} ${everyMs}\n`);
}

/** Who (other than the sender) received any datagram of `tag` from the sender's address. */
function receiversOf(from: Peer, tag: string): string[] {
  return peers
    .filter((p) => p !== from && p.got.some((g) => g.tag === tag && g.from === from.pod.ip))
    .map((p) => p.key)
    .sort();
}

type Expect = Record<string, string[]>;

/** One round: every sender sends three datagrams with a fresh tag; waits until the senders saw their
 *  own copies and all expected copies arrived (at most 1.2 s), then 400 ms more for unexpected ones.
 *  Returns sender → receivers. */
async function round(expect: Expect): Promise<Expect> {
  const tags = new Map<string, string>();
  for (const from of Object.keys(expect)) {
    const tag = `t${randomBytes(4).toString("hex")}`;
    tags.set(from, tag);
    send(P(from), tag, 3, 20);
  }
  const observe = (): Expect =>
    Object.fromEntries([...tags].map(([from, tag]) => [from, receiversOf(P(from), tag)]));
  // The sender's own copies (socket loopback) show the datagrams went out: a witness for the
  // senders whose expectation is "nobody".
  const sent = ([from, tag]: [string, string]) =>
    P(from).got.filter((g) => g.tag === tag && g.from === P(from).pod.ip).length >= 3;
  const complete = () =>
    [...tags].every(sent) &&
    Object.entries(expect).every(([from, want]) => want.every((w) => observe()[from]!.includes(w)));
  const deadline = Date.now() + 1200;
  while (Date.now() < deadline && !complete()) await sleep(25);
  const silent = [...tags].filter((t) => !sent(t)).map(([from]) => from);
  assert.deepEqual(silent, [], "senders whose own datagrams never came back (peer not sending?)");
  await sleep(400);
  return observe();
}

const sortedExpect = (e: Expect): Expect =>
  Object.fromEntries(Object.entries(e).map(([k, v]) => [k, [...v].sort()]));

/** Rounds until one whole round equals `expect` (the agents applied the change), or fail at the
 *  deadline with the last round's observation. Returns how long it took (ms). */
async function converge(what: string, expect: Expect, deadlineMs = CONVERGE_MS): Promise<number> {
  const want = sortedExpect(expect);
  const start = Date.now();
  let last: Expect = {};
  let rounds = 0;
  while (Date.now() - start < deadlineMs) {
    rounds++;
    last = await round(want);
    if (JSON.stringify(last) === JSON.stringify(want)) {
      const ms = Date.now() - start;
      process.stdout.write(`# ${what}: converged in ${rounds} round(s), ${ms} ms\n`);
      return ms;
    }
  }
  assert.deepEqual(last, want, `${what}: not converged after ${deadlineMs} ms (${rounds} rounds)`);
  return Date.now() - start;
}

/** Every round during `windowMs` must equal `expect` (states that must hold at every moment). */
async function holds(what: string, expect: Expect, windowMs: number): Promise<void> {
  const want = sortedExpect(expect);
  const start = Date.now();
  let rounds = 0;
  while (rounds === 0 || Date.now() - start < windowMs) {
    rounds++;
    assert.deepEqual(await round(want), want, `${what}: round ${rounds} (${Date.now() - start} ms in)`);
  }
  process.stdout.write(`# ${what}: held for ${rounds} round(s), ${Date.now() - start} ms\n`);
}

const NETNAMESPACE = findByKind("network.openshift.io/v1", "NetNamespace")!;

async function multicast(project: string, on: boolean): Promise<number> {
  const api = await L.api();
  await api.patch(
    NETNAMESPACE,
    "",
    project,
    { metadata: { annotations: { [MULTICAST_ANNOTATION]: on ? "true" : null } } },
    "merge",
  );
  const at = Date.now();
  const stored = await api.request<{ metadata: { annotations?: Record<string, string> } }>(
    "GET",
    `/apis/network.openshift.io/v1/netnamespaces/${project}`,
  );
  assert.equal(stored.metadata.annotations?.[MULTICAST_ANNOTATION], on ? "true" : undefined);
  return at;
}

async function adm(args: string[]): Promise<void> {
  const r = await L.egress(["adm", "pod-network", ...args]);
  assert.equal(r.code, 0, `egress adm pod-network ${args.join(" ")}: ${r.stderr}`);
}

// Layout: p1 on node1 twice (same node) and node2 (across nodes); p2 on node1 (beside p1) and node3;
// p3 on node2 (beside p1/c); default on node3 and node1.
const LAYOUT: [string, string, string][] = [
  ["p1", "a", "node1"],
  ["p1", "b", "node1"],
  ["p1", "c", "node2"],
  ["p2", "a", "node1"],
  ["p2", "b", "node3"],
  ["p3", "a", "node2"],
  ["default", "d", "node3"],
  ["default", "e", "node1"],
];
const ALL = LAYOUT.map(([ns, name]) => `${ns}/${name}`);
/** Every pod sends; nobody receives. */
const nobody = (senders = ALL): Expect => Object.fromEntries(senders.map((s) => [s, []]));
/** Each sender reaches exactly the other members of its group. */
const groups = (...gs: string[][]): Expect =>
  Object.fromEntries(gs.flatMap((g) => g.map((s) => [s, g.filter((x) => x !== s)])));

before(async () => {
  if (SKIP) return;
  const t0 = Date.now();
  await L.up("multitenant");
  for (const p of ["p1", "p2", "p3"]) await L.namespace(p);
  for (const p of ["p1", "p2", "p3", "default"]) await L.netid(p);
  const pods = await L.pods(LAYOUT.map(([namespace, name, node]) => ({ namespace, name, node })));
  for (const pod of pods) peers.push({ pod, key: `${pod.namespace}/${pod.name}`, got: [] });
  await Promise.all(peers.map(startPeer));
  // The agents have made the node's multicast plumbing (pod bridge, VXLAN port, table).
  for (const node of ["node1", "node2", "node3"])
    await waitFor(
      `multicast table on ${node}`,
      () => L.inNode(node, ["nft", "list", "table", "bridge", "egress-mcast"]).code === 0,
      15_000,
      200,
    );
  process.stdout.write(`# lab, pods and peers ready in ${Date.now() - t0} ms\n`);
});

after(() => {
  if (SKIP) return;
  for (const p of peers)
    if (p.child?.pid)
      try {
        process.kill(p.child.pid, "SIGKILL");
      } catch {
        /* gone */
      }
  L.down();
});

test("off by default: no pod receives any other pod's multicast", opts, async () => {
  assert.equal(await L.netid("default"), 0);
  await holds("off by default", nobody(), 1500);
});

test("on for p1 only: p1's pods on the same node and on other nodes, nobody else", opts, async () => {
  // A 50 ms stream from p1/a while the annotation is set: measures when the first copies arrive.
  const tag = `s${randomBytes(4).toString("hex")}`;
  const a = P("p1/a");
  const streamEnd = Date.now() + 50 * 50;
  send(a, tag, 50, 50);
  await sleep(300);
  const patched = await multicast("p1", true);
  assert.ok(streamEnd - patched > LIMIT_MS + 500, "the stream ended too soon after the patch");
  await sleep(Math.max(0, streamEnd - Date.now()) + 300);
  const first = (k: string) =>
    Math.min(
      ...P(k)
        .got.filter((g) => g.tag === tag && g.from === a.pod.ip)
        .map((g) => g.t),
    ) - patched;
  const started = Object.fromEntries(["p1/b", "p1/c"].map((k) => [k, first(k)] as const));
  process.stdout.write(`# p1 on: first datagram after the patch returned (ms): ${JSON.stringify(started)}\n`);
  for (const [k, ms] of Object.entries(started))
    assert.ok(ms <= LIMIT_MS, `${k} got p1/a's stream ${ms} ms after the patch (limit ${LIMIT_MS})`);
  assert.deepEqual(receiversOf(a, tag), ["p1/b", "p1/c"]);
  await converge("p1 on", { ...groups(["p1/a", "p1/b", "p1/c"]), ...nobody(ALL.slice(3)) });
});

test("p2 joined to p1 with multicast off on p2: p2 receives nothing, reaches nobody", opts, async () => {
  await adm(["join-projects", "--to=p1", "p2"]);
  assert.equal(await L.netid("p2"), await L.netid("p1"));
  // p2 must never receive, before or after the agents apply the new netid: observed throughout.
  await holds("p2 joined, off", { ...groups(["p1/a", "p1/b", "p1/c"]), ...nobody(ALL.slice(3)) }, 2500);
});

test("on for both joined projects: p1 and p2 exchange, across nodes and on one node", opts, async () => {
  await multicast("p2", true);
  await converge("p1+p2 on", {
    ...groups(["p1/a", "p1/b", "p1/c", "p2/a", "p2/b"]),
    ...nobody(["p3/a", "default/d", "default/e"]),
  });
});

test("annotation removed from p1: p1 stops within 1 s, p2 keeps its own", opts, async () => {
  // A 50 ms stream from p1/a to p1/b (same node), p1/c (other node) and p2/a, p2/b (joined).
  const tag = `s${randomBytes(4).toString("hex")}`;
  const a = P("p1/a");
  const streamEnd = Date.now() + 80 * 50;
  send(a, tag, 80, 50);
  const flowing = () => ["p1/b", "p1/c", "p2/a", "p2/b"].every((k) => receiversOf(a, tag).includes(k));
  await waitFor("the stream reaching p1 and p2", flowing, 2000, 25);
  const patched = await multicast("p1", false);
  assert.ok(streamEnd - patched > LIMIT_MS + 1000, "the stream ended too soon after the patch");
  await sleep(Math.max(0, streamEnd - Date.now()) + 300);
  const lastAfter = (k: string) =>
    Math.max(
      ...P(k)
        .got.filter((g) => g.tag === tag && g.from === a.pod.ip)
        .map((g) => g.t),
    );
  const late = Object.fromEntries(
    ["p1/b", "p1/c", "p2/a", "p2/b"].map((k) => [k, lastAfter(k) - patched] as const),
  );
  process.stdout.write(`# p1 off: last datagram after the patch returned (ms): ${JSON.stringify(late)}\n`);
  // The stream kept going (80 × 50 ms = 4 s) well past the limit, so a late copy would have shown.
  for (const [k, ms] of Object.entries(late))
    assert.ok(
      ms <= LIMIT_MS,
      `${k} still received p1/a's stream ${ms} ms after the patch (limit ${LIMIT_MS})`,
    );
  await converge("p1 off, p2 on", {
    ...groups(["p2/a", "p2/b"]),
    ...nobody(["p1/a", "p1/b", "p1/c", "p3/a", "default/d", "default/e"]),
  });
});

test("global projects (default, p3 made global) exchange only among themselves", opts, async () => {
  await adm(["make-projects-global", "p3"]);
  assert.equal(await L.netid("p3"), 0);
  await multicast("p1", true);
  await multicast("p3", true);
  await multicast("default", true);
  await converge("global on", {
    ...groups(["p1/a", "p1/b", "p1/c", "p2/a", "p2/b"], ["p3/a", "default/d", "default/e"]),
  });
  // One global project without the annotation drops out of the global group only.
  await multicast("p3", false);
  await converge("p3 off", {
    ...groups(["p1/a", "p1/b", "p1/c", "p2/a", "p2/b"], ["default/d", "default/e"]),
    "p3/a": [],
  });
});

test("isolate-projects p2 with multicast on for both: p1 and p2 each keep only their own", opts, async () => {
  await adm(["isolate-projects", "p2"]);
  assert.notEqual(await L.netid("p2"), await L.netid("p1"));
  await converge("p2 isolated", {
    ...groups(["p1/a", "p1/b", "p1/c"], ["p2/a", "p2/b"], ["default/d", "default/e"]),
    "p3/a": [],
  });
});

test(
  "a pod created while multicast is on, on a node without that project's pods, joins in",
  opts,
  async () => {
    const [pod] = await L.pods([{ namespace: "p1", name: "f", node: "node3" }]);
    const p: Peer = { pod: pod!, key: "p1/f", got: [] };
    peers.push(p);
    await startPeer(p);
    await converge("new p1 pod on node3", {
      ...groups(["p1/a", "p1/b", "p1/c", "p1/f"], ["p2/a", "p2/b"], ["default/d", "default/e"]),
      "p3/a": [],
    });
  },
);
