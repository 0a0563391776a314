// Drives the compiled whereabouts plugin exactly as a container runtime does: one process per call,
// CNI_* in the environment, the config on stdin, the result or error JSON on stdout. Shared by the
// IPAM end-to-end tests and the benchmark; starts only processes it can account for by pid.
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

/** The compiled plugin entry, found relative to this file (works in dist/ and in .build/<x>/). */
export const PLUGIN = fileURLToPath(new URL("../../../src/cni/whereabouts.js", import.meta.url));

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

/** Starts one plugin process; `onSpawn` sees the child (e.g. to SIGKILL it). */
export function runCni(c: CniCall, onSpawn?: (child: ChildProcess) => void): Promise<CniOutcome> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [PLUGIN], { env: cniEnv(c), stdio: ["pipe", "pipe", "pipe"] });
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
