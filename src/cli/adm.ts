// `egress adm pod-network join-projects | isolate-projects | make-projects-global` (MISSION §5), as
// upstream `oc adm pod-network`: validates the arguments with the pure planPodNetworkChange, sets
// the change-network annotation on each NetNamespace, then waits until the NetNamespace controller
// has applied it (annotation removed and netids as expected). The CLI decides no netid itself.
// Exit codes: 0 applied, 1 API or controller failure, 2 invalid arguments or refused request,
// 3 timed out waiting for the controller.
import { homedir } from "node:os";
import { join } from "node:path";
import type { Command } from "commander";
import { eventType, namespaceType, netNamespaceType } from "../api/kinds/index.js";
import type { KubeObject } from "../api/object.js";
import { CHANGE_NETWORK_ANNOTATION, GLOBAL_VNID } from "../controllers/netnamespace/netid.js";
import {
  type PodNetworkCommand,
  PodNetworkError,
  planPodNetworkChange,
} from "../controllers/netnamespace/podnetwork.js";
import { Client } from "../controllers/runtime/client.js";

export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
export const EXIT_TIMEOUT = 3;

/** A failure with the exit code the CLI returns for it. */
export class AdmError extends Error {
  override name = "AdmError";
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** Go-style durations ("90s", "2m", "1m30s", "500ms", "1h"); a bare number means seconds. */
export function parseDuration(flag: string, s: string): number {
  if (/^\d+(\.\d+)?$/.test(s)) return Math.round(Number(s) * 1000);
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/y;
  let total = 0;
  let pos = 0;
  while (pos < s.length) {
    re.lastIndex = pos;
    const m = re.exec(s);
    if (!m) break;
    total += Number(m[1]) * unit[m[2]!]!;
    pos = re.lastIndex;
  }
  if (s === "" || pos !== s.length)
    throw new AdmError(
      EXIT_USAGE,
      `invalid ${flag} ${JSON.stringify(s)}: expected a duration such as 30s, 2m or 1m30s`,
    );
  return Math.round(total);
}

export interface PodNetworkArgs {
  command: PodNetworkCommand;
  projects: string[];
  selector?: string;
  to?: string;
}

interface NetNamespaceView {
  name: string;
  netid: number;
  pending?: string;
}

export type TargetState = "applied" | "pending" | "notApplied";

/** Whether the controller has applied `command` to `target`, from the current NetNamespaces. */
export function targetState(
  args: Pick<PodNetworkArgs, "command" | "to">,
  target: string,
  all: readonly NetNamespaceView[],
): TargetState {
  const me = all.find((n) => n.name === target);
  if (!me) return "notApplied";
  if (me.pending !== undefined) return "pending";
  switch (args.command) {
    case "make-projects-global":
      return me.netid === GLOBAL_VNID ? "applied" : "notApplied";
    case "join-projects": {
      const to = all.find((n) => n.name === args.to);
      return to && to.netid === me.netid ? "applied" : "notApplied";
    }
    case "isolate-projects":
      return me.netid !== GLOBAL_VNID && all.every((n) => n.name === target || n.netid !== me.netid)
        ? "applied"
        : "notApplied";
  }
}

const view = (o: KubeObject): NetNamespaceView => ({
  name: o.metadata.name ?? "",
  netid: typeof o.netid === "number" ? o.netid : -1,
  ...(o.metadata.annotations?.[CHANGE_NETWORK_ANNOTATION] !== undefined
    ? { pending: o.metadata.annotations[CHANGE_NETWORK_ANNOTATION] }
    : {}),
});

/** The newest ChangeNetwork* event about a NetNamespace: why the controller did not apply it. */
/** The controller's reason for refusing a change: its latest ChangeNetwork* Event. The Event is
 *  written just after the annotation is removed, so it is polled for a moment. */
async function refusalReason(client: Client, name: string): Promise<string | undefined> {
  for (let i = 0; i < 20; i++) {
    const r = await latestRefusal(client, name);
    if (r) return r;
    await new Promise((res) => setTimeout(res, 100));
  }
  return undefined;
}

async function latestRefusal(client: Client, name: string): Promise<string | undefined> {
  try {
    const evs = (await client.list<KubeObject>(eventType, "default")).items.filter((e) => {
      const io = e.involvedObject as { kind?: string; name?: string } | undefined;
      return (
        io?.kind === "NetNamespace" &&
        io.name === name &&
        typeof e.reason === "string" &&
        e.reason.startsWith("ChangeNetwork")
      );
    });
    const ts = (e: KubeObject) => String(e.lastTimestamp ?? e.firstTimestamp ?? "");
    evs.sort((a, b) => (ts(a) < ts(b) ? -1 : ts(a) > ts(b) ? 1 : 0));
    const last = evs.at(-1);
    return last ? String(last.message) : undefined;
  } catch {
    return undefined;
  }
}

export interface PodNetworkResult {
  /** Final netid of each changed project, in name order. */
  netids: { name: string; netid: number }[];
}

/** Plans, annotates and waits. Throws AdmError with the exit code. */
export async function runPodNetwork(
  client: Client,
  args: PodNetworkArgs,
  opts: { timeoutMs: number; pollMs?: number },
): Promise<PodNetworkResult> {
  let nns: KubeObject[];
  let namespaces: KubeObject[];
  try {
    [nns, namespaces] = await Promise.all([
      client.list<KubeObject>(netNamespaceType).then((r) => r.items),
      client.list<KubeObject>(namespaceType).then((r) => r.items),
    ]);
  } catch (e) {
    throw new AdmError(EXIT_FAILED, `cannot read projects: ${(e as Error).message}`);
  }
  // A project is a Namespace with a NetNamespace (as upstream: NetNamespaces are what is changed);
  // --selector matches the Namespace's labels.
  const labels = new Map(namespaces.map((n) => [n.metadata.name ?? "", n.metadata.labels ?? {}]));
  let plan: ReturnType<typeof planPodNetworkChange>;
  try {
    plan = planPodNetworkChange({
      ...args,
      existing: nns.map((o) => ({
        name: o.metadata.name ?? "",
        labels: labels.get(o.metadata.name ?? "") ?? {},
      })),
    });
  } catch (e) {
    if (e instanceof PodNetworkError) throw new AdmError(EXIT_USAGE, e.message);
    throw e;
  }
  for (const ch of plan.changes) {
    try {
      await client.patch(netNamespaceType, "", ch.netnamespace, {
        metadata: { annotations: { [plan.annotation]: ch.value } },
      });
    } catch (e) {
      throw new AdmError(
        EXIT_FAILED,
        `cannot annotate NetNamespace ${ch.netnamespace}: ${(e as Error).message}`,
      );
    }
  }
  const targets = plan.changes.map((c) => c.netnamespace);
  const deadline = Date.now() + opts.timeoutMs;
  const poll = opts.pollMs ?? 100;
  for (;;) {
    let all: NetNamespaceView[];
    try {
      all = (await client.list<KubeObject>(netNamespaceType)).items.map(view);
    } catch (e) {
      throw new AdmError(EXIT_FAILED, `cannot read NetNamespaces: ${(e as Error).message}`);
    }
    const states = targets.map((t) => [t, targetState(args, t, all)] as const);
    const pending = states.filter(([, s]) => s === "pending").map(([t]) => t);
    if (pending.length === 0) {
      const failed = states.filter(([, s]) => s === "notApplied").map(([t]) => t);
      if (failed.length > 0) {
        const why = await Promise.all(
          failed.map(async (t) => `${t}: ${(await refusalReason(client, t)) ?? "netid not as requested"}`),
        );
        throw new AdmError(
          EXIT_FAILED,
          `the controller did not apply the change to ${failed.join(", ")}:\n  ${why.join("\n  ")}`,
        );
      }
      return {
        netids: targets.map((t) => ({ name: t, netid: all.find((n) => n.name === t)?.netid ?? -1 })),
      };
    }
    if (Date.now() >= deadline)
      throw new AdmError(
        EXIT_TIMEOUT,
        `timed out after ${opts.timeoutMs} ms waiting for the NetNamespace controller to apply the change to: ${pending.join(", ")} (is the controller running?)`,
      );
    await new Promise((r) => setTimeout(r, poll));
  }
}

/** --kubeconfig, else the first file in $KUBECONFIG, else ~/.kube/config. */
export function kubeconfigPath(flag: string | undefined): string {
  if (flag) return flag;
  const env = process.env.KUBECONFIG?.split(":").find((p) => p !== "");
  return env ?? join(homedir(), ".kube", "config");
}

interface Flags {
  selector?: string;
  to?: string;
  kubeconfig?: string;
  timeout: string;
}

const COMMANDS: { name: PodNetworkCommand; description: string }[] = [
  {
    name: "join-projects",
    description: "join the networks of projects: each gets the netid of --to=<project>",
  },
  { name: "isolate-projects", description: "give each project its own new netid (not default)" },
  { name: "make-projects-global", description: "make projects global (netid 0): reachable from all" },
];

export function registerAdmCommands(program: Command): void {
  const adm = program.command("adm").description("cluster administration");
  const pn = adm
    .command("pod-network")
    .description("manage project networks (ovs-multitenant netids) through the NetNamespace controller");
  for (const c of COMMANDS) {
    const cmd = pn
      .command(c.name)
      .description(c.description)
      .argument("[projects...]", "project names (or use --selector)")
      .option("--selector <selector>", "label selector over projects, instead of names")
      .option("--kubeconfig <file>", "kubeconfig (default: $KUBECONFIG, then ~/.kube/config)")
      .option("--timeout <duration>", "how long to wait for the controller to apply the change", "60s")
      // Usage errors (unknown flag, missing value) exit 2 like our other argument errors.
      .exitOverride((err) => {
        if (err.exitCode !== 0) process.exit(EXIT_USAGE);
      });
    if (c.name === "join-projects")
      cmd.option("--to <project>", "project whose network the others join (required)");
    cmd.action(async (projects: string[], o: Flags) => {
      try {
        const timeoutMs = parseDuration("--timeout", o.timeout);
        let client: Client;
        const path = kubeconfigPath(o.kubeconfig);
        try {
          client = Client.fromFile(path);
        } catch (e) {
          throw new AdmError(EXIT_USAGE, `cannot load kubeconfig ${path}: ${(e as Error).message}`);
        }
        const r = await runPodNetwork(
          client,
          {
            command: c.name,
            projects,
            ...(o.selector !== undefined ? { selector: o.selector } : {}),
            ...(o.to !== undefined ? { to: o.to } : {}),
          },
          { timeoutMs },
        );
        for (const { name, netid } of r.netids) process.stdout.write(`netnamespace/${name} netid ${netid}\n`);
      } catch (e) {
        const code = e instanceof AdmError ? e.exitCode : EXIT_FAILED;
        process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
        process.exitCode = code;
      }
    });
  }
}
