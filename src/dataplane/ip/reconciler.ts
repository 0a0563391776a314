// The `ip` reconciler: read the current state through an IpExecer, diff it against the program's
// desired state (pure, diff.ts), run the actions in the diff's order (deletes first), then announce the
// addresses it added. Returns what it did so the agent can log it. Touches only what the program owns.
import type { IpProgram, SysctlSpec } from "../compile/types.js";
import { diffIp, type IpAction, type IpState } from "./diff.js";
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
  /** The current state when the caller has just read it (saves a read; it must be fresh: the
   *  reconciler's actions are computed against it). */
  current?: IpState;
}

export async function reconcileIp(
  ip: IpExecer,
  desired: IpProgram,
  opts: IpSyncOptions = {},
): Promise<IpSyncResult> {
  const actions = diffIp(desired, opts.current ?? (await ip.read()));
  await ip.exec(actions);
  const announcements = actions.filter(
    (a): a is Extract<IpAction, { op: "announce" }> => a.op === "announce",
  );
  if (opts.announce === false)
    return { actions: actions.filter((a) => a.op !== "announce"), pendingAnnouncements: announcements };
  await Promise.all(announcements.map((a) => ip.announce(a.dev, a.ip)));
  return { actions, pendingAnnouncements: [] };
}

/**
 * Writes the sysctls not yet written with the same value (`written`, updated in place; pass a new
 * map to write them all). A per-interface key of an interface that does not exist yet — the pod
 * bridge appears with the node's first pod — is skipped and returned, so a later call writes it;
 * any other failure throws. A node without pods must still get its program.
 */
export async function applySysctls(
  ip: IpExecer,
  sysctls: SysctlSpec[],
  written: Map<string, string> = new Map(),
): Promise<string[]> {
  const missing: string[] = [];
  for (const s of sysctls) {
    if (written.get(s.key) === s.value) continue;
    try {
      await ip.setSysctl(s.key, s.value);
      written.set(s.key, s.value);
    } catch (e) {
      if (!isMissingInterface(s.key, e)) throw e;
      missing.push(s.key);
    }
  }
  return missing;
}

/** `net.ipv4.conf.<iface>.<key>` (not all/default) refused because /proc has no such interface. */
function isMissingInterface(key: string, e: unknown): boolean {
  const m = /^net\.ipv[46]\.conf\.([^.]+)\./.exec(key);
  if (!m || m[1] === "all" || m[1] === "default") return false;
  return e instanceof Error && /cannot stat|No such file or directory/.test(e.message);
}

/**
 * The actions of one diff split around the nft apply: `beforeNft` adds routes and rules (a flow the
 * new table marks for a holder must find that holder's table in place, or it would leave unrouted
 * and un-NATed), removes addresses and adds new ones (so a new holder takes its address without
 * waiting for the table); `afterNft` removes rules and routes only once no flow is marked for them
 * any more; `announce` lists the gratuitous ARPs for the added addresses.
 */
export function splitIpActions(actions: IpAction[]): {
  beforeNft: IpAction[];
  afterNft: IpAction[];
  announce: Extract<IpAction, { op: "announce" }>[];
} {
  const beforeNft: IpAction[] = [];
  const afterNft: IpAction[] = [];
  const announce: Extract<IpAction, { op: "announce" }>[] = [];
  for (const a of actions) {
    if (a.op === "announce") announce.push(a);
    else if (a.op === "del-rule" || a.op === "del-route") afterNft.push(a);
    else beforeNft.push(a);
  }
  return { beforeNft, afterNft, announce };
}
