// Multicast per project with real packets (MISSION §9): two node namespaces on a fabric bridge, each
// with a pod bridge (snooping left on, as a fresh bridge has it) and four pod namespaces plugged in by
// veths named like the CNI bridge plugin's (`veth<hex>`). MulticastSync (the agent's adapter) runs
// against each node namespace: it turns snooping off, adds the VXLAN port and its FDB entries, finds
// the pods' veths by itself and applies the compiled `bridge egress-mcast` table. A small UDP peer in
// every pod joins a group and sends on request; the test asserts who received what.
// Needs root, ip, bridge and nft; skipped otherwise. Every namespace and process is removed in after().
import assert from "node:assert/strict";
import { type ChildProcessByStdio, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import type { Readable, Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { MulticastSync } from "../../../src/agent/multicast.js";
import { compileNodeProgram } from "../../../src/dataplane/compile/node-program.js";
import type { PolicyNamespace, PolicyView } from "../../../src/dataplane/compile/policy/types.js";
import { RealNft } from "../../../src/dataplane/nft/execer.js";
import { logger } from "../../../src/util/log.js";
import { rootSkip } from "../support/root-skip.js";

const skip = rootSkip(["nft", "bridge"]);

const sh = (cmd: string, args: string[]) =>
  execFileSync(cmd, args, { encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] });
const ipn = (ns: string, ...args: string[]) => sh("ip", ["-n", ns, ...args]);

const GROUP = "239.7.7.7";
const PORT = 5007;

// One process per pod: receives on GROUP:PORT and prints one JSON line per datagram; on a stdin line
// "<tag> <dst> <size>" sends three datagrams "<tag> xxx…" of <size> bytes to <dst> with TTL 1.
const PEER = `
const dgram = require("node:dgram");
const rl = require("node:readline");
const G = process.env.MC_GROUP, P = Number(process.env.MC_PORT);
const r = dgram.createSocket({ type: "udp4", reuseAddr: true });
r.on("message", (m, ri) => process.stdout.write(JSON.stringify({ tag: m.toString().split(" ")[0], from: ri.address, len: m.length }) + "\\n"));
r.bind(P, () => { r.addMembership(G); s.bind(() => { s.setMulticastTTL(1); s.setBroadcast(true); process.stdout.write('{"ready":true}\\n'); }); });
const s = dgram.createSocket("udp4");
rl.createInterface({ input: process.stdin }).on("line", (l) => {
  const [tag, dst, size] = l.split(" ");
  const buf = Buffer.alloc(Math.max(Number(size) || 0, tag.length + 1), "x");
  buf.write(tag + " ");
  let i = 0;
  const t = setInterval(() => { s.send(buf, P, dst); if (++i >= 3) clearInterval(t); }, 15);
});
`;

interface Pod {
  name: string;
  namespace: string;
  netns: string;
  ip: string;
  node: 1 | 2;
  peer?: ChildProcessByStdio<Writable, Readable, null>;
  got: { tag: string; from: string; len: number }[];
}

const NODE_IP = { 1: "192.168.126.11", 2: "192.168.126.12" } as const;
// Namespaces: alpha and beta joined (netid 10), gamma alone (20), default and glob2 global (0).
const NETID: Record<string, number> = { alpha: 10, beta: 10, gamma: 20, default: 0, glob2: 0 };

describe("multicast per project (real packets, two nodes)", { skip }, () => {
  const tag = randomBytes(3).toString("hex");
  const created: string[] = [];
  const nsName = (s: string) => `egmc-${tag}-${s}`;
  const pods: Pod[] = [];
  const syncs = new Map<1 | 2, MulticastSync>();
  const log = logger("multicast-e2e");

  const addNs = (suffix: string) => {
    const n = nsName(suffix);
    sh("ip", ["netns", "add", n]);
    created.push(n);
    ipn(n, "link", "set", "lo", "up");
    return n;
  };
  const fabric = () => nsName("fab");
  const nodeNs = (n: 1 | 2) => nsName(`n${n}`);

  function view(node: 1 | 2, on: string[], opts: { withoutOtherNode?: boolean } = {}): PolicyView {
    const namespaces: PolicyNamespace[] = Object.entries(NETID).map(([name, netid]) => ({
      name,
      labels: {},
      netid,
      multicast: on.includes(name),
    }));
    const other = node === 1 ? 2 : 1;
    return {
      mode: "multitenant",
      node: `node${node}`,
      podSubnet: node === 1 ? "10.128.0.0/23" : "10.128.2.0/23",
      clusterCIDRs: ["10.128.0.0/14"],
      serviceCIDR: "172.30.0.0/16",
      nodes: [
        { name: `node${node}`, ips: [NODE_IP[node]], labels: {} },
        ...(opts.withoutOtherNode ? [] : [{ name: `node${other}`, ips: [NODE_IP[other]], labels: {} }]),
      ],
      dnsServers: [],
      pods: pods.map((p) => ({
        namespace: p.namespace,
        name: p.name,
        ip: p.ip,
        labels: {},
        ports: [],
        local: p.node === node,
      })),
      namespaces,
      networkPolicies: [],
      egressFirewalls: [],
    };
  }

  async function enable(on: string[]): Promise<void> {
    await syncs.get(1)!.apply(view(1, on));
    await syncs.get(2)!.apply(view(2, on));
  }

  const byName = (n: string) => pods.find((p) => p.name === n)!;

  /** `from` sends (three datagrams); resolves with the names of the other pods that received it. */
  async function send(from: string, expect: string[], dst = GROUP, size = 0): Promise<string[]> {
    const t = `t${randomBytes(4).toString("hex")}`;
    const sender = byName(from);
    sender.peer!.stdin.write(`${t} ${dst} ${size}\n`);
    const receivers = () =>
      pods
        .filter((p) => p !== sender && p.got.some((g) => g.tag === t && g.from === sender.ip))
        .map((p) => p.name);
    const deadline = Date.now() + 3000;
    while (Date.now() < deadline && !expect.every((e) => receivers().includes(e)))
      await new Promise((r) => setTimeout(r, 50));
    // Long enough for an unexpected copy to show up too.
    await new Promise((r) => setTimeout(r, 400));
    if (size > 0)
      for (const p of pods)
        for (const g of p.got)
          if (g.tag === t) assert.equal(g.len, size, `${p.name} got a truncated datagram`);
    return receivers().sort();
  }

  before(async () => {
    addNs("fab");
    ipn(fabric(), "link", "add", "name", "br0", "type", "bridge");
    ipn(fabric(), "link", "set", "br0", "up");
    for (const n of [1, 2] as const) {
      const ns = addNs(`n${n}`);
      ipn(ns, "link", "add", "eth0", "type", "veth", "peer", "name", `v${n}`, "netns", fabric());
      ipn(fabric(), "link", "set", `v${n}`, "master", "br0", "up");
      ipn(ns, "addr", "add", `${NODE_IP[n]}/18`, "dev", "eth0");
      ipn(ns, "link", "set", "eth0", "up");
      ipn(ns, "link", "add", "name", "cbr0", "type", "bridge");
      ipn(ns, "addr", "add", `10.128.${(n - 1) * 2}.1/23`, "dev", "cbr0");
      ipn(ns, "link", "set", "cbr0", "up");
    }
    const layout: [string, string, 1 | 2][] = [
      ["a1", "alpha", 1],
      ["b1", "beta", 1],
      ["g1", "gamma", 1],
      ["d1", "default", 1],
      ["a2", "alpha", 2],
      ["b2", "beta", 2],
      ["g2", "gamma", 2],
      ["x2", "glob2", 2],
    ];
    layout.forEach(([name, namespace, node], i) => {
      const netns = addNs(name);
      const hostVeth = `veth${randomBytes(4).toString("hex")}`;
      const ip = `10.128.${(node - 1) * 2}.${10 + i}`;
      // Created inside the pod's namespace, the host end straight in the node's: nothing in the root.
      ipn(netns, "link", "add", "eth0", "type", "veth", "peer", "name", hostVeth, "netns", nodeNs(node));
      ipn(nodeNs(node), "link", "set", hostVeth, "master", "cbr0", "up");
      ipn(nodeNs(node), "link", "set", hostVeth, "type", "bridge_slave", "hairpin", "on"); // as CNI does
      ipn(netns, "addr", "add", `${ip}/23`, "dev", "eth0");
      ipn(netns, "link", "set", "eth0", "up");
      ipn(netns, "route", "add", "default", "via", `10.128.${(node - 1) * 2}.1`);
      pods.push({ name, namespace, netns, ip, node, got: [] });
    });
    for (const n of [1, 2] as const)
      syncs.set(
        n,
        new MulticastSync({
          bridge: "cbr0",
          // node2 learns its address later, as the agent does from its registration.
          nodeIP: n === 1 ? NODE_IP[1] : () => NODE_IP[2],
          nft: new RealNft({ netns: nodeNs(n) }),
          log,
          netns: nodeNs(n),
        }),
      );
    await Promise.all(
      pods.map(
        (p) =>
          new Promise<void>((resolve, reject) => {
            const child = spawn("ip", ["netns", "exec", p.netns, process.execPath, "-e", PEER], {
              env: { ...process.env, MC_GROUP: GROUP, MC_PORT: String(PORT) },
              stdio: ["pipe", "pipe", "inherit"],
            });
            p.peer = child;
            let buf = "";
            child.once("error", reject);
            child.stdout.on("data", (b: Buffer) => {
              buf += b.toString("utf8");
              let i = buf.indexOf("\n");
              while (i >= 0) {
                const msg = JSON.parse(buf.slice(0, i)) as {
                  ready?: boolean;
                  tag: string;
                  from: string;
                  len: number;
                };
                buf = buf.slice(i + 1);
                if (msg.ready) resolve();
                else p.got.push(msg);
                i = buf.indexOf("\n");
              }
            });
          }),
      ),
    );
  });

  after(async () => {
    for (const s of syncs.values()) await s.close().catch(() => {});
    for (const p of pods) p.peer?.kill("SIGKILL");
    for (const n of created.reverse()) {
      try {
        sh("ip", ["netns", "del", n]);
      } catch {
        // already gone
      }
    }
  });

  it("sets the node up: snooping off, VXLAN port with an FDB entry per other node, pod veths found", async () => {
    await enable([]);
    for (const n of [1, 2] as const) {
      const br = JSON.parse(ipn(nodeNs(n), "-j", "-d", "link", "show", "dev", "cbr0")) as {
        linkinfo: { info_data: { mcast_snooping: number } };
      }[];
      assert.equal(br[0]?.linkinfo.info_data.mcast_snooping, 0);
      const fdb = JSON.parse(
        sh("ip", ["netns", "exec", nodeNs(n), "bridge", "-j", "fdb", "show", "dev", "egmc0"]),
      ) as {
        mac: string;
        dst?: string;
      }[];
      assert.deepEqual(
        fdb.filter((e) => e.mac === "00:00:00:00:00:00").map((e) => e.dst),
        [NODE_IP[n === 1 ? 2 : 1]],
      );
      const found = await syncs.get(n)!.discoverPodPorts();
      assert.deepEqual(
        found.map((f) => f.ip).sort(),
        pods
          .filter((p) => p.node === n)
          .map((p) => p.ip)
          .sort(),
      );
      assert.ok(found.every((f) => /^veth[0-9a-f]{8}$/.test(f.ifname)));
    }
    // No pod bridge yet (the CNI plugin makes it with the first pod): nothing to do, no error.
    const early = new MulticastSync({
      bridge: "nobr0",
      nodeIP: () => NODE_IP[1],
      nft: new RealNft({ netns: nodeNs(1) }),
      log,
      netns: nodeNs(1),
      vxlan: "egmcx",
    });
    await early.apply(view(1, ["alpha"]));
    assert.throws(() => ipn(nodeNs(1), "link", "show", "dev", "egmcx"));
    // Same view again: nothing re-applied, and no command run (a policy sync for another reason
    // costs multicast nothing); a changed view is synced in full.
    const before1 = syncs.get(1)!.appliedCount;
    const checks1 = syncs.get(1)!.checkCount;
    await enable([]);
    assert.equal(syncs.get(1)!.appliedCount, before1);
    assert.equal(syncs.get(1)!.checkCount, checks1);
    await syncs.get(1)!.apply(view(1, ["alpha"]));
    assert.equal(syncs.get(1)!.checkCount, checks1 + 1);
    assert.equal(syncs.get(1)!.appliedCount, before1 + 1);
  });

  it("off by default: nobody receives", async () => {
    await enable([]);
    assert.deepEqual(await send("a1", []), []);
  });

  it("on for one project: its own pods across nodes; the joined project that has it off gets nothing", async () => {
    await enable(["alpha"]);
    assert.deepEqual(await send("a1", ["a2"]), ["a2"]);
    assert.deepEqual(await send("b1", []), []);
  });

  it("a sender whose project has no receivers on the other node reaches nobody there", async () => {
    // x2's own node lets it out (glob2 is on); node1 has no pod of a multicast-enabled global project.
    await enable(["alpha", "glob2"]);
    assert.deepEqual(await send("x2", []), []);
  });

  it("joined projects with it on each: both ways, same node and across nodes", async () => {
    await enable(["alpha", "beta"]);
    assert.deepEqual(await send("a1", ["b1", "a2", "b2"]), ["a2", "b1", "b2"]);
    assert.deepEqual(await send("b2", ["a1", "b1", "a2"]), ["a1", "a2", "b1"]);
  });

  it("different netids do not mix", async () => {
    await enable(["alpha", "beta", "gamma"]);
    assert.deepEqual(await send("g1", ["g2"]), ["g2"]);
    assert.deepEqual(await send("a2", ["a1", "b1", "b2"]), ["a1", "b1", "b2"]);
  });

  it("a stale packet that finds the generation's chain flushed is dropped, not handed to every port", async () => {
    await enable(["alpha", "gamma"]);
    assert.deepEqual(await send("a1", ["a2"]), ["a2"]);
    // Deleting a generation flushes its chains first; a packet that entered the base chain before
    // finds from-pod empty and returns to the base chain (docs/policy.md, "Multicast").
    const listing = sh("ip", ["netns", "exec", nodeNs(1), "nft", "list", "table", "bridge", "egress-mcast"]);
    const chain = [...listing.matchAll(/\tchain (from-pod(?:\.g(\d+))?) \{/g)].sort(
      (a, b) => Number(b[2] ?? 0) - Number(a[2] ?? 0),
    )[0];
    assert.ok(chain, "from-pod in node1's multicast table");
    sh("ip", ["netns", "exec", nodeNs(1), "nft", "flush", "chain", "bridge", "egress-mcast", chain[1]!]);
    // a1's copies to local ports are dropped after the return (b1, g1, d1 would get them through
    // the base chain's accept); the copy into the overlay is judged by to-vxlan, untouched.
    assert.deepEqual(await send("a1", ["a2"]), ["a2"]);
    await enable(["alpha"]); // a new generation: from-pod filled again
    assert.deepEqual(await send("a1", ["a2"]), ["a2"]);
  });

  it("global projects exchange only with global projects", async () => {
    await enable(["alpha", "beta", "gamma", "default", "glob2"]);
    assert.deepEqual(await send("d1", ["x2"]), ["x2"]);
    assert.deepEqual(await send("x2", ["d1"]), ["d1"]);
    assert.deepEqual(await send("a1", ["b1", "a2", "b2"]), ["a2", "b1", "b2"]);
  });

  it("full-size datagrams cross nodes (the VXLAN port keeps MTU 1500)", async () => {
    await enable(["alpha"]);
    assert.deepEqual(await send("a1", ["a2"], GROUP, 1400), ["a2"]);
  });

  it("broadcast stays on its node (only IPv4 multicast enters the overlay)", async () => {
    await enable(["alpha", "beta", "gamma", "default", "glob2"]);
    // Local broadcast is left to the bridge and the policy tables; none of it crosses to node2.
    assert.deepEqual(await send("a1", ["b1", "g1", "d1"], "255.255.255.255"), ["b1", "d1", "g1"]);
  });

  it("a node that left the view gets no more copies (its FDB entry is removed)", async () => {
    await syncs.get(1)!.apply(view(1, ["alpha", "beta"], { withoutOtherNode: true }));
    await syncs.get(2)!.apply(view(2, ["alpha", "beta"]));
    const fdb = sh("ip", ["netns", "exec", nodeNs(1), "bridge", "fdb", "show", "dev", "egmc0"]);
    assert.doesNotMatch(fdb, /00:00:00:00:00:00/);
    assert.deepEqual(await send("a1", ["b1"]), ["b1"]);
  });

  it("still works with the node program's inet table loaded (bridged multicast passes its hooks)", async () => {
    // br_netfilter is on in node namespaces: bridged IPv4, multicast included, also crosses the inet
    // hooks (conntrack, NAT) of `inet egress-node`. Remote pods' multicast must not be taken for
    // rerouted egress traffic there.
    for (const n of [1, 2] as const) {
      const podSubnet = n === 1 ? "10.128.0.0/23" : "10.128.2.0/23";
      const program = compileNodeProgram({
        node: {
          name: `node${n}`,
          nodeIP: NODE_IP[n],
          podSubnet,
          interfaces: [{ name: "eth0", address: `${NODE_IP[n]}/18` }],
          bridge: "cbr0",
        },
        nodes: [
          { name: "node1", nodeIP: NODE_IP[1], podSubnet: "10.128.0.0/23" },
          { name: "node2", nodeIP: NODE_IP[2], podSubnet: "10.128.2.0/23" },
        ],
        clusterCIDRs: ["10.128.0.0/14"],
        serviceCIDR: "172.30.0.0/16",
        localPods: pods
          .filter((p) => p.node === n)
          .map((p) => ({ namespace: p.namespace, name: p.name, ip: p.ip })),
        services: [],
        egressIPs: [],
        projectEgress: [],
      });
      await new RealNft({ netns: nodeNs(n) }).apply(program.nft);
    }
    await enable(["alpha", "beta"]);
    assert.deepEqual(await send("a1", ["b1", "a2", "b2"]), ["a2", "b1", "b2"]);
    assert.deepEqual(await send("b2", ["a1", "b1", "a2"]), ["a1", "a2", "b1"]);
  });
});
