// Regression test for issue 5's duplicate-source bug, without a lab: two router pods set up at the
// same time on a node whose egress interface is not a bridge yet must both hear the router that
// already holds their EGRESS_SOURCE on the segment. Unserialized, the two takeovers of the
// interface undid each other and one pod probed from a veth with no bridge (docs/egress-router.md
// "Duplicate address detection"). Namespaces: a fabric bridge, a holder, one node per round; all
// deleted in after(). Needs root, iproute2 and arping.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";

const CHILD = join(dirname(fileURLToPath(import.meta.url)), "takeover-child.js");
const tool = (t: string) => spawnSync("sh", ["-c", `command -v ${t}`]).status === 0;
const skip =
  process.getuid?.() !== 0
    ? "needs root"
    : !tool("arping") || !tool("nsenter")
      ? "needs arping and nsenter"
      : false;
const P = `rtk${process.pid % 100000}`;
const FABRIC = `${P}-f`;
const HOLDER = `${P}-h`;
const ROUNDS = 3;
const made: string[] = [];
const sh = (...a: string[]) => execFileSync(a[0]!, a.slice(1), { encoding: "utf8", stdio: "pipe" });
const addNs = (ns: string) => {
  sh("ip", "netns", "add", ns);
  made.push(ns);
};

before(() => {
  if (skip) return;
  addNs(FABRIC);
  addNs(HOLDER);
  sh("ip", "-n", FABRIC, "link", "add", "br0", "type", "bridge", "forward_delay", "0", "stp_state", "0");
  sh("ip", "-n", FABRIC, "link", "set", "br0", "up");
  sh("ip", "-n", FABRIC, "link", "add", "hold", "type", "veth", "peer", "name", "eth1", "netns", HOLDER);
  sh("ip", "-n", FABRIC, "link", "set", "hold", "master", "br0", "up");
  sh("ip", "-n", HOLDER, "addr", "add", "10.99.0.99/24", "dev", "eth1");
  sh("ip", "-n", HOLDER, "link", "set", "eth1", "up");
});

after(() => {
  for (const ns of made.reverse()) spawnSync("ip", ["netns", "del", ns]);
});

test("two router pods taking over the node's interface at once both hear the holder", { skip }, () => {
  const holderMac = JSON.parse(sh("ip", "-n", HOLDER, "-json", "link", "show", "eth1"))[0].address;
  for (let i = 0; i < ROUNDS; i++) {
    const node = `${P}-n${i}`;
    const pods = [`${P}-p${i}a`, `${P}-p${i}b`];
    addNs(node);
    for (const p of pods) addNs(p);
    sh("ip", "-n", FABRIC, "link", "add", `node${i}`, "type", "veth", "peer", "name", "eth1", "netns", node);
    sh("ip", "-n", FABRIC, "link", "set", `node${i}`, "master", "br0", "up");
    sh("ip", "-n", node, "addr", "add", `10.99.0.${10 + i}/24`, "dev", "eth1");
    sh("ip", "-n", node, "link", "set", "eth1", "up");
    const r = spawnSync(
      "nsenter",
      [`--net=/run/netns/${node}`, process.execPath, CHILD, "eth1", "10.99.0.99", ...pods],
      { encoding: "utf8", timeout: 30_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    const results = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { ns: string; holder?: string | null; error?: string });
    for (const res of results) assert.equal(res.holder, holderMac, `round ${i}: ${JSON.stringify(res)}`);
    // The node keeps its address on the bridge that took the interface's place; both veths are ports.
    const links = JSON.parse(sh("ip", "-n", node, "-json", "-details", "addr", "show")) as {
      ifname: string;
      master?: string;
      linkinfo?: { info_kind?: string };
      addr_info?: { local: string }[];
    }[];
    const br = links.find((l) => l.ifname === "eth1");
    assert.equal(br?.linkinfo?.info_kind, "bridge");
    assert.ok(br?.addr_info?.some((a) => a.local === `10.99.0.${10 + i}`));
    assert.equal(links.filter((l) => l.ifname.startsWith("mv") && l.master === "eth1").length, 2);
  }
});
