// Benchmark: EgressIP failover decision time against the in-process API server.
//   notready  – Node Ready=False status write → EgressIP status write that moves the IP
//   hang      – health endpoint stops answering (probe timeouts) → status write
//   reset     – health endpoint drops connections (agent gone) → status write
// Two numbers per run: end-to-end (from just before the Node/endpoint change to the moment a watch
// in this process sees the new status; includes the patch round trip and two watch deliveries) and
// controller-side (egress_ips_assign_latency_seconds: the controller's first triggering event to
// its last status write). Background: --nodes labelled nodes and --eips EgressIPs of 1–4 IPs.
// Run: node .build/<you>/bench/controllers/failover.bench.js [--runs 50] [--nodes 3] [--eips 1]
//      [--interval 200] [--failures 1] [--timeout 300] [--only notready,hang,reset] [--memory]
// --memory: the API server keeps its store in memory (no fsync per write), to separate the
// controller's own time from the disk's.

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { egressIPType } from "../../src/api/kinds/index.js";
import type { KubeObject } from "../../src/api/object.js";
import { startApiServer } from "../../src/apiserver/server.js";
import { runControllers } from "../../src/controllers/control-plane.js";
import { EgressIPController } from "../../src/controllers/egressip/controller.js";
import { Client } from "../../src/controllers/runtime/client.js";
import { newMetricsRegistry } from "../../src/controllers/runtime/manager.js";
import { MemoryStore } from "../../src/store/index.js";
import {
  ASSIGNABLE,
  clientNode,
  clientSetReady,
  HEALTH,
  HealthServer,
  primaryIfAddr,
} from "../../test/e2e/controllers/egressip-support.js";
import { startTestServer } from "../../test/e2e/support/server.js";

