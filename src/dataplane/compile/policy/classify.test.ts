import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { type Classified, type ClassRule, classify, unionRanges, V4_MAX } from "./classify.js";
import type { L4 } from "./ir.js";

/** What the classification says for one packet (ports first, then addresses). */
function lookup(c: Classified, addr: number, l4: L4 | undefined, port: number): number | undefined {
  if (l4) {
    const b = c.ports.find(
      (x) =>
        x.addr.start <= addr && addr <= x.addr.end && x.l4 === l4 && x.ports[0] <= port && port <= x.ports[1],
    );
    if (b) return b.rule;
  }
  return c.addr.find((x) => x.addr.start <= addr && addr <= x.addr.end)?.rule;
}

/** First-match, the definition. */
function firstMatch(rules: ClassRule[], addr: number, l4: L4 | undefined, port: number): number | undefined {
  const i = rules.findIndex(
    (r) =>
      r.ranges.some((g) => g.start <= addr && addr <= g.end) &&
      (r.l4 === undefined ||
        (l4 !== undefined && r.l4.some((p) => p.l4 === l4 && p.ports[0] <= port && port <= p.ports[1]))),
  );
  return i < 0 ? undefined : i;
}

function assertDisjointSorted(c: Classified): void {
  for (let i = 1; i < c.addr.length; i++)
    assert.ok(c.addr[i - 1]!.addr.end < c.addr[i]!.addr.start, "addr overlap");
  const order = { tcp: 0, udp: 1, sctp: 2 };
  for (let i = 1; i < c.ports.length; i++) {
    const a = c.ports[i - 1]!;
    const b = c.ports[i]!;
    const before =
      a.addr.end < b.addr.start ||
      (a.addr.start === b.addr.start &&
        a.addr.end === b.addr.end &&
        (order[a.l4] < order[b.l4] || (a.l4 === b.l4 && a.ports[1] < b.ports[0])));
    assert.ok(before, `ports boxes overlap or unsorted: ${JSON.stringify([a, b])}`);
  }
}

const r = (start: number, end: number) => ({ start, end });

describe("classify", () => {
  const cases: {
    name: string;
    rules: ClassRule[];
    probes: [number, L4 | undefined, number, number | undefined][];
  }[] = [
    { name: "no rules", rules: [], probes: [[5, "tcp", 80, undefined]] },
    {
      name: "earlier narrow rule wins over later wide one",
      rules: [{ ranges: [r(10, 20)] }, { ranges: [r(0, V4_MAX)] }],
      probes: [
        [15, undefined, 0, 0],
        [9, "udp", 53, 1],
        [V4_MAX, "tcp", 1, 1],
      ],
    },
    {
      name: "later narrow rule is shadowed",
      rules: [{ ranges: [r(0, 100)] }, { ranges: [r(10, 20)] }],
      probes: [
        [15, "tcp", 80, 0],
        [101, "tcp", 80, undefined],
      ],
    },
    {
      name: "port rule before a protocol-less rule",
      rules: [{ ranges: [r(10, 20)], l4: [{ l4: "tcp", ports: [80, 80] }] }, { ranges: [r(0, 100)] }],
      probes: [
        [15, "tcp", 80, 0],
        [15, "tcp", 81, 1],
        [15, "udp", 80, 1],
        [15, undefined, 0, 1],
        [200, "tcp", 80, undefined],
      ],
    },
    {
      name: "port rule after a protocol-less rule never wins",
      rules: [{ ranges: [r(0, 100)] }, { ranges: [r(10, 20)], l4: [{ l4: "tcp", ports: [80, 80] }] }],
      probes: [[15, "tcp", 80, 0]],
    },
    {
      name: "overlapping port ranges: first wins",
      rules: [
        { ranges: [r(0, 10)], l4: [{ l4: "tcp", ports: [80, 90] }] },
        {
          ranges: [r(5, 15)],
          l4: [
            { l4: "tcp", ports: [85, 100] },
            { l4: "sctp", ports: [1, 1] },
          ],
        },
      ],
      probes: [
        [7, "tcp", 86, 0],
        [7, "tcp", 95, 1],
        [12, "tcp", 85, 1],
        [12, "tcp", 84, undefined],
        [7, "sctp", 1, 1],
        [7, undefined, 0, undefined],
      ],
    },
    {
      name: "rule with empty ranges matches nothing",
      rules: [{ ranges: [] }, { ranges: [r(1, 1)] }],
      probes: [[1, undefined, 0, 1]],
    },
  ];
  for (const c of cases)
    it(c.name, () => {
      const out = classify(c.rules);
      assertDisjointSorted(out);
      for (const [a, l4, p, want] of c.probes)
        assert.equal(lookup(out, a, l4, p), want, JSON.stringify([a, l4, p]));
    });

  it("merges adjacent segments with the same winner", () => {
    const out = classify([{ ranges: [r(0, 9), r(10, 19)] }, { ranges: [r(5, 25)] }]);
    assert.deepEqual(out.addr, [
      { addr: r(0, 19), rule: 0 },
      { addr: r(20, 25), rule: 1 },
    ]);
  });

  it("unionRanges merges overlapping and adjacent ranges", () => {
    assert.deepEqual(unionRanges([r(10, 20), r(0, 4), r(5, 6), r(15, 30), r(40, 40)]), [
      r(0, 6),
      r(10, 30),
      r(40, 40),
    ]);
  });

  it("agrees with first-match on random rule lists (property)", () => {
    const addr = fc.integer({ min: 0, max: 63 });
    const range = fc.tuple(addr, addr).map(([a, b]) => r(Math.min(a, b), Math.max(a, b)));
    const l4 = fc.constantFrom<L4>("tcp", "udp", "sctp");
    const port = fc.integer({ min: 0, max: 12 });
    const portRange = fc
      .tuple(port, port)
      .map(([a, b]): [number, number] => [Math.min(a, b), Math.max(a, b)]);
    const rule: fc.Arbitrary<ClassRule> = fc.record(
      {
        ranges: fc.array(range, { maxLength: 3 }),
        l4: fc.option(fc.array(fc.record({ l4, ports: portRange }), { minLength: 1, maxLength: 3 }), {
          nil: undefined,
        }),
      },
      { requiredKeys: ["ranges"] },
    );
    fc.assert(
      fc.property(
        fc.array(rule, { maxLength: 8 }),
        fc.array(fc.tuple(addr, fc.option(l4, { nil: undefined }), port), { minLength: 20, maxLength: 20 }),
        (rules, probes) => {
          const clean = rules.map((x) => (x.l4 === undefined ? { ranges: x.ranges } : x));
          const out = classify(clean);
          assertDisjointSorted(out);
          for (const [a, p4, p] of probes) assert.equal(lookup(out, a, p4, p), firstMatch(clean, a, p4, p));
        },
      ),
      { numRuns: 300 },
    );
  });
});
