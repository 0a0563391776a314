// `egress lab down`: removes exactly what `lab up` recorded in the state file (also a partial record
// left by a crash), and the pod namespaces the lab's agents made (named egp-<id>-<hash>): recorded
// processes are ended by pid after checking their command line, then any process still inside a
// lab namespace (it would keep the namespace alive), then the namespaces — their interfaces, veths
// and bridges go with them. Idempotent: running it twice, or on a half-built lab, is fine.
import { readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { belongsToLab, checkLabId } from "./names.js";
import { readState, stateFile, writeState } from "./state.js";
import { isOurProcess, listNetns, netnsPids, processArgv, run, signal, sleep, terminate } from "./sys.js";

export interface DownOptions {
  id: string;
  stateDir: string;
  /** Keep the state directory (logs, API data) instead of removing it; state.json is removed. */
  keepDir?: boolean;
  /** Without a state file, also remove every namespace named for this lab (egl-<id>-*). */
  force?: boolean;
  log?: (line: string) => void;
}

export interface DownResult {
  found: boolean;
  processesStopped: string[];
  namespacesDeleted: string[];
  strayPidsKilled: number[];
}

export async function labDown(o: DownOptions): Promise<DownResult> {
  const id = checkLabId(o.id);
  const log = o.log ?? (() => undefined);
  const state = readState(o.stateDir);
  const result: DownResult = {
    found: state !== undefined,
    processesStopped: [],
    namespacesDeleted: [],
    strayPidsKilled: [],
  };
  if (state && state.id !== id)
    throw new Error(
      `${stateFile(o.stateDir)} belongs to lab ${JSON.stringify(state.id)}, not ${JSON.stringify(id)}`,
    );

  if (state) {
    state.phase = "stopping";
    writeState(state);
    // Agents first (they own pod namespaces), then the API server, then the rest: reverse order.
    for (const p of [...state.processes].reverse()) {
      if (p.pid === null) continue;
      const pid = p.pid;
      if (!isOurProcess(pid, p.argv, p.netns)) continue;
      await terminate(pid, () => isOurProcess(pid, p.argv, p.netns));
      result.processesStopped.push(`${p.name} (pid ${pid})`);
      log(`stopped ${p.name} (pid ${pid})`);
    }
  }

  // Namespaces to remove: those recorded, plus pod namespaces of this lab's agents, plus — only
  // when a state file exists — any other namespace with this lab's prefix (a crash between the
  // record and a rename cannot leave one, but a newer lab version might have made more), or with
  // --force when the state file is lost.
  const recorded = state ? state.namespaces.map((n) => n.name) : [];
  const present = listNetns();
  const pods = present.filter((n) => belongsToLab(id, n) && n.startsWith("egp-"));
  const extra =
    state || o.force
      ? present.filter((n) => belongsToLab(id, n) && !recorded.includes(n) && !pods.includes(n))
      : [];
  const order = [...pods, ...[...recorded].reverse(), ...extra];
  for (const ns of order) {
    if (!present.includes(ns)) continue;
    // Processes left inside (an agent's pod programs, a process whose pid was never recorded)
    // would keep the namespace and its interfaces alive after `ip netns del`.
    for (let round = 0; round < 3; round++) {
      const pids = netnsPids(ns).filter((p) => p !== process.pid);
      if (pids.length === 0) break;
      for (const pid of pids) {
        if (round === 0) signal(pid, "SIGTERM");
        else signal(pid, "SIGKILL");
        if (round === 0) result.strayPidsKilled.push(pid);
      }
      const until = Date.now() + (round === 0 ? 1500 : 1000);
      while (Date.now() < until && pids.some((p) => processArgv(p))) await sleep(30);
    }
    const r = run(["ip", "netns", "del", ns]);
    if (r.code === 0) {
      result.namespacesDeleted.push(ns);
      log(`deleted network namespace ${ns}`);
    } else if (listNetns().includes(ns)) {
      throw new Error(`ip netns del ${ns}: ${r.stderr.trim()}`);
    }
  }

  // The agents write each pod's resolv.conf under /etc/netns/<pod netns>/ (what `ip netns exec`
  // mounts); an agent killed before its pods were torn down leaves those directories behind.
  for (const ns of podResolverDirs(id)) {
    rmSync(join(ETC_NETNS, ns), { recursive: true, force: true });
    log(`removed ${join(ETC_NETNS, ns)}`);
  }

  if (state) for (const f of state.files) rmSync(f, { recursive: true, force: true });
  if (o.keepDir) rmSync(stateFile(o.stateDir), { force: true });
  else rmSync(o.stateDir, { recursive: true, force: true });
  return result;
}

const ETC_NETNS = "/etc/netns";

/** This lab's pod namespaces that still have a directory under /etc/netns. */
function podResolverDirs(id: string): string[] {
  let names: string[];
  try {
    names = readdirSync(ETC_NETNS);
  } catch {
    return [];
  }
  return names.filter((n) => n.startsWith("egp-") && belongsToLab(id, n));
}
