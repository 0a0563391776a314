// Crash test: a child process writes to a durable store and is SIGKILLed at random moments (also
// while it is still opening, and while snapshots/compactions run); after every kill the parent
// reopens the directory and checks that every acknowledged write is there exactly as acknowledged,
// or was superseded only by a write that had been issued (the only writes whose fate is unknown),
// that the revision never goes backwards, and that the next child opens at the same revision.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { openStore } from "./durable.js";
import { tempDir } from "./testutil.js";

const WORKER = fileURLToPath(new URL("./crash-worker.js", import.meta.url));
const ROUNDS = 25;

interface Sent {
  id: number;
  kind: "put" | "cas" | "del";
  key: string;
  ackRevision?: number;
}

/** Runs one child until killed; returns the parsed protocol lines. */
async function round(
  dir: string,
  idBase: number,
  compact: boolean,
  killAfterMs: number,
  sent: Map<number, Sent>,
): Promise<{ ready?: number }> {
  const args = [WORKER, dir, String(idBase), ...(compact ? ["compact"] : [])];
  const child: ChildProcess = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  let ready: number | undefined;
  let buf = "";
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  // 'close' (not 'exit'): stdout may still hold unread lines when the process has already exited.
  const exited = new Promise<void>((resolve) => child.on("close", () => resolve()));
  let timer: NodeJS.Timeout | undefined;
  const killSoon = (ms: number): void => {
    timer ??= setTimeout(() => child.kill("SIGKILL"), ms);
  };
  child.stdout!.on("data", (d: Buffer) => {
    buf += d.toString();
    let nl = buf.indexOf("\n");
    while (nl >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      nl = buf.indexOf("\n");
      const [tag, a, b, c] = line.split(" ");
      if (tag === "READY") {
        ready = Number(a);
        killSoon(killAfterMs);
      } else if (tag === "SEND") sent.set(Number(a), { id: Number(a), kind: b as Sent["kind"], key: c! });
      else if (tag === "ACK") sent.get(Number(a))!.ackRevision = Number(b);
      else if (tag === "FAIL") sent.delete(Number(a));
    }
  });
  // Some rounds kill the child while it is still opening (replaying, truncating a torn tail).
  if (killAfterMs < 40) killSoon(killAfterMs);
  const guard = setTimeout(() => child.kill("SIGKILL"), 10_000);
  try {
    await exited;
  } finally {
    clearTimeout(guard);
    if (timer) clearTimeout(timer);
  }
  assert.equal(
    child.signalCode,
    "SIGKILL",
    `worker exited on its own: code ${child.exitCode}, stderr: ${stderr}`,
  );
  return ready === undefined ? {} : { ready };
}

describe("crash safety", () => {
  const cleanups: Array<() => Promise<void>> = [];
  after(async () => {
    for (const c of cleanups) await c();
  });

  it(`keeps every acknowledged write across ${ROUNDS} SIGKILLs`, { timeout: 120_000 }, async () => {
    const t = await tempDir("crash");
    cleanups.push(t.cleanup);
    let lastRevision = 1;
    let torn = 0;
    let snapshots = 0;
    let opened = 0;
    let tombstones = 0;
    // Issued writes whose outcome is not settled yet, by id; ACKed ones stay until superseded.
    const sent = new Map<number, Sent>();
    for (let r = 0; r < ROUNDS; r++) {
      const compact = r % 3 === 2;
      const killAfter = r % 5 === 4 ? Math.floor(Math.random() * 40) : 60 + Math.floor(Math.random() * 400);
      const { ready } = await round(t.dir, (r + 1) * 1_000_000, compact, killAfter, sent);
      if (ready !== undefined) {
        opened++;
        assert.equal(ready, lastRevision, `round ${r}: child opened at the revision the parent verified`);
      }

      const s = await openStore(t.dir);
      try {
        if (s.recovery.truncatedBytes > 0) torn++;
        if (s.recovery.snapshotRevision > 0) snapshots++;
        const rev = s.revision();
        assert.ok(rev >= lastRevision, `round ${r}: revision went back from ${lastRevision} to ${rev}`);
        const maxAck = Math.max(0, ...[...sent.values()].map((x) => x.ackRevision ?? 0));
        assert.ok(rev >= maxAck, `round ${r}: revision ${rev} below acknowledged ${maxAck}`);
        lastRevision = rev;

        const byKey = new Map<string, Sent[]>();
        for (const x of sent.values()) byKey.set(x.key, [...(byKey.get(x.key) ?? []), x]);
        for (const [key, ops] of byKey) {
          const kv = await s.get(key);
          const ackedOps = ops
            .filter((x) => x.ackRevision !== undefined)
            .sort((a, b) => a.ackRevision! - b.ackRevision!);
          const last = ackedOps[ackedOps.length - 1];
          const unsettled = ops.filter((x) => x.ackRevision === undefined);
          const current = kv ? (JSON.parse(kv.value) as { id: number }).id : undefined;
          if (last && last.kind !== "del" && current === last.id) {
            assert.equal(kv!.modRevision, last.ackRevision, `round ${r}: ${key} modRevision`);
          } else if ((!last || last.kind === "del") && kv === undefined) {
            // the acknowledged delete (or the key's absence) is still in effect
          } else {
            // Only an issued, unacknowledged write may have superseded the last acknowledged one.
            const explained =
              kv === undefined
                ? unsettled.some((x) => x.kind === "del")
                : unsettled.some((x) => x.id === current && x.kind !== "del");
            assert.ok(
              explained,
              `round ${r}: ${key} is ${kv ? `id ${current} @${kv.modRevision}` : "absent"}, last ack ` +
                `${last ? `${last.kind} id ${last.id} @${last.ackRevision}` : "none"}`,
            );
            if (kv && last)
              assert.ok(kv.modRevision > last.ackRevision!, `round ${r}: ${key} older than its ack`);
          }
          // Settle: the durable state is now the truth for this key; keep it as an acknowledged op.
          for (const x of ops) sent.delete(x.id);
          if (kv) {
            sent.set(current!, { id: current!, kind: "put", key, ackRevision: kv.modRevision });
          } else if (last || unsettled.length > 0) {
            const tomb = --tombstones;
            sent.set(tomb, { id: tomb, kind: "del", key, ackRevision: 0 });
          }
        }
        // Every key in the store must be one the workers wrote.
        for (const kv of (await s.list("/registry/crash/")).items) {
          assert.ok(byKey.has(kv.key) || sent.has((JSON.parse(kv.value) as { id: number }).id), kv.key);
        }
      } finally {
        await s.close();
      }
    }
    assert.ok(opened >= ROUNDS / 2, `children opened in only ${opened} rounds`);
    assert.ok(lastRevision > 200, `too few writes happened (${lastRevision})`);
    assert.ok(snapshots > 0, "no snapshot was ever written in compaction rounds");
    // Not asserted (timing-dependent): torn tails seen. Reported for the curious.
    process.stdout.write(
      `# crash test: final revision ${lastRevision}, torn tails ${torn}, snapshot rounds ${snapshots}\n`,
    );
  });
});
