import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { egressNodeViews } from "../compile/fixtures.js";
import { compileMulticastProgram } from "../compile/multicast.js";
import { compileNodeProgram } from "../compile/node-program.js";
import { compilePolicyProgram } from "../compile/policy/compile.js";
import { randomCase } from "../compile/policy/fixtures.js";
import { FakeNft } from "./fake.js";
import {
  currentGenerationListing,
  declarationKey,
  emptyState,
  GenerationalTable,
  GenerationScriptError,
  type GenerationState,
  parseTableScript,
  priorityValue,
  renderUpdate,
  rewriteReferences,
  splitGenerationName,
  stateFromJson,
  translateDelta,
} from "./generations.js";
import { elementDelta } from "./incremental.js";

const T = "inet t";
const BASE_DECL = "type filter hook forward priority filter; policy accept;";

/** A whole-table script in the compilers' layout from blocks "\t<kind> <name> {" … "\t}". */
const script = (blocks: string[]) =>
  `table ${T} {}\ndelete table ${T}\ntable ${T} {\n${blocks.join("\n")}\n}\n`;
const block = (head: string, lines: string[]) =>
  [`\t${head} {`, ...lines.map((l) => `\t\t${l}`), "\t}"].join("\n");
const elements = (items: string[]) =>
  items.length === 0
    ? []
    : ["elements = {", ...items.map((e, i) => `\t${e}${i < items.length - 1 ? "," : ""}`), "}"];

const SAMPLE = script([
  block("counter drops", ["packets 3 bytes 4"]),
  block("set allowed", ["type ipv4_addr", "flags interval", ...elements(["10.0.0.0/8", "192.168.1.1"])]),
  block("map fw_pods", [
    "type ipv4_addr : verdict",
    ...elements(["10.128.0.5 : goto fw/ns-a", "10.128.0.6 : jump mt-3"]),
  ]),
  block("map egressip_snat_eth0", ["type ipv4_addr : ipv4_addr", ...elements(["10.128.0.5 : 192.168.1.9"])]),
  block("chain fw/ns-a", ["ip daddr @allowed accept", "drop"]),
  block("chain mt-3", ["ip daddr @allowed return", 'oifname "eth9" drop']),
  block("chain svc/a/b/tcp/80", [
    "numgen random mod 2 vmap { 0 : goto svc/a/b/tcp/80/ep0, 1 : goto svc/a/b/tcp/80/ep1 }",
  ]),
  block("chain svc/a/b/tcp/80/ep0", ["meta l4proto tcp dnat ip to 10.128.0.5:8080"]),
  block("chain svc/a/b/tcp/80/ep1", ["meta l4proto tcp dnat ip to 10.128.0.6:8080"]),
  block("chain forward", [
    BASE_DECL,
    "ip saddr vmap @fw_pods",
    "jump mt-3",
    "ip daddr 172.30.0.10 goto svc/a/b/tcp/80",
    'ip saddr != 10.128.0.0/23 counter name "drops" drop',
  ]),
  block("chain snat", [
    "type nat hook postrouting priority srcnat; policy accept;",
    'oifname "eth0" snat ip to ip saddr map @egressip_snat_eth0',
  ]),
]);

/** Applies `s` through a GenerationalTable over `nft` and returns the table's update scripts. */
async function update(table: GenerationalTable, s: string): Promise<void> {
  await table.replace(s);
}

