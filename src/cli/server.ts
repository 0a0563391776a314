// `egress server`: runs the API server, and the controllers in the same process unless
// --no-controllers, until SIGINT/SIGTERM.
import type { Command } from "commander";
import { startApiServer } from "../apiserver/server.js";
import { type RunningControlPlane, runControllers } from "../controllers/control-plane.js";
import { allControllers } from "../controllers/index.js";
import { Client } from "../controllers/runtime/client.js";
import { newMetricsRegistry } from "../controllers/runtime/manager.js";
import {
  addControlPlaneFlags,
  type ControlPlaneFlagValues,
  controlPlaneOptions,
} from "./control-plane-flags.js";

interface ServerFlags extends ControlPlaneFlagValues {
  dataDir: string;
  listen: string;
  advertiseHost?: string;
  tlsSan?: string[];
  listenFd?: string[];
  serviceCidr: string;
  controllers: boolean;
}

function parseFd(s: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 3)
    throw new Error(`--listen-fd: expected a file descriptor number ≥ 3, got ${JSON.stringify(s)}`);
  return n;
}

export function registerServerCommand(program: Command): void {
  const cmd = program
    .command("server")
    .description(
      "run the Kubernetes-compatible API server with its durable embedded store and the controllers",
    )
    .requiredOption("--data-dir <dir>", "directory for the store, PKI, token and kubeconfig")
    .option("--listen <host:port>", "address to serve HTTPS on", "127.0.0.1:6443")
    .option("--advertise-host <host>", "host written into the kubeconfig (default: the listen host)")
    .option("--tls-san <name...>", "extra IP addresses or DNS names for the serving certificate")
    .option("--listen-fd <fd...>", "also serve on these inherited listening sockets (file descriptors)")
    .option("--service-cidr <cidr>", "service network for cluster IPs", "172.30.0.0/16")
    .option("--no-controllers", "serve the API only");
  addControlPlaneFlags(cmd).action(async (o: ServerFlags) => {
    const cpOptions = controlPlaneOptions(o);
    const metrics = newMetricsRegistry();
    const srv = await startApiServer({
      dataDir: o.dataDir,
      listen: o.listen,
      ...(o.advertiseHost ? { advertiseHost: o.advertiseHost } : {}),
      ...(o.tlsSan ? { tlsSANs: o.tlsSan } : {}),
      ...(o.listenFd ? { listenFds: o.listenFd.map((f) => parseFd(f)) } : {}),
      serviceCIDR: o.serviceCidr,
      metrics,
    });
    let cp: RunningControlPlane | undefined;
    if (o.controllers) {
      cp = runControllers(Client.fromFile(srv.kubeconfigPath), allControllers(), {
        options: cpOptions,
        metrics,
      });
    }
    process.stdout.write(`egress server listening on ${srv.url}\nkubeconfig: ${srv.kubeconfigPath}\n`);
    let stopping = false;
    const stop = () => {
      if (stopping) return;
      stopping = true;
      // A stuck shutdown step (a watch that does not end, a lease release that hangs) must not
      // keep the process alive: exit after a grace period regardless.
      setTimeout(() => process.exit(0), 3000).unref();
      Promise.resolve(cp?.stop())
        .catch(() => undefined)
        .then(() => srv.close())
        .then(
          () => process.exit(0),
          () => process.exit(1),
        );
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}
