// Runs external commands (ip, nft, CNI plugins, arping) for the agent: one place that spawns, with
// typed errors carrying the command, exit code and stderr. The agent runs inside its node's network
// namespace, so plain commands act on that namespace.
import { spawn } from "node:child_process";

export class CommandError extends Error {
  override name = "CommandError";
  constructor(
    readonly command: string,
    readonly code: number | null,
    readonly stdout: string,
    readonly stderr: string,
  ) {
    super(`${command} failed (exit ${code}): ${stderr.trim() || stdout.trim()}`);
  }
}

export interface RunOptions {
  input?: string;
  env?: NodeJS.ProcessEnv;
  /** Resolve with the result instead of throwing on a non-zero exit. */
  allowFailure?: boolean;
  timeoutMs?: number;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 30_000);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(new CommandError(`${cmd} ${args.join(" ")}`, null, stdout, e.message));
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      if (code !== 0 && !opts.allowFailure)
        reject(new CommandError(`${cmd} ${args.join(" ")}`, code, stdout, stderr));
      else resolve({ code, stdout, stderr });
    });
    // A command that exits without reading its input must not crash the agent with EPIPE.
    child.stdin.on("error", () => {});
    child.stdin.end(opts.input ?? "");
  });
}