describe("names and references", () => {
  it("splits generation names; plain names are generation 0", () => {
    assert.deepEqual(splitGenerationName("fw/ns-a.g12"), { name: "fw/ns-a", generation: 12 });
    assert.deepEqual(splitGenerationName("egressip_snat_eth0_2"), {
      name: "egressip_snat_eth0_2",
      generation: 0,
    });
    assert.deepEqual(splitGenerationName("a.gx"), { name: "a.gx", generation: 0 });
  });

  it("rewrites @sets and jump/goto targets, never quoted strings or look-alikes", () => {
    const r = { set: (n: string) => `${n}.g2`, chain: (n: string) => (n === "b" ? "b.g2" : undefined) };
    assert.equal(
      rewriteReferences('ip saddr @s oifname "jump b @s" jump b goto c vmap { 1 : goto b }', r),
      'ip saddr @s.g2 oifname "jump b @s" jump b.g2 goto c vmap { 1 : goto b.g2 }',
    );
    assert.equal(
      rewriteReferences("meta l4proto tcp dnat ip to 1.2.3.4:80", r),
      "meta l4proto tcp dnat ip to 1.2.3.4:80",
    );
    assert.equal(
      rewriteReferences("ct mark set numgen random mod 2 map { 0 : 0x10000, 1 : 0x20000 }", r),
      "ct mark set numgen random mod 2 map { 0 : 0x10000, 1 : 0x20000 }",
    );
    // "egress-jump" is a name, not the verb.
    assert.equal(rewriteReferences("goto egress-jump b", r), "goto egress-jump b");
  });

  it("normalises base chain declarations as the kernel reports them", () => {
    const table: [string, string, string][] = [
      ["inet", BASE_DECL, "filter forward 0 accept"],
      [
        "inet",
        "type filter hook prerouting priority mangle; policy accept;",
        "filter prerouting -150 accept",
      ],
      ["inet", "type nat hook output priority -100; policy accept;", "nat output -100 accept"],
      ["inet", "type filter hook forward priority filter + 10; policy drop;", "filter forward 10 drop"],
      ["inet", "type nat hook postrouting priority srcnat; policy accept;", "nat postrouting 100 accept"],
      ["bridge", BASE_DECL, "filter forward -200 accept"],
      [
        "bridge",
        "type filter hook prerouting priority dstnat; policy accept;",
        "filter prerouting -300 accept",
      ],
      [
        "inet",
        "type filter hook forward priority bogus; policy accept;",
        `raw:type filter hook forward priority bogus; policy accept;`,
      ],
    ];
    for (const [family, decl, want] of table) assert.equal(declarationKey(family, decl), want, decl);
    assert.equal(priorityValue("inet", "mangle - 5"), -155);
    assert.equal(priorityValue("inet", "nope"), undefined);
  });
});

describe("parseTableScript", () => {
  it("refuses scripts outside the layout, naming the line", () => {
    const bad: [string, number][] = [
      ["table inet t {\n}\n", 1],
      [`table ${T} {}\ntable ${T} {\n}\n`, 2],
      [`table ${T} {}\ndelete table ${T}\ntable ${T} {\n\tflowtable f {\n\t}\n}\n`, 4],
      [`table ${T} {}\ndelete table ${T}\ntable ${T} {\n\tset a.g1 {\n\t\ttype ipv4_addr\n\t}\n}\n`, 4],
      [`table ${T} {}\ndelete table ${T}\ntable ${T} {\n\tset a {\n\t\ttype ipv4_addr\n}\n`, 4],
    ];
    for (const [s, line] of bad)
      assert.throws(
        () => parseTableScript(s),
        (e: unknown) => e instanceof GenerationScriptError && e.line === line,
        s,
      );
  });

  it("finds base chains by their declaration", () => {
    const p = parseTableScript(SAMPLE);
    assert.deepEqual(
      p.blocks.filter((b) => b.declaration !== undefined).map((b) => b.name),
      ["forward", "snat"],
    );
  });
});

