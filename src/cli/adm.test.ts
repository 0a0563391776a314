import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AdmError, EXIT_USAGE, parseDuration, targetState } from "./adm.js";

describe("parseDuration", () => {
  for (const [s, ms] of [
    ["30s", 30_000],
    ["2m", 120_000],
    ["1m30s", 90_000],
    ["500ms", 500],
    ["1h", 3_600_000],
    ["5", 5_000],
    ["1.5s", 1_500],
  ] as const)
    it(`${s} = ${ms} ms`, () => assert.equal(parseDuration("--timeout", s), ms));
  for (const bad of ["", "s", "10x", "1m-3s", "-1s"])
    it(`rejects ${JSON.stringify(bad)}`, () =>
      assert.throws(
        () => parseDuration("--timeout", bad),
        (e: unknown) => e instanceof AdmError && e.exitCode === EXIT_USAGE && e.message.includes("--timeout"),
      ));
});

describe("targetState", () => {
  const nn = (name: string, netid: number, pending?: string) => ({
    name,
    netid,
    ...(pending !== undefined ? { pending } : {}),
  });
  const cases = [
    { cmd: "join-projects", to: "a", t: "b", all: [nn("a", 11), nn("b", 11)], want: "applied" },
    { cmd: "join-projects", to: "a", t: "b", all: [nn("a", 11), nn("b", 12)], want: "notApplied" },
    { cmd: "join-projects", to: "a", t: "b", all: [nn("a", 11), nn("b", 12, "join:a")], want: "pending" },
    { cmd: "isolate-projects", t: "b", all: [nn("a", 11), nn("b", 12)], want: "applied" },
    { cmd: "isolate-projects", t: "b", all: [nn("a", 12), nn("b", 12)], want: "notApplied" },
    { cmd: "isolate-projects", t: "b", all: [nn("b", 0)], want: "notApplied" },
    { cmd: "make-projects-global", t: "b", all: [nn("b", 0)], want: "applied" },
    { cmd: "make-projects-global", t: "b", all: [nn("b", 3)], want: "notApplied" },
    { cmd: "make-projects-global", t: "gone", all: [nn("b", 0)], want: "notApplied" },
  ] as const;
  for (const c of cases)
    it(`${c.cmd} ${c.t} → ${c.want}`, () =>
      assert.equal(targetState({ command: c.cmd, ...("to" in c ? { to: c.to } : {}) }, c.t, c.all), c.want));
});
