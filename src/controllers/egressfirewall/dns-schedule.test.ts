import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  addressesOf,
  applyLookup,
  type DnsNameState,
  type DnsScheduleOptions,
  dueNames,
  type FamilyLookup,
  lookupName,
  publishedChanged,
} from "./dns-schedule.js";

const opts: DnsScheduleOptions = { defaultIntervalMs: 1_800_000, minIntervalMs: 2_000, maxRetryMs: 60_000 };
const ok = (...recs: [string, number?][]): FamilyLookup => ({
  ok: true,
  records: recs.map(([address, ttl]) => (ttl === undefined ? { address } : { address, ttl })),
});
const nodata: FamilyLookup = { ok: false, negative: true, code: "ENODATA" };
const fail = (code = "ETIMEOUT"): FamilyLookup => ({ ok: false, negative: false, code });

describe("applyLookup: when the name is resolved next", () => {
  const table: { name: string; v4: FamilyLookup; v6: FamilyLookup; wait: number }[] = [
    { name: "TTL respected", v4: ok(["1.2.3.4", 60]), v6: nodata, wait: 60_000 },
    {
      name: "smallest TTL of all records",
      v4: ok(["1.2.3.4", 60], ["1.2.3.5", 30]),
      v6: nodata,
      wait: 30_000,
    },
    { name: "TTL of both families", v4: ok(["1.2.3.4", 60]), v6: ok(["::1", 10]), wait: 10_000 },
    { name: "TTL 0 → minimum interval", v4: ok(["1.2.3.4", 0]), v6: nodata, wait: 2_000 },
    { name: "TTL below the minimum → minimum", v4: ok(["1.2.3.4", 1]), v6: nodata, wait: 2_000 },
    { name: "no TTL readable → 30 min", v4: ok(["1.2.3.4"]), v6: nodata, wait: 1_800_000 },
    { name: "negative answer (no TTL) → 30 min", v4: nodata, v6: nodata, wait: 1_800_000 },
    { name: "failure → retry after the minimum", v4: fail(), v6: nodata, wait: 2_000 },
  ];
  for (const t of table) {
    it(t.name, () => {
      const s = applyLookup(undefined, t.v4, t.v6, 1000, opts);
      assert.equal(s.nextResolveAt - 1000, t.wait);
    });
  }

  it("failures back off exponentially up to the cap, and reset on success", () => {
    let s: DnsNameState | undefined;
    const waits: number[] = [];
    for (let i = 0; i < 8; i++) {
      s = applyLookup(s, fail(), fail(), 0, opts);
      waits.push(s.nextResolveAt);
    }
    assert.deepEqual(waits, [2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]);
    s = applyLookup(s, ok(["1.1.1.1", 5]), nodata, 0, opts);
    assert.equal(s.failures, 0);
    assert.equal(s.error, undefined);
    assert.equal(s.nextResolveAt, 5000);
  });
});

describe("applyLookup: addresses", () => {
  it("sorted, unique, IPv4 then IPv6", () => {
    const s = applyLookup(
      undefined,
      ok(["9.9.9.9", 5], ["1.1.1.1", 5], ["1.1.1.1", 5]),
      ok(["2001:db8::1", 5]),
      0,
    );
    assert.deepEqual(addressesOf(s), ["1.1.1.1", "9.9.9.9", "2001:db8::1"]);
  });
  it("a failing family keeps its old addresses; the other is updated", () => {
    const s1 = applyLookup(undefined, ok(["1.1.1.1", 5]), ok(["::1", 5]), 0, opts);
    const s2 = applyLookup(s1, ok(["2.2.2.2", 5]), fail("ESERVFAIL"), 10, opts);
    assert.deepEqual(addressesOf(s2), ["2.2.2.2", "::1"]);
    assert.equal(s2.error, "AAAA: ESERVFAIL");
  });
  it("a full failure keeps everything", () => {
    const s1 = applyLookup(undefined, ok(["1.1.1.1", 5]), nodata, 0, opts);
    const s2 = applyLookup(s1, fail(), fail(), 10, opts);
    assert.deepEqual(addressesOf(s2), ["1.1.1.1"]);
    assert.equal(s2.error, "A: ETIMEOUT, AAAA: ETIMEOUT");
  });
  it("a negative answer empties the family (the name is gone)", () => {
    const s1 = applyLookup(undefined, ok(["1.1.1.1", 5]), nodata, 0, opts);
    assert.deepEqual(addressesOf(applyLookup(s1, nodata, nodata, 10, opts)), []);
  });
  it("publishedChanged: addresses or failing state, not TTL or schedule", () => {
    const a = applyLookup(undefined, ok(["1.1.1.1", 5]), nodata, 0, opts);
    assert.equal(publishedChanged(undefined, a), true);
    assert.equal(publishedChanged(a, applyLookup(a, ok(["1.1.1.1", 50]), nodata, 99, opts)), false);
    assert.equal(publishedChanged(a, applyLookup(a, ok(["1.1.1.2", 5]), nodata, 99, opts)), true);
    assert.equal(publishedChanged(a, applyLookup(a, fail(), nodata, 99, opts)), true);
  });
  it("property: never scheduled sooner than the minimum interval, never later than the default", () => {
    const fam = fc.oneof(
      fc
        .array(fc.tuple(fc.ipV4(), fc.option(fc.nat(100_000), { nil: undefined })), { maxLength: 4 })
        .map((rs) => ok(...rs)),
      fc.constant(nodata),
      fc.constant(fail()),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(fam, fam), { minLength: 1, maxLength: 10 }), (steps) => {
        let s: DnsNameState | undefined;
        let now = 0;
        for (const [a, b] of steps) {
          s = applyLookup(s, a, b, now, opts);
          const wait = s.nextResolveAt - now;
          assert.ok(wait >= opts.minIntervalMs, `wait ${wait}`);
          assert.ok(wait <= Math.max(opts.defaultIntervalMs, 100_000 * 1000), `wait ${wait}`);
          now = s.nextResolveAt;
        }
      }),
    );
  });
});

describe("dueNames / lookupName", () => {
  it("returns due names and the next wake-up", () => {
    const st = (t: number): DnsNameState => ({ ipv4: [], ipv6: [], nextResolveAt: t, failures: 0 });
    const m = new Map([
      ["b", st(5)],
      ["a", st(10)],
      ["c", st(30)],
      ["d", st(20)],
    ]);
    assert.deepEqual(dueNames(m, 10), { due: ["a", "b"], nextAt: 20 });
    assert.deepEqual(dueNames(new Map(), 10), { due: [], nextAt: undefined });
  });
  it("normalises names; wildcards are not looked up", () => {
    assert.equal(lookupName("WWW.Foo.com."), "www.foo.com");
    assert.equal(lookupName("*.foo.com"), undefined);
  });
});
