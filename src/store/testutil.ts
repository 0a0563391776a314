// Test helpers for the store tests (temp directories, event collection). Not used by production code.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { WatchEvent } from "./types.js";

export async function tempDir(tag: string): Promise<{ dir: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `store-${tag}-`));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Collects watch events; `waitFor(n)` resolves once n events arrived (or rejects after a timeout). */
export function collector(): {
  events: WatchEvent[];
  onEvent(e: WatchEvent): void;
  waitFor(n: number): Promise<WatchEvent[]>;
} {
  const events: WatchEvent[] = [];
  let waiters: Array<() => void> = [];
  return {
    events,
    onEvent(e) {
      events.push(e);
      const w = waiters;
      waiters = [];
      for (const f of w) f();
    },
    async waitFor(n) {
      const deadline = Date.now() + 5000;
      while (events.length < n) {
        if (Date.now() > deadline)
          throw new Error(`timed out waiting for ${n} events, have ${events.length}`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 50);
        });
      }
      return events;
    },
  };
}

export const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
