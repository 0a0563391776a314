import assert from "node:assert/strict";
import { test } from "node:test";
import { WorkQueue } from "./workqueue.js";

test("a key queued many times is processed once; never concurrently with itself", async () => {
  const seen: string[] = [];
  let concurrent = 0;
  let maxConcurrent = 0;
  const q = new WorkQueue(
    async (k) => {
      concurrent++;
      maxConcurrent = Math.max(maxConcurrent, concurrent);
      seen.push(k);
      await new Promise((r) => setTimeout(r, 5));
      concurrent--;
      return undefined;
    },
    undefined,
    { workers: 4 },
  );
  for (let i = 0; i < 10; i++) q.add("a");
  q.add("b");
  await q.idle();
  assert.deepEqual(seen.sort(), ["a", "b"]);
  // A change while "a" is processed queues it again, after the current run.
  q.add("a");
  await new Promise((r) => setTimeout(r, 1));
  q.add("a");
  await q.idle();
  assert.deepEqual(seen.filter((k) => k === "a").length, 3);
  assert.equal(maxConcurrent <= 2, true);
});

test("failures are retried with exponential backoff until they succeed", async () => {
  let calls = 0;
  const errors: number[] = [];
  const q = new WorkQueue(
    async () => {
      calls++;
      if (calls < 4) throw new Error("not yet");
      return undefined;
    },
    (_k, _e, attempt) => errors.push(attempt),
    { baseDelayMs: 1 },
  );
  assert.equal(q.delayFor(1), 1);
  assert.equal(q.delayFor(3), 4);
  q.add("x");
  const start = Date.now();
  while (calls < 4 && Date.now() - start < 2000) await new Promise((r) => setTimeout(r, 2));
  assert.equal(calls, 4);
  assert.deepEqual(errors, [1, 2, 3]);
  q.stop();
});

test("requeueAfterMs schedules the key again", async () => {
  let calls = 0;
  const q = new WorkQueue(async () => {
    calls++;
    return calls === 1 ? { requeueAfterMs: 5 } : undefined;
  });
  q.add("k");
  const start = Date.now();
  while (calls < 2 && Date.now() - start < 2000) await new Promise((r) => setTimeout(r, 2));
  assert.equal(calls, 2);
  q.stop();
});
