// The death fence: a small watchdog process that removes this node's egress addresses when the agent
// dies without stopping (SIGKILL, a crash, the OOM killer). The self-fence (dataplane-sync.ts) covers
// a node cut off from the controllers; a dead agent cannot fence itself, and until now its addresses
// stayed in the kernel until their 3 s lease ran out — while the controllers, whose probes the dead
// agent no longer answers, had moved them away after ~0.4 s, and the new holder's duplicate-address
// check waited for the old node to go quiet. With the fence the old node lets go within milliseconds
// of the agent's death.
//
// How: the agent keeps the write end of the watchdog's stdin. The kernel closes it when the agent
// exits in any way; the watchdog's `read` then returns end-of-file and it deletes every address whose
// label is `<dev>:eg` (the node program's egress addresses and nothing else: see ADDRESS_LABEL_SUFFIX
// in dataplane/compile/node-program.ts). A graceful stop writes "disarm" first: addresses stay, as
// they do across a restart of a running agent. The watchdog is a shell and iproute2, so it needs no
// Node runtime and costs ~1 MB while it waits. It never touches other addresses, routes or tables.
import { type ChildProcess, spawn } from "node:child_process";
import { ADDRESS_LABEL_SUFFIX } from "../dataplane/compile/node-program.js";
import type { Logger } from "../util/log.js";

/** The watchdog's script: wait for the agent's word or its death, then fence unless disarmed. */
export const DEATH_FENCE_SCRIPT = [
  "IFS= read -r word || word=",
  '[ "$word" = disarm ] && exit 0',
  `ip -o -4 addr show label '*${ADDRESS_LABEL_SUFFIX}' | while read -r _ dev _ addr _; do`,
  '  ip addr del "$addr" dev "$dev" && echo "death fence: removed $addr from $dev" >&2',
  "done",
].join("\n");

export interface DeathFence {
  readonly pid: number | undefined;
  /** A graceful stop: the watchdog exits without touching anything. */
  disarm(): Promise<void>;
}

/** Starts the watchdog in this process's network namespace (or in `netns`, for tests). */
export function startDeathFence(log: Pick<Logger, "warn">, opts: { netns?: string } = {}): DeathFence {
  const argv = [...(opts.netns ? ["ip", "netns", "exec", opts.netns] : []), "sh", "-c", DEATH_FENCE_SCRIPT];
  const [cmd = "sh", ...args] = argv;
  // Its own process group, so a signal to the agent's group (a terminal's ^C) does not take the
  // watchdog down before it could act; it exits as soon as it has acted or been disarmed.
  const child: ChildProcess = spawn(cmd, args, {
    stdio: ["pipe", "ignore", "inherit"],
    detached: true,
  });
  child.on("error", (err) => log.warn({ err }, "death fence: watchdog failed to start"));
  // Neither the pipe nor the child keeps the agent's event loop alive.
  child.unref();
  (child.stdin as unknown as { unref(): void } | null)?.unref();
  const exited = new Promise<void>((resolve) => child.once("close", () => resolve()));
  return {
    pid: child.pid,
    async disarm(): Promise<void> {
      if (child.exitCode !== null || child.signalCode !== null || !child.stdin) return;
      child.ref(); // waited for now
      child.stdin.end("disarm\n");
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 2000)))]);
      clearTimeout(timer);
    },
  };
}
