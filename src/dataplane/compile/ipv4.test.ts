import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { parseCIDR, parseIPv4 } from "../../api/ip.js";
import { containsV4, formatV4, parseV4, parseV4CIDR } from "./ipv4.js";

describe("compile/ipv4 (number-based IPv4 for hot loops)", () => {
  it("parses exactly what src/api/ip.ts parses", () => {
    const octet = fc.oneof(
      fc.integer({ min: 0, max: 300 }).map(String),
      fc.constantFrom("01", "00", "", "a", "-1"),
    );
    fc.assert(
      fc.property(fc.array(octet, { minLength: 3, maxLength: 5 }), (parts) => {
        const s = parts.join(".");
        const want = parseIPv4(s);
        assert.equal(parseV4(s), want === undefined ? undefined : Number(want), s);
      }),
      { numRuns: 2000 },
    );
  });

  it("round-trips and masks CIDRs like parseCIDR", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 32 }), (v, p) => {
        const text = `${formatV4(v)}/${p}`;
        assert.equal(parseV4(formatV4(v)), v);
        const c = parseV4CIDR(text)!;
        assert.equal(c.net, Number(parseCIDR(text)!.network));
        assert.ok(containsV4(c, v));
      }),
    );
    assert.equal(parseV4CIDR("10.0.0.0/33"), undefined);
    assert.equal(parseV4CIDR("10.0.0.0"), undefined);
    assert.equal(containsV4(parseV4CIDR("10.128.0.0/23")!, parseV4("10.128.2.1")!), false);
  });
});
