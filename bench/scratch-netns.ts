// Runs a benchmark inside a scratch network namespace, as the agent runs inside its node's namespace
// and spawns `nft`/`ip` there directly: the outer process creates the namespace, runs this same
// script inside it (`--inside`) and deletes it afterwards, also when the inner run fails or the outer
// process is interrupted (the inner one is killed first; root).
import { execFileSync, spawn } from "node:child_process";
import { cleanupOnSignal } from "../test/e2e/support/on-signal.js";

export async function runInScratchNamespace(prefix: string, inside: () => Promise<void>): Promise<void> {
  if (process.argv.includes("--inside")) {
    await inside();
    return;
  }
  const ns = `${prefix}-${Math.random().toString(36).slice(2, 7)}-bench`;
  execFileSync("ip", ["netns", "add", ns]);
  const self = [...process.execArgv, process.argv[1]!, ...process.argv.slice(2), "--inside"];
  // `ip netns exec` execs node, so this pid is the inner benchmark's.
  const child = spawn("ip", ["netns", "exec", ns, process.execPath, ...self], { stdio: "inherit" });
  const unregister = cleanupOnSignal(() => {
    child.kill("SIGKILL");
    execFileSync("ip", ["netns", "del", ns]);
  });
  try {
    process.exitCode = await new Promise<number>((resolve, reject) => {
      child.once("error", reject);
      child.once("close", (code) => resolve(code ?? 1));
    });
  } finally {
    unregister();
    execFileSync("ip", ["netns", "del", ns]);
  }
}
