import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { countersFromJson, readCounters } from "./counters.js";
import { errorLine, NftError } from "./execer.js";
import { FakeNft } from "./fake.js";

const TABLE = `table inet t {}
delete table inet t
table inet t {
	set s {
		type ipv4_addr
		elements = { 10.0.0.2, 10.0.0.1 }
	}
	map m {
		type ipv4_addr : verdict
		elements = { 10.0.0.1 : goto c }
	}
	chain c {
		meta mark set 1
	}
	chain base {
		type filter hook forward priority filter; policy accept;
		ip saddr @s drop # a comment
		ip saddr vmap @m
	}
}
`;

describe("FakeNft", () => {
  it("applies a whole-table script, replaces the table on re-apply and dumps sorted state", async () => {
    const nft = new FakeNft();
    await nft.apply(TABLE);
    await nft.apply(TABLE.replace("10.0.0.2, ", ""));
    assert.equal(
      nft.dump(),
      [
        "table inet t {",
        "\tchain base {",
        "\t\ttype filter hook forward priority filter",
        "\t\tpolicy accept",
        "\t\tip saddr @s drop",
        "\t\tip saddr vmap @m",
        "\t}",
        "\tchain c {",
        "\t\tmeta mark set 1",
        "\t}",
        "\tmap m {",
        "\t\ttype ipv4_addr : verdict",
        "\t\telements = { 10.0.0.1 : goto c }",
        "\t}",
        "\tset s {",
        "\t\ttype ipv4_addr",
        "\t\telements = { 10.0.0.1 }",
        "\t}",
        "}",
        "",
      ].join("\n"),
    );
    assert.equal(nft.lastApplied("inet", "t"), TABLE.replace("10.0.0.2, ", ""));
    const json = (await nft.listJson("inet", "t")) as { nftables: unknown[] };
    assert.ok(json.nftables.length > 4);
    assert.equal(await nft.listJson("inet", "nope"), undefined);
  });

  const bad: [string, string, RegExp][] = [
    ["unbalanced braces", "table inet t {\n\tchain c {\n", /unbalanced/],
    ["unterminated string", 'table inet t {\n\tchain c {\n\t\toifname "x drop\n\t}\n}\n', /unterminated/],
    ["unknown family", "table inetx t {}\n", /family/],
    ["unknown statement", "tabel inet t {}\n", /unexpected statement/],
    ["rule typo", "table inet t {\n\tchain c {\n\t\tipp saddr 1.2.3.4 drop\n\t}\n}\n", /unexpected "ipp"/],
    ["undefined set", "table inet t {\n\tchain c {\n\t\tip saddr @nope drop\n\t}\n}\n", /@nope/],
    ["undefined chain", "table inet t {\n\tchain c {\n\t\tgoto nope\n\t}\n}\n", /chain nope/],
    ["set without type", "table inet t {\n\tset s {\n\t\telements = { 1.2.3.4 }\n\t}\n}\n", /no type/],
    [
      "map element without value",
      "table inet t {\n\tmap m {\n\t\ttype ipv4_addr : ipv4_addr\n\t\telements = { 1.2.3.4 }\n\t}\n}\n",
      /bad element/,
    ],
    [
      "bad hook",
      "table inet t {\n\tchain c {\n\t\ttype filter hook sideways priority 0; policy accept;\n\t}\n}\n",
      /base chain/,
    ],
    ["delete of a missing table", "delete table inet t\n", /No such file/],
    [
      "undefined counter",
      'table inet t {\n\tchain c {\n\t\tip saddr 1.2.3.4 counter name "nope" drop\n\t}\n}\n',
      /counter nope/,
    ],
    ["bad counter body", "table inet t {\n\tcounter k {\n\t\tpackets x\n\t}\n}\n", /counter k/],
  ];
  for (const [name, script, re] of bad) {
    it(`refuses ${name}, all-or-nothing`, async () => {
      const nft = new FakeNft();
      await nft.apply("table inet keep {\n\tset k {\n\t\ttype ipv4_addr\n\t}\n}\n");
      const before = nft.dump();
      await assert.rejects(nft.apply(`table inet other {}\n${script}`), (e: unknown) => {
        assert.ok(e instanceof NftError);
        assert.match(e.stderr, re);
        return true;
      });
      assert.equal(nft.dump(), before);
      await assert.rejects(nft.check(script), NftError);
    });
  }

  it("keeps named counters with their declared values and lists them in nft's JSON shape", async () => {
    const nft = new FakeNft();
    await nft.apply(
      'table inet t {\n\tcounter k {\n\t\tpackets 3 bytes 180\n\t}\n\tchain c {\n\t\tcounter name "k" drop\n\t}\n}\n',
    );
    assert.deepEqual(
      countersFromJson(await nft.listJson("inet", "t")),
      new Map([["k", { packets: 3, bytes: 180 }]]),
    );
    assert.deepEqual(await readCounters(nft, "inet", "missing"), new Map());
  });

  it("check never changes state", async () => {
    const nft = new FakeNft();
    await nft.check(TABLE.replace("table inet t {}\ndelete table inet t\n", ""));
    assert.equal(nft.dump(), "");
  });

  it("reads the failing line from nft's error output", () => {
    assert.equal(errorLine("/dev/stdin:71:24-38: Error: invalid priority"), 71);
    assert.equal(errorLine("no position"), undefined);
  });
});

