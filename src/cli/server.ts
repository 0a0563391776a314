// `egress server`: runs the API server until SIGINT/SIGTERM.
import type { Command } from "commander";
import { startApiServer } from "../apiserver/server.js";

export function registerServerCommand(program: Command): void {
  program
    .command("server")
    .description("run the Kubernetes-compatible API server with its durable embedded store")
    .requiredOption("--data-dir <dir>", "directory for the store, PKI, token and kubeconfig")
    .option("--listen <host:port>", "address to serve HTTPS on", "127.0.0.1:6443")
    .option("--advertise-host <host>", "host written into the kubeconfig (default: the listen host)")
    .option("--tls-san <name...>", "extra IP addresses or DNS names for the serving certificate")
    .option("--service-cidr <cidr>", "service network for cluster IPs", "172.30.0.0/16")
    .action(
      async (o: {
        dataDir: string;
        listen: string;
        advertiseHost?: string;
        tlsSan?: string[];
        serviceCidr: string;
      }) => {
        const srv = await startApiServer({
          dataDir: o.dataDir,
          listen: o.listen,
          ...(o.advertiseHost ? { advertiseHost: o.advertiseHost } : {}),
          ...(o.tlsSan ? { tlsSANs: o.tlsSan } : {}),
          serviceCIDR: o.serviceCidr,
        });
        process.stdout.write(`egress server listening on ${srv.url}\nkubeconfig: ${srv.kubeconfigPath}\n`);
        let stopping = false;
        const stop = () => {
          if (stopping) return;
          stopping = true;
          srv.close().then(
            () => process.exit(0),
            () => process.exit(1),
          );
        };
        process.on("SIGINT", stop);
        process.on("SIGTERM", stop);
      },
    );
}
