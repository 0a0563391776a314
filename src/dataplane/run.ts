// Runs one dataplane tool (`nft`, `ip`, `arping`, `sysctl`), optionally inside a named network namespace
// (`ip netns exec <ns> ...`: the lab's nodes are namespaces). The only place the dataplane adapters start
// processes. Must not be imported by src/dataplane/compile (pure).
import { spawn } from "node:child_process";

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The command as run, for error messages and debug logs. */
export function commandLine(netns: string | undefined, cmd: string, args: string[]): string[] {
  return netns ? ["ip", "netns", "exec", netns, cmd, ...args] : [cmd, ...args];
}

export function run(
  netns: string | undefined,
  cmd: string,
  args: string[],
  input?: string,
): Promise<RunResult> {
  const [file, ...argv] = commandLine(netns, cmd, args);
  return new Promise((resolve, reject) => {
    const child = spawn(file!, argv, { stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", reject);
    child.on("close", (code) =>
      resolve({
        code,
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
      }),
    );
    child.stdin.on("error", () => {
      // the process exited before reading its input; the exit code tells the story
    });
    child.stdin.end(input ?? "");
  });
}
