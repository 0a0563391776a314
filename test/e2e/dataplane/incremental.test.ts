// The element delta (src/dataplane/nft/incremental.ts) against the real kernel: applying the whole
// program A, then the delta A→B, leaves exactly the state that applying B whole leaves — for a
// sequence of compiled node programs (pods joining and leaving EgressIPs, an EgressIP losing its
// holder, pods moving between EgressIPs). Needs root and nft; skipped otherwise. The namespace is
// deleted in after().
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { compileNodeProgram } from "../../../src/dataplane/compile/node-program.js";
import type { EgressIPView, NodeView } from "../../../src/dataplane/compile/types.js";
import { RealNft } from "../../../src/dataplane/nft/execer.js";
import { elementDelta } from "../../../src/dataplane/nft/incremental.js";

const skip = process.getuid?.() !== 0 ? "needs root (network namespaces)" : false;
const NS = `egdp-inc-${Math.random().toString(36).slice(2, 7)}`;

function view(egressIPs: EgressIPView[], pods: string[]): NodeView {
  return {
    node: {
      name: "n1",
      nodeIP: "192.168.126.11",
      podSubnet: "10.128.0.0/23",
      bridge: "egbr0",
      interfaces: [{ name: "eth0", address: "192.168.126.11/18" }],
    },
    nodes: [
      { name: "n1", nodeIP: "192.168.126.11", podSubnet: "10.128.0.0/23" },
      { name: "n2", nodeIP: "192.168.126.12", podSubnet: "10.128.2.0/23" },
      { name: "n3", nodeIP: "192.168.126.13", podSubnet: "10.128.4.0/23" },
    ],
    clusterCIDRs: ["10.128.0.0/14"],
    serviceCIDR: "172.30.0.0/16",
    localPods: pods.map((ip, i) => ({ namespace: "a", name: `p${i}`, ip })),
    services: [
      {
        namespace: "a",
        name: "s",
        clusterIP: "172.30.0.10",
        ports: [{ port: 80, protocol: "TCP", targetPort: 8080 }],
        endpoints: [{ ip: "10.128.0.5" }, { ip: "10.128.2.7" }],
      },
    ],
    egressIPs,
    projectEgress: [],
  };
}
const here = (ip: string) => ({ ip, node: "n1", nodeIP: "192.168.126.11" });
const n2 = (ip: string) => ({ ip, node: "n2", nodeIP: "192.168.126.12" });
const n3 = (ip: string) => ({ ip, node: "n3", nodeIP: "192.168.126.13" });
const pods = (from: number, to: number, net = "10.128.0") =>
  Array.from({ length: to - from }, (_, i) => `${net}.${from + i}`);

/** The table as the kernel holds it, with element order and handles normalised away. */
function state(): string {
  const out = execFileSync("ip", ["netns", "exec", NS, "nft", "-j", "list", "table", "inet", "egress-node"], {
    encoding: "utf8",
  });
  const items = (JSON.parse(out) as { nftables: Record<string, Record<string, unknown>>[] }).nftables;
  return JSON.stringify(
    items.map((it) => {
      const [kind, body] = Object.entries(it)[0] as [string, Record<string, unknown>];
      const { handle: _h, ...rest } = body;
      if (Array.isArray(rest.elem)) rest.elem = rest.elem.map((e) => JSON.stringify(e)).sort();
      if (kind === "counter") {
        rest.packets = 0;
        rest.bytes = 0;
      }
      return { [kind]: rest };
    }),
  );
}

describe("element deltas on a real nftables table", { skip }, () => {
  const nft = new RealNft({ netns: NS });
  before(() => {
    execFileSync("ip", ["netns", "add", NS]);
  });
  after(() => {
    execFileSync("ip", ["netns", "del", NS]);
  });

  it("whole A then delta A→B equals whole B, step after step", async () => {
    const steps: NodeView[] = [
      view(
        [
          { name: "e1", ips: [n2("192.168.126.10")], podIPs: pods(2, 40) },
          { name: "e2", ips: [here("192.168.126.102")], podIPs: pods(3, 5, "10.128.2") },
        ],
        pods(2, 60),
      ),
      // more pods, one of them served; remote pods SNATed here
      view(
        [
          { name: "e1", ips: [n2("192.168.126.10")], podIPs: pods(2, 41) },
          { name: "e2", ips: [here("192.168.126.102")], podIPs: pods(3, 9, "10.128.2") },
        ],
        pods(2, 61),
      ),
      // pods move from e1 to e2, some leave
      view(
        [
          { name: "e1", ips: [n2("192.168.126.10")], podIPs: pods(10, 41) },
          { name: "e2", ips: [here("192.168.126.102")], podIPs: [...pods(3, 12, "10.128.2"), ...pods(2, 5)] },
        ],
        pods(2, 50),
      ),
      // a second holder for e1: chain structure changes (numgen) → the whole script
      view(
        [
          { name: "e1", ips: [n2("192.168.126.10"), n3("192.168.126.11")], podIPs: pods(10, 41) },
          { name: "e2", ips: [here("192.168.126.102")], podIPs: pods(3, 12, "10.128.2") },
        ],
        pods(2, 50),
      ),
      view(
        [
          { name: "e1", ips: [n2("192.168.126.10"), n3("192.168.126.11")], podIPs: pods(12, 30) },
          { name: "e2", ips: [here("192.168.126.102")], podIPs: pods(4, 5, "10.128.2") },
        ],
        pods(2, 50),
      ),
    ];
    let previous = compileNodeProgram(steps[0]!).nft;
    await nft.apply(previous);
    let deltas = 0;
    for (const v of steps.slice(1)) {
      const next = compileNodeProgram(v).nft;
      const d = elementDelta(previous, next);
      if (d === undefined) {
        await nft.apply(next);
      } else {
        deltas++;
        await nft.apply(d);
        const viaDelta = state();
        await nft.apply(next);
        assert.equal(viaDelta, state(), `delta\n${d}`);
      }
      previous = next;
    }
    assert.ok(deltas >= 3, `expected most steps to be deltas, got ${deltas}`);
  });
});
