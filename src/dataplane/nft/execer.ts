// knftables-style access to nftables: a whole change is one script run by `nft -f -` (one kernel
// transaction), `check` is `nft --check -f -`, and JSON (`nft -j list table`) is used only to read state
// back. RealNft runs the nft binary, optionally inside a named network namespace; FakeNft (fake.ts) has
// the same interface for unit tests without root. This adapter never composes rules itself.
import { commandLine, run } from "../run.js";

export interface NftExecer {
  /** Runs the script as one transaction; nothing changes when it fails. */
  apply(script: string): Promise<void>;
  /** Dry run (`nft --check`): throws NftError when the kernel/parser would refuse the script. */
  check(script: string): Promise<void>;
  /** `nft -j list table <family> <name>` parsed; undefined when the table does not exist. */
  listJson(family: string, name: string): Promise<unknown | undefined>;
}

/** nft refused a script or a command. `line` is the first script line nft complained about, if any. */
export class NftError extends Error {
  constructor(
    readonly command: string[],
    readonly stderr: string,
    readonly line?: number,
  ) {
    super(
      `${command.join(" ")} failed${line !== undefined ? ` at script line ${line}` : ""}: ${stderr.trim()}`,
    );
    this.name = "NftError";
  }
}

/** First "<file>:<line>:<col>" position in nft's error output. */
export function errorLine(stderr: string): number | undefined {
  const m = /^[^\s:]*:(\d+):\d+(?:-\d+)?: Error/m.exec(stderr);
  return m ? Number(m[1]) : undefined;
}

export interface RealNftOptions {
  /** Network namespace name (`ip netns exec <netns> nft ...`); absent = the caller's namespace. */
  netns?: string;
  nftPath?: string;
}

export class RealNft implements NftExecer {
  private readonly nft: string;
  constructor(private readonly opts: RealNftOptions = {}) {
    this.nft = opts.nftPath ?? "nft";
  }

  private async nftRun(args: string[], input?: string): Promise<string> {
    const r = await run(this.opts.netns, this.nft, args, input);
    if (r.code !== 0)
      throw new NftError(commandLine(this.opts.netns, this.nft, args), r.stderr, errorLine(r.stderr));
    return r.stdout;
  }

  async apply(script: string): Promise<void> {
    await this.nftRun(["-f", "-"], script);
  }

  async check(script: string): Promise<void> {
    await this.nftRun(["--check", "-f", "-"], script);
  }

  async listJson(family: string, name: string): Promise<unknown | undefined> {
    const args = ["-j", "list", "table", family, name];
    const r = await run(this.opts.netns, this.nft, args);
    if (r.code !== 0) {
      if (/No such file or directory/.test(r.stderr)) return undefined;
      throw new NftError(commandLine(this.opts.netns, this.nft, args), r.stderr);
    }
    return JSON.parse(r.stdout) as unknown;
  }
}
