// The skip reason of an end-to-end test that needs root (network namespaces) and some programs on
// PATH: false when it can run.
import { execFileSync } from "node:child_process";

function hasTool(t: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${t}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** "needs root (network namespaces)", "needs nft, arping" (the missing ones), or false. */
export function rootSkip(tools: string[]): string | false {
  if (process.getuid?.() !== 0) return "needs root (network namespaces)";
  const missing = tools.filter((t) => !hasTool(t));
  return missing.length > 0 ? `needs ${missing.join(", ")}` : false;
}
