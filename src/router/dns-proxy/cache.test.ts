import assert from "node:assert/strict";
import { test } from "node:test";
import { TargetAddresses, type TtlAnswer, type TtlResolver } from "./cache.js";

function scripted(answers: (TtlAnswer[] | Error)[]): TtlResolver & { calls: number } {
  const r = {
    calls: 0,
    async resolve4(): Promise<TtlAnswer[]> {
      const a = answers[Math.min(r.calls++, answers.length - 1)]!;
      if (a instanceof Error) throw a;
      return a;
    },
  };
  return r;
}

test("IP targets never resolve", async () => {
  const r = scripted([new Error("must not be called")]);
  const c = new TargetAddresses("10.0.0.1", false, r);
  assert.deepEqual(await c.current(), ["10.0.0.1"]);
  assert.equal(r.calls, 0);
});

test("names are re-resolved when the (smallest) TTL runs out", async () => {
  let now = 0;
  const r = scripted([
    [
      { address: "10.0.0.1", ttl: 30 },
      { address: "10.0.0.2", ttl: 10 },
    ],
    [{ address: "10.0.0.3", ttl: 60 }],
  ]);
  const c = new TargetAddresses("svc.example", true, r, { now: () => now });
  assert.deepEqual(await c.current(), ["10.0.0.1", "10.0.0.2"]);
  now = 9_999;
  assert.deepEqual(await c.current(), ["10.0.0.1", "10.0.0.2"]);
  assert.equal(r.calls, 1);
  now = 10_000;
  assert.deepEqual(await c.current(), ["10.0.0.3"]);
  assert.equal(r.calls, 2);
});

test("TTL 0 is clamped to the minimum; concurrent callers share one lookup", async () => {
  let now = 0;
  const r = scripted([[{ address: "10.0.0.1", ttl: 0 }]]);
  const c = new TargetAddresses("svc.example", true, r, { now: () => now, minTtlSeconds: 2 });
  await Promise.all([c.current(), c.current(), c.current()]);
  assert.equal(r.calls, 1);
  now = 1_999;
  await c.current();
  assert.equal(r.calls, 1);
  now = 2_000;
  await c.current();
  assert.equal(r.calls, 2);
});

test("a failed re-resolution keeps the last good answer and retries later; no answer ever = error", async () => {
  let now = 0;
  const r = scripted([
    [{ address: "10.0.0.1", ttl: 5 }],
    new Error("SERVFAIL"),
    [{ address: "10.0.0.4", ttl: 5 }],
  ]);
  const c = new TargetAddresses("svc.example", true, r, { now: () => now, retrySeconds: 3 });
  await c.current();
  now = 5_000;
  assert.deepEqual(await c.current(), ["10.0.0.1"]);
  now = 7_999;
  assert.deepEqual(await c.current(), ["10.0.0.1"]);
  assert.equal(r.calls, 2);
  now = 8_000;
  assert.deepEqual(await c.current(), ["10.0.0.4"]);
  const never = new TargetAddresses("gone.example", true, scripted([new Error("NXDOMAIN")]));
  await assert.rejects(never.current(), /NXDOMAIN/);
  const empty = new TargetAddresses("empty.example", true, scripted([[]]));
  await assert.rejects(empty.current(), /no A records/);
});
