// 200 plugin processes on one pool of the file datastore, in parallel, with and without SIGKILLs at
// random moments. Checks: no address handed out twice, every successful ADD is recorded under its own
// container ID, nothing leaks except allocations of killed processes (the reconciler's job), and the
// pool file always decodes.
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { decodeState, networkFiles } from "../../../src/ipam/file-store.js";
import { type CniOutcome, resultIPs, runCni, wbConfig } from "./helpers.js";

const N = 200;
const POOL = "10.20.0.0-16";
/** Wall time of the unkilled ADD phase; kills are spread over it so that some land inside transactions. */
let phaseMs = 4000;

async function poolAllocations(dir: string): Promise<Map<string, string>> {
  const path = networkFiles(dir, "").state;
  const state = decodeState(await readFile(path, "utf8"), path); // throws if corrupt
  const out = new Map<string, string>(); // containerID → offset
  for (const [off, a] of Object.entries(state.pools[POOL]?.allocations ?? {})) {
    assert.ok(!out.has(a.id), `container ${a.id} holds two addresses`);
    out.set(a.id, off);
  }
  return out;
}

/** SIGKILLs plugin processes right after they got the pool lock, i.e. inside their transaction. The
 *  flock(1) helpers our plugins start show in /proc/locks: waiting ones as "->" lines (their parent,
 *  read from /proc/<pid>/stat while they wait, is the plugin), the granted one as the holder. */
function lockHolderKiller(lockPath: string, ours: Map<number, ChildProcess>, budget: number) {
  const helperToPlugin = new Map<number, number>();
  let killed = 0;
  const timer = setInterval(() => {
    if (killed >= budget || !existsSync(lockPath)) return;
    const ino = statSync(lockPath).ino;
    let text = "";
    try {
      text = readFileSync("/proc/locks", "utf8");
    } catch {
      return;
    }
    for (const line of text.split("\n")) {
      const m = /^\d+:\s+(->\s+)?FLOCK\s+\S+\s+WRITE\s+(\d+)\s+\S+:(\d+)\s/.exec(line);
      if (!m || Number(m[3]) !== ino) continue;
      const helper = Number(m[2]);
      if (m[1]) {
        if (helperToPlugin.has(helper)) continue;
        try {
          const stat = readFileSync(`/proc/${helper}/stat`, "utf8");
          const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
          if (ours.has(ppid)) helperToPlugin.set(helper, ppid);
        } catch {
          // the helper already left
        }
      } else {
        const plugin = helperToPlugin.get(helper);
        if (plugin === undefined) continue;
        helperToPlugin.delete(helper);
        ours.get(plugin)?.kill("SIGKILL");
        killed++;
      }
    }
  }, 10);
  return { stop: () => clearInterval(timer), killed: () => killed };
}

const offsetOf = (cidr: string): string => {
  const [a, b, c, d] = cidr.split("/")[0]!.split(".").map(Number);
  return String(((a! << 24) | (b! << 16) | (c! << 8) | d!) - ((10 << 24) | (20 << 16)));
};

