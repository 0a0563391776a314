// `egress controllers --kubeconfig FILE`: the control plane standalone, against any
// Kubernetes-compatible API (several replicas may run; a Lease elects the active one).
import { createServer } from "node:http";
import type { Command } from "commander";
import { runControllers } from "../controllers/control-plane.js";
import { allControllers } from "../controllers/index.js";
import { Client } from "../controllers/runtime/client.js";
import { newMetricsRegistry } from "../controllers/runtime/manager.js";
import {
  addControlPlaneFlags,
  type ControlPlaneFlagValues,
  controlPlaneOptions,
} from "./control-plane-flags.js";

interface Flags extends ControlPlaneFlagValues {
  kubeconfig: string;
  metricsListen: string;
  leaderElect: boolean;
}

export function registerControllersCommand(program: Command): void {
  const cmd = program
    .command("controllers")
    .description("run the controllers against a Kubernetes-compatible API")
    .requiredOption("--kubeconfig <file>", "kubeconfig of the API server")
    .option(
      "--metrics-listen <host:port>",
      "serve Prometheus metrics at http://HOST:PORT/metrics",
      "127.0.0.1:9300",
    )
    .option("--no-leader-elect", "run without leader election (single replica)");
  addControlPlaneFlags(cmd).action(async (o: Flags) => {
    const metrics = newMetricsRegistry();
    const [host, port] = [o.metricsListen.replace(/:\d+$/, ""), Number(o.metricsListen.replace(/^.*:/, ""))];
    const http = createServer((req, res) => {
      if (req.url !== "/metrics") {
        res.writeHead(404).end();
        return;
      }
      metrics.metrics().then((text) => {
        res.writeHead(200, { "Content-Type": metrics.contentType });
        res.end(text);
      });
    });
    http.listen(port, host);
    const cp = runControllers(Client.fromFile(o.kubeconfig), allControllers(), {
      options: controlPlaneOptions(o),
      metrics,
      leaderElection: o.leaderElect,
    });
    const stop = () => {
      setTimeout(() => process.exit(0), 3000).unref();
      void cp.stop().finally(() => process.exit(0));
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}
