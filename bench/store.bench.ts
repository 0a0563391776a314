// Store benchmark: durable (fsync'd, group-committed) put latency, concurrent throughput, list time,
// memory and restart time at 100,000 objects. Run after building:
//   node dist/bench/store.bench.js [dir]     (default: a temp dir, removed afterwards)
import { mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore } from "../src/store/index.js";

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
const ms = (x: number): string => `${x.toFixed(3)} ms`;
const mb = (x: number): string => `${(x / 1024 / 1024).toFixed(1)} MB`;

/** A ~500 byte JSON object like a small Kubernetes resource. */
function object(ns: string, name: string, i: number): string {
  return JSON.stringify({
    apiVersion: "k8s.ovn.org/v1",
    kind: "EgressIP",
    metadata: {
      name,
      namespace: ns,
      uid: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
      labels: { app: "bench", tier: "backend" },
      annotations: { note: "x".repeat(120) },
      creationTimestamp: "2026-01-01T00:00:00Z",
    },
    spec: {
      egressIPs: [`10.0.${(i >> 8) & 255}.${i & 255}`],
      namespaceSelector: { matchLabels: { env: "prod" } },
      podSelector: { matchLabels: { app: name } },
    },
    status: { items: [{ node: "worker-1", egressIP: `10.0.${(i >> 8) & 255}.${i & 255}` }] },
  });
}

const base = process.argv[2] ?? (await mkdtemp(join(tmpdir(), "store-bench-")));
try {
  // 0. Baseline: the disk itself (600-byte append + fdatasync), so store overhead can be told apart
  //    from fsync latency, which dominates the tail on a shared machine.
  {
    const fh = await open(join(base, "fsync-probe"), "w");
    const b = Buffer.alloc(600, 1);
    const lat: number[] = [];
    for (let i = 0; i < 2000; i++) {
      const t = performance.now();
      await fh.write(b);
      await fh.datasync();
      lat.push(performance.now() - t);
    }
    await fh.close();
    lat.sort((a, b) => a - b);
    console.log(`baseline write+fdatasync x2000: p50 ${ms(pct(lat, 50))}  p99 ${ms(pct(lat, 99))}`);
  }

  // 1. 10,000 sequential durable creates.
  {
    const s = await openStore(join(base, "seq"));
    const lat: number[] = [];
    const t0 = performance.now();
    for (let i = 0; i < 10_000; i++) {
      const t = performance.now();
      await s.put(`/registry/egressips/ns-${i % 10}/obj-${i}`, object(`ns-${i % 10}`, `obj-${i}`, i), {
        expectModRevision: 0,
      });
      lat.push(performance.now() - t);
    }
    const total = performance.now() - t0;
    lat.sort((a, b) => a - b);
    console.log(
      `sequential put x10000 (fsync each): p50 ${ms(pct(lat, 50))}  p99 ${ms(pct(lat, 99))}  max ${ms(lat[lat.length - 1]!)}  ` +
        `total ${ms(total)} (${Math.round(10_000 / (total / 1000))} writes/s)`,
    );

    // 2. List 10,000 keys.
    const times: number[] = [];
    let n = 0;
    for (let r = 0; r < 10; r++) {
      const t = performance.now();
      n = (await s.list("/registry/egressips/")).items.length;
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    console.log(`list ${n} keys: median ${ms(pct(times, 50))}  max ${ms(times[times.length - 1]!)}`);
    const t = performance.now();
    const page = await s.list("/registry/egressips/ns-3/", { limit: 500 });
    console.log(`list one namespace page of ${page.items.length}: ${ms(performance.now() - t)}`);
    await s.close();
  }

  // 3. 100 concurrent writers, 100 updates each (group commit).
  {
    const s = await openStore(join(base, "conc"));
    const lat: number[] = [];
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 100 }, async (_, w) => {
        let rev = 0;
        for (let i = 0; i < 100; i++) {
          const t = performance.now();
          rev = (await s.put(`/registry/w/${w}`, object("w", String(w), i), { expectModRevision: rev }))
            .modRevision;
          lat.push(performance.now() - t);
        }
      }),
    );
    const total = performance.now() - t0;
    lat.sort((a, b) => a - b);
    console.log(
      `100 concurrent writers x100 CAS updates: ${Math.round(10_000 / (total / 1000))} writes/s, ` +
        `p50 ${ms(pct(lat, 50))}  p99 ${ms(pct(lat, 99))}`,
    );
    await s.close();
  }

  // 4. 100,000 objects: memory, snapshot, restart.
  {
    const dir = join(base, "big");
    let s = await openStore(dir);
    const t0 = performance.now();
    const batch = 1000;
    for (let i = 0; i < 100_000; i += batch) {
      await Promise.all(
        Array.from({ length: batch }, (_, j) =>
          s.put(
            `/registry/egressips/ns-${(i + j) % 100}/obj-${i + j}`,
            object(`ns-${(i + j) % 100}`, `obj-${i + j}`, i + j),
          ),
        ),
      );
    }
    const loadMs = performance.now() - t0;
    globalThis.gc?.();
    const m = process.memoryUsage();
    console.log(
      `100000 objects (~${object("ns-1", "obj-1", 1).length} B each) loaded in ${ms(loadMs)}: ` +
        `RSS ${mb(m.rss)}, heapUsed ${mb(m.heapUsed)}`,
    );
    let t = performance.now();
    const all = await s.list("/registry/egressips/");
    console.log(`list ${all.items.length} keys: ${ms(performance.now() - t)}`);
    t = performance.now();
    await s.compact(s.revision());
    console.log(`snapshot of 100000 objects (compact): ${ms(performance.now() - t)}`);
    await s.close();
    t = performance.now();
    s = await openStore(dir);
    console.log(
      `reopen from snapshot: ${ms(performance.now() - t)} (${s.recovery.replayed} log records replayed)`,
    );
    await s.close();
  }
} finally {
  if (!process.argv[2]) await rm(base, { recursive: true, force: true });
}
