// Thin adapter over the commands and /proc reads the lab needs (`ip`, `sysctl` inside lab
// namespaces, process checks). Everything that touches the system goes through here; it never
// runs anything in the root namespace except `ip netns add/del/pids` and reads of /proc.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

export class LabCommandError extends Error {
  override name = "LabCommandError";
  constructor(
    readonly argv: string[],
    readonly code: number | null,
    readonly stderr: string,
  ) {
    super(`${argv.join(" ")}: exit ${code ?? "signal"}: ${stderr.trim() || "(no output)"}`);
  }
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function run(argv: string[], input?: string): RunResult {
  const r = spawnSync(argv[0]!, argv.slice(1), {
    encoding: "utf8",
    ...(input !== undefined ? { input } : {}),
    timeout: 30_000,
  });
  if (r.error) return { code: null, stdout: "", stderr: r.error.message };
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function runOk(argv: string[], input?: string): string {
  const r = run(argv, input);
  if (r.code !== 0) throw new LabCommandError(argv, r.code, r.stderr);
  return r.stdout;
}

export const NETNS_DIR = "/run/netns";

export function listNetns(): string[] {
  try {
    return readdirSync(NETNS_DIR).sort();
  } catch {
    return [];
  }
}

export function netnsExists(name: string): boolean {
  return listNetns().includes(name);
}

/** Pids of processes inside a network namespace (`ip netns pids`). */
export function netnsPids(name: string): number[] {
  const r = run(["ip", "netns", "pids", name]);
  if (r.code !== 0) return [];
  return r.stdout
    .split(/\s+/)
    .filter(Boolean)
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 0);
}

/** The command line of a live process, or undefined if it is gone (or a zombie). */
export function processArgv(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    if (/\) Z /.test(stat)) return undefined;
    const raw = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    return raw.split("\0").filter((s, i, a) => !(s === "" && i === a.length - 1));
  } catch {
    return undefined;
  }
}

/** Is `pid` still the process we started? Its command line must be `argv`, or `ip netns exec <ns>
 *  argv…` in the instant before `ip` execs the command. */
export function isOurProcess(pid: number, argv: string[], netns: string): boolean {
  const got = processArgv(pid);
  if (!got) return false;
  const same = (a: string[]) => a.length === got.length && a.every((x, i) => x === got[i]);
  return same(argv) || same(["ip", "netns", "exec", netns, ...argv]);
}

export function signal(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** SIGTERM, then SIGKILL after `graceMs` if `alive()` still says so. */
export async function terminate(pid: number, alive: () => boolean, graceMs = 3000): Promise<void> {
  if (!alive()) return;
  signal(pid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!alive()) return;
    await sleep(50);
  }
  signal(pid, "SIGKILL");
  const hard = Date.now() + 2000;
  while (Date.now() < hard && alive()) await sleep(20);
}
