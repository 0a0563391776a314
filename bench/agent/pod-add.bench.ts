// End-to-end pod add through the agent's real node sync: in-memory informer caches (the same events
// an API watch delivers) → DataplaneSync (incremental node view → incremental compile → element
// delta) → real `nft -f` in a scratch network namespace this benchmark creates and deletes (needs
// root). 10,000 pods on this node in 1,000 namespaces, 1,000 EgressIPs each selecting one namespace
// (half held here, a quarter by one other node, a quarter by two), 200 services × 3 endpoints.
// Times one pod event at a time, from the informer handing the event over ("the agent sees the
// Pod") to the return of the `nft -f` (or helper request) that applied the node table's change, with the agent's CPU
// time (user+sys of this process) over the same interval. The process runs inside the namespace, as
// the agent does (nft spawned directly, not through `ip netns exec`). The policy sync the same event starts runs
// too, as in the agent. Also times the view alone: incremental update vs. the full rebuild.
// Run after building: node <out>/bench/agent/pod-add.bench.js [--pods N] [--egressips N] [--events N]
//   [--warmup N] [--executor spawn|persistent] [--verbose] (per-event phases and warnings on stderr)
// --executor: persistent = PersistentNft, one long-lived nft-helper (libnftables) for all changes
// (default: it halved p50 and cut p99 by ~40% here; needs <out>/bin/nft-helper from
// scripts/build-native.mjs, else it falls back to spawning nft and the output says so);
// spawn = RealNft, one `nft -f -` process per change (what the numbers before 2026-11-22 used).
import { execFileSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { PerformanceObserver } from "node:perf_hooks";
import * as k8s from "@kubernetes/client-node";
import { DataplaneSync, type InformerSource, VIEW_KINDS } from "../../src/agent/dataplane-sync.js";
import {
  buildNodeView,
  type ClusterSource,
  clusterStateOf,
  IncrementalNodeView,
} from "../../src/agent/view.js";
import {
  clusterNetworkType,
  egressIPType,
  endpointsType,
  hostSubnetType,
  namespaceType,
  nodeType,
  podType,
  serviceType,
} from "../../src/api/kinds/index.js";
import type { KubeObject } from "../../src/api/object.js";
import type { ResourceType } from "../../src/api/resource.js";
import { Client } from "../../src/controllers/runtime/client.js";
import { compileNodeIncremental } from "../../src/dataplane/compile/incremental.js";
import type { NodeView } from "../../src/dataplane/compile/types.js";
import { RealIp } from "../../src/dataplane/ip/execer.js";
import type { NftExecer } from "../../src/dataplane/nft/execer.js";
import { RealNft } from "../../src/dataplane/nft/execer.js";
import { PersistentNft } from "../../src/dataplane/nft/persistent.js";
import { logger } from "../../src/util/log.js";
import { runInScratchNamespace } from "../scratch-netns.js";
import { arg, textArg } from "../support/args.js";

const PODS = arg("pods", 10_000);
const EIPS = arg("egressips", 1_000);
const EVENTS = arg("events", 100);
/** Events before the measured ones (JIT, the first sync's garbage and lingering arping processes). */
const WARMUP = arg("warmup", 10);
const EXECUTOR = (() => {
  const v = textArg("executor") ?? "persistent";
  if (v !== "spawn" && v !== "persistent") throw new Error(`--executor: spawn or persistent, not ${v}`);
  return v;
})();

type Handler = (type: "add" | "update" | "delete", obj: KubeObject) => void;

/** One resource's cache: objects by namespace/name, handlers called synchronously (as the client's
 *  informer calls them from its watch callback). */
class FakeInformer {
  readonly objects = new Map<string, KubeObject>();
  private readonly handlers: Handler[] = [];
  on(h: Handler): void {
    this.handlers.push(h);
  }
  list(): KubeObject[] {
    return [...this.objects.values()];
  }
  get(name: string, namespace?: string): KubeObject | undefined {
    return this.objects.get(`${namespace ?? ""}/${name}`);
  }
  put(o: KubeObject): void {
    const key = `${o.metadata.namespace ?? ""}/${o.metadata.name}`;
    const t = this.objects.has(key) ? "update" : "add";
    this.objects.set(key, o);
    for (const h of this.handlers) h(t, o);
  }
  delete(o: KubeObject): void {
    this.objects.delete(`${o.metadata.namespace ?? ""}/${o.metadata.name}`);
    for (const h of this.handlers) h("delete", o);
  }
}

class FakeInformers implements InformerSource {
  private readonly m = new Map<ResourceType, FakeInformer>();
  for(rt: ResourceType): FakeInformer {
    let i = this.m.get(rt);
    if (!i) {
      i = new FakeInformer();
      this.m.set(rt, i);
    }
    return i;
  }
  async startAll(): Promise<void> {}
  async restartAll(): Promise<void> {}
  async stopAll(): Promise<void> {}
}

const v4 = (n: number) => [24, 16, 8, 0].map((s) => (n >>> s) & 255).join(".");
const POD_BASE = (10 << 24) | (128 << 16) | 2; // 10.128.0.2
const ts = (i: number) => new Date(Date.UTC(2024, 0, 1) + i * 1000).toISOString();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};
const obj = (o: Record<string, unknown> & { metadata: KubeObject["metadata"] }): KubeObject =>
  o as unknown as KubeObject;

