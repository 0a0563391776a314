// Pod network namespaces: deterministic names (so a restarted agent and `egress lab exec` find
// them) and their creation/removal with `ip netns`.
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { run } from "../exec.js";

/** `<prefix><10 hex of sha256("<namespace>/<name>")>`; the prefix keeps labs apart (e.g. `egp-<lab>-`). */
export function podNetnsName(prefix: string, namespace: string, name: string): string {
  return `${prefix}${createHash("sha256").update(`${namespace}/${name}`).digest("hex").slice(0, 10)}`;
}

export const netnsPath = (name: string): string => `/var/run/netns/${name}`;

export function netnsExists(name: string): boolean {
  return existsSync(netnsPath(name));
}

export async function ensureNetns(name: string): Promise<void> {
  if (netnsExists(name)) return;
  await run("ip", ["netns", "add", name]);
  await run("ip", ["-n", name, "link", "set", "lo", "up"]);
}

export async function deleteNetns(name: string): Promise<void> {
  if (!netnsExists(name)) return;
  await run("ip", ["netns", "del", name], { allowFailure: true });
}
