// `egress agent --node NAME --kubeconfig FILE`: the node agent (runs inside the node's network
// namespace in the lab).
import type { Command } from "commander";
import { runAgent } from "../agent/agent.js";

function parseLabels(s: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (s ?? "").split(",").filter(Boolean)) {
    const i = part.indexOf("=");
    if (i === 0)
      throw new Error(`--labels: invalid entry ${JSON.stringify(part)} (expected key=value or key)`);
    if (i < 0) out[part] = "";
    else out[part.slice(0, i)] = part.slice(i + 1);
  }
  return out;
}

export function registerAgentCommand(program: Command): void {
  program
    .command("agent")
    .description("run the node agent: node registration, health endpoint, lab kubelet, dataplane")
    .requiredOption("--node <name>", "this node's name")
    .requiredOption("--kubeconfig <file>", "kubeconfig of the API server")
    .option("--labels <k=v,...>", "labels for the Node on first registration")
    .option("--primary-interface <ifname>", "the node's primary interface", "eth0")
    .option("--health-listen <host:port>", "health endpoint address", "0.0.0.0:10250")
    .option("--state-dir <dir>", "directory for the agent's state", "/var/lib/egress-agent")
    .option("--netns-prefix <prefix>", "prefix of pod network namespace names", "egp-")
    .option("--cni-bin-dir <dir...>", "directories of CNI plugins", ["/usr/lib/cni"])
    .option("--heartbeat-ms <ms>", "Node status heartbeat interval", "1000")
    .option(
      "--cluster-dns <ip...>",
      "upstream resolvers of the node's cluster DNS and of dnsPolicy Default pods, never blocked by egress firewalls (default: the node's resolv.conf)",
    )
    .action(
      async (o: {
        node: string;
        kubeconfig: string;
        labels?: string;
        primaryInterface: string;
        healthListen: string;
        stateDir: string;
        netnsPrefix: string;
        cniBinDir: string[];
        heartbeatMs: string;
        clusterDns?: string[];
      }) => {
        const agent = await runAgent({
          node: o.node,
          kubeconfig: o.kubeconfig,
          labels: parseLabels(o.labels),
          primaryInterface: o.primaryInterface,
          healthListen: o.healthListen,
          stateDir: o.stateDir,
          netnsPrefix: o.netnsPrefix,
          cniBinDirs: o.cniBinDir,
          heartbeatMs: Number(o.heartbeatMs),
          ...(o.clusterDns ? { clusterDNS: o.clusterDns } : {}),
        });
        const stop = () => {
          setTimeout(() => process.exit(0), 3000).unref();
          void agent.stop().finally(() => process.exit(0));
        };
        process.on("SIGINT", stop);
        process.on("SIGTERM", stop);
      },
    );
}