describe("renderUpdate", () => {
  it("first update: suffixes sets, maps and regular chains, rewrites every reference, keeps base chains and counters", () => {
    const { prepare, activate, next } = renderUpdate(SAMPLE, emptyState("inet", "t"));
    assert.equal(next.generation, 1);
    for (const s of [prepare, activate]) {
      assert.match(s, /^table inet t \{\}\ntable inet t \{\n/);
      assert.doesNotMatch(s, /delete|flush/);
    }
    for (const want of [
      "\tmap fw_pods.g1 {",
      "\t\t\t10.128.0.5 : goto fw/ns-a.g1,",
      "\t\t\t10.128.0.6 : jump mt-3.g1",
      "\tchain svc/a/b/tcp/80.g1 {",
      "\t\tnumgen random mod 2 vmap { 0 : goto svc/a/b/tcp/80/ep0.g1, 1 : goto svc/a/b/tcp/80/ep1.g1 }",
      '\t\toifname "eth9" drop',
      "\tcounter drops {",
    ])
      assert.ok(prepare.split("\n").includes(want), `missing ${JSON.stringify(want)} in\n${prepare}`);
    for (const want of [
      "\tchain forward {",
      `\t\t${BASE_DECL}`,
      "\t\tip saddr vmap @fw_pods.g1",
      '\t\tip saddr != 10.128.0.0/23 counter name "drops" drop',
      '\t\toifname "eth0" snat ip to ip saddr map @egressip_snat_eth0.g1',
    ])
      assert.ok(activate.split("\n").includes(want), `missing ${JSON.stringify(want)} in\n${activate}`);
    // Base chains only in `activate`, everything else only in `prepare`.
    assert.deepEqual(
      activate.split("\n").filter((l) => /^\t\S+ \S+ \{$/.test(l)),
      ["\tchain forward {", "\tchain snat {"],
    );
    assert.doesNotMatch(prepare, / hook /);
    assert.equal(next.names.get("map fw_pods"), "fw_pods.g1");
    assert.equal(next.names.get("chain fw/ns-a"), "fw/ns-a.g1");
    assert.deepEqual([...next.baseChains.keys()], ["forward", "snat"]);
  });

  it("prepared state: the new objects exist, the base chains and element names are still the live generation's", () => {
    const u1 = renderUpdate(SAMPLE, emptyState("inet", "t"));
    const u2 = renderUpdate(SAMPLE, u1.next);
    assert.equal(u2.prepared.generation, 1);
    assert.equal(u2.prepared.names.get("map fw_pods"), "fw_pods.g1");
    assert.equal(u2.prepared.objects.filter((o) => o.name.endsWith(".g2")).length, 8);
    assert.equal(u2.prepared.objects.filter((o) => o.name.endsWith(".g1")).length, 8);
    assert.equal(u2.next.generation, 2);
  });

  it("second update deletes nothing and flushes base chains only in activate; the third deletes generation 1 only", () => {
    const u1 = renderUpdate(SAMPLE, emptyState("inet", "t"));
    const u2 = renderUpdate(SAMPLE, u1.next);
    const head = (s: string) => s.split("\ntable inet t {\n")[0]!.split("\n");
    assert.deepEqual(head(u2.prepare), ["table inet t {}"]);
    assert.deepEqual(head(u2.activate), [
      "table inet t {}",
      "flush chain inet t forward",
      "flush chain inet t snat",
    ]);
    assert.doesNotMatch(
      u2.prepare + u2.activate,
      /counter drops/,
      "an existing counter is not declared again",
    );
    const u3 = renderUpdate(SAMPLE, u2.next);
    const pre3 = head(u3.prepare);
    assert.ok(
      pre3.every((l) => !l.includes(".g2")),
      "generation 2 (the live one) is never touched",
    );
    const deletes = pre3.filter((l) => l.startsWith("delete "));
    assert.deepEqual(deletes.sort(), [
      "delete chain inet t fw/ns-a.g1",
      "delete chain inet t mt-3.g1",
      "delete chain inet t svc/a/b/tcp/80.g1",
      "delete chain inet t svc/a/b/tcp/80/ep0.g1",
      "delete chain inet t svc/a/b/tcp/80/ep1.g1",
      "delete map inet t egressip_snat_eth0.g1",
      "delete map inet t fw_pods.g1",
      "delete set inet t allowed.g1",
    ]);
    // Rules go before the sets they use, maps before the chains their elements name.
    const idx = (l: string) => pre3.indexOf(l);
    assert.ok(idx("flush chain inet t fw/ns-a.g1") < idx("delete set inet t allowed.g1"));
    assert.ok(idx("delete map inet t fw_pods.g1") < idx("delete chain inet t fw/ns-a.g1"));
    assert.equal(u3.next.objects.filter((o) => o.name.endsWith(".g1")).length, 0);
    assert.equal(u3.next.objects.filter((o) => o.name.endsWith(".g2")).length, 8);
  });

  it("a generation left unused by a failed activate is deleted next time and its number not reused", () => {
    const u1 = renderUpdate(SAMPLE, emptyState("inet", "t"));
    const u2 = renderUpdate(SAMPLE, u1.next);
    const u3 = renderUpdate(SAMPLE, u2.prepared); // u2's activate never committed
    assert.equal(u3.next.generation, 3);
    const deletes = u3.prepare.split("\n").filter((l) => l.startsWith("delete "));
    assert.ok(deletes.length === 8 && deletes.every((l) => l.endsWith(".g2")), deletes.join("\n"));
    assert.match(u3.prepare, /\tmap fw_pods\.g3 \{/);
  });

  it("a base chain that is gone is deleted; one declared differently is deleted and re-created", () => {
    const u1 = renderUpdate(SAMPLE, emptyState("inet", "t"));
    const changed = SAMPLE.replace(
      "type nat hook postrouting priority srcnat; policy accept;",
      "type nat hook postrouting priority srcnat + 1; policy accept;",
    ).replace(/\tchain forward \{\n(\t\t.*\n)*?\t\}\n/, "");
    const u2 = renderUpdate(changed, u1.next);
    const pre = u2.activate.split("\ntable inet t {\n")[0]!.split("\n");
    assert.deepEqual(pre, [
      "table inet t {}",
      "flush chain inet t forward",
      "delete chain inet t forward",
      "flush chain inet t snat",
      "delete chain inet t snat",
    ]);
    assert.match(u2.activate, /\tchain snat \{\n\t\ttype nat hook postrouting priority srcnat \+ 1;/);
    assert.deepEqual([...u2.next.baseChains.keys()], ["snat"]);
  });

  it("refuses a script for another table", () => {
    assert.throws(() => renderUpdate(SAMPLE, emptyState("inet", "other")), GenerationScriptError);
  });
});

describe("translateDelta", () => {
  const state = renderUpdate(SAMPLE, emptyState("inet", "t")).next;
  it("renames the set and the chains its elements name", () => {
    assert.equal(
      translateDelta(
        "delete element inet t fw_pods { 10.128.0.6 }\nadd element inet t fw_pods { 10.128.0.7 : goto fw/ns-a, 10.128.0.8 : jump mt-3 }\nadd element inet t allowed { 1.2.3.4 }\n",
        state,
      ),
      "delete element inet t fw_pods.g1 { 10.128.0.6 }\nadd element inet t fw_pods.g1 { 10.128.0.7 : goto fw/ns-a.g1, 10.128.0.8 : jump mt-3.g1 }\nadd element inet t allowed.g1 { 1.2.3.4 }\n",
    );
    assert.equal(translateDelta("", state), "");
  });
  it("gives up on unknown names, other tables and other statements", () => {
    for (const d of [
      "add element inet t nope { 1.2.3.4 }\n",
      "add element inet t fw_pods { 1.2.3.4 : goto nope }\n",
      "add element inet other fw_pods { 1.2.3.4 : drop }\n",
      "flush chain inet t forward\n",
    ])
      assert.equal(translateDelta(d, state), undefined, d);
  });
});

describe("GenerationalTable over FakeNft", () => {
  it("reads the kernel state back equal to what it rendered (declarations included)", async () => {
    const nft = new FakeNft();
    const t = new GenerationalTable(nft, "inet", "t");
    await update(t, SAMPLE);
    await update(t, SAMPLE);
    const back = stateFromJson(await nft.listJson("inet", "t"), "inet", "t");
    const norm = (s: GenerationState) => ({
      ...s,
      objects: [...s.objects].sort((a, b) => (a.name < b.name ? -1 : 1)),
      baseChains: [...s.baseChains].sort(),
      counters: [...s.counters].sort(),
      names: [...s.names].sort(),
    });
    assert.deepEqual(norm(back), norm(t.known!));
  });

  it("counters keep their values across updates", async () => {
    const nft = new FakeNft();
    const t = new GenerationalTable(nft, "inet", "t");
    await update(t, SAMPLE);
    await update(t, SAMPLE.replace("packets 3 bytes 4", "packets 0 bytes 0"));
    assert.match(nft.dump(), /counter drops \{\n\t\tpackets 3 bytes 4/);
  });

  it("after a restart: reads the live generation, keeps it one more update, deletes the rest", async () => {
    const nft = new FakeNft();
    const first = new GenerationalTable(nft, "inet", "t");
    for (let i = 0; i < 3; i++) await update(first, SAMPLE);
    const restarted = new GenerationalTable(nft, "inet", "t");
    await update(restarted, SAMPLE);
    assert.equal(restarted.known!.generation, 4);
    const gens = new Set(restarted.known!.objects.map((o) => splitGenerationName(o.name).generation));
    assert.deepEqual([...gens].sort(), [3, 4]);
    assert.equal(currentGenerationListing(nft.dump()), currentGenerationListing(await fakeDumpOf([SAMPLE])));
  });

  it("a crash between prepare and activate: the generation the base chains use is read back as live", async () => {
    const nft = new FakeNft();
    const first = new GenerationalTable(nft, "inet", "t");
    await update(first, SAMPLE);
    await update(first, SAMPLE);
    await nft.apply(renderUpdate(SAMPLE, first.known!).prepare); // generation 3, never activated
    const back = stateFromJson(await nft.listJson("inet", "t"), "inet", "t");
    assert.equal(back.generation, 2);
    assert.equal(back.names.get("map fw_pods"), "fw_pods.g2");
    // FakeNft's lookups by script name follow the same rule as the read-back.
    const changed = SAMPLE.replace("10.128.0.5 : 192.168.1.9", "10.128.0.5 : 192.168.1.77");
    await nft.apply(renderUpdate(changed, back).prepare); // generation 4 (3 deleted), other content
    assert.deepEqual(nft.elements("inet", "t", "egressip_snat_eth0"), ["10.128.0.5 : 192.168.1.9"]);
    const restarted = new GenerationalTable(nft, "inet", "t");
    await update(restarted, SAMPLE);
    assert.equal(restarted.known!.generation, 5);
    const gens = new Set(restarted.known!.objects.map((o) => splitGenerationName(o.name).generation));
    assert.deepEqual([...gens].sort(), [2, 5]);
    assert.match(nft.dump(), /ip saddr vmap @fw_pods\.g5/);
  });

  it("a legacy table (unsuffixed names) with a prepared generation on top is still read as generation 0", async () => {
    const nft = new FakeNft();
    await nft.apply(SAMPLE);
    const legacy = stateFromJson(await nft.listJson("inet", "t"), "inet", "t");
    assert.equal(legacy.generation, 0);
    await nft.apply(renderUpdate(SAMPLE, legacy).prepare); // generation 1, never activated
    const back = stateFromJson(await nft.listJson("inet", "t"), "inet", "t");
    assert.equal(back.generation, 0);
    assert.equal(back.names.get("map fw_pods"), "fw_pods");
  });

  it("a refused activate: the update is retried from the kernel's state and lands", async () => {
    const nft = new FakeNft();
    let refuse = 1;
    const flaky = {
      apply: async (s: string) => {
        if (refuse > 0 && s.includes("flush chain inet t forward")) {
          refuse--;
          throw new Error("refused");
        }
        await nft.apply(s);
      },
      check: (s: string) => nft.check(s),
      listJson: (f: string, n: string) => nft.listJson(f, n),
    };
    const t = new GenerationalTable(flaky, "inet", "t");
    await update(t, SAMPLE);
    await update(t, SAMPLE);
    assert.equal(refuse, 0, "the activate was refused once");
    assert.equal(t.known!.generation, 3);
    assert.deepEqual(
      [...new Set(t.known!.objects.map((o) => splitGenerationName(o.name).generation))].sort(),
      [1, 3],
    );
    assert.equal(currentGenerationListing(nft.dump()), currentGenerationListing(await fakeDumpOf([SAMPLE])));
  });

  it("takes over a table written by a plain whole-table apply (legacy names), then deletes them", async () => {
    const nft = new FakeNft();
    await nft.apply(SAMPLE);
    const t = new GenerationalTable(nft, "inet", "t");
    await update(t, SAMPLE);
    assert.ok(nft.elements("inet", "t", "fw_pods.g1"));
    assert.ok(nft.dump().includes("\tchain fw/ns-a {\n"), "legacy chain kept while packets may use it");
    await update(t, SAMPLE);
    const plainNames = nft
      .dump()
      .split("\n")
      .filter((l) => /^\t(set|map|chain) /.test(l) && !/\.g\d+ \{$/.test(l));
    assert.deepEqual(plainNames, ["\tchain forward {", "\tchain snat {"]);
  });

  it("recovers when the table was changed behind its back", async () => {
    const nft = new FakeNft();
    const t = new GenerationalTable(nft, "inet", "t");
    await update(t, SAMPLE);
    await update(t, SAMPLE);
    await nft.apply(`table ${T} {}\ndelete table ${T}\n`);
    await update(t, SAMPLE);
    assert.equal(currentGenerationListing(nft.dump()), currentGenerationListing(await fakeDumpOf([SAMPLE])));
  });

  it("applies translated element deltas; refuses a delta naming unknown objects", async () => {
    const nft = new FakeNft();
    const t = new GenerationalTable(nft, "inet", "t");
    assert.equal(
      await t.applyDelta("add element inet t fw_pods { 1.2.3.4 : drop }\n"),
      false,
      "state unknown",
    );
    await update(t, SAMPLE);
    assert.equal(await t.applyDelta("add element inet t fw_pods { 10.128.0.9 : goto mt-3 }\n"), true);
    assert.ok(nft.elements("inet", "t", "fw_pods")!.includes("10.128.0.9 : goto mt-3.g1"));
    assert.equal(await t.applyDelta("add element inet t nope { 1.2.3.4 }\n"), false);
  });
});

/** The FakeNft dump after plain whole-table applies of `scripts`. */
async function fakeDumpOf(scripts: string[]): Promise<string> {
  const n = new FakeNft();
  for (const s of scripts) await n.apply(s);
  return n.dump();
}

describe("currentGenerationListing", () => {
  it("keeps the generation the base chains use (not an older one, nor a newer one only prepared), strips suffixes (also in references), sorts blocks", () => {
    const listing = [
      "table inet t {",
      "\tchain forward {",
      "\t\ttype filter hook forward priority filter; policy accept;",
      "\t\tip saddr vmap @m.g3",
      "\t}",
      "",
      "\tmap m.g2 {",
      "\t\ttype ipv4_addr : verdict",
      "\t}",
      "",
      "\tmap m.g3 {",
      "\t\ttype ipv4_addr : verdict",
      "\t\telements = { 10.0.0.1 : goto c.g3 }",
      "\t}",
      "",
      "\tchain c.g3 {",
      "\t\tip daddr 10.1.1.1 drop",
      "\t}",
      "",
      "\tmap m.g4 {",
      "\t\ttype ipv4_addr : verdict",
      "\t\telements = { 10.0.0.1 : drop }",
      "\t}",
      "}",
    ].join("\n");
    assert.equal(
      currentGenerationListing(listing),
      [
        "table inet t {",
        "\tchain c {",
        "\t\tip daddr 10.1.1.1 drop",
        "\t}",
        "\tchain forward {",
        "\t\ttype filter hook forward priority filter; policy accept;",
        "\t\tip saddr vmap @m",
        "\t}",
        "\tmap m {",
        "\t\ttype ipv4_addr : verdict",
        "\t\telements = { 10.0.0.1 : goto c }",
        "\t}",
        "}",
      ].join("\n"),
    );
  });
});

// ------------------------------------------------------------------------------------ properties

/** A random whole-table script: sets, verdict maps into chains, chains jumping to chains, base chains
 *  (present or not, with one of two priorities) using all of them, a counter. */
const structureArb = fc.record({
  sets: fc.uniqueArray(fc.constantFrom("s1", "s2", "s3", "a-b", "x/y"), { maxLength: 3 }),
  chains: fc.uniqueArray(fc.constantFrom("c1", "c2", "fw/ns-a", "svc/a/b", "np-x-1"), {
    minLength: 1,
    maxLength: 4,
  }),
  fwd: fc.boolean(),
  prio: fc.constantFrom("filter", "filter + 10"),
  out: fc.boolean(),
});
type Structure = typeof structureArb extends fc.Arbitrary<infer S> ? S : never;
const elemsArb = fc.array(fc.integer({ min: 1, max: 6 }), { maxLength: 6 });

function scriptOf({ sets, chains, fwd, prio, out }: Structure, elems: number[]): string {
  const blocks = [block("counter k", ["packets 0 bytes 0"])];
  const uniq = [...new Set(elems)];
  for (const s of sets)
    blocks.push(block(`set ${s}`, ["type ipv4_addr", ...elements(uniq.map((e) => `10.0.0.${e}`))]));
  blocks.push(
    block("map vm", [
      "type ipv4_addr : verdict",
      ...elements(uniq.map((e) => `10.1.0.${e} : goto ${chains[e % chains.length]}`)),
    ]),
  );
  chains.forEach((c, i) => {
    const rules = sets.map((s) => `ip daddr @${s} return`);
    if (i + 1 < chains.length) rules.push(`jump ${chains[i + 1]}`);
    blocks.push(block(`chain ${c}`, rules));
  });
  if (fwd)
    blocks.push(
      block("chain forward", [
        `type filter hook forward priority ${prio}; policy accept;`,
        "ip saddr vmap @vm",
        `jump ${chains[0]}`,
        'counter name "k"',
      ]),
    );
  if (out)
    blocks.push(
      block("chain output", [
        "type filter hook output priority filter; policy accept;",
        `goto ${chains.at(-1)}`,
      ]),
    );
  return script(blocks);
}

/** A random whole-table script: sets, verdict maps into chains, chains jumping to chains, base chains
 *  (present or not, with one of two priorities) using all of them, a counter. */
const scriptArb = fc.tuple(structureArb, elemsArb).map(([st, el]) => scriptOf(st, el));

/** Names of the sets/maps/chains the rules and elements of generation `g` reference (base chains'
 *  rules included: they are generation g's after its update). */
function referencedBy(dump: string, g: number): Set<string> {
  const out = new Set<string>();
  const listing = dump.split("\n");
  let inBlock: string | undefined;
  for (const l of listing) {
    const open = /^\t(\S+) (\S+) \{$/.exec(l);
    if (open) inBlock = open[2];
    else if (inBlock !== undefined) {
      const gen = splitGenerationName(inBlock).generation;
      if (gen === g || gen === 0)
        for (const m of l.matchAll(/(?:@|jump |goto )([A-Za-z_.][A-Za-z0-9_/.-]*)/g)) out.add(m[1]!);
    }
  }
  return out;
}

describe("properties", () => {
  it("after every update the live generation equals a plain whole-table apply; nothing the previous generation references is deleted", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(scriptArb, { minLength: 1, maxLength: 6 }), async (scripts) => {
        const nft = new FakeNft();
        const t = new GenerationalTable(nft, "inet", "t");
        for (const s of scripts) {
          const before = nft.dump();
          const live = t.known?.generation ?? 0;
          const r = renderUpdate(s, t.known ?? emptyState("inet", "t"));
          const upd = r.prepare + r.activate;
          const usedByLive = referencedBy(before, live);
          for (const l of upd.split("\n")) {
            const d = /^delete (?:set|map|chain) inet t (\S+)$/.exec(l);
            if (d && splitGenerationName(d[1]!).generation !== 0)
              assert.ok(!usedByLive.has(d[1]!), `deletes ${d[1]} which generation ${live} uses:\n${upd}`);
          }
          await t.replace(s);
          const plain = new FakeNft();
          await plain.apply(s);
          assert.equal(currentGenerationListing(nft.dump()), currentGenerationListing(plain.dump()));
          // At most two generations of objects exist.
          const gens = new Set(t.known!.objects.map((o) => splitGenerationName(o.name).generation));
          assert.ok(gens.size <= 2);
        }
      }),
      { numRuns: 150 },
    );
  });

  it("no transaction creates a set, map or chain and points a base chain at it (new sets are not ready in their own transaction)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(scriptArb, { minLength: 1, maxLength: 5 }), async (scripts) => {
        const nft = new FakeNft();
        const t = new GenerationalTable(nft, "inet", "t");
        for (const s of scripts) {
          const r = renderUpdate(s, t.known ?? emptyState("inet", "t"));
          // prepare: no base chain is declared, flushed or deleted.
          assert.doesNotMatch(r.prepare, / hook /, r.prepare);
          for (const name of (t.known ?? emptyState("inet", "t")).baseChains.keys())
            assert.ok(!r.prepare.includes(`chain inet t ${name}\n`), `prepare touches base chain ${name}`);
          // activate: only base chains are opened, and everything they refer to exists after prepare.
          const opened = r.activate.split("\n").filter((l) => /^\t\S+ \S+ \{$/.test(l));
          const bases = [...r.next.baseChains.keys()].map((n) => `\tchain ${n} {`);
          assert.deepEqual(
            opened.filter((l) => !bases.includes(l)),
            [],
            r.activate,
          );
          const existing = new Set(r.prepared.objects.map((o) => o.name));
          for (const m of r.activate.matchAll(/(?:@|jump |goto )([A-Za-z_.][A-Za-z0-9_/.-]*)/g))
            assert.ok(
              existing.has(m[1]!),
              `activate refers to ${m[1]}, which prepare did not leave:\n${r.activate}`,
            );
          await t.replace(s);
        }
      }),
      { numRuns: 150 },
    );
  });

  it("a translated element delta leaves what a plain apply of the next script leaves", async () => {
    await fc.assert(
      fc.asyncProperty(structureArb, elemsArb, elemsArb, async (st, x, y) => {
        const a = scriptOf(st, x);
        const b = scriptOf(st, y);
        const d = elementDelta(a, b);
        assert.notEqual(d, undefined);
        const nft = new FakeNft();
        const t = new GenerationalTable(nft, "inet", "t");
        await t.replace(a);
        await t.replace(a);
        assert.equal(await t.applyDelta(d!), true);
        const plain = new FakeNft();
        await plain.apply(b);
        assert.equal(currentGenerationListing(nft.dump()), currentGenerationListing(plain.dump()));
      }),
      { numRuns: 150 },
    );
  });
});

// ------------------------------------------------------------------------------------ real compilers

describe("the compilers' scripts", () => {
  it("base chains create no sets: no anonymous set or map in their rules (it would be created in activate)", () => {
    const view = randomCase(3).view;
    const scripts = [
      ...egressNodeViews().map((v) => compileNodeProgram(v).nft),
      ...Array.from({ length: 12 }, (_, i) => compilePolicyProgram(randomCase(i + 1).view).nft),
      compileMulticastProgram(
        {
          ...view,
          namespaces: view.namespaces.map((x, i) => ({ ...x, multicast: true, netid: x.netid ?? i + 1 })),
        },
        {
          bridge: "cbr0",
          vxlan: "egmc0",
          ports: view.pods.filter((p) => p.local).map((p, i) => ({ ip: p.ip, ifname: `veth${i}` })),
        },
      ).nft,
    ];
    let baseRules = 0;
    for (const s of scripts)
      for (const b of parseTableScript(s).blocks)
        if (b.declaration !== undefined)
          for (const l of b.lines) {
            baseRules++;
            assert.doesNotMatch(l, /\{/, `base chain ${b.name}: ${l.trim()}`);
          }
    assert.ok(baseRules > 50, `${baseRules} base chain rules checked`);
  });

  it("node program: a sequence of programs, also with element deltas in between", async () => {
    const views = egressNodeViews();
    const nft = new FakeNft();
    const t = new GenerationalTable(nft, "inet", "egress-node");
    let prev: string | undefined;
    for (const v of views) {
      const s = compileNodeProgram(v).nft;
      const d = prev === undefined ? undefined : elementDelta(prev, s);
      if (d === undefined || !(await t.applyDelta(d))) await t.replace(s);
      const plain = new FakeNft();
      await plain.apply(s);
      assert.equal(currentGenerationListing(nft.dump()), currentGenerationListing(plain.dump()));
      prev = s;
    }
  });

  it("policy programs of random clusters", async () => {
    const nft = new FakeNft();
    const t = new GenerationalTable(nft, "inet", "egress-policy");
    for (let seed = 1; seed <= 12; seed++) {
      const s = compilePolicyProgram(randomCase(seed).view).nft;
      await t.replace(s);
      const plain = new FakeNft();
      await plain.apply(s);
      assert.equal(
        currentGenerationListing(nft.dump()),
        currentGenerationListing(plain.dump()),
        `seed ${seed}`,
      );
    }
  });

  it("multicast programs (bridge family, one-line element lists)", async () => {
    const view = randomCase(3).view;
    const mc = (n: number) =>
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
      ).nft;
    const nft = new FakeNft();
    const t = new GenerationalTable(nft, "bridge", "egress-mcast");
    for (const n of [0, 2, 5, 1, 5]) {
      const s = mc(n);
      await t.replace(s);
      const plain = new FakeNft();
      await plain.apply(s);
      assert.equal(currentGenerationListing(nft.dump()), currentGenerationListing(plain.dump()), `n=${n}`);
    }
    assert.ok(t.known!.baseChains.get("forward")?.startsWith("filter forward -200"));
  });
});
