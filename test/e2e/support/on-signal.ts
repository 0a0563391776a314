// Cleanup that also runs when the process is interrupted. A benchmark or test that made network
// namespaces and servers undoes them in `finally`, but SIGINT/SIGTERM/SIGHUP end a Node process
// without running it (and a `kill` aimed at that pid alone leaves its children behind). While
// registered, such a signal runs `cleanup` once, then ends the process with the shell's status
// for that signal (128 + its number).
import { constants } from "node:os";

const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/** Runs `cleanup` on SIGINT/SIGTERM/SIGHUP until the returned function unregisters it. */
export function cleanupOnSignal(cleanup: () => void): () => void {
  const handler = (signal: NodeJS.Signals): void => {
    unregister();
    try {
      cleanup();
    } finally {
      process.exit(128 + (constants.signals[signal] ?? 0));
    }
  };
  const unregister = (): void => {
    for (const s of SIGNALS) process.off(s, handler);
  };
  for (const s of SIGNALS) process.on(s, handler);
  return unregister;
}
