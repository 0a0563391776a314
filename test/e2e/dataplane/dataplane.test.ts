// Real packets through compiled node programs: three node namespaces on a fabric bridge, pods behind a
// bridge in each node, an external host with an echo server that reports the source address it sees.
// Programs are applied with the real execers (nft -f, ip -batch, arping, sysctl inside each node
// namespace). Needs root and nft; skipped otherwise. All namespaces are deleted in after().
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { applyNodeProgram } from "../../../src/dataplane/apply.js";
import {
  type CompileOptions,
  compileNodeProgram,
  REMOTE_EGRESS_DROP_COUNTER,
  TABLE_FAMILY,
  TABLE_NAME,
} from "../../../src/dataplane/compile/node-program.js";
import type {
  EgressIPView,
  NodeView,
  ProjectEgressView,
  ServiceView,
} from "../../../src/dataplane/compile/types.js";
import { diffIp } from "../../../src/dataplane/ip/diff.js";
import { RealIp } from "../../../src/dataplane/ip/execer.js";
import { readCounters } from "../../../src/dataplane/nft/counters.js";
import { NftError, RealNft } from "../../../src/dataplane/nft/execer.js";
import { currentGenerationListing } from "../../../src/dataplane/nft/generations.js";
import { rootSkip } from "../support/root-skip.js";
import { type LabNode, type LabPod, NetLab, sh } from "./netlab.js";

const skip = rootSkip(["nft", "arping"]);

const EXT = "192.168.126.200";
const EIP_A = "192.168.126.10";
const EIP_B = "192.168.126.102";

