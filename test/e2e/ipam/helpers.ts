// Drives the compiled whereabouts plugin exactly as a container runtime does: one process per call,
// CNI_* in the environment, the config on stdin, the result or error JSON on stdout. Shared by the
// IPAM end-to-end tests and the benchmark; starts only processes it can account for by pid.
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

/** The compiled plugin entry, found relative to this file (works in dist/ and in .build/<x>/). */
export const PLUGIN = fileURLToPath(new URL("../../../src/cni/whereabouts.js", import.meta.url));
/** The compiled C shim (scripts/build-native.mjs puts it at <out>/bin/whereabouts). */
export const SHIM = fileURLToPath(new URL("../../../bin/whereabouts", import.meta.url));
/** A CLI entry with only the `ipam` commands (`ipam daemon`), lighter to start than main.js. */
export const IPAM_CLI = fileURLToPath(new URL("../../../src/cli/ipam-entry.js", import.meta.url));

export interface CniCall {
  command: string;
  containerID?: string;
  ifName?: string;
  netns?: string;
  args?: string;
  path?: string;
  stdin: string;
  /** Extra environment (overrides). */
  env?: Record<string, string | undefined>;
}

export interface CniOutcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  json: Record<string, unknown> | undefined;
  ms: number;
}

export function cniEnv(c: CniCall): Record<string, string> {
  const env: Record<string, string | undefined> = {
    PATH: process.env.PATH,
    CNI_COMMAND: c.command,
    CNI_CONTAINERID: c.containerID ?? "ctr1",
    CNI_NETNS: c.netns ?? "/var/run/netns/none",
    CNI_IFNAME: c.ifName ?? "eth0",
    CNI_PATH: c.path ?? "/opt/cni/bin",
    CNI_ARGS: c.args ?? "",
    ...c.env,
  };
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
}

/** Starts one plugin process; `onSpawn` sees the child (e.g. to SIGKILL it). `cmd`: what to execute
 *  (default: the Node plugin; `[SHIM]` for the compiled shim). */
export function runCni(
  c: CniCall,
  onSpawn?: (child: ChildProcess) => void,
  cmd: readonly string[] = [process.execPath, PLUGIN],
): Promise<CniOutcome> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd[0]!, cmd.slice(1), { env: cniEnv(c), stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.on("error", reject);
    child.stdin.on("error", () => undefined); // killed before reading stdin
    child.stdin.end(c.stdin);
    onSpawn?.(child);
    child.on("close", (code, signal) => {
      let json: Record<string, unknown> | undefined;
      try {
        json = stdout.trim() === "" ? undefined : (JSON.parse(stdout) as Record<string, unknown>);
      } catch {
        json = undefined;
      }
      resolve({ code, signal, stdout, stderr, json, ms: performance.now() - t0 });
    });
  });
}

export function wbConfig(
  ipam: Record<string, unknown>,
  extra: Record<string, unknown> = {},
  cniVersion = "1.1.0",
): string {
  return JSON.stringify({
    cniVersion,
    name: "wbtest",
    type: "bridge",
    ...extra,
    ipam: { type: "whereabouts", ...ipam },
  });
}

/** The addresses (CIDR text) of an ADD result. */
export function resultIPs(json: Record<string, unknown> | undefined): string[] {
  const ips = json?.ips;
  if (!Array.isArray(ips)) return [];
  return ips.map((i) => String((i as { address?: unknown }).address));
}

export interface DaemonProcess {
  child: ChildProcess;
  socket: string;
  /** Counters the daemon prints on stderr when it stops (undefined after SIGKILL). */
  stop(): Promise<Record<string, number> | undefined>;
}

/** Starts `egress ipam daemon --socket PATH` as its own process and waits until it listens. It also
 *  exits when this process dies (--exit-on-stdin-close), so a crashed test leaves no daemon behind. */
export async function startDaemon(socket: string, env: Record<string, string> = {}): Promise<DaemonProcess> {
  // Benchmarks: BENCH_DAEMON_PROF=DIR writes the daemon's CPU profile there.
  const prof = process.env.BENCH_DAEMON_PROF;
  const args = [IPAM_CLI, "ipam", "daemon", "--socket", socket, "--exit-on-stdin-close"];
  if (prof) args.unshift("--cpu-prof", `--cpu-prof-dir=${prof}`);
  const child = spawn(process.execPath, args, {
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, ...env },
  });
  let out = "";
  let err = "";
  child.stderr?.on("data", (d: Buffer) => {
    err += d.toString();
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("listening on")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`ipam daemon exited (${code}) before listening: ${err}`)));
  });
  return {
    child,
    socket,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await Promise.race([exited, new Promise((r) => setTimeout(r, 25_000))]);
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      }
      try {
        return JSON.parse(err.trim().split("\n").pop() ?? "") as Record<string, number>;
      } catch {
        return undefined;
      }
    },
  };
}