describe("FakeNft: commands on an existing table (generational updates)", () => {
  const refused = async (nft: FakeNft, script: string, what: RegExp) => {
    const before = nft.dump();
    await assert.rejects(
      nft.apply(script),
      (e: unknown) => e instanceof NftError && what.test(e.message),
      script,
    );
    assert.equal(nft.dump(), before, "nothing changed");
  };

  it("flushes and deletes chains, deletes sets and maps, adds and deletes elements", async () => {
    const nft = new FakeNft();
    await nft.apply(TABLE);
    await nft.apply(
      "flush chain inet t base\ndelete map inet t m\ndelete chain inet t c\nadd element inet t s { 10.0.0.3 }\ndelete element inet t s { 10.0.0.1 }\n",
    );
    assert.deepEqual(nft.rules("inet", "t", "base"), []);
    assert.equal(nft.elements("inet", "t", "m"), undefined);
    assert.equal(nft.rules("inet", "t", "c"), undefined);
    assert.deepEqual(nft.elements("inet", "t", "s"), ["10.0.0.2", "10.0.0.3"]);
    // The flushed base chain keeps its declaration; re-declaring it identically adds rules.
    await nft.apply(
      "table inet t {\n\tchain base {\n\t\ttype filter hook forward priority filter; policy accept;\n\t\tip saddr @s drop\n\t}\n}\n",
    );
    assert.deepEqual(nft.rules("inet", "t", "base"), ["ip saddr @s drop"]);
    assert.match(
      nft.dump(),
      /\tchain base \{\n\t\ttype filter hook forward priority filter\n\t\tpolicy accept\n\t\tip saddr @s drop\n/,
    );
  });

  it("refuses what nft refuses, at the point of the transaction where nft does", async () => {
    const nft = new FakeNft();
    await nft.apply(TABLE);
    await refused(nft, "delete chain inet t c\n", /Device or resource busy/); // m's element
    await refused(nft, "delete set inet t s\n", /Device or resource busy/); // base's rule
    await refused(nft, "delete chain inet t c\ndelete map inet t m\n", /Device or resource busy/);
    await refused(nft, "flush chain inet t nope\n", /No such file/);
    await refused(nft, "delete map inet t nope\n", /No such file/);
    await refused(nft, "delete element inet t s { 10.9.9.9 }\n", /No such file/);
    await refused(nft, "add element inet t m { 10.0.0.1 : drop }\n", /File exists/);
    await refused(nft, "add element inet t m { 10.0.0.5 : goto nope }\n", /No such file/);
    await refused(nft, "add element inet t nope { 10.0.0.5 }\n", /No such file/);
    await refused(
      nft,
      "table inet t {\n\tchain base {\n\t\ttype filter hook input priority filter; policy accept;\n\t}\n}\n",
      /Operation not supported/,
    );
    await refused(
      nft,
      "table inet t {\n\tchain c {\n\t\ttype filter hook input priority filter; policy accept;\n\t}\n}\n",
      /Operation not supported/,
    );
    // Adding an identical element is fine (as in nft).
    await nft.apply("add element inet t m { 10.0.0.1 : goto c }\n");
    assert.deepEqual(nft.elements("inet", "t", "m"), ["10.0.0.1 : goto c"]);
  });

  it("keeps a counter's value when it is declared again, and lists base chains as nft does", async () => {
    const nft = new FakeNft();
    const t = (p: number) => `table inet t {\n\tcounter k {\n\t\tpackets ${p} bytes ${p}\n\t}\n}\n`;
    await nft.apply(t(5));
    await nft.apply(t(0));
    assert.deepEqual(countersFromJson(await nft.listJson("inet", "t")).get("k"), { packets: 5, bytes: 5 });
    await nft.apply(TABLE);
    const doc = (await nft.listJson("inet", "t")) as { nftables: Record<string, Record<string, unknown>>[] };
    const base = doc.nftables.find((x) => x.chain?.name === "base")?.chain;
    assert.deepEqual(
      { type: base?.type, hook: base?.hook, prio: base?.prio, policy: base?.policy },
      { type: "filter", hook: "forward", prio: 0, policy: "accept" },
    );
  });
});
