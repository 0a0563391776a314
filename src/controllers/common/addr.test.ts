import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { parseCIDR, parseIP } from "../../api/ip.js";
import { addrKey, maskedKey, netContains, parseAddr, parseIPv4Number, parseNet } from "./addr.js";
import { compareByAge, Heap } from "./decision.js";

describe("fast address parsing", () => {
  const cases = [
    "0.0.0.0",
    "255.255.255.255",
    "10.0.0.1",
    "010.0.0.1",
    "1.2.3",
    "1.2.3.4.5",
    "256.1.1.1",
    "1..2.3",
    "1.2.3.4 ",
    "a.b.c.d",
    "1.2.3.00",
    "",
  ];
  for (const c of cases)
    it(`IPv4 ${JSON.stringify(c)} agrees with api/ip`, () => {
      const a = parseIPv4Number(c);
      const b = parseIP(c);
      assert.equal(a === undefined ? undefined : BigInt(a), b && b.family === 4 ? b.value : undefined);
    });

  it("property: agrees with api/ip on dotted strings", () => {
    const arb = fc.oneof(
      fc.ipV4(),
      fc
        .array(fc.oneof(fc.nat(300).map(String), fc.constantFrom("01", "00", "", "x")), {
          minLength: 3,
          maxLength: 5,
        })
        .map((p) => p.join(".")),
    );
    fc.assert(
      fc.property(arb, (s) => {
        const a = parseAddr(s);
        const b = parseIP(s);
        assert.equal(a === undefined, b === undefined, s);
        if (a && b) assert.equal(a.family === 4 ? BigInt(a.v4) : a.v6, b.value);
      }),
      { numRuns: 500 },
    );
  });

  it("property: netContains agrees with api/ip masks", () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.ipV4(), fc.integer({ min: 0, max: 32 }), (net, ip, len) => {
        const n = parseNet(`${net}/${len}`)!;
        const a = parseAddr(ip)!;
        const c = parseCIDR(`${net}/${len}`)!;
        const i = parseIP(ip)!;
        assert.equal(netContains(n, a), (i.value & ~((1n << BigInt(32 - len)) - 1n)) === c.network);
        assert.equal(BigInt(maskedKey(parseAddr(net)!, len) as number), c.network);
      }),
    );
  });

  it("keys differ across families", () => {
    assert.notEqual(addrKey(parseAddr("0.0.0.1")!), addrKey(parseAddr("::1")!));
    assert.equal(addrKey(parseAddr("FD00::1")!), addrKey(parseAddr("fd00:0::1")!));
  });
});

describe("decision helpers", () => {
  it("compareByAge: older first, missing timestamp last, then namespace and name", () => {
    const xs = [
      { name: "b" },
      { name: "c", creationTimestamp: "2024-01-02T00:00:00Z" },
      { name: "b", creationTimestamp: "2024-01-01T00:00:00Z" },
      { name: "a", creationTimestamp: "2024-01-01T00:00:00Z" },
      { name: "a" },
    ].sort(compareByAge);
    assert.deepEqual(
      xs.map((x) => `${x.name}${x.creationTimestamp ? x.creationTimestamp.slice(8, 10) : "-"}`),
      ["a01", "b01", "c02", "a-", "b-"],
    );
  });
  it("Heap pops in order", () => {
    fc.assert(
      fc.property(fc.array(fc.integer()), (xs) => {
        const h = new Heap<number>((a, b) => a < b);
        for (const x of xs) h.push(x);
        const out: number[] = [];
        while (h.size > 0) out.push(h.pop()!);
        assert.deepEqual(
          out,
          [...xs].sort((a, b) => a - b),
        );
      }),
    );
  });
});
