// Directory lock so two servers never open the same store. The LOCK file holds "<pid> <starttime>"
// (starttime from /proc/<pid>/stat) and is created atomically with link(), so it is never seen
// half-written. A lock whose process is gone, or whose pid was reused by a process started at a
// different time, is stale (left by a crash) and is taken over. I/O adapter: no store logic.
import { readFileSync } from "node:fs";
import { link, open, readFile, unlink } from "node:fs/promises";
import { join } from "node:path";
import { StoreLockedError } from "./errors.js";

export interface DirLock {
  release(): Promise<void>;
}

function startTime(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 2 (comm) may contain spaces and parentheses; fields after the last ')' start at field 3.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? "";
  } catch {
    return "";
  }
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

function isHeld(content: string): boolean {
  const [pidText, start] = content.trim().split(" ");
  const pid = Number(pidText);
  if (!Number.isSafeInteger(pid) || pid <= 0 || !processAlive(pid)) return false;
  const now = startTime(pid);
  return start === undefined || start === "" || now === "" || now === start;
}

/** Open handles of this process: a second open of the same directory in one process is refused too. */
const heldHere = new Set<string>();

export async function acquireLock(dir: string): Promise<DirLock> {
  const path = join(dir, "LOCK");
  if (heldHere.has(path)) throw new StoreLockedError(dir, `this process (pid ${process.pid})`);
  const me = `${process.pid} ${startTime(process.pid)}\n`;
  const tmp = join(dir, `LOCK.${process.pid}.tmp`);
  const fh = await open(tmp, "w");
  try {
    await fh.writeFile(me);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await link(tmp, path);
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
        const content = await readFile(path, "utf8").catch(() => "");
        if (isHeld(content) || attempt >= 3) {
          throw new StoreLockedError(dir, `pid ${content.trim().split(" ")[0] || "unknown"} (${path})`);
        }
        await unlink(path).catch(() => undefined);
      }
    }
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
  heldHere.add(path);
  return {
    async release() {
      heldHere.delete(path);
      const content = await readFile(path, "utf8").catch(() => "");
      if (content === me) await unlink(path).catch(() => undefined);
    },
  };
}
