// Runs a benchmark inside a scratch network namespace, as the agent runs inside its node's namespace
// and spawns `nft`/`ip` there directly: the outer process creates the namespace, runs this same
// script inside it (`--inside`) and deletes it afterwards, also when the inner run fails (root).
import { execFileSync, spawnSync } from "node:child_process";

export async function runInScratchNamespace(prefix: string, inside: () => Promise<void>): Promise<void> {
  if (process.argv.includes("--inside")) {
    await inside();
    return;
  }
  const ns = `${prefix}-${Math.random().toString(36).slice(2, 7)}-bench`;
  execFileSync("ip", ["netns", "add", ns]);
  try {
    const self = [...process.execArgv, process.argv[1]!, ...process.argv.slice(2), "--inside"];
    const r = spawnSync("ip", ["netns", "exec", ns, process.execPath, ...self], { stdio: "inherit" });
    process.exitCode = r.status ?? 1;
  } finally {
    execFileSync("ip", ["netns", "del", ns]);
  }
}
