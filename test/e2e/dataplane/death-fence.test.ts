// The death fence (src/agent/death-fence.ts) with real processes and addresses: a process holding the
// watchdog is SIGKILLed and the egress addresses (label <dev>:eg) go within moments while the node's
// own address stays; a graceful disarm leaves everything and the watchdog exits. Root, in a network
// namespace the test makes and deletes.
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { startDeathFence } from "../../../src/agent/death-fence.js";

const skip = process.getuid?.() !== 0 ? "needs root (network namespaces)" : false;
const NS = `egdf-${randomBytes(3).toString("hex")}`;
const FENCE_JS = fileURLToPath(new URL("../../../src/agent/death-fence.js", import.meta.url));
const ip = (...args: string[]) => execFileSync("ip", ["-n", NS, ...args], { encoding: "utf8" });
const addresses = () =>
  ip("-o", "-4", "addr", "show", "dev", "v0")
    .split("\n")
    .filter(Boolean)
    .map((l) => l.split(/\s+/)[3]!)
    .sort();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor<T>(what: string, f: () => T | undefined, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

before(() => {
  if (skip) return;
  execFileSync("ip", ["netns", "add", NS]);
  ip("link", "add", "v0", "type", "veth", "peer", "name", "v1");
  ip("link", "set", "v0", "up");
  ip("addr", "add", "10.9.0.1/24", "dev", "v0");
});
after(() => {
  if (!skip) execFileSync("ip", ["netns", "del", NS]);
});

function addEgress(): void {
  for (const a of ["10.9.0.10/32", "10.9.0.11/32"])
    ip("addr", "replace", a, "dev", "v0", "label", "v0:eg", "valid_lft", "30", "preferred_lft", "30");
}

test("an agent killed with SIGKILL: its egress addresses are removed, the node's own address stays", {
  skip,
}, async () => {
  addEgress();
  assert.deepEqual(addresses(), ["10.9.0.1/24", "10.9.0.10/32", "10.9.0.11/32"]);
  // A stand-in agent: a Node process that starts the watchdog and then just runs.
  const agent = spawn(
    process.execPath,
    [
      "--input-type=module",
      "-e",
      `import { startDeathFence } from ${JSON.stringify(FENCE_JS)};
       const f = startDeathFence(console, { netns: ${JSON.stringify(NS)} });
       console.log(f.pid); setInterval(() => {}, 1000);`,
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  let out = "";
  agent.stdout!.on("data", (b: Buffer) => {
    out += b.toString();
  });
  const watchdog = await waitFor("the watchdog's pid", () => (/^\d+\n/.test(out) ? Number(out) : undefined));
  try {
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(addresses().length, 3, "nothing removed while the agent lives");
    const killedAt = Date.now();
    agent.kill("SIGKILL");
    await waitFor("egress addresses gone", () => (addresses().length === 1 ? true : undefined), 3000);
    const ms = Date.now() - killedAt;
    assert.deepEqual(addresses(), ["10.9.0.1/24"]);
    assert.ok(ms < 1000, `fenced ${ms} ms after the kill`);
    await waitFor("the watchdog to exit", () => (alive(watchdog) ? undefined : true), 3000);
  } finally {
    agent.kill("SIGKILL");
    if (alive(watchdog)) process.kill(watchdog, "SIGKILL");
  }
});

test("a graceful stop disarms it: addresses stay, the watchdog exits", { skip }, async () => {
  addEgress();
  const fence = startDeathFence(console, { netns: NS });
  assert.ok(fence.pid);
  await new Promise((r) => setTimeout(r, 100));
  await fence.disarm();
  await waitFor("the watchdog to exit", () => (alive(fence.pid!) ? undefined : true), 3000);
  assert.deepEqual(addresses(), ["10.9.0.1/24", "10.9.0.10/32", "10.9.0.11/32"]);
});