function pod(i: number): KubeObject {
  const ns = `ns${Math.floor(i / Math.max(1, Math.floor(PODS / EIPS))) % EIPS}`;
  return obj({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { namespace: ns, name: `p${i}`, labels: { app: "web" } },
    spec: { nodeName: "n1", containers: [{ name: "c", image: "pause" }] },
    status: { phase: "Running", podIP: v4(POD_BASE + i) },
  });
}

function fill(inf: FakeInformers, local: { namespace: string; name: string; ip: string }[]): void {
  inf.for(clusterNetworkType).put(
    obj({
      metadata: { name: "default" },
      clusterNetworks: [{ CIDR: "10.128.0.0/14", hostSubnetLength: 14 }],
      serviceNetwork: "172.30.0.0/16",
    }),
  );
  for (let i = 0; i < 10; i++) {
    const name = `n${i + 1}`;
    const ip = `192.168.126.${11 + i}`;
    inf
      .for(nodeType)
      .put(obj({ metadata: { name }, status: { addresses: [{ type: "InternalIP", address: ip }] } }));
    inf.for(hostSubnetType).put(
      obj({
        metadata: { name },
        host: name,
        hostIP: ip,
        subnet: `10.${128 + Math.floor(i / 4)}.${(i % 4) * 64}.0/18`,
      }),
    );
  }
  for (let e = 0; e < EIPS; e++) {
    inf.for(namespaceType).put(obj({ metadata: { name: `ns${e}`, labels: { "egress-group": `g${e}` } } }));
    const eip = (k: number) => v4(((192 << 24) | (168 << 16) | (100 << 8)) + e * 2 + k); // inside eth0's /18
    const items =
      e % 2 === 0
        ? [{ node: "n1", egressIP: eip(0) }]
        : e % 4 === 1
          ? [{ node: "n2", egressIP: eip(0) }]
          : [
              { node: "n2", egressIP: eip(0) },
              { node: "n3", egressIP: eip(1) },
            ];
    inf.for(egressIPType).put(
      obj({
        metadata: { name: `e${e}`, creationTimestamp: ts(e) },
        spec: {
          egressIPs: items.map((x) => x.egressIP),
          namespaceSelector: { matchLabels: { "egress-group": `g${e}` } },
        },
        status: { items },
      }),
    );
  }
  for (let i = 0; i < PODS; i++) {
    const p = pod(i);
    inf.for(podType).put(p);
    local.push({ namespace: p.metadata.namespace!, name: p.metadata.name!, ip: v4(POD_BASE + i) });
  }
  for (let s = 0; s < 200; s++) {
    inf.for(serviceType).put(
      obj({
        metadata: { namespace: "bench", name: `svc${s}` },
        spec: { clusterIP: v4(((172 << 24) | (30 << 16)) + 10 + s), ports: [{ port: 80, targetPort: 8080 }] },
      }),
    );
    inf.for(endpointsType).put(
      obj({
        metadata: { namespace: "bench", name: `svc${s}` },
        subsets: [
          {
            addresses: [0, 1, 2].map((k) => ({ ip: v4(POD_BASE + ((s * 3 + k) % PODS)) })),
            ports: [{ port: 8080 }],
          },
        ],
      }),
    );
  }
}

