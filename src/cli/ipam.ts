// `egress ipam reconcile`: runs the Whereabouts reconciler once against the API (kubernetes datastore
// only; the file datastore has no pod list to compare with) and prints what it removed. The decision
// is src/ipam/reconcile.ts; reading and writing is src/controllers/ipam/apply.ts. Must not decide.
// `egress ipam daemon --socket PATH`: the resident IPAM daemon the whereabouts shim talks to
// (src/ipam/daemon.ts); runs until SIGTERM/SIGINT (or, with --exit-on-stdin-close, until its parent
// closes its stdin) and prints its counters as JSON on stderr when it stops.
import type { Command } from "commander";
import { formatRemoval, reconcileOnce } from "../controllers/ipam/apply.js";
import { Client } from "../controllers/runtime/client.js";
import { DEFAULT_GRACE_MS } from "../ipam/reconcile.js";
import { kubeconfigPath } from "./adm.js";

interface Flags {
  kubeconfig?: string;
  gracePeriod: string;
  output?: string;
}

export function registerIpamCommands(program: Command): void {
  const ipam = program.command("ipam").description("Whereabouts IPAM administration");
  ipam
    .command("daemon")
    .description(
      "run the resident Whereabouts IPAM daemon: the whereabouts shim forwards CNI calls to it over a unix socket",
    )
    .option("--socket <path>", "unix socket to listen on", "/run/whereabouts/daemon.sock")
    .option("--max-batch <n>", "most transactions of one pool coalesced into one store write", "100")
    .option("--exit-on-stdin-close", "stop when stdin reaches end of file (the parent that started it died)")
    .action(async (o: { socket: string; maxBatch: string; exitOnStdinClose?: boolean }) => {
      const maxBatch = Number(o.maxBatch);
      if (!Number.isInteger(maxBatch) || maxBatch < 1)
        throw new Error(`--max-batch: ${JSON.stringify(o.maxBatch)} is not a positive integer`);
      // Loaded here, so the other commands do not pay for the datastore modules.
      const { startIpamDaemon } = await import("../ipam/daemon.js");
      const daemon = await startIpamDaemon({ socketPath: o.socket, maxBatch });
      process.stdout.write(`whereabouts daemon listening on ${daemon.socketPath}\n`);
      await new Promise<void>((resolve) => {
        process.once("SIGTERM", resolve);
        process.once("SIGINT", resolve);
        if (o.exitOnStdinClose) {
          process.stdin.on("end", resolve);
          process.stdin.on("error", resolve);
          process.stdin.resume();
        }
      });
      await daemon.close();
      process.stderr.write(`${JSON.stringify(daemon.stats())}\n`);
      process.exit(0);
    });
  ipam
    .command("reconcile")
    .description(
      "remove IPPool allocations and OverlappingRangeIPReservations whose pod is gone or no longer lists the address in k8s.v1.cni.cncf.io/network-status",
    )
    .option("--kubeconfig <file>", "kubeconfig (default: $KUBECONFIG, then ~/.kube/config)")
    .option(
      "--grace-period <seconds>",
      "leave allocations younger than this alone (age from the reservation's creationTimestamp; unknown age counts as old)",
      String(DEFAULT_GRACE_MS / 1000),
    )
    .option("-o, --output <format>", "json for machine-readable output")
    .action(async (o: Flags) => {
      const grace = Number(o.gracePeriod);
      if (!Number.isFinite(grace) || grace < 0)
        throw new Error(
          `--grace-period: ${JSON.stringify(o.gracePeriod)} is not a non-negative number of seconds`,
        );
      const client = Client.fromFile(kubeconfigPath(o.kubeconfig));
      const r = await reconcileOnce(client, { graceMs: grace * 1000 });
      if (o.output === "json") {
        process.stdout.write(`${JSON.stringify({ removed: r.removed, conflicts: r.conflicts }, null, 2)}\n`);
      } else {
        for (const { namespace, removal } of r.removed)
          process.stdout.write(`removed ${formatRemoval(removal, namespace)}\n`);
        const allocs = r.removed.filter((x) => x.removal.kind === "IPPool allocation").length;
        process.stdout.write(
          `${allocs} allocation(s), ${r.removed.length - allocs} reservation(s) removed${r.conflicts.length ? `; still conflicting: ${r.conflicts.join(", ")}` : ""}\n`,
        );
      }
      if (r.conflicts.length > 0) process.exitCode = 2;
    });
}
