// `egress lab up|down|status|exec`: the command-line shell around the lab (up.ts, down.ts,
// status.ts). Every subcommand takes --id (default $EGRESS_LAB_ID or "main") and --state-dir
// (default <repo>/.lab/<id>).
import { spawnSync } from "node:child_process";
import type { Command } from "commander";
import { labDown } from "./down.js";
import {
  checkLabId,
  controlPlaneNetns,
  DEFAULT_LAB_ID,
  fabricNetns,
  hostNetns,
  LAB_ID_ENV,
  podNetnsName,
} from "./names.js";
import { defaultStateDir } from "./paths.js";
import { readState } from "./state.js";
import { labStatus, renderStatus } from "./status.js";
import { netnsExists } from "./sys.js";
import { labUp } from "./up.js";

interface Common {
  id?: string;
  stateDir?: string;
}

function common(o: Common): { id: string; stateDir: string } {
  const id = checkLabId(o.id ?? process.env[LAB_ID_ENV] ?? DEFAULT_LAB_ID);
  return { id, stateDir: o.stateDir ?? defaultStateDir(id) };
}

const withCommon = (c: Command): Command =>
  c
    .option("--id <id>", `lab id, 1-12 of [a-z0-9] (default $${LAB_ID_ENV} or "${DEFAULT_LAB_ID}")`)
    .option("--state-dir <dir>", "state directory (default <repo>/.lab/<id>)");

export class LabTargetError extends Error {
  override name = "LabTargetError";
}

/** Network namespace of an exec target: `<ns>/<pod>`, `pod/<ns>/<pod>`, `node/<name>`,
 *  `external/<name>`, `control-plane` (or `cp`), `fabric`. */
export function resolveTarget(
  id: string,
  target: string,
  known: { nodes: string[]; externals: string[] },
): string {
  const parts = target.split("/");
  const [a, b, c] = parts;
  if (parts.length === 1 && (a === "control-plane" || a === "cp")) return controlPlaneNetns(id);
  if (parts.length === 1 && a === "fabric") return fabricNetns(id);
  if (parts.length === 2 && a === "node") {
    if (!known.nodes.includes(b!))
      throw new LabTargetError(
        `${target}: no node ${JSON.stringify(b)} in this lab (nodes: ${known.nodes.join(", ")})`,
      );
    return hostNetns(id, b!);
  }
  if (parts.length === 2 && a === "external") {
    if (!known.externals.includes(b!))
      throw new LabTargetError(
        `${target}: no external host ${JSON.stringify(b)} (hosts: ${known.externals.join(", ")})`,
      );
    return hostNetns(id, b!);
  }
  if (parts.length === 3 && a === "pod" && b && c) return podNetnsName(id, b, c);
  if (parts.length === 2 && a && b) return podNetnsName(id, a, b);
  throw new LabTargetError(
    `${JSON.stringify(target)}: expected <namespace>/<pod>, pod/<namespace>/<pod>, node/<name>, external/<name>, control-plane or fabric`,
  );
}

