// Generational table updates (src/dataplane/nft/generations.ts) against the real kernel: for sequences
// of compiled node, policy and multicast programs, every update is accepted, the live generation
// (suffixes stripped) equals what a plain whole-table apply of the same script leaves in a second
// namespace, at most two generations exist, and an updater started afresh (an agent restart) reads
// the state back so that its first update keeps the base chains (flushed, not re-created: the kernel's
// JSON declarations compare equal to the scripts') and the live generation; after a `prepare` whose
// `activate` never ran (a crash between the two), the generation the base chains use is read back as
// the live one. Needs root and nft; skipped otherwise. Both namespaces are deleted in after().
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { egressNodeViews } from "../../../src/dataplane/compile/fixtures.js";
import { compileMulticastProgram } from "../../../src/dataplane/compile/multicast.js";
import { compileNodeProgram } from "../../../src/dataplane/compile/node-program.js";
import { compilePolicyProgram } from "../../../src/dataplane/compile/policy/compile.js";
import { randomCase } from "../../../src/dataplane/compile/policy/fixtures.js";
import { RealNft } from "../../../src/dataplane/nft/execer.js";
import {
  currentGenerationListing,
  GenerationalTable,
  renderUpdate,
  splitGenerationName,
  stateFromJson,
} from "../../../src/dataplane/nft/generations.js";

const skip = process.getuid?.() !== 0 ? "needs root (network namespaces)" : false;
const id = Math.random().toString(36).slice(2, 6);
const GEN = `gng-${id}`;
const PLAIN = `gnp-${id}`;

const list = (ns: string, family: string, table: string) =>
  execFileSync("ip", ["netns", "exec", ns, "nft", "list", "table", family, table], {
    encoding: "utf8",
  }).replace(/\s*# handle \d+/g, "");

const NODE_SCRIPTS = () => egressNodeViews().map((v) => compileNodeProgram(v).nft);

const POLICY_SCRIPTS = () => [1, 2, 3, 4, 5].map((seed) => compilePolicyProgram(randomCase(seed).view).nft);

const MULTICAST_SCRIPTS = () => {
  const view = randomCase(3).view;
  return [0, 2, 5, 1].map(
    (n) =>
      compileMulticastProgram(
        {
          ...view,
          namespaces: view.namespaces.map((x, i) => ({ ...x, multicast: i < n, netid: x.netid ?? i + 1 })),
        },
        {
          bridge: "cbr0",
          vxlan: "egmc0",
          ports: view.pods.filter((p) => p.local).map((p, i) => ({ ip: p.ip, ifname: `veth${i}` })),
        },
      ).nft,
  );
};

describe("generational updates in the kernel", { skip, timeout: 120_000 }, () => {
  before(() => {
    execFileSync("ip", ["netns", "add", GEN]);
    execFileSync("ip", ["netns", "add", PLAIN]);
  });
  after(() => {
    for (const ns of [GEN, PLAIN]) execFileSync("ip", ["netns", "del", ns], { stdio: "ignore" });
  });

  for (const [what, family, table, scripts] of [
    ["node programs", "inet", "egress-node", NODE_SCRIPTS],
    ["policy programs", "inet", "egress-policy", POLICY_SCRIPTS],
    ["multicast programs", "bridge", "egress-mcast", MULTICAST_SCRIPTS],
  ] as const) {
    it(`${what}: each generation equals a plain apply; a restarted updater keeps base chains`, async () => {
      const gen = new RealNft({ netns: GEN });
      const plain = new RealNft({ netns: PLAIN });
      const t = new GenerationalTable(gen, family, table);
      for (const s of scripts()) {
        await t.replace(s);
        await plain.apply(s);
        assert.equal(
          currentGenerationListing(list(GEN, family, table)),
          currentGenerationListing(list(PLAIN, family, table)),
        );
        const gens = new Set(t.known!.objects.map((o) => splitGenerationName(o.name).generation));
        assert.ok(gens.size <= 2, [...gens].join(","));
      }
      // An agent restart: the state read back from the kernel's JSON equals what the updater knew.
      const back = stateFromJson(await gen.listJson(family, table), family, table);
      assert.deepEqual([...back.baseChains].sort(), [...t.known!.baseChains].sort());
      assert.equal(back.generation, t.known!.generation);
      const last = scripts().at(-1)!;
      const r = renderUpdate(last, back);
      const upd = r.prepare + r.activate;
      assert.doesNotMatch(
        upd,
        /^delete chain \S+ \S+ [^ .]+$/m,
        `a base chain would be re-created:\n${upd.slice(0, 600)}`,
      );
      assert.ok(
        !upd.split("\n").some((l) => l.startsWith("delete ") && l.endsWith(`.g${back.generation}`)),
        "the live generation is kept",
      );
      const restarted = new GenerationalTable(gen, family, table);
      await restarted.replace(last);
      assert.equal(
        currentGenerationListing(list(GEN, family, table)),
        currentGenerationListing(list(PLAIN, family, table)),
      );

      // A crash between the two transactions: a newer generation exists that no base chain uses.
      // Read back from the kernel's JSON, the live generation is still the one the base chains use,
      // the listing shows it, and the next updater deletes the unused one and lands.
      const live = restarted.known!.generation;
      const first = scripts()[0]!;
      await gen.apply(renderUpdate(first, restarted.known!).prepare);
      const half = stateFromJson(await gen.listJson(family, table), family, table);
      assert.equal(half.generation, live, "a prepared generation is not taken for the live one");
      assert.equal(
        currentGenerationListing(list(GEN, family, table)),
        currentGenerationListing(list(PLAIN, family, table)),
      );
      const updater = new GenerationalTable(gen, family, table);
      await updater.replace(first);
      await plain.apply(first);
      assert.equal(updater.known!.generation, live + 2);
      assert.equal(
        currentGenerationListing(list(GEN, family, table)),
        currentGenerationListing(list(PLAIN, family, table)),
      );
      const left = new Set(updater.known!.objects.map((o) => splitGenerationName(o.name).generation));
      assert.deepEqual(
        [...left].sort((a, b) => a - b),
        [live, live + 2],
      );
    });
  }
});
