// `egress ipam reconcile`: runs the Whereabouts reconciler once against the API (kubernetes datastore
// only; the file datastore has no pod list to compare with) and prints what it removed. The decision
// is src/ipam/reconcile.ts; reading and writing is src/controllers/ipam/apply.ts. Must not decide.
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
