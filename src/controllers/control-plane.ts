// Runs a set of controllers against an API (ours or any Kubernetes API): leader election through a
// Lease (kube-system/egress-controllers), shared informers, event recording and metrics. Used inside
// `egress server` and standalone by `egress controllers --kubeconfig FILE`.
import { hostname } from "node:os";
import type { Registry } from "prom-client";
import { eventType, leaseType } from "../api/kinds/index.js";
import { type Logger, logger } from "../util/log.js";
import type { Client } from "./runtime/client.js";
import { EventRecorder } from "./runtime/events.js";
import { LeaderElector } from "./runtime/leader.js";
import {
  type Controller,
  type ControllerContext,
  type ControlPlaneOptions,
  defaultControlPlaneOptions,
  InformerFactory,
  newMetricsRegistry,
} from "./runtime/manager.js";

export interface RunOptions {
  options?: Partial<ControlPlaneOptions>;
  /** Disable for tests and single-replica setups; default on. */
  leaderElection?: boolean;
  identity?: string;
  leaseNamespace?: string;
  leaseName?: string;
  metrics?: Registry;
  log?: Logger;
}

export interface RunningControlPlane {
  metrics: Registry;
  /** Resolves once this replica leads and every informer has its initial list. */
  ready: Promise<void>;
  stop(): Promise<void>;
}

export function runControllers(
  client: Client,
  controllers: Controller[],
  run: RunOptions = {},
): RunningControlPlane {
  const log = run.log ?? logger("controllers");
  const metrics = run.metrics ?? newMetricsRegistry();
  const options = { ...defaultControlPlaneOptions, ...run.options };
  let informers: InformerFactory | undefined;
  let resolveReady: () => void = () => {};
  const ready = new Promise<void>((r) => (resolveReady = r));

  const startLeading = () => {
    informers = new InformerFactory(client, log);
    const ctx: ControllerContext = {
      client,
      informers,
      recorder: new EventRecorder(client, eventType, "egress-controllers", log),
      metrics,
      log,
      options,
    };
    for (const c of controllers) c.setup(ctx);
    const inf = informers;
    void inf
      .startAll()
      .then(() => {
        for (const c of controllers) c.start();
        log.info({ controllers: controllers.map((c) => c.name) }, "controllers started");
        resolveReady();
      })
      .catch((e) => log.error({ err: e }, "informers failed to start"));
  };
  const stopLeading = async () => {
    for (const c of controllers) c.stop();
    await informers?.stopAll();
    informers = undefined;
  };

  let elector: LeaderElector | undefined;
  if (run.leaderElection === false) {
    startLeading();
  } else {
    elector = new LeaderElector(
      client,
      leaseType,
      {
        name: run.leaseName ?? "egress-controllers",
        namespace: run.leaseNamespace ?? "kube-system",
        identity: run.identity ?? `${hostname()}-${process.pid}`,
      },
      log,
    );
    elector.run(startLeading, () => void stopLeading());
  }
  return {
    metrics,
    ready,
    async stop() {
      await elector?.stop();
      await stopLeading();
    },
  };
}
