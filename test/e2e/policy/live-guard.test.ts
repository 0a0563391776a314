// The policy table's fail-closed guards on the real kernel (docs/policy.md, "Packets that outlive their
// generation"). Programs are written as the agent writes them (GenerationalTable: sets, maps and
// chains named `<name>.g<N>`); the current generation's `live` map is found by its kernel name.
// Deleting a map deactivates its elements, the same as `nft delete element`/`flush map` does, so a
// generation's deleted maps can be modelled by emptying them in place (a deleted SET keeps answering:
// emptying a set is not a model of deleting it, which is why the old `ip saddr != @live` guard passed
// its flush test and failed under real deletions). Real TCP connections through a node namespace with
// a pod bridge (br_netfilter on), two pods of different namespaces and an outside host:
//   (1) multitenant: with `ipv4` deleted from `live.g<N>` every new flow that reaches a guarded accept
//       is dropped (the firewall chain's final accept, DNS to the resolver, the base chain's end,
//       pod → pod after the multitenant jump); with it added back every flow passes again;
//   (2) networkpolicy: an egress-isolated pod's new flows are dropped by the NetworkPolicy chain; with
//       `np_egress_pods.g<N>` (a hash map) emptied they miss it and are accepted while `live` holds
//       ipv4 (the fail-open path of a stale packet), and dropped once `live` misses too (what a stale
//       packet meets when the generation with both maps is deleted).
// Needs root and nft; skipped otherwise. Every namespace and process started is removed in after().
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { parseV4 } from "../../../src/dataplane/compile/ipv4.js";
import { compileWithResolved, LIVE_SET } from "../../../src/dataplane/compile/policy/compile.js";
import { baseView, pod } from "../../../src/dataplane/compile/policy/fixtures.js";
import {
  type EgressFirewallView,
  type LocalPodPolicy,
  POLICY_TABLE,
  type PolicyView,
} from "../../../src/dataplane/compile/policy/types.js";
import { RealNft } from "../../../src/dataplane/nft/execer.js";
import { GenerationalTable } from "../../../src/dataplane/nft/generations.js";
import { type LabNode, type LabPod, NetLab, sh } from "../dataplane/netlab.js";
import { rootSkip } from "../support/root-skip.js";

const skip = rootSkip(["nft"]);
const EXT = "192.168.126.200";
const T = `${POLICY_TABLE.family} ${POLICY_TABLE.name}`;
/** A refused connection costs this long; an accepted one much less. */
const PROBE_MS = 1000;