export function registerLabCommands(program: Command): void {
  // Positional options so that `lab exec TARGET CMD -x` leaves -x to CMD (`--` works as well).
  const lab = program
    .command("lab")
    .description("a whole cluster on this host, built from network namespaces")
    .enablePositionalOptions();

  withCommon(lab.command("up"))
    .description("build the lab: underlay, external hosts, API server, agents; print the kubeconfig path")
    .option("--topology <file>", "topology file (default lab/topology.yaml)")
    .option("--example <name>", "apply an example after start-up: seed (seed 000 EgressIP and a few pods)")
    .option(
      "--api-port <port>",
      "loopback port for the API in the root namespace (default: any free port)",
      "0",
    )
    .option(
      "--network-mode <mode>",
      "cluster network mode: multitenant, networkpolicy or subnet (default: the topology's networkMode, else multitenant)",
    )
    .option("--no-agents", "do not start agents")
    .option("--keep-on-failure", "leave what was made when a step fails (for debugging)")
    .action(
      async (
        o: Common & {
          topology?: string;
          example?: string;
          apiPort: string;
          agents: boolean;
          keepOnFailure?: boolean;
          networkMode?: string;
        },
      ) => {
        const t0 = Date.now();
        const { id, stateDir } = common(o);
        const port = Number(o.apiPort);
        if (!Number.isInteger(port) || port < 0 || port > 65535)
          throw new Error(`--api-port: invalid port ${o.apiPort}`);
        const state = await labUp({
          id,
          stateDir,
          apiPort: port,
          noAgents: !o.agents,
          keepOnFailure: o.keepOnFailure === true,
          ...(o.topology ? { topologyFile: o.topology } : {}),
          ...(o.example ? { example: o.example } : {}),
          ...(o.networkMode !== undefined ? { networkMode: o.networkMode } : {}),
          log: (l) => process.stderr.write(`lab: [${((Date.now() - t0) / 1000).toFixed(1)}s] ${l}\n`),
        });
        for (const n of state.notes) process.stderr.write(`lab: note: ${n}\n`);
        process.stdout.write(
          `lab ${id} is up (network mode ${state.topology.networkMode ?? "multitenant"})\nAPI server: ${state.api?.url}\nkubeconfig: ${state.api?.kubeconfig}\nstate: ${stateDir}/state.json\n`,
        );
      },
    );

  withCommon(lab.command("down"))
    .description("remove everything the lab made (also after a crash); idempotent")
    .option("--keep-dir", "keep the state directory (logs, API data)")
    .option("--force", "without a state file, remove every network namespace named for this lab")
    .action(async (o: Common & { keepDir?: boolean; force?: boolean }) => {
      const { id, stateDir } = common(o);
      const r = await labDown({
        id,
        stateDir,
        keepDir: o.keepDir === true,
        force: o.force === true,
        log: (l) => process.stderr.write(`lab: ${l}\n`),
      });
      process.stdout.write(
        r.found || r.namespacesDeleted.length > 0
          ? `lab ${id} is down (${r.processesStopped.length} processes stopped, ${r.namespacesDeleted.length} namespaces deleted)\n`
          : `lab ${id}: nothing to remove\n`,
      );
    });

  withCommon(lab.command("status"))
    .description("nodes, pods, external hosts, API URLs and kubeconfigs of the lab")
    .option("-o, --output <format>", "json for scripts")
    .action(async (o: Common & { output?: string }) => {
      const { id, stateDir } = common(o);
      if (o.output !== undefined && o.output !== "json")
        throw new Error(`--output: unknown format ${JSON.stringify(o.output)} (known: json)`);
      const s = await labStatus(id, stateDir);
      process.stdout.write(o.output === "json" ? `${JSON.stringify(s, null, 2)}\n` : renderStatus(s));
      if (s.phase === "absent") process.exitCode = 1;
    });

  withCommon(lab.command("exec"))
    .description(
      "run a command in the network namespace of a pod (<ns>/<pod>), node/<name>, external/<name>, control-plane or fabric",
    )
    .argument("<target>")
    .argument("<command...>")
    .passThroughOptions()
    .action((target: string, argv: string[], o: Common) => {
      const { id, stateDir } = common(o);
      const command = argv[0] === "--" ? argv.slice(1) : argv;
      if (command.length === 0) throw new Error("lab exec: no command given");
      const state = readState(stateDir);
      if (!state) throw new Error(`lab ${id}: no state in ${stateDir} (is it up?)`);
      const ns = resolveTarget(id, target, {
        nodes: state.topology.nodes.map((n) => n.name),
        externals: [
          ...state.topology.externals.map((x) => x.name),
          ...(state.topology.secondaryNetworks ?? []).flatMap((n) => n.hosts.map((h) => h.name)),
        ],
      });
      if (!netnsExists(ns))
        throw new LabTargetError(
          `${target}: network namespace ${ns} does not exist (pod not running on this lab?)`,
        );
      const r = spawnSync("ip", ["netns", "exec", ns, ...command], { stdio: "inherit" });
      if (r.error) throw r.error;
      process.exitCode = r.status ?? 128 + 9;
    });
}