describe("file datastore under concurrent plugin processes", { timeout: 120_000 }, () => {
  let dir = "";
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "wb-conc-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it(`${N} parallel ADDs get distinct addresses, ${N} parallel DELs empty the pool`, {
    timeout: 60_000,
  }, async () => {
    const d = join(dir, "plain");
    const conf = wbConfig({ range: "10.20.0.0/16", datastore: "file", data_dir: d, lock_timeout_ms: 50_000 });
    const t0 = performance.now();
    const adds = await Promise.all(
      Array.from({ length: N }, (_, i) =>
        runCni({
          command: "ADD",
          containerID: `c${i}`,
          args: `K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p${i}`,
          stdin: conf,
        }),
      ),
    );
    phaseMs = performance.now() - t0;
    const failed = adds.filter((a) => a.code !== 0);
    assert.deepEqual(
      failed.map((f) => f.stdout),
      [],
    );
    const ips = adds.flatMap((a) => resultIPs(a.json));
    assert.equal(ips.length, N);
    assert.equal(new Set(ips).size, N, "duplicate address handed out");
    // Lowest free: exactly the first N usable addresses.
    assert.deepEqual(
      ips
        .map(offsetOf)
        .map(Number)
        .sort((a, b) => a - b),
      Array.from({ length: N }, (_, i) => i + 1),
    );
    const held = await poolAllocations(d);
    adds.forEach((a, i) => {
      assert.equal(held.get(`c${i}`), offsetOf(resultIPs(a.json)[0]!));
    });

    const dels = await Promise.all(
      Array.from({ length: N }, (_, i) => runCni({ command: "DEL", containerID: `c${i}`, stdin: conf })),
    );
    assert.deepEqual(
      dels.filter((x) => x.code !== 0).map((x) => x.stdout),
      [],
    );
    assert.equal((await poolAllocations(d)).size, 0);
  });

  it(`${N} parallel ADDs and DELs with random SIGKILLs: no duplicates, no corruption, leaks only from killed`, {
    timeout: 60_000,
  }, async () => {
    const d = join(dir, "kill");
    const conf = wbConfig({ range: "10.20.0.0/16", datastore: "file", data_dir: d, lock_timeout_ms: 50_000 });
    const killed = new Set<string>();
    const lockPath = networkFiles(d, "").lock;
    let holderKills = 0;
    const withKills = async (command: string, ids: string[]): Promise<CniOutcome[]> => {
      const ours = new Map<number, ChildProcess>();
      const killer = lockHolderKiller(lockPath, ours, 10);
      try {
        return await Promise.all(
          ids.map((id, i) =>
            runCni(
              { command, containerID: id, args: `K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p${id}`, stdin: conf },
              (child) => {
                if (child.pid !== undefined) ours.set(child.pid, child);
                // About a third of the processes die at a random moment of their life (start-up, waiting
                // for the lock, inside the transaction, writing); up to 10 more right after taking the lock.
                if (i % 3 === 0) setTimeout(() => child.kill("SIGKILL"), Math.random() * phaseMs);
              },
            ),
          ),
        );
      } finally {
        killer.stop();
        holderKills += killer.killed();
      }
    };

    const ids = Array.from({ length: N }, (_, i) => `k${i}`);
    const adds = await withKills("ADD", ids);
    const ok = new Map<string, string>();
    adds.forEach((a, i) => {
      if (a.signal === "SIGKILL") killed.add(ids[i]!);
      else {
        assert.equal(a.code, 0, a.stdout);
        ok.set(ids[i]!, resultIPs(a.json)[0]!);
      }
    });
    assert.ok(killed.size > 0 && ok.size > 0, `killed ${killed.size}, survived ${ok.size}`);
    assert.equal(new Set(ok.values()).size, ok.size, "an address was handed out twice");
    let held = await poolAllocations(d);
    for (const [id, ip] of ok) assert.equal(held.get(id), offsetOf(ip), `ADD of ${id} is not recorded`);
    for (const id of held.keys()) assert.ok(ok.has(id) || killed.has(id), `unexplained allocation of ${id}`);
    const leakedByAdd = [...held.keys()].filter((id) => killed.has(id));

    // DEL every survivor, again with kills; a killed DEL may or may not have removed its allocation.
    const survivors = [...ok.keys()];
    const dels = await withKills("DEL", survivors);
    const delKilled = new Set<string>();
    dels.forEach((x, i) => {
      if (x.signal === "SIGKILL") delKilled.add(survivors[i]!);
      else assert.equal(x.code, 0, x.stdout);
    });
    held = await poolAllocations(d);
    for (const id of held.keys()) {
      assert.ok(killed.has(id) || delKilled.has(id), `allocation of ${id} leaked without a kill`);
    }
    // A final, unkilled ADD still works on the file the kills left behind, and cleans temp files.
    const fin = await runCni({ command: "ADD", containerID: "final", stdin: conf });
    assert.equal(fin.code, 0, fin.stdout);
    assert.ok(!held.has("final"));
    assert.ok(
      !new Set([...held.values()]).has(offsetOf(resultIPs(fin.json)[0]!)),
      "final ADD got a held address",
    );
    assert.deepEqual(
      (await readdir(d)).filter((n) => n.includes(".tmp-")),
      [],
    );
    process.stdout.write(
      `# kill test: ADD killed ${killed.size} (leaked ${leakedByAdd.length}), DEL killed ${delKilled.size}, ` +
        `killed holding the lock ${holderKills}, left ${held.size}\n`,
    );
  });
});
