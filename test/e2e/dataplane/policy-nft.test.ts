// The policy compiler against the real kernel: (1) `nft --check` accepts the compiled scripts of
// several views (hand-written, an 8,000-rule egress firewall, 1,000 NetworkPolicies, random property
// views) and the admin table script; (2) real TCP connections through a node namespace with a pod
// bridge (br_netfilter on), two pods of different projects and an outside host: multitenant drop and
// allow, an egress firewall Allow and Deny, and an admin-output counter that sees only pod → outside
// packets. The fail-closed `live` guards have their own kernel test (test/e2e/policy/live-guard.test.ts).
// Needs root and nft; skipped otherwise. Every namespace is deleted in after().
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  adminTableScript,
  compilePolicyProgram,
  compileWithResolved,
} from "../../../src/dataplane/compile/policy/compile.js";
import {
  baseView,
  bigFirewallView,
  manyPoliciesView,
  pod,
  randomCase,
} from "../../../src/dataplane/compile/policy/fixtures.js";
import type { EgressFirewallView, PolicyView } from "../../../src/dataplane/compile/policy/types.js";
import { RealNft } from "../../../src/dataplane/nft/execer.js";
import { rootSkip } from "../support/root-skip.js";
import { type LabNode, type LabPod, NetLab, sh } from "./netlab.js";

const skip = rootSkip(["nft"]);

const EXT = "192.168.126.200";

describe("policy e2e: compiled policy programs in the kernel", { skip, timeout: 240_000 }, () => {
  const lab = new NetLab();
  let node: LabNode;
  let pa: LabPod; // namespace a
  let pb: LabPod; // namespace b
  let nft: RealNft;
  let extAllowed = 0;
  let extDenied = 0;
  let pbPort = 0;

  before(async () => {
    let ext: string;
    ({ node, pa, pb, ext } = lab.policyNode(EXT));
    extAllowed = await lab.echoServer(ext);
    extDenied = await lab.echoServer(ext);
    pbPort = await lab.echoServer(pb.ns);
    nft = new RealNft({ netns: node.ns });
  });
  after(() => lab.destroy());

  it("nft --check accepts the compiled scripts", async () => {
    const views: [string, string][] = [
      ["8,000-rule firewall", compilePolicyProgram(bigFirewallView(8000)).nft],
      ["1,000 NetworkPolicies", compilePolicyProgram(manyPoliciesView(1000, 2000, 100)).nft],
      ["empty", compilePolicyProgram(baseView({ mode: "subnet" })).nft],
      ["admin", adminTableScript()],
    ];
    for (let seed = 1; seed <= 30; seed++) {
      const c = randomCase(seed * 7919);
      views.push([`random ${seed}`, compileWithResolved(c.view, { pods: c.np, warnings: [] }).nft]);
    }
    for (const [name, script] of views) await assert.doesNotReject(nft.check(script), name);
  });

  const fw = (rules: EgressFirewallView["rules"]): EgressFirewallView => ({
    namespace: "a",
    kind: "EgressFirewall",
    name: "default",
    effect: "Enforced",
    rules,
  });
  const view = (bNetid: number, firewalls: EgressFirewallView[]): PolicyView =>
    baseView({
      podSubnet: node.podSubnet,
      nodes: [{ name: "n1", ips: [node.nodeIP], labels: {} }],
      dnsServers: [],
      pods: [pod("a", "pa", pa.ip), pod("b", "pb", pb.ip)],
      namespaces: [
        { name: "a", labels: {}, netid: 10, multicast: false },
        { name: "b", labels: {}, netid: bNetid, multicast: false },
      ],
      egressFirewalls: firewalls,
    });
  const ok = (p: LabPod, host: string, port: number) => lab.probe(p.ns, host, port, 1, 1500).failures === 0;
  const adminCounters = () => {
    const out = sh("ip", [
      "netns",
      "exec",
      node.ns,
      "nft",
      "-j",
      "list",
      "chain",
      "inet",
      "egress-admin",
      "admin-output",
    ]);
    const counts = [...out.matchAll(/"counter":\s*\{\s*"packets":\s*(\d+)/g)].map((m) => Number(m[1]));
    return { outside: counts[0] ?? -1, all: counts[1] ?? -1 };
  };

  it("real packets: multitenant, egress firewall, admin chain", async () => {
    await nft.apply(adminTableScript());
    // The admin's own rules: one counter for pod → outside host, one for everything it sees.
    sh("ip", [
      "netns",
      "exec",
      node.ns,
      "nft",
      "add",
      "rule",
      "inet",
      "egress-admin",
      "admin-output",
      "ip",
      "saddr",
      node.podSubnet,
      "ip",
      "daddr",
      EXT,
      "counter",
    ]);
    sh("ip", [
      "netns",
      "exec",
      node.ns,
      "nft",
      "add",
      "rule",
      "inet",
      "egress-admin",
      "admin-output",
      "counter",
    ]);
    await nft.apply(adminTableScript()); // re-ensuring keeps the admin's rules
    assert.equal(adminCounters().all, 0);

    const rules = [
      {
        type: "Allow" as const,
        cidrSelector: `${EXT}/32`,
        ports: [{ protocol: "TCP" as const, port: extAllowed }],
      },
      { type: "Deny" as const, cidrSelector: "0.0.0.0/0" },
    ];
    // Different netids: pa cannot reach pb, pb cannot reach pa's... and the firewall of a applies.
    await nft.apply(compilePolicyProgram(view(11, [fw(rules)])).nft);
    assert.equal(ok(pa, pb.ip, pbPort), false, "multitenant: other netid must be dropped");
    assert.equal(ok(pa, EXT, extAllowed), true, "firewall Allow rule");
    assert.equal(ok(pa, EXT, extDenied), false, "firewall Deny rule");
    assert.equal(ok(pb, EXT, extDenied), true, "namespace b has no firewall");
    const c1 = adminCounters();
    assert.ok(c1.all > 0, "admin chain saw the allowed outside flows");
    assert.equal(c1.all, c1.outside, "admin chain saw only pod → outside packets");

    // Joining b to a's netid lets pa reach pb; pod → pod traffic never reaches the admin chain.
    await nft.apply(compilePolicyProgram(view(10, [fw(rules)])).nft);
    assert.equal(ok(pa, pb.ip, pbPort), true, "multitenant: same netid must pass");
    const c2 = adminCounters();
    assert.equal(c2.all, c1.all, "pod → pod packets are not marked");
    // A flow the firewall drops never reaches the admin chain either.
    assert.equal(ok(pa, EXT, extDenied), false);
    assert.equal(adminCounters().all, c1.all, "denied packets are not seen by the admin chain");

    // Re-applying the admin script does not flush the admin's chain.
    await nft.apply(adminTableScript());
    assert.equal(adminCounters().all, c1.all);
  });
});