describe("dataplane e2e: compiled node programs with real packets", { skip, timeout: 120_000 }, () => {
  const lab = new NetLab();
  let nodes: LabNode[] = [];
  let p1: LabPod; // on n1
  let p2: LabPod; // on n2
  let extPort = 0;
  let p2Port = 0;

  interface Extras {
    egressIPs?: EgressIPView[];
    projectEgress?: ProjectEgressView[];
    services?: ServiceView[];
  }
  const viewFor = (n: LabNode, x: Extras): NodeView => ({
    node: {
      name: n.name,
      nodeIP: n.nodeIP,
      podSubnet: n.podSubnet,
      bridge: "egbr0",
      interfaces: [{ name: "eth0", address: `${n.nodeIP}/18` }],
    },
    nodes: nodes.map((m) => ({ name: m.name, nodeIP: m.nodeIP, podSubnet: m.podSubnet })),
    clusterCIDRs: ["10.128.0.0/14"],
    serviceCIDR: "172.30.0.0/16",
    localPods: [p1, p2].filter((p) => p.node === n).map((p) => ({ namespace: "t", name: p.name, ip: p.ip })),
    services: x.services ?? [],
    egressIPs: x.egressIPs ?? [],
    projectEgress: x.projectEgress ?? [],
  });
  async function programNode(n: LabNode, x: Extras = {}, opts: CompileOptions = {}): Promise<void> {
    const p = compileNodeProgram(viewFor(n, x), opts);
    assert.deepEqual(p.warnings, []);
    await applyNodeProgram({ nft: new RealNft({ netns: n.ns }), ip: new RealIp({ netns: n.ns }) }, p);
  }
  async function program(x: Extras = {}): Promise<void> {
    for (const n of nodes) await programNode(n, x);
  }
  const dropCount = async (n: LabNode) =>
    (await readCounters(new RealNft({ netns: n.ns }), TABLE_FAMILY, TABLE_NAME)).get(
      REMOTE_EGRESS_DROP_COUNTER,
    )?.packets ?? -1;
  const holder = (ip: string, n: LabNode) => ({ ip, node: n.name, nodeIP: n.nodeIP });
  const extNs = () => `egdp-${lab.tag}-ext`;
  /** Counters in the external host, counted before anything there can drop a packet (it has no
   *  route back to pod addresses): `pod_src` (a pod's address) and `node_src` (a node's). Returns
   *  the reader; `removeObserver()` deletes the table. */
  function observeSources(): (name: "pod_src" | "node_src") => number {
    sh(
      "ip",
      ["netns", "exec", extNs(), "nft", "-f", "-"],
      [
        "table ip obs {",
        "\tcounter pod_src {}",
        "\tcounter node_src {}",
        "\tchain pre {",
        "\t\ttype filter hook prerouting priority raw; policy accept;",
        '\t\tip saddr 10.128.0.0/14 counter name "pod_src"',
        `\t\tip saddr { ${nodes.map((n) => n.nodeIP).join(", ")} } counter name "node_src"`,
        "\t}",
        "}",
        "",
      ].join("\n"),
    );
    return (name) =>
      Number(
        /packets (\d+)/.exec(
          sh("ip", ["netns", "exec", extNs(), "nft", "list", "counter", "ip", "obs", name]),
        )?.[1],
      );
  }
  const removeObserver = () => sh("ip", ["netns", "exec", extNs(), "nft", "delete", "table", "ip", "obs"]);
  /** K UDP flows from p1 to a sink in the external host; `round()` sends one datagram per flow and
   *  returns how many were answered and the sources the sink saw. */
  async function udpFlows(k: number) {
    const sink = lab.udpPeer(extNs(), ["sink", EXT]);
    const port = await sink.next();
    const flows = lab.udpPeer(p1.ns, ["flows", EXT, port, String(k)]);
    const round = async () => {
      flows.send("send");
      const answers = Number(await flows.next());
      return { answers, sources: sink.drain().sort() };
    };
    return { sink, port, round };
  }

  before(async () => {
    try {
      lab.up();
      nodes = [
        lab.node("n1", "192.168.126.11", "10.128.0.0/23", "10.128.0.1"),
        lab.node("n2", "192.168.126.12", "10.128.2.0/23", "10.128.2.1"),
        lab.node("n3", "192.168.126.13", "10.128.4.0/23", "10.128.4.1"),
      ];
      lab.host("ext", `${EXT}/18`);
      p1 = lab.pod(nodes[0]!, "p1", "10.128.0.5");
      p2 = lab.pod(nodes[1]!, "p2", "10.128.2.5");
      extPort = await lab.echoServer(`egdp-${lab.tag}-ext`);
      p2Port = await lab.echoServer(p2.ns);
    } catch (e) {
      lab.destroy();
      throw e;
    }
  });
  after(() => lab.destroy());

  it("pod → external host leaves masqueraded to its node IP", async () => {
    await program();
    assert.deepEqual(lab.probe(p1.ns, EXT, extPort, 3), { seen: { "192.168.126.11": 3 }, failures: 0 });
  });

  it("pod → pod across nodes keeps the pod source address", async () => {
    await program();
    assert.deepEqual(lab.probe(p1.ns, p2.ip, p2Port, 2), { seen: { [p1.ip]: 2 }, failures: 0 });
  });

  it("pod → ClusterIP is DNATed to an endpoint on another node, source kept", async () => {
    const svc: ServiceView = {
      namespace: "t",
      name: "echo",
      clusterIP: "172.30.0.10",
      ports: [{ port: 80, protocol: "TCP", targetPort: p2Port }],
      endpoints: [{ ip: p2.ip }],
    };
    await program({ services: [svc] });
    assert.deepEqual(lab.probe(p1.ns, "172.30.0.10", 80, 2), { seen: { [p1.ip]: 2 }, failures: 0 });
  });

  it("EgressIP held by node 2: a pod on node 1 is seen as the egress IP; pod → pod untouched", async () => {
    await program({ egressIPs: [{ name: "e", ips: [holder(EIP_A, nodes[1]!)], podIPs: [p1.ip] }] });
    const addrs = sh("ip", ["-n", nodes[1]!.ns, "-4", "-o", "addr", "show", "dev", "eth0"]);
    assert.match(addrs, /192\.168\.126\.10\/32 .*eth0:eg/);
    assert.deepEqual(lab.probe(p1.ns, EXT, extPort, 5), { seen: { [EIP_A]: 5 }, failures: 0 });
    assert.deepEqual(lab.probe(p1.ns, p2.ip, p2Port, 1), { seen: { [p1.ip]: 1 }, failures: 0 });
  });

  it("EgressIP held locally: the pod is SNATed on its own node", async () => {
    await program({ egressIPs: [{ name: "e", ips: [holder(EIP_B, nodes[0]!)], podIPs: [p1.ip] }] });
    // the address moved: node 2 no longer has it
    assert.doesNotMatch(sh("ip", ["-n", nodes[1]!.ns, "-4", "-o", "addr"]), /192\.168\.126\.10\//);
    assert.deepEqual(lab.probe(p1.ns, EXT, extPort, 3), { seen: { [EIP_B]: 3 }, failures: 0 });
  });

  it("two EgressIPs on two other nodes: flows spread over both", async () => {
    await program({
      egressIPs: [{ name: "e", ips: [holder(EIP_A, nodes[1]!), holder(EIP_B, nodes[2]!)], podIPs: [p1.ip] }],
    });
    const r = lab.probe(p1.ns, EXT, extPort, 40);
    assert.equal(r.failures, 0);
    assert.deepEqual(Object.keys(r.seen).sort(), [EIP_B, EIP_A].sort());
    assert.ok((r.seen[EIP_A] ?? 0) >= 5 && (r.seen[EIP_B] ?? 0) >= 5, JSON.stringify(r.seen));
  });

  it("project egress dropped: external traffic is dropped, pod → pod still works", async () => {
    await program({
      projectEgress: [{ namespace: "t", podIPs: [p1.ip, p2.ip], state: { kind: "dropped" } }],
    });
    assert.deepEqual(lab.probe(p1.ns, EXT, extPort, 1, 700), { seen: {}, failures: 1 });
    assert.deepEqual(lab.probe(p1.ns, p2.ip, p2Port, 1), { seen: { [p1.ip]: 1 }, failures: 0 });
  });

  it("fails closed when the generation's maps are gone: new flows through a node with an empty `live` map are dropped", async () => {
    const x: Extras = { egressIPs: [{ name: "e", ips: [holder(EIP_A, nodes[1]!)], podIPs: [p1.ip] }] };
    await program(x);
    assert.deepEqual(lab.probe(p2.ns, EXT, extPort, 1), { seen: { "192.168.126.12": 1 }, failures: 0 });
    assert.deepEqual(lab.probe(p1.ns, EXT, extPort, 1), { seen: { [EIP_A]: 1 }, failures: 0 });
    // A packet still running the rules of a deleted generation finds none of its maps' elements
    // (docs/dataplane.md, "Packets that outlive their generation"). Emptying `live` alone on node 2
    // shows that the guards decide: every new flow through node 2's chains is refused, node 2's own
    // pod's (egress_pods missed → guard) and the one rerouted to node 2 for the egress IP alike.
    // The agent writes generations: the live one is the highest `live.g<N>`.
    const listing = sh("ip", [
      "netns",
      "exec",
      nodes[1]!.ns,
      "nft",
      "list",
      "table",
      TABLE_FAMILY,
      TABLE_NAME,
    ]);
    const live = [...listing.matchAll(/\tmap (live\.g(\d+)) \{/g)].sort(
      (a, b) => Number(b[2]) - Number(a[2]),
    )[0];
    assert.ok(live, "a live.g<N> map in node 2's table");
    sh("ip", ["netns", "exec", nodes[1]!.ns, "nft", "flush", "map", TABLE_FAMILY, TABLE_NAME, live[1]!]);
    assert.deepEqual(lab.probe(p2.ns, EXT, extPort, 1, 700), { seen: {}, failures: 1 });
    assert.deepEqual(lab.probe(p1.ns, EXT, extPort, 1, 700), { seen: {}, failures: 1 });
    await program(x);
    assert.deepEqual(lab.probe(p2.ns, EXT, extPort, 1), { seen: { "192.168.126.12": 1 }, failures: 0 });
    assert.deepEqual(lab.probe(p1.ns, EXT, extPort, 1), { seen: { [EIP_A]: 1 }, failures: 0 });
  });

  it("project egress normal, hosted on node 3: seen as the project's egress IP", async () => {
    await program({
      projectEgress: [
        {
          namespace: "t",
          podIPs: [p1.ip, p2.ip],
          state: { kind: "normal", egressIP: EIP_A, node: "n3", nodeIP: nodes[2]!.nodeIP },
        },
      ],
    });
    assert.deepEqual(lab.probe(p1.ns, EXT, extPort, 2), { seen: { [EIP_A]: 2 }, failures: 0 });
    assert.deepEqual(lab.probe(p2.ns, EXT, extPort, 2), { seen: { [EIP_A]: 2 }, failures: 0 });
  });

  it("EgressIP move: node 2 reroutes to node 3 before node 3 holds the IP → dropped, never node 3's IP", async () => {
    const [n1, n2, n3] = nodes as [LabNode, LabNode, LabNode];
    // The lab incident: n1 (old holder) is cut off, the IP now belongs to n3. n2 already reroutes p2's
    // new flows to n3; n3's program still shows the old assignment, so it has no SNAT entry for p2.
    const moved: Extras = { egressIPs: [{ name: "e", ips: [holder(EIP_A, n3)], podIPs: [p2.ip] }] };
    const old: Extras = { egressIPs: [{ name: "e", ips: [holder(EIP_A, n1)], podIPs: [p2.ip] }] };
    await programNode(n1, moved); // cut off: whatever it does, it no longer answers for the IP
    await programNode(n2, moved);
    await programNode(n3, old);
    assert.equal(await dropCount(n3), 0);
    assert.deepEqual(lab.probe(p2.ns, EXT, extPort, 2, 700), { seen: {}, failures: 2 });
    assert.ok((await dropCount(n3)) >= 2, "node 3 counts the dropped flows");
    assert.equal(await dropCount(n2), 0, "node 2 (the pod's node) drops nothing");

    // A connection attempted during the gap completes once n3 holds the IP: its first SYN left no
    // conntrack entry on n3, so the retransmission is SNATed afresh (n2 keeps routing it to n3).
    const dropsBefore = await dropCount(n3);
    const pending = lab.probeAsync(p2.ns, EXT, extPort, 1, 6000);
    for (const deadline = Date.now() + 3000; (await dropCount(n3)) <= dropsBefore; ) {
      assert.ok(Date.now() < deadline, "the pending connection's first SYN was not dropped on node 3");
      await new Promise((r) => setTimeout(r, 50));
    }
    const carried = (await readCounters(new RealNft({ netns: n3.ns }), TABLE_FAMILY, TABLE_NAME)).get(
      REMOTE_EGRESS_DROP_COUNTER,
    )!;
    await programNode(n3, moved, { counters: { [REMOTE_EGRESS_DROP_COUNTER]: carried } });
    assert.deepEqual(await pending, { seen: { [EIP_A]: 1 }, failures: 0 });
    assert.equal(await dropCount(n3), carried.packets, "counter carried over the re-apply, no new drops");
    assert.deepEqual(lab.probe(p2.ns, EXT, extPort, 3), { seen: { [EIP_A]: 3 }, failures: 0 });
  });

  it("failover to this node plus another: flows re-pathed mid-stream go to the other holder, never out with the pod's address", async () => {
    const [n1, n2, n3] = nodes as [LabNode, LabNode, LabNode];
    const counted = observeSources();
    try {
      const K = 12; // flows: with a 50/50 choice, all 12 landing on one side by chance is 1 in 2,048
      const { sink, port, round } = await udpFlows(K);
      // The flows start on holder n2 and are answered: established in n1's conntrack with n2's mark.
      await program({ egressIPs: [{ name: "e", ips: [holder(EIP_A, n2)], podIPs: [p1.ip] }] });
      assert.deepEqual(await round(), { answers: K, sources: Array(K).fill(EIP_A) });
      // n2 fails; the EgressIP's two addresses are now held by n1 (the pod's node) and n3. n2's mark
      // is dead on n1, so each flow is re-pathed. A new flow may stay on n1 (SNATed there), an old
      // one may not: nothing on n1 NATs it mid-stream. All go to n3, which SNATs them afresh.
      await program({
        egressIPs: [{ name: "e", ips: [holder(EIP_B, n1), holder(EIP_A, n3)], podIPs: [p1.ip] }],
      });
      assert.deepEqual(await round(), { answers: K, sources: Array(K).fill(EIP_A) });
      assert.equal(counted("pod_src"), 0, "no datagram left with the pod's address");
      assert.equal(counted("node_src"), 0, "none was masqueraded to a node address");
      // New flows do use the local holder too (the choice for new flows still includes mark 0).
      const fresh = lab.udpPeer(p1.ns, ["flows", EXT, port, String(K)]);
      fresh.send("send");
      assert.equal(Number(await fresh.next()), K);
      const seen = new Set(sink.drain());
      assert.ok(seen.has(EIP_B) && seen.has(EIP_A), `new flows use both holders: ${[...seen]}`);
    } finally {
      removeObserver();
    }
  });

  it("a stale packet of a re-pathed flow (egress-repath flushed, `live` gone) is dropped, never out with the pod's address", async () => {
    const [n1, n2] = nodes as [LabNode, LabNode];
    const counted = observeSources();
    /** The kernel name of `name` in n1's live generation (the highest `name.g<N>`). */
    const current = (kind: string, name: string): string => {
      const listing = sh("ip", ["netns", "exec", n1.ns, "nft", "list", "table", TABLE_FAMILY, TABLE_NAME]);
      const re = new RegExp(`\\t${kind} (${name.replace(/[-.]/g, "\\$&")}\\.g(\\d+)) \\{`, "g");
      const found = [...listing.matchAll(re)].sort((a, b) => Number(b[2]) - Number(a[2]))[0];
      assert.ok(found, `${kind} ${name}.g<N> in n1's table`);
      return found[1]!;
    };
    const nft1 = (...args: string[]) => sh("ip", ["netns", "exec", n1.ns, "nft", ...args]);
    try {
      const K = 4;
      const { round } = await udpFlows(K);
      // Established on n1 with n2's holder mark, SNATed on n2.
      await program({ egressIPs: [{ name: "e", ips: [holder(EIP_A, n2)], podIPs: [p1.ip] }] });
      assert.deepEqual(await round(), { answers: K, sources: Array(K).fill(EIP_A) });
      // What the flows' next packets meet if they entered egress-mark just before two updates: the
      // holder's mark no longer live (here: live_marks emptied), egress-repath already deleted (a
      // deleted generation's chains are flushed first), `live` without its elements.
      nft1("flush", "set", TABLE_FAMILY, TABLE_NAME, current("set", "live_marks"));
      nft1("flush", "chain", TABLE_FAMILY, TABLE_NAME, current("chain", "egress-repath"));
      nft1("delete", "element", TABLE_FAMILY, TABLE_NAME, current("map", "live"), "{ ipv4 }");
      assert.deepEqual(await round(), { answers: 0, sources: [] }, "dropped on n1");
      assert.equal(counted("pod_src"), 0, "no datagram left with the pod's address");
      // A current generation again: n2 is a live holder, the flows go on through it.
      await program({ egressIPs: [{ name: "e", ips: [holder(EIP_A, n2)], podIPs: [p1.ip] }] });
      assert.deepEqual(await round(), { answers: K, sources: Array(K).fill(EIP_A) });
      assert.equal(counted("pod_src"), 0);
    } finally {
      removeObserver();
    }
  });

  it("no holder: a stale reroute is dropped on the receiving node; the pod's own node uses its node IP", async () => {
    const [, n2, n3] = nodes as [LabNode, LabNode, LabNode];
    const none: Extras = { egressIPs: [{ name: "e", ips: [], podIPs: [p1.ip, p2.ip] }] };
    const stale: Extras = { egressIPs: [{ name: "e", ips: [holder(EIP_A, n3)], podIPs: [p1.ip, p2.ip] }] };
    await program(none);
    await programNode(n2, stale); // n2 has not seen the unassignment yet
    assert.deepEqual(lab.probe(p2.ns, EXT, extPort, 1, 700), { seen: {}, failures: 1 });
    assert.ok((await dropCount(n3)) >= 1);
    await programNode(n2, none);
    assert.deepEqual(lab.probe(p2.ns, EXT, extPort, 2), { seen: { [n2.nodeIP]: 2 }, failures: 0 });
    assert.deepEqual(lab.probe(p1.ns, EXT, extPort, 2), { seen: { [nodes[0]!.nodeIP]: 2 }, failures: 0 });
    assert.equal(await dropCount(nodes[0]!), 0, "local pods never hit the remote-pod drop");
    assert.equal(await dropCount(n2), 0, "local pods never hit the remote-pod drop");
  });

  it("re-applying the same program changes nothing; no holder → back to the node IP", async () => {
    const x: Extras = { egressIPs: [{ name: "e", ips: [holder(EIP_A, nodes[1]!)], podIPs: [p1.ip] }] };
    await program(x);
    const n2 = nodes[1]!;
    // Each apply writes a new generation of the table's sets, maps and chains (nft/generations.ts):
    // the live generation, suffixes stripped, must be what it was.
    const table = () =>
      currentGenerationListing(
        sh("ip", ["netns", "exec", n2.ns, "nft", "list", "table", TABLE_FAMILY, TABLE_NAME]),
      );
    const before = table();
    await program(x);
    assert.equal(table(), before);
    for (const n of nodes) {
      const p = compileNodeProgram(viewFor(n, x));
      assert.deepEqual(diffIp(p.ip, await new RealIp({ netns: n.ns }).read()), [], n.name);
    }
    await program({ egressIPs: [{ name: "e", ips: [], podIPs: [p1.ip] }] });
    assert.deepEqual(lab.probe(p1.ns, EXT, extPort, 2), { seen: { "192.168.126.11": 2 }, failures: 0 });
    const left = await new RealIp({ netns: nodes[0]!.ns }).read();
    assert.deepEqual(
      left.rules.filter((r) => r.protocol === "201"),
      [],
      "node 1 keeps no egress rule",
    );
    assert.doesNotMatch(sh("ip", ["-n", n2.ns, "-4", "-o", "addr"]), /eth0:eg/);
  });

  it("a refused script changes nothing (one transaction) and names the failing line", async () => {
    await program();
    const nft = new RealNft({ netns: nodes[0]!.ns });
    const before = JSON.stringify(await nft.listJson(TABLE_FAMILY, TABLE_NAME));
    const good = compileNodeProgram(viewFor(nodes[0]!, {})).nft;
    const bad = good.replace("jump services", "jump no-such-chain");
    await assert.rejects(nft.check(bad), NftError);
    await assert.rejects(nft.apply(bad), (e: unknown) => e instanceof NftError && e.line !== undefined);
    assert.equal(JSON.stringify(await nft.listJson(TABLE_FAMILY, TABLE_NAME)), before);
  });
});