describe("policy e2e: fail-closed `live` guards (generational table)", { skip, timeout: 180_000 }, () => {
  const lab = new NetLab();
  let node: LabNode;
  let pa: LabPod; // namespace a
  let pb: LabPod; // namespace b
  let table: GenerationalTable;
  let extPort = 0;
  let pbPort = 0;

  before(async () => {
    let ext: string;
    ({ node, pa, pb, ext } = lab.policyNode(EXT));
    extPort = await lab.echoServer(ext);
    pbPort = await lab.echoServer(pb.ns);
    // The resolver: TCP port 53 on the outside host (the firewall chain accepts DNS first).
    lab.spawnIn(ext, [
      process.execPath,
      "-e",
      // Answers as echo-server.js does (the client's address, then close): what lab.probe expects.
      "require('net').createServer((s) => { s.on('error', () => {}); s.end(s.remoteAddress.replace(/^::ffff:/, '') + '\\n'); }).listen(53)",
    ]);
    table = new GenerationalTable(new RealNft({ netns: node.ns }), POLICY_TABLE.family, POLICY_TABLE.name);
  });
  after(() => lab.destroy());

  const nftIn = (...args: string[]) => sh("ip", ["netns", "exec", node.ns, "nft", ...args]);
  const ok = (p: LabPod, host: string, port: number) =>
    lab.probe(p.ns, host, port, 1, PROBE_MS).failures === 0;
  const view = (over: Partial<PolicyView>): PolicyView =>
    baseView({
      podSubnet: node.podSubnet,
      nodes: [{ name: "n1", ips: [node.nodeIP], labels: {} }],
      dnsServers: [EXT],
      pods: [pod("a", "pa", pa.ip), pod("b", "pb", pb.ip)],
      namespaces: [
        { name: "a", labels: {}, netid: 10, multicast: false },
        { name: "b", labels: {}, netid: 10, multicast: false },
      ],
      ...over,
    });
  /** Writes `v` as two generations (so a previous one exists, as after any agent update). */
  const write = async (v: PolicyView, np: LocalPodPolicy[] = []) => {
    const script = compileWithResolved(v, { pods: np, warnings: [] }).nft;
    await table.replace(script);
    await table.replace(script);
    const live = table.nameOf("map", LIVE_SET);
    assert.ok(live !== undefined && /^live\.g\d+$/.test(live), `live map of the generation: ${live}`);
    return live;
  };
  /** Waits for the resolver (started asynchronously) to answer `p`. */
  const waitDns = async (p: LabPod) => {
    for (let i = 0; i < 50; i++) {
      if (lab.probe(p.ns, EXT, 53, 1, 200).failures === 0) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.fail("the resolver on the outside host never answered");
  };

  it("multitenant: no `ipv4` in the generation's `live` map → every guarded accept drops", async () => {
    // a's firewall denies one other port of EXT only: its chain's final verdict is accept (guarded).
    const fw: EgressFirewallView = {
      namespace: "a",
      kind: "EgressFirewall",
      name: "default",
      effect: "Enforced",
      rules: [{ type: "Deny", cidrSelector: `${EXT}/32`, ports: [{ protocol: "TCP", port: extPort + 1 }] }],
    };
    const live = await write(view({ egressFirewalls: [fw] }));
    await waitDns(pa);
    const flows = {
      "a → outside: the firewall chain's final accept": () => ok(pa, EXT, extPort),
      "a → resolver: the DNS accept": () => ok(pa, EXT, 53),
      "b → outside (no firewall): the base chain's end": () => ok(pb, EXT, extPort),
      "a → b (same netid): after the multitenant jump": () => ok(pa, pb.ip, pbPort),
    };
    for (const [name, f] of Object.entries(flows)) assert.equal(f(), true, `open: ${name}`);
    // Both generations exist; only the current one's element is deleted.
    assert.equal((nftIn("list", "table", ...T.split(" ")).match(/\tmap live\.g\d+ \{/g) ?? []).length, 2);
    nftIn("delete", "element", ...T.split(" "), live, "{ ipv4 }");
    assert.match(nftIn("list", "map", ...T.split(" "), live), /elements = \{ ipv6 : 0x00000001 \}/);
    for (const [name, f] of Object.entries(flows)) assert.equal(f(), false, `guarded: ${name}`);
    nftIn("add", "element", ...T.split(" "), live, "{ ipv4 : 0x00000001 }");
    for (const [name, f] of Object.entries(flows)) assert.equal(f(), true, `restored: ${name}`);
  });

  it("networkpolicy: a missed NetworkPolicy map is accepted while `live` answers, dropped once it misses", async () => {
    // pa is egress-isolated and nothing is allowed: the NetworkPolicy chain drops its new flows.
    const isolated: LocalPodPolicy = {
      namespace: "a",
      name: "pa",
      ip: parseV4(pa.ip)!,
      ingressIsolated: false,
      egressIsolated: true,
      ingress: [],
      egress: [],
    };
    const live = await write(view({ mode: "networkpolicy" }), [isolated]);
    await waitDns(pb);
    const flows = {
      "a → outside": () => ok(pa, EXT, extPort),
      "a → resolver (DNS)": () => ok(pa, EXT, 53),
      "a → b": () => ok(pa, pb.ip, pbPort),
    };
    for (const [name, f] of Object.entries(flows)) assert.equal(f(), false, `isolated: ${name}`);
    assert.equal(ok(pb, EXT, extPort), true, "b is not isolated");
    const npMap = table.nameOf("map", "np_egress_pods")!;
    // The hash map's elements deactivated, as a deletion of its generation does: the lookup misses.
    nftIn("flush", "map", ...T.split(" "), npMap);
    for (const [name, f] of Object.entries(flows))
      assert.equal(f(), true, `a miss with \`live\` answering is accepted (why the guards exist): ${name}`);
    // The same generation's `live` map deactivated too: what a stale packet meets.
    nftIn("delete", "element", ...T.split(" "), live, "{ ipv4 }");
    for (const [name, f] of Object.entries(flows)) assert.equal(f(), false, `stale, guarded: ${name}`);
  });
});
