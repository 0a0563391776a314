import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  formatSelector,
  LabelSelectorError,
  labelSelectorAsSelector,
  matchesLabelSelector,
  parseSelector,
  SelectorParseError,
  selectorMatches,
  validateLabelSelector,
} from "./selector.js";

describe("parseSelector", () => {
  const ok: [string, string][] = [
    ["", ""],
    ["a=b", "a=b"],
    ["a==b", "a=b"],
    ["a!=b", "a!=b"],
    ["  a = b , c != d ", "a=b,c!=d"],
    ["e in (y,x)", "e in (x,y)"],
    ["e in (x)", "e=x"],
    ["f notin (z)", "f!=z"],
    ["g", "g"],
    ["!h", "!h"],
    ["a=b,c!=d,e in (x,y),f notin (z),g,!h", "a=b,c!=d,e in (x,y),f!=z,g,!h"],
    ["example.com/app=web", "example.com/app=web"],
    ["a=", "a="],
    ["n>5,m<3", "n>5,m<3"],
  ];
  for (const [input, want] of ok)
    it(`parses ${JSON.stringify(input)}`, () => assert.equal(formatSelector(parseSelector(input)), want));

  const bad: [string, number, string][] = [
    ["a=b,", 4, ""],
    [",a", 0, ","],
    ["a in x", 5, "x"],
    ["a in (x", 7, ""],
    ["a=b=c", 3, "="],
    ["!a=b", 2, "="],
    ["-a=b", 0, "-a"],
    ["a=-b", 2, "-b"],
    ["a b", 2, "b"],
    ["a>x", 2, "x"],
    ["Example.com/a=b", 0, "Example.com/a"],
  ];
  for (const [input, pos, value] of bad)
    it(`rejects ${JSON.stringify(input)} at ${pos}`, () => {
      assert.throws(
        () => parseSelector(input),
        (e: unknown) =>
          e instanceof SelectorParseError &&
          e.position === pos &&
          e.value === value &&
          e.message.includes(`position ${pos}`),
      );
    });
});

describe("matching", () => {
  const labels = { a: "b", c: "x", e: "y", n: "7" };
  const table: [string, boolean][] = [
    ["", true],
    ["a=b", true],
    ["a=c", false],
    ["a!=c", true],
    ["z!=c", true],
    ["e in (x,y)", true],
    ["e notin (x,y)", false],
    ["z notin (x)", true],
    ["a", true],
    ["z", false],
    ["!z", true],
    ["!a", false],
    ["n>5", true],
    ["n<5", false],
    ["a>1", false],
    ["a=b,c=x", true],
    ["a=b,c=y", false],
  ];
  for (const [sel, want] of table)
    it(`${JSON.stringify(sel)} → ${want}`, () =>
      assert.equal(selectorMatches(parseSelector(sel), labels), want));

  it("object form: matchLabels AND matchExpressions", () => {
    const s = {
      matchLabels: { a: "b" },
      matchExpressions: [
        { key: "e", operator: "In", values: ["y"] },
        { key: "q", operator: "DoesNotExist" },
      ],
    };
    assert.equal(matchesLabelSelector(s, labels), true);
    assert.equal(matchesLabelSelector({ ...s, matchLabels: { a: "c" } }, labels), false);
    assert.equal(
      matchesLabelSelector({ matchExpressions: [{ key: "c", operator: "NotIn", values: ["x"] }] }, labels),
      false,
    );
    assert.equal(
      matchesLabelSelector({ matchExpressions: [{ key: "c", operator: "Exists" }] }, labels),
      true,
    );
  });
  it("nil selects nothing, {} selects everything", () => {
    assert.equal(matchesLabelSelector(undefined, labels), false);
    assert.equal(matchesLabelSelector(null, {}), false);
    assert.equal(matchesLabelSelector({}, {}), true);
  });

  it("property: string and object forms agree", () => {
    const key = fc.constantFrom("a", "b", "c");
    const val = fc.constantFrom("x", "y", "z");
    const req = fc.oneof(
      fc.record({
        key,
        operator: fc.constant("In"),
        values: fc.uniqueArray(val, { minLength: 1, maxLength: 3 }),
      }),
      fc.record({
        key,
        operator: fc.constant("NotIn"),
        values: fc.uniqueArray(val, { minLength: 1, maxLength: 3 }),
      }),
      fc.record({ key, operator: fc.constant("Exists") }),
      fc.record({ key, operator: fc.constant("DoesNotExist") }),
    );
    fc.assert(
      fc.property(fc.array(req, { maxLength: 4 }), fc.dictionary(key, val), (exprs, l) => {
        const obj = labelSelectorAsSelector({ matchExpressions: exprs });
        const str = parseSelector(formatSelector(obj));
        assert.equal(selectorMatches(str, l), selectorMatches(obj, l));
      }),
      { numRuns: 300 },
    );
  });
});

describe("validateLabelSelector", () => {
  it("reports every problem with its field path", () => {
    const errs = validateLabelSelector(
      {
        matchLabels: { "bad key!": "v", ok: "bad value!" },
        matchExpressions: [
          { key: "a", operator: "In" },
          { key: "b", operator: "Exists", values: ["x"] },
          { key: "c", operator: "Equals", values: ["x"] },
          { key: "", operator: "Exists" },
        ],
      },
      "spec.podSelector",
    );
    assert.deepEqual(
      errs.map((e) => `${e.field}:${e.type}`),
      [
        "spec.podSelector.matchLabels:FieldValueInvalid",
        "spec.podSelector.matchLabels:FieldValueInvalid",
        "spec.podSelector.matchExpressions[0].values:FieldValueRequired",
        "spec.podSelector.matchExpressions[1].values:FieldValueForbidden",
        "spec.podSelector.matchExpressions[2].operator:FieldValueNotSupported",
        "spec.podSelector.matchExpressions[3].key:FieldValueRequired",
      ],
    );
    assert.throws(
      () => labelSelectorAsSelector({ matchExpressions: [{ key: "a", operator: "In" }] }),
      LabelSelectorError,
    );
    assert.deepEqual(
      validateLabelSelector({ matchLabels: { "k8s.ovn.org/egress-assignable": "" } }, "s"),
      [],
    );
  });
});
