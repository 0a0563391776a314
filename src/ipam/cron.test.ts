import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { CronError, nextFire, parseCron } from "./cron.js";

const at = (iso: string) => new Date(iso);
const next = (expr: string, from: string) => nextFire(parseCron(expr), at(from))?.toISOString();

describe("cron: next fire", () => {
  const table: [string, string, string | undefined][] = [
    // expression, after, expected next fire (UTC)
    ["30 4 * * *", "2026-01-01T00:00:00Z", "2026-01-01T04:30:00.000Z"],
    ["30 4 * * *", "2026-01-01T04:30:00Z", "2026-01-02T04:30:00.000Z"],
    ["30 4 * * *", "2026-01-01T04:29:59Z", "2026-01-01T04:30:00.000Z"],
    ["*/15 * * * *", "2026-01-01T10:07:13Z", "2026-01-01T10:15:00.000Z"],
    ["*/15 * * * *", "2026-01-01T23:59:00Z", "2026-01-02T00:00:00.000Z"],
    ["* * * * *", "2026-01-01T10:07:13Z", "2026-01-01T10:08:00.000Z"],
    ["0 0 1 * *", "2026-01-31T12:00:00Z", "2026-02-01T00:00:00.000Z"],
    ["0 0 29 2 *", "2026-03-01T00:00:00Z", "2028-02-29T00:00:00.000Z"],
    ["0 0 30 2 *", "2026-03-01T00:00:00Z", undefined],
    ["0 12 * * mon-fri", "2026-11-21T13:00:00Z", "2026-11-23T12:00:00.000Z"], // Sat → Mon
    ["0 12 * * 7", "2026-11-21T13:00:00Z", "2026-11-22T12:00:00.000Z"], // 7 = Sunday
    ["0 12 * * SUN", "2026-11-21T13:00:00Z", "2026-11-22T12:00:00.000Z"],
    ["5,10-12 * * * *", "2026-01-01T10:05:00Z", "2026-01-01T10:10:00.000Z"],
    ["5,10-12 * * * *", "2026-01-01T10:12:00Z", "2026-01-01T11:05:00.000Z"],
    ["10-20/5 * * * *", "2026-01-01T10:16:00Z", "2026-01-01T10:20:00.000Z"],
    ["50/5 * * * *", "2026-01-01T10:56:00Z", "2026-01-01T11:50:00.000Z"],
    ["0 0 * jun *", "2026-07-01T00:00:00Z", "2027-06-01T00:00:00.000Z"],
    ["0 0 1 jan-mar/2 *", "2026-02-01T00:00:00Z", "2026-03-01T00:00:00.000Z"],
    // Both day fields restricted: either matches (1st of the month OR a Friday).
    ["0 0 1 * fri", "2026-11-21T00:00:00Z", "2026-11-27T00:00:00.000Z"],
    ["0 0 1 * fri", "2026-11-28T00:00:00Z", "2026-12-01T00:00:00.000Z"],
    // Day-of-month restricted, weekday `*`: only the day of month counts.
    ["0 0 13 * *", "2026-11-21T00:00:00Z", "2026-12-13T00:00:00.000Z"],
    ["@hourly", "2026-01-01T10:07:00Z", "2026-01-01T11:00:00.000Z"],
    ["@daily", "2026-01-01T10:07:00Z", "2026-01-02T00:00:00.000Z"],
    ["@weekly", "2026-11-21T10:00:00Z", "2026-11-22T00:00:00.000Z"],
    ["  30   4 * * *  ", "2026-01-01T00:00:00Z", "2026-01-01T04:30:00.000Z"],
  ];
  for (const [expr, from, want] of table) {
    it(`${JSON.stringify(expr)} after ${from} → ${want}`, () => {
      assert.equal(next(expr, from), want);
    });
  }
});

describe("cron: rejected expressions", () => {
  const table: [string, RegExp][] = [
    ["0 30 4 * * *", /6 fields.*seconds/],
    ["30 4 * *", /4 fields; expected 5/],
    ["", /0 fields/],
    ["60 * * * *", /minute: 60 is outside 0-59/],
    ["* 24 * * *", /hour: 24 is outside/],
    ["* * 0 * *", /day of month: 0 is outside 1-31/],
    ["* * * 13 *", /month: 13/],
    ["* * * * 8", /day of week: 8/],
    ["*/0 * * * *", /step "0"/],
    ["5-1 * * * *", /runs backwards/],
    ["a * * * *", /minute: "a" is not a number/],
    ["1,,2 * * * *", /empty list element/],
    ["* * * foo *", /month: "foo"/],
    ["@every 5m", /unknown shorthand/],
  ];
  for (const [expr, re] of table) {
    it(`rejects ${JSON.stringify(expr)}`, () => {
      assert.throws(
        () => parseCron(expr),
        (e: unknown) => e instanceof CronError && re.test(e.message),
      );
    });
  }
});

describe("cron: properties", () => {
  it("the next fire is after the start, on a whole minute, and matches every field", () => {
    const arb = fc.record({
      m: fc.integer({ min: 0, max: 59 }),
      h: fc.integer({ min: 0, max: 23 }),
      step: fc.integer({ min: 1, max: 30 }),
      t: fc.integer({ min: Date.UTC(2020, 0, 1), max: Date.UTC(2030, 0, 1) }),
    });
    fc.assert(
      fc.property(arb, ({ m, h, step, t }) => {
        const s = parseCron(`${m} ${h}/${Math.min(step, 23)} * * *`);
        const n = nextFire(s, new Date(t));
        assert.ok(n);
        assert.ok(n.getTime() > t);
        assert.equal(n.getUTCSeconds(), 0);
        assert.equal(n.getUTCMinutes(), m);
        assert.ok(s.hours.has(n.getUTCHours()));
        // Nothing fires in between: the minute before the result is not a fire time after t.
        const prev = nextFire(s, new Date(t));
        assert.equal(prev?.getTime(), n.getTime());
        assert.ok(n.getTime() - t <= 24 * 3600 * 1000);
      }),
    );
  });
});
