// The controllers' process of cluster.bench.ts: runControllers (no leader election) with either
// every controller (allControllers(), "all"), only EgressIP + EgressService + LoadBalancer
// ("focused") or the EgressIP controller alone ("egressip"), against the bench's API server. Talks to the bench over the IPC channel: sends
// {type:"ready"} once the informers are filled, answers {cmd:"stats"} with its CPU time, memory,
// the pod/node watch events its informers delivered and the EgressIP assignment-latency histogram,
// and stops on {cmd:"stop"}. It must not change any object itself.
// Run by the bench: node controllers-child.js KUBECONFIG all|focused|egressip OPTIONS_JSON
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { namespaceType, nodeType, podType } from "../../../src/api/kinds/index.js";
import { runControllers } from "../../../src/controllers/control-plane.js";
import { EgressIPController } from "../../../src/controllers/egressip/controller.js";
import { EgressServiceController } from "../../../src/controllers/egressservice/controller.js";
import { allControllers } from "../../../src/controllers/index.js";
import { LoadBalancerController } from "../../../src/controllers/loadbalancer/controller.js";
import { Client } from "../../../src/controllers/runtime/client.js";
import type { Controller, ControllerContext } from "../../../src/controllers/runtime/manager.js";
import { newMetricsRegistry } from "../../../src/controllers/runtime/manager.js";
import type { ChildStats, ParentCommand } from "./protocol.js";

const [kubeconfig, set = "all", optionsJson = "{}"] = process.argv.slice(2);
if (!kubeconfig || !process.send) {
  process.stderr.write(
    "usage (with an IPC channel): controllers-child.js KUBECONFIG all|focused|egressip OPTIONS_JSON\n",
  );
  process.exit(2);
}
const send = (m: unknown) => process.send?.(m);

/** Counts the watch events the shared informers deliver (adds no informer the set lacks, except
 *  pods/nodes/namespaces, which every set has). */
class EventCounter implements Controller {
  readonly name = "bench-counter";
  pods = 0;
  nodes = 0;
  namespaces = 0;
  setup(ctx: ControllerContext): void {
    ctx.informers.for(podType).on(() => this.pods++);
    ctx.informers.for(nodeType).on(() => this.nodes++);
    ctx.informers.for(namespaceType).on(() => this.namespaces++);
  }
  start(): void {}
  stop(): void {}
}

const counter = new EventCounter();
const controllers: Controller[] =
  set === "focused"
    ? [new EgressIPController(), new LoadBalancerController(), new EgressServiceController()]
    : set === "egressip"
      ? [new EgressIPController()]
      : allControllers();
const metrics = newMetricsRegistry();
const t0 = performance.timeOrigin + performance.now();
const cp = runControllers(Client.fromFile(kubeconfig), [counter, ...controllers], {
  leaderElection: false,
  metrics,
  options: JSON.parse(optionsJson) as Record<string, unknown>,
});
void cp.ready.then(() =>
  send({ type: "ready", spawnedAt: t0, readyAt: performance.timeOrigin + performance.now() }),
);

async function histogram(name: string): Promise<{ sum: number; count: number }> {
  const m = (await metrics.getSingleMetric(name)?.get()) as
    | { values: { metricName?: string; value: number }[] }
    | undefined;
  const v = (suffix: string) => m?.values.find((x) => x.metricName === `${name}_${suffix}`)?.value ?? 0;
  return { sum: v("sum"), count: v("count") };
}

let profiler: Session | undefined;

process.on("message", (msg: ParentCommand) => {
  if (msg.cmd === "stats") {
    void histogram("egress_ips_assign_latency_seconds").then((assign) => {
      const mem = process.memoryUsage();
      const cpu = process.cpuUsage();
      const stats: ChildStats = {
        type: "stats",
        id: msg.id,
        at: performance.timeOrigin + performance.now(),
        cpuMs: (cpu.user + cpu.system) / 1000,
        rss: mem.rss,
        heapUsed: mem.heapUsed,
        podEvents: counter.pods,
        nodeEvents: counter.nodes,
        namespaceEvents: counter.namespaces,
        assignLatency: assign,
      };
      send(stats);
    });
  } else if (msg.cmd === "profile-start") {
    void (async () => {
      profiler ??= new Session();
      profiler.connect();
      await profiler.post("Profiler.enable");
      await profiler.post("Profiler.setSamplingInterval", { interval: 500 });
      await profiler.post("Profiler.start");
      send({ type: "profile", id: msg.id });
    })();
  } else if (msg.cmd === "profile-stop") {
    void (async () => {
      if (profiler) {
        const { profile } = await profiler.post("Profiler.stop");
        writeFileSync(msg.file, JSON.stringify(profile));
        profiler.disconnect();
        profiler = undefined;
      }
      send({ type: "profile", id: msg.id });
    })();
  } else if (msg.cmd === "gc") {
    (globalThis as { gc?: () => void }).gc?.();
    send({ type: "gc", id: msg.id });
  } else if (msg.cmd === "stop") {
    void cp.stop().finally(() => process.exit(0));
  }
});
process.on("disconnect", () => process.exit(0));
