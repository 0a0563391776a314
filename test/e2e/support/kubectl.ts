// Runs the real kubectl binaries installed on the machine against a server under test.
// `kubectl` on PATH is the default; `kubectl.1.27` … `kubectl.1.33` sit beside the file it links to.
import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { realpathSync } from "node:fs";
import { dirname, join } from "node:path";
import { promisify } from "node:util";

const execFileP = promisify(execFile);

export function kubectlPath(version?: string): string {
  if (!version) return "kubectl";
  const onPath = execFileSync("sh", ["-c", "command -v kubectl"]).toString().trim();
  return join(dirname(realpathSync(onPath)), `kubectl.${version}`);
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class Kubectl {
  constructor(
    readonly kubeconfig: string,
    readonly version?: string,
  ) {}

  async run(args: string[], input?: string): Promise<KubectlResult> {
    const bin = kubectlPath(this.version);
    const child = spawn(bin, ["--kubeconfig", this.kubeconfig, ...args], { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.stdin.end(input ?? "");
    const code = await new Promise<number>((resolve) => child.on("close", (c) => resolve(c ?? -1)));
    return { code, stdout, stderr };
  }

  /** Runs and requires exit code 0; returns stdout. */
  async ok(args: string[], input?: string): Promise<string> {
    const r = await this.run(args, input);
    if (r.code !== 0) {
      throw new Error(`kubectl ${args.join(" ")} failed (${r.code}):\n${r.stderr}\n${r.stdout}`);
    }
    return r.stdout;
  }

  /** Runs and requires a non-zero exit code; returns stderr. */
  async fails(args: string[], input?: string): Promise<string> {
    const r = await this.run(args, input);
    if (r.code === 0) throw new Error(`kubectl ${args.join(" ")} unexpectedly succeeded:\n${r.stdout}`);
    return r.stderr;
  }

  spawn(args: string[]): ChildProcess {
    return spawn(kubectlPath(this.version), ["--kubeconfig", this.kubeconfig, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
    });
  }
}

export { execFileP };
