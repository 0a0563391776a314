// The `ip` reconciler: read the current state through an IpExecer, diff it against the program's
// desired state (pure, diff.ts), run the actions in the diff's order (deletes first), then announce the
// addresses it added. Returns what it did so the agent can log it. Touches only what the program owns.
import type { IpProgram, SysctlSpec } from "../compile/types.js";
import { diffIp, type IpAction } from "./diff.js";
import type { IpExecer } from "./execer.js";

export interface IpSyncResult {
  /** The actions run (announce actions included when `announce` was on). */
  actions: IpAction[];
  /** Announcements still to run when `announce` was off (the agent runs them itself). */
  pendingAnnouncements: { dev: string; ip: string }[];
}

export interface IpSyncOptions {
  /** Run `arping` for added addresses (default true). */
  announce?: boolean;
}

export async function reconcileIp(
  ip: IpExecer,
  desired: IpProgram,
  opts: IpSyncOptions = {},
): Promise<IpSyncResult> {
  const actions = diffIp(desired, await ip.read());
  await ip.exec(actions);
  const announcements = actions.filter(
    (a): a is Extract<IpAction, { op: "announce" }> => a.op === "announce",
  );
  if (opts.announce === false)
    return { actions: actions.filter((a) => a.op !== "announce"), pendingAnnouncements: announcements };
  await Promise.all(announcements.map((a) => ip.announce(a.dev, a.ip)));
  return { actions, pendingAnnouncements: [] };
}

export async function applySysctls(ip: IpExecer, sysctls: SysctlSpec[]): Promise<void> {
  for (const s of sysctls) await ip.setSysctl(s.key, s.value);
}