/** Records when each `nft -f` of the node table returned. */
class TimedNft implements NftExecer {
  nodeApplied: ((script: string) => void) | undefined;
  nodeApplies = 0;
  constructor(private readonly real: NftExecer) {}
  async apply(script: string): Promise<void> {
    await this.real.apply(script);
    if (script.includes("egress-node")) {
      this.nodeApplies++;
      this.nodeApplied?.(script);
    }
  }
  check(script: string): Promise<void> {
    return this.real.check(script);
  }
  listJson(family: string, name: string): Promise<unknown | undefined> {
    return this.real.listJson(family, name);
  }
}

/** Garbage-collection pauses of this process (ms, total): explains outliers. */
let gcMs = 0;
new PerformanceObserver((l) => {
  for (const e of l.getEntries()) gcMs += e.duration;
}).observe({ entryTypes: ["gc"] });

// The agent runs inside its node's namespace and spawns `nft` there directly: so does this benchmark.
// The outer process creates the scratch namespace, runs itself inside it (`--inside`) and deletes it.
await runInScratchNamespace("egpa", inside);

async function inside(): Promise<void> {
  const ipn = (...args: string[]) => execFileSync("ip", args, { stdio: "pipe" });
  const dir = await mkdtemp(join(tmpdir(), "egress-podadd-"));
  let sync: DataplaneSync | undefined;
  let persistent: PersistentNft | undefined;
  try {
    ipn("link", "set", "lo", "up");
    ipn("link", "add", "eth0", "type", "veth", "peer", "name", "eth0p");
    ipn("link", "add", "egbr0", "type", "bridge");
    ipn("addr", "add", "192.168.126.11/18", "dev", "eth0");
    for (const l of ["eth0", "eth0p", "egbr0"]) ipn("link", "set", l, "up");
    const bridgeNf = join(dir, "bridge-nf-call-iptables");
    await writeFile(bridgeNf, "1\n");

    const informers = new FakeInformers();
    let local: { namespace: string; name: string; ip: string }[] = [];
    fill(informers, local);
    const executor = EXECUTOR === "persistent" ? new PersistentNft({}) : new RealNft({});
    persistent = executor instanceof PersistentNft ? executor : undefined;
    const nft = new TimedNft(executor);
    const kc = new k8s.KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: "none", server: "https://127.0.0.1:1" }],
      users: [{ name: "none" }],
      contexts: [{ name: "none", cluster: "none", user: "none" }],
      currentContext: "none",
    });
    const log = logger("bench");
    log.level = process.argv.includes("--verbose") ? "warn" : "error";
    sync = new DataplaneSync(
      new Client(kc),
      {
        node: "n1",
        bridge: "egbr0",
        nft,
        ip: new RealIp({}),
        // As the agent's kubelet: a fresh list on every call.
        localPods: () => local.map((p) => ({ ...p })),
        owned: new Set(),
        apiReachable: () => true,
        dnsServers: [],
        bridgeNfPath: bridgeNf,
        probeSilence: () => undefined,
        readInterfaces: async () => [{ name: "eth0", address: "192.168.126.11/18" }],
        duplicateAddress: async () => false,
        informers,
      },
      log,
    );
    let t0 = performance.now();
    await sync.start();
    await sync.idle();
    const firstSyncMs = performance.now() - t0;

    // One pod event at a time: add pod PODS+k (joins EgressIP k mod EIPS's namespace), then delete it.
    const wall: number[] = [];
    const cpu: number[] = [];
    const gc: number[] = [];
    const phases: Record<string, number[]> = {};
    let misses = 0;
    for (let k = -WARMUP; k < EVENTS; k++) {
      const i = PODS + Math.floor((k + WARMUP) / 2);
      const p = pod(i);
      const ip = v4(POD_BASE + i);
      // Time and CPU are read when the node table's `nft -f` returns (before anything else runs).
      let c: NodeJS.CpuUsage = { user: 0, system: 0 };
      const seen = new Promise<number>((resolve) => {
        nft.nodeApplied = (script) => {
          if (!script.includes(ip)) return;
          c = process.cpuUsage(c0);
          resolve(performance.now());
        };
      });
      const c0 = process.cpuUsage();
      const g0 = gcMs;
      t0 = performance.now();
      if ((k + WARMUP) % 2 === 0) {
        local = [...local, { namespace: p.metadata.namespace!, name: p.metadata.name!, ip }];
        informers.for(podType).put(p);
      } else {
        local = local.filter((x) => x.name !== p.metadata.name);
        informers.for(podType).delete(p);
      }
      let timer: NodeJS.Timeout | undefined;
      const t1 = await Promise.race([
        seen,
        new Promise<number>((r) => (timer = setTimeout(() => r(-1), 5000))),
      ]);
      clearTimeout(timer);
      if (k < 0) {
        // warm-up: not counted
      } else if (t1 < 0) {
        misses++;
        console.error(JSON.stringify({ k, missed: true }));
      } else {
        wall.push(t1 - t0);
        cpu.push((c.user + c.system) / 1000);
        gc.push(gcMs - g0);
      }
      await sync.idle();
      // The phases of the sync that applied this event (set when that sync ended).
      if (t1 >= 0) {
        if (process.argv.includes("--verbose"))
          console.error(
            JSON.stringify({
              k,
              ms: Math.round(t1 - t0),
              gcMs: Math.round(gc.at(-1) ?? 0),
              phases: sync.lastNodeSyncPhases,
            }),
          );
        for (const [ph, ms] of Object.entries(sync.lastNodeSyncPhases)) {
          const l = phases[ph] ?? [];
          l.push(ms);
          phases[ph] = l;
        }
      }
    }

    // The view alone at this scale: incremental update for one pod event vs. the full rebuild.
    const inf = informers;
    const lists = new Map<string, ResourceType>([...VIEW_KINDS, ["pods", podType]]);
    const src = (): ClusterSource => ({
      nodeName: "n1",
      bridge: "egbr0",
      interfaces: [{ name: "eth0", address: "192.168.126.11/18" }],
      list: (kind) => inf.for(lists.get(kind)!).list(),
      pod: (namespace, name) => inf.for(podType).get(name, namespace),
      localPods: local.map((p) => ({ ...p })),
    });
    const iv = new IncrementalNodeView();
    let compiled = compileNodeIncremental(iv.view(src()));
    const incr: number[] = [];
    const full: number[] = [];
    const comp: number[] = [];
    const cpuMs = (f: () => void) => {
      const c0 = process.cpuUsage();
      f();
      const c = process.cpuUsage(c0);
      return (c.user + c.system) / 1000;
    };
    for (let k = 0; k < 50; k++) {
      const p = pod(PODS + 1000 + k);
      inf.for(podType).objects.set(`${p.metadata.namespace}/${p.metadata.name}`, p);
      iv.podChanged(p.metadata.namespace!, p.metadata.name!);
      const s = src();
      let view: NodeView | undefined;
      incr.push(cpuMs(() => (view = iv.view(s))));
      comp.push(cpuMs(() => (compiled = compileNodeIncremental(view!, compiled))));
      if (compiled.mode !== "incremental") throw new Error("the pod add compiled afresh");
      full.push(cpuMs(() => buildNodeView(clusterStateOf(s))));
    }

    const fmt = (n: number) => Number(n.toFixed(1));
    console.log(
      JSON.stringify(
        {
          executor: persistent ? `persistent (${persistent.mode})` : "spawn",
          ...(persistent?.fallbackReason ? { fallbackReason: persistent.fallbackReason } : {}),
          pods: PODS,
          egressIPs: EIPS,
          namespaces: EIPS,
          services: 200,
          events: EVENTS,
          warmupEvents: WARMUP,
          misses,
          firstSyncMs: fmt(firstSyncMs),
          podEventToNftReturnedMs: {
            p50: fmt(pct(wall, 50)),
            p99: fmt(pct(wall, 99)),
            max: fmt(Math.max(...wall)),
          },
          agentCpuMsOverThatInterval: { p50: fmt(pct(cpu, 50)), p99: fmt(pct(cpu, 99)) },
          gcPauseMsOverThatInterval: {
            p50: fmt(pct(gc, 50)),
            p99: fmt(pct(gc, 99)),
            max: fmt(Math.max(...gc)),
          },
          nodeSyncPhasesMedianMs: Object.fromEntries(
            Object.entries(phases).map(([k, v]) => [k, fmt(median(v))]),
          ),
          viewCpuMs: {
            incrementalMedian: fmt(median(incr)),
            incrementalMax: fmt(Math.max(...incr)),
            fullRebuildMedian: fmt(median(full)),
          },
          incrementalCompileCpuMs: {
            median: fmt(median(comp)),
            p99: fmt(pct(comp, 99)),
            max: fmt(Math.max(...comp)),
          },
          loadAverage: loadavg().map((x) => x.toFixed(1)),
        },
        null,
        2,
      ),
    );
  } finally {
    await sync?.stop();
    await persistent?.close();
    await rm(dir, { recursive: true, force: true });
  }
}