async function server(): Promise<{ kubeconfigPath: string; stop(): Promise<void> }> {
  if (!args.memory) return startTestServer();
  const dataDir = await mkdtemp(join(tmpdir(), "egress-bench-"));
  const srv = await startApiServer({ dataDir, listen: "127.0.0.1:0", store: new MemoryStore() });
  return {
    kubeconfigPath: srv.kubeconfigPath,
    async stop() {
      await srv.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

const { values: args } = parseArgs({
  options: {
    runs: { type: "string", default: "50" },
    nodes: { type: "string", default: "3" },
    eips: { type: "string", default: "1" },
    interval: { type: "string", default: "200" },
    failures: { type: "string", default: "1" },
    timeout: { type: "string", default: "300" },
    only: { type: "string", default: "notready,hang,reset" },
    memory: { type: "boolean", default: false },
  },
});
const RUNS = Number(args.runs);
const NODES = Math.max(3, Number(args.nodes));
const EIPS = Math.max(1, Number(args.eips));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const q = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? Number.NaN;
};
const fmt = (xs: number[]) =>
  `p50 ${q(xs, 50).toFixed(1)} ms  p99 ${q(xs, 99).toFixed(1)} ms  min ${Math.min(...xs).toFixed(1)}  max ${Math.max(...xs).toFixed(1)}`;

type Mode = "notready" | "hang" | "reset";

async function scenario(mode: Mode): Promise<void> {
  const probing = mode !== "notready";
  const srv = await server();
  const client = Client.fromFile(srv.kubeconfigPath);
  const metrics = newMetricsRegistry();
  const health: HealthServer[] = [];
  const ctl = new EgressIPController({
    probeIntervalMs: Number(args.interval),
    probeFailures: Number(args.failures),
  });
  const cp = runControllers(client, [ctl], {
    leaderElection: false,
    metrics,
    options: { egressIPReachabilityTimeoutMs: probing ? Number(args.timeout) : 0 },
  });
  try {
    await cp.ready;
    for (let i = 0; i < NODES; i++) {
      const h = probing ? await new HealthServer().start() : undefined;
      if (h) health.push(h);
      const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
      await clientNode(client, {
        name: `node-${String(i).padStart(5, "0")}`,
        labels: { [ASSIGNABLE]: "" },
        annotations: { ...primaryIfAddr(`${ip}/8`), ...(h ? { [HEALTH]: h.url } : {}) },
        internalIP: ip,
      });
    }
    // The measured EgressIP: one IP. Background EgressIPs: 1–4 IPs each.
    const mk = (name: string, ips: string[]) =>
      client.create(egressIPType, {
        apiVersion: "k8s.ovn.org/v1",
        kind: "EgressIP",
        metadata: { name },
        spec: { egressIPs: ips, namespaceSelector: { matchLabels: { eip: name } } },
      });
    await mk("measured", ["10.200.0.1"]);
    let k = 0;
    for (let e = 1; e < EIPS; e++) {
      const ips = [];
      for (let j = 0; j < 1 + (e % 4); j++, k++) ips.push(`10.201.${(k >> 8) & 255}.${k & 255}`);
      await mk(`bg-${e}`, ips);
    }

    // Watch the measured EgressIP from here.
    let holder: string | undefined;
    let waiter: ((node: string) => void) | undefined;
    const inf = client.informer<KubeObject>(egressIPType);
    const onObj = (o: KubeObject) => {
      if (o.metadata.name !== "measured") return;
      const items = (o.status as { items?: { node: string }[] } | undefined)?.items ?? [];
      const n = items[0]?.node;
      if (n !== undefined && n !== holder) {
        holder = n;
        waiter?.(n);
      }
    };
    inf.on("add", onObj);
    inf.on("update", onObj);
    await inf.start();
    const t0w = Date.now();
    while (holder === undefined && Date.now() - t0w < 30_000) await sleep(10);
    if (holder === undefined) throw new Error("measured EgressIP never placed");

    const hist = async () => {
      const m = (await metrics.getSingleMetric("egress_ips_assign_latency_seconds")?.get()) as
        | { values: { metricName?: string; value: number }[] }
        | undefined;
      const v = (suffix: string) =>
        m?.values.find((x) => x.metricName === `egress_ips_assign_latency_seconds_${suffix}`)?.value ?? 0;
      return { sum: v("sum"), count: v("count") };
    };

    const e2e: number[] = [];
    const ctlSide: number[] = [];
    for (let r = 0; r < RUNS + 3; r++) {
      const from = holder;
      const idx = Number(from.slice(5));
      await ctl.idle();
      const h0 = await hist();
      const moved = new Promise<string>((res) => {
        waiter = res;
      });
      // Random phase against the probe tick, as a real failure would have.
      if (probing) await sleep(Math.random() * Number(args.interval));
      const t0 = performance.now();
      if (mode === "notready") await clientSetReady(client, from, false);
      else health[idx]!.mode = mode;
      const to = await moved;
      const t1 = performance.now();
      waiter = undefined;
      await ctl.idle();
      const h1 = await hist();
      if (r >= 3) {
        // first runs warm up the JIT
        e2e.push(t1 - t0);
        if (h1.count > h0.count) ctlSide.push(((h1.sum - h0.sum) / (h1.count - h0.count)) * 1000);
      }
      if (to === from) throw new Error("did not move");
      // Recover the old holder (nothing moves back) before the next run.
      if (mode === "notready") await clientSetReady(client, from, true);
      else health[idx]!.mode = "ok";
      await sleep(probing ? 2 * Number(args.interval) + Number(args.timeout) : 20);
    }
    inf.stop();
    const detect = probing
      ? ` (probe interval ${args.interval} ms × failures ${args.failures} + timeout ${args.timeout} ms = worst-case detection ${Number(args.interval) * Number(args.failures) + Number(args.timeout)} ms)`
      : "";
    console.log(
      `${mode}: ${RUNS} runs, ${NODES} nodes, ${EIPS} EgressIPs, ${args.memory ? "memory" : "durable (fsync)"} store${detect}`,
    );
    console.log(`  end-to-end       ${fmt(e2e)}`);
    console.log(`  controller-side  ${fmt(ctlSide)}  (n=${ctlSide.length})`);
  } finally {
    await cp.stop();
    await Promise.all(health.map((h) => h.close()));
    await srv.stop();
  }
}

for (const m of String(args.only).split(",")) await scenario(m as Mode);
