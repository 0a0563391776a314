// Crash recovery: `lab down` removes exactly what a crashed `lab up` recorded (SIGKILL mid-way),
// and — from a hand-made partial state file — ends recorded processes only when their command
// line still matches, sweeps processes inside lab namespaces and the agents' pod namespaces,
// and leaves other labs' namespaces and unrelated processes alone.
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { podNetnsName } from "../../../src/lab/names.js";
import type { LabState } from "../../../src/lab/state.js";
import { alive, ENTRY, lab, labNamespaces, newLabId, rootSnapshot, SKIP } from "./helpers.js";

const base = mkdtempSync(join(tmpdir(), "egl-crash-"));
const cleanups: (() => void)[] = [];
after(() => {
  for (const c of cleanups.reverse()) {
    try {
      c();
    } catch {
      // best effort: the test body asserts what matters
    }
  }
  rmSync(base, { recursive: true, force: true });
});

const sleepIn = (netns: string | undefined): ChildProcess => {
  const argv = netns ? ["ip", "netns", "exec", netns, "sleep", "300"] : ["sleep", "300"];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: "ignore", detached: true });
  child.unref();
  cleanups.push(() => child.pid && alive(child.pid) && process.kill(child.pid, "SIGKILL"));
  return child;
};

test("SIGKILL of `lab up` mid-way, then `lab down` removes what it made", {
  skip: SKIP,
  timeout: 80_000,
}, async () => {
  const id = newLabId();
  const stateDir = join(base, id);
  const before = rootSnapshot();
  cleanups.push(() => lab(["down", "--id", id, "--state-dir", stateDir, "--force"]));
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  const up = spawn(
    process.execPath,
    [ENTRY, "lab", "up", "--id", id, "--state-dir", stateDir, "--no-agents"],
    {
      stdio: "ignore",
      env,
    },
  );
  // Kill it once the underlay exists and some service process has been started.
  const file = join(stateDir, "state.json");
  let state: LabState | undefined;
  const deadline = Date.now() + 40_000;
  while (Date.now() < deadline) {
    if (existsSync(file)) {
      try {
        state = JSON.parse(readFileSync(file, "utf8")) as LabState;
      } catch {
        state = undefined; // replaced between read and parse is impossible (rename), but be safe
      }
      if (state?.processes.some((p) => p.pid !== null)) break;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  up.kill("SIGKILL");
  await new Promise((r) => up.once("exit", r));
  assert.ok(state, "lab up never recorded a process");
  state = JSON.parse(readFileSync(file, "utf8")) as LabState;
  assert.equal(state.phase, "creating");
  const made = labNamespaces(id);
  // 8 of the underlay and control plane + the 2 hosts of the default secondary networks.
  assert.ok(made.length === 10, `namespaces ${made}`);
  const pids = state.processes.map((p) => p.pid).filter((p): p is number => p !== null);
  assert.ok(pids.length > 0);

  const down = lab(["down", "--id", id, "--state-dir", stateDir]);
  assert.equal(down.status, 0, down.stderr);
  assert.deepEqual(labNamespaces(id), []);
  // Every process the lab started is gone, including one whose pid the crash kept from the record.
  for (const pid of pids) assert.equal(alive(pid), false, `pid ${pid}`);
  const stray = spawnSync("pgrep", ["-f", stateDir], { encoding: "utf8" }).stdout.trim();
  assert.equal(stray, "", `processes still mention ${stateDir}`);
  assert.equal(existsSync(stateDir), false);
  assert.deepEqual(rootSnapshot(), before);
});

test("partial state file: down removes exactly what is recorded, pod namespaces, nothing else", {
  skip: SKIP,
  timeout: 60_000,
}, async () => {
  const id = newLabId();
  const other = newLabId();
  const stateDir = join(base, id);
  mkdirSync(stateDir, { recursive: true });
  const fabric = `egl-${id}-fabric`;
  const node1 = `egl-${id}-node1`;
  const pod = podNetnsName(id, "namespace1", "client-a");
  const foreign = `egl-${other}-fabric`;
  for (const n of [fabric, node1, pod, foreign]) {
    assert.equal(spawnSync("ip", ["netns", "add", n]).status, 0, n);
    cleanups.push(() => spawnSync("ip", ["netns", "del", n]));
  }
  // A veth between fabric and node1, as lab up makes them.
  assert.equal(
    spawnSync("ip", [
      "-n",
      fabric,
      "link",
      "add",
      "node1-eth0",
      "type",
      "veth",
      "peer",
      "name",
      "eth0",
      "netns",
      node1,
    ]).status,
    0,
  );
  const recorded = sleepIn(node1); // recorded, command line matches
  const unrecorded = sleepIn(node1); // crash before its pid was written
  const inPod = sleepIn(pod); // a pod's process started by an agent
  const outsider = sleepIn(undefined); // pid recorded, but it is not the lab's process
  const foreignProc = sleepIn(foreign);
  await new Promise((r) => setTimeout(r, 300));
  const state: LabState = {
    version: 1,
    id,
    phase: "creating",
    createdAt: new Date().toISOString(),
    stateDir,
    topologySource: "test",
    topology: {
      networks: [],
      controlPlane: { network: "host", address: "192.168.126.2/18", port: 6443 },
      nodes: [],
      externals: [],
    },
    namespaces: [
      { name: fabric, role: "fabric", host: "" },
      { name: node1, role: "node", host: "node1" },
      { name: `egl-${id}-node2`, role: "node", host: "node2" }, // recorded, never created
    ],
    processes: [
      {
        name: "echo/x",
        netns: node1,
        argv: ["sleep", "300"],
        pid: recorded.pid!,
        log: join(stateDir, "a.log"),
      },
      { name: "echo/y", netns: node1, argv: ["sleep", "300"], pid: null, log: join(stateDir, "b.log") },
      {
        name: "echo/z",
        netns: node1,
        argv: ["/usr/bin/node", "echo-server.js"],
        pid: outsider.pid!,
        log: join(stateDir, "c.log"),
      },
    ],
    files: [],
    notes: [],
  };
  writeFileSync(join(stateDir, "state.json"), JSON.stringify(state));

  const down = lab(["down", "--id", id, "--state-dir", stateDir]);
  assert.equal(down.status, 0, down.stderr);
  assert.deepEqual(labNamespaces(id), []);
  assert.equal(alive(recorded.pid!), false, "recorded process");
  assert.equal(alive(unrecorded.pid!), false, "unrecorded process inside a lab namespace");
  assert.equal(alive(inPod.pid!), false, "pod process");
  assert.equal(alive(outsider.pid!), true, "a process whose command line does not match must live");
  assert.equal(alive(foreignProc.pid!), true, "another lab's process must live");
  const list = spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout;
  assert.match(list, new RegExp(`^${foreign}\\b`, "m"), "another lab's namespace must stay");
  assert.match(down.stderr, /stopped echo\/x/);
  assert.doesNotMatch(down.stderr, /stopped echo\/z/);

  const again = lab(["down", "--id", id, "--state-dir", stateDir]);
  assert.equal(again.status, 0);
  assert.match(again.stdout, /nothing to remove/);
});
