// `egress trace --from <ns>/<pod> --to <ip|ns/pod>[:port][/proto]`: what the dataplane would do with
// the first packet of a new flow. Lists the objects once, builds each involved node's PolicyView and
// NodeView exactly as that node's agent would (from the API; the kubelet's first-hand pod addresses
// are not visible here), compiles the programs and pushes a virtual packet through them: the policy
// program of the source node (egress side), of the destination pod's node when that is another node
// (ingress is decided there), and, for destinations outside the cluster, the node program's egress
// path (reroute to an egress IP holder, SNAT, masquerade or drop); a ClusterIP flow also passes the
// source node's postrouting (masquerade between pods of one bridge); an address of the source pod's
// own node is delivered by the input hook, which no pod policy filters. `--batch FILE` traces many
// queries against one listing, compiling each node's programs once. Reads the API only; changes
// nothing. The parts live in src/cli/trace/ (args, flow, format, batch); this file is the command.
import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { resolvConfNameservers } from "../agent/policy-view.js";
import {
  clusterNetworkType,
  egressFirewallType,
  egressIPType,
  egressNetworkPolicyType,
  endpointsType,
  hostSubnetType,
  namespaceType,
  netNamespaceType,
  networkPolicyType,
  nodeType,
  podType,
  serviceType,
} from "../api/kinds/index.js";
import { Client } from "../controllers/runtime/client.js";
import { kubeconfigPath } from "./adm.js";

import { parseFrom, parseOutput, parseTo, TraceArgError, type TraceTarget } from "./trace/args.js";
import { type BatchQuery, formatBatch, parseBatch, traceBatch } from "./trace/batch.js";
import { type ClusterObjects, traceFlow } from "./trace/flow.js";
import { formatReport } from "./trace/format.js";

// ------------------------------------------------------------------------------------------ command

/** What the trace lists, one kind per field of ClusterObjects. */
const LISTED: Record<keyof ClusterObjects, Parameters<Client["list"]>[0]> = {
  hostSubnets: hostSubnetType,
  nodes: nodeType,
  clusterNetworks: clusterNetworkType,
  pods: podType,
  namespaces: namespaceType,
  netNamespaces: netNamespaceType,
  networkPolicies: networkPolicyType,
  egressFirewalls: egressFirewallType,
  egressNetworkPolicies: egressNetworkPolicyType,
  egressIPs: egressIPType,
  services: serviceType,
  endpoints: endpointsType,
};

async function listAll(client: Client): Promise<ClusterObjects> {
  const lists = await Promise.all(
    Object.entries(LISTED).map(async ([k, rt]) => [k, (await client.list(rt)).items] as const),
  );
  return Object.fromEntries(lists) as unknown as ClusterObjects;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** Flags that cannot go together or are missing. */
export class TraceUsageError extends Error {
  override name = "TraceUsageError";
}

export function registerTraceCommand(program: Command): void {
  program
    .command("trace")
    .description(
      "what the dataplane does with a new flow from a pod: verdict, deciding rule, source address out",
    )
    // --from/--to are required unless --batch is given (checked in the action: commander cannot say
    // "one or the other").
    .option("--from <ns/pod>", "source pod (required without --batch)")
    .option(
      "--to <dst>",
      "destination: <ip|ns/pod>[:port][/proto] (default port 80, tcp; required without --batch)",
    )
    .option(
      "--batch <file>",
      'many queries from one listing: a file ("-" = stdin) with one "<ns/pod> <dst>" per line; -o json prints one JSON object per line',
    )
    .option("--kubeconfig <file>", "kubeconfig (default: $KUBECONFIG, then ~/.kube/config)")
    .option(
      "--cluster-dns <ip...>",
      "the resolvers pods use, as the agents' --cluster-dns (default: this host's resolv.conf)",
    )
    .option("-o, --output <format>", "text or json", "text")
    .action(
      async (o: {
        from?: string;
        to?: string;
        batch?: string;
        kubeconfig?: string;
        clusterDns?: string[];
        output: string;
      }) => {
        const format = parseOutput(o.output);
        let queries: BatchQuery[];
        if (o.batch !== undefined) {
          if (o.from !== undefined || o.to !== undefined)
            throw new TraceUsageError("--batch cannot be combined with --from/--to");
          const text = await (o.batch === "-" ? readStdin() : readFile(o.batch, "utf8")).catch(
            (e: unknown) => {
              throw new TraceArgError("--batch", o.batch ?? "", `cannot read: ${(e as Error).message}`);
            },
          );
          queries = parseBatch(text, o.batch === "-" ? "stdin" : o.batch);
        } else {
          if (o.from === undefined)
            throw new TraceUsageError("required option '--from <ns/pod>' not specified");
          if (o.to === undefined) throw new TraceUsageError("required option '--to <dst>' not specified");
          queries = [
            { line: 0, from: parseFrom(o.from), to: parseTo(o.to), text: { from: o.from, to: o.to } },
          ];
        }
        const dnsServers =
          o.clusterDns ?? resolvConfNameservers(await readFile("/etc/resolv.conf", "utf8").catch(() => ""));
        const client = Client.fromFile(kubeconfigPath(o.kubeconfig));
        const objects = await listAll(client);
        const dnsWarning = (t: TraceTarget): string[] =>
          !o.clusterDns && t.port === 53
            ? [
                `DNS exemption evaluated with this host's resolvers (${dnsServers.join(", ") || "none"}); pass --cluster-dns as the agents get it`,
              ]
            : [];
        if (o.batch === undefined) {
          const q = queries[0]!;
          const report = await traceFlow(objects, q.from, q.to, { dnsServers });
          report.warnings.push(...dnsWarning(q.to));
          process.stdout.write(formatReport(report, format));
          return;
        }
        const results = await traceBatch(objects, queries, { dnsServers });
        for (const r of results)
          if ("report" in r.result) r.result.report.warnings.push(...dnsWarning(r.query.to));
        process.stdout.write(formatBatch(results, format));
        if (results.some((r) => "error" in r.result)) process.exitCode = 1;
      },
    );
}
