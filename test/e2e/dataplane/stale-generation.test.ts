// Packets that outlive their generation, on the real kernel (docs/dataplane.md, "Packets that outlive
// their generation"). A packet inside a chain's rules while an update commits keeps running the rules it
// started with; held across two generational updates (src/dataplane/nft/generations.ts) it runs rules
// whose sets and maps the second update DELETED (not flushed). The kernel deactivates a deleted map's
// elements (nft_delset → nft_map_deactivate): a hash-map lookup misses. A deleted plain set keeps its
// elements active: an interval set still answers. With the update transactions of renderUpdate (same
// naming, same deletion order as the agents) this test shows:
//   (a) control, no guard: straddling packets take the miss path (straddling did happen: can fail);
//   (b) guard `meta nfproto != @live drop`, `live` a hash map of the same generation: no packet takes
//       the miss path (each one got the old answer or was dropped), and some were dropped;
//   (c) the old guard `ip saddr != @live drop`, `live` an interval set {0.0.0.0/0}: straddling packets
//       still take the miss path (the deleted set still answers);
//   (d) reported only: the same updates, each run by its own `nft -f` process as the agents do. On
//       6.18 none was seen to straddle: when a netlink socket closes, the kernel waits for the
//       transaction destroy work (nft_rcv_nl_event → flush_work → synchronize_rcu, under the commit
//       mutex), so the next update cannot commit while a packet that entered before the previous one
//       still runs.
//       (a)–(c) therefore commit from ONE long-lived socket (`nft -i`, one transaction per line).
// Layout: namespace A sends UDP to B over a veth. In A, table `inet stale` (generational) hooks output:
// `udp dport 9 jump work`; `work` first jumps K times into a 64×64×64 no-op rule tree (pad2 → pad1 →
// pad0, ~262,000 rule evaluations per jump: holds the packet tens of ms while a generation stays a few
// hundred rules), then `meta mark set ip saddr map @pods` (pods always holds A's address: only a deleted
// generation misses), `meta mark 1 accept`, [guard], `accept` (the miss path, mark 0). The stable table
// `inet count` counts before (sent) and after (hit: mark 1, leak: mark 0) that hook; sent − hit − leak
// = dropped by the guard. K is calibrated so that a packet spans several commits, and doubled when a
// phase shows no straddling packet. `meta nfproto` needs an inet table (nft refuses it in `ip`).
// Needs root, nft, ip and nsenter; skipped otherwise. Both namespaces and every process started go in
// finally and on SIGINT/SIGTERM/SIGHUP.
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { describe, it } from "node:test";
import { NftError, type NftExecer } from "../../../src/dataplane/nft/execer.js";
import {
  GenerationalTable,
  type GenerationState,
  renderUpdate,
} from "../../../src/dataplane/nft/generations.js";
import { run } from "../../../src/dataplane/run.js";
import { cleanupOnSignal } from "../support/on-signal.js";
import { rootSkip } from "../support/root-skip.js";

const skip = rootSkip(["nft", "ip", "nsenter"]);

const id = Math.random().toString(36).slice(2, 7);
const NS = { a: `stg-${id}-a`, b: `stg-${id}-b` };
const SENDER = "10.79.0.2";
const TARGET = "10.79.0.1";
/** Counting time of one phase (commits under a running sender). */
const PHASE_MS = 4000;
/** Attempts (hold time doubled each time) before a phase that shows no straddling packet fails. */
const ATTEMPTS = 3;

type Guard = "none" | "map" | "interval";

const sh = (cmd: string, args: string[], input?: string): string =>
  execFileSync(cmd, args, { input, encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * nft in namespace A through `nsenter --net` (as an agent runs it in its own namespace). Not RealNft's
 * `ip netns exec`: that one sets up a mount namespace, which waits for an RCU grace period, i.e. for
 * every held packet, and would slow each update down to the hold time.
 */
class NsenterNft implements NftExecer {
  private async nft(args: string[], input?: string): Promise<string> {
    const argv = [`--net=/run/netns/${NS.a}`, "nft", ...args];
    const r = await run(undefined, "nsenter", argv, input);
    if (r.code !== 0) throw new NftError(["nsenter", ...argv], r.stderr);
    return r.stdout;
  }
  async apply(script: string): Promise<void> {
    await this.nft(["-f", "-"], script);
  }
  async check(script: string): Promise<void> {
    await this.nft(["--check", "-f", "-"], script);
  }
  async listJson(family: string, name: string): Promise<unknown | undefined> {
    try {
      return JSON.parse(await this.nft(["-j", "list", "table", family, name])) as unknown;
    } catch (e) {
      if (e instanceof NftError && /No such file or directory/.test(e.stderr)) return undefined;
      throw e;
    }
  }
}
const nft = new NsenterNft();

/**
 * One `nft -i` in namespace A: every line is one transaction, all on one netlink socket (so the
 * kernel's wait on socket release happens once, at the end). After each transaction a `list counter`
 * marks its completion on stdout.
 */
class NftSession {
  private readonly child: ChildProcess;
  private stdout = "";
  private stderr = "";
  private sent = 0;
  private waiter: (() => void) | undefined;

  constructor() {
    this.child = spawn("nsenter", [`--net=/run/netns/${NS.a}`, "nft", "-i"], { stdio: "pipe" });
    children.add(this.child);
    this.child.stdout!.on("data", (b: Buffer) => {
      this.stdout += b.toString("utf8");
      if (this.waiter && this.done() >= this.sent) this.waiter();
    });
    this.child.stderr!.on("data", (b: Buffer) => {
      this.stderr += b.toString("utf8");
    });
  }

  private done(): number {
    return this.stdout.split("packets ").length - 1;
  }

  /** Runs one whole-table update transaction; resolves once nft has finished it. */
  commit(script: string): Promise<void> {
    // nft -i reads a line at a time: the transaction's lines joined by `;` (a statement separator
    // like the newline in every block).
    const line = script.trimEnd().split("\n").join(" ; ");
    this.sent++;
    this.child.stdin!.write(`${line}\nlist counter inet count sent\n`);
    return new Promise((resolve, reject) => {
      if (this.done() >= this.sent) return resolve();
      const timer = setTimeout(() => reject(new Error(`nft -i: no answer; stderr: ${this.stderr}`)), 10_000);
      this.waiter = () => {
        clearTimeout(timer);
        this.waiter = undefined;
        resolve();
      };
    });
  }

  /** Ends the session; returns what nft wrote to stderr (errors; nft -i exits 0 regardless). */
  async close(): Promise<string> {
    const gone = new Promise((r) => this.child.once("exit", r));
    this.child.stdin!.end();
    await gone;
    children.delete(this.child);
    return this.stderr;
  }
}

/** The generational table in the compilers' whole-table layout; `k` jumps into the pad tree. */
function staleScript(guard: Guard, k: number): string {
  const T = "inet stale";
  const out = [`table ${T} {}`, `delete table ${T}`, `table ${T} {`];
  out.push("\tchain pad0 {");
  for (let i = 0; i < 64; i++) out.push(`\t\tip daddr 10.255.0.${i}`);
  out.push("\t}", "\tchain pad1 {", ...Array<string>(64).fill("\t\tjump pad0"), "\t}");
  out.push("\tchain pad2 {", ...Array<string>(64).fill("\t\tjump pad1"), "\t}");
  out.push("\tmap pods {", "\t\ttype ipv4_addr : mark", `\t\telements = { ${SENDER} : 0x00000001 }`, "\t}");
  if (guard === "map")
    out.push(
      "\tmap live {",
      "\t\ttype nf_proto : mark",
      "\t\telements = { ipv4 : 0x00000001, ipv6 : 0x00000001 }",
      "\t}",
    );
  if (guard === "interval")
    out.push(
      "\tset live {",
      "\t\ttype ipv4_addr",
      "\t\tflags interval",
      "\t\telements = { 0.0.0.0/0 }",
      "\t}",
    );
  out.push("\tchain work {", ...Array<string>(k).fill("\t\tjump pad2"));
  out.push("\t\tmeta mark set ip saddr map @pods", "\t\tmeta mark 0x00000001 accept");
  if (guard === "map") out.push("\t\tmeta nfproto != @live drop");
  if (guard === "interval") out.push("\t\tip saddr != @live drop");
  out.push("\t\taccept", "\t}");
  out.push("\tchain out {", "\t\ttype filter hook output priority filter; policy accept;");
  out.push("\t\tudp dport 9 jump work", "\t}", "}");
  return `${out.join("\n")}\n`;
}

const COUNT_TABLE = `table inet count {
	counter sent {
	}
	counter hit {
	}
	counter leak {
	}
	chain pre {
		type filter hook output priority filter - 10; policy accept;
		udp dport 9 counter name sent
	}
	chain post {
		type filter hook output priority filter + 10; policy accept;
		udp dport 9 meta mark 0x00000001 counter name hit
		udp dport 9 meta mark 0x00000000 counter name leak
	}
}
`;

interface Counts {
  sent: number;
  hit: number;
  leak: number;
}

async function counts(): Promise<Counts> {
  const doc = (await nft.listJson("inet", "count")) as {
    nftables: { counter?: { name: string; packets: number } }[];
  };
  const c: Counts = { sent: 0, hit: 0, leak: 0 };
  for (const item of doc.nftables)
    if (item.counter && item.counter.name in c) c[item.counter.name as keyof Counts] = item.counter.packets;
  return c;
}

/** Every process this file started and has not seen exit (killed in tearDown). */
const children = new Set<ChildProcess>();

// One UDP datagram at a time: each send returns once its packet has left the output hook.
const SENDER_JS = `
const s = require("node:dgram").createSocket("udp4");
const b = Buffer.from("x");
const f = () => s.send(b, 9, ${JSON.stringify(TARGET)}, f);
f();
`;

function startSender(): ChildProcess {
  const c = spawn("nsenter", [`--net=/run/netns/${NS.a}`, process.execPath, "-e", SENDER_JS], {
    stdio: "ignore",
  });
  children.add(c);
  return c;
}

/** Kills the sender and waits until it is gone: its last packet has then left the hooks. */
async function stopSender(c: ChildProcess): Promise<void> {
  if (c.exitCode === null && c.signalCode === null) {
    const gone = new Promise((r) => c.once("exit", r));
    c.kill("SIGKILL");
    await gone;
  }
  children.delete(c);
  await sleep(100);
}

type Committer = "session" | "process" | "none";

interface PhaseResult {
  guard: Guard;
  committer: Committer;
  k: number;
  commits: number;
  sent: number;
  /** Got the old answer (mark 1). */
  hits: number;
  /** Took the miss path and passed (mark 0 reached the later hook). */
  leaks: number;
  /** Dropped by the guard (sent − hits − leaks). */
  drops: number;
  /** Lookups that missed: leaks + drops (pods always holds the sender; only a deleted map misses). */
  straddles: number;
}

const show = (r: PhaseResult): string =>
  `${r.guard}/${r.committer} (K=${r.k}): ${r.commits} commits, ${r.sent} packets, ${r.hits} hits, ` +
  `${r.straddles} straddles, ${r.leaks} leaks, ${r.drops} drops`;

/**
 * Sends for `ms` while committing one generation after another (`session`: renderUpdate's transactions
 * through one `nft -i`; `process`: GenerationalTable, one `nft -f` each; `none`: no updates).
 */
async function phase(guard: Guard, k: number, ms: number, committer: Committer): Promise<PhaseResult> {
  const table = new GenerationalTable(nft, "inet", "stale");
  const script = staleScript(guard, k);
  await table.replace(script);
  await table.replace(script); // two generations from the start, as in steady state
  let state: GenerationState = table.known!;
  const session = committer === "session" ? new NftSession() : undefined;
  const before = await counts();
  let commits = 0;
  const sender = startSender();
  try {
    const end = Date.now() + ms;
    for (; committer !== "none" && Date.now() < end; commits++) {
      if (session) {
        const r = renderUpdate(script, state);
        await session.commit(r.prepare);
        await session.commit(r.activate);
        state = r.next;
      } else await table.replace(script);
    }
    if (committer === "none") await sleep(ms);
  } finally {
    await stopSender(sender);
  }
  const errors = (await session?.close()) ?? "";
  assert.equal(errors, "", "nft -i refused an update");
  const after = await counts();
  if (committer === "process") state = table.known!;
  // At most two generations, whatever the number of commits: the deletions really happened.
  const gens = new Set(state.objects.map((o) => o.name.replace(/^.*\.g/, "")));
  assert.ok(gens.size <= 2, `generations left: ${[...gens].join(", ")}`);
  await table.remove();
  const sent = after.sent - before.sent;
  const hits = after.hit - before.hit;
  const leaks = after.leak - before.leak;
  return {
    guard,
    committer,
    k,
    commits,
    sent,
    hits,
    leaks,
    drops: sent - hits - leaks,
    straddles: sent - hits,
  };
}

function setUp(): void {
  for (const n of Object.values(NS)) sh("ip", ["netns", "add", n]);
  // Created inside A with the peer directly in B: nothing appears in the root namespace.
  sh("ip", ["-n", NS.a, "link", "add", "s0", "type", "veth", "peer", "name", "r0", "netns", NS.b]);
  sh("ip", ["-n", NS.a, "addr", "add", `${SENDER}/24`, "dev", "s0"]);
  sh("ip", ["-n", NS.b, "addr", "add", `${TARGET}/24`, "dev", "r0"]);
  for (const [ns, dev] of [
    [NS.a, "s0"],
    [NS.a, "lo"],
    [NS.b, "r0"],
    [NS.b, "lo"],
  ] as const)
    sh("ip", ["-n", ns, "link", "set", dev, "up"]);
  sh("nsenter", [`--net=/run/netns/${NS.a}`, "nft", "-f", "-"], COUNT_TABLE);
}

function tearDown(): void {
  for (const c of children) {
    try {
      c.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
  children.clear();
  for (const n of Object.values(NS)) {
    try {
      execFileSync("ip", ["netns", "del", n], { stdio: "ignore" });
    } catch {
      // not created
    }
  }
}

/** Runs session phases (hold doubled each time) until one shows a straddling packet, ATTEMPTS at most. */
async function untilStraddle(guard: Guard, k0: number, log: (s: string) => void): Promise<PhaseResult> {
  let r: PhaseResult | undefined;
  for (let i = 0, k = k0; i < ATTEMPTS; i++, k *= 2) {
    r = await phase(guard, k, PHASE_MS, "session");
    log(show(r));
    if (r.straddles > 0) return r;
  }
  return r!;
}

describe("packets that outlive their generation (real deletions)", { skip, timeout: 150_000 }, () => {
  it("a straddling packet misses a deleted map; the map guard drops it, the interval-set guard does not", async (t) => {
    const unregister = cleanupOnSignal(tearDown);
    const log = (s: string) => t.diagnostic(s);
    try {
      setUp();
      // Calibration: hold time with K0 jumps (no updates), then the time of one update through nft -i.
      const K0 = 8;
      const cal = await phase("none", K0, 1000, "none");
      assert.ok(cal.sent > 0, "the sender's packets reach the output hook");
      assert.equal(cal.hits, cal.sent, `without updates every lookup hits (${show(cal)})`);
      const holdMs = 1000 / cal.sent;
      const table = new GenerationalTable(nft, "inet", "stale");
      await table.replace(staleScript("none", K0));
      const session = new NftSession();
      let state = table.known!;
      const t0 = Date.now();
      for (let i = 0; i < 20; i++) {
        const r = renderUpdate(staleScript("none", K0), state);
        await session.commit(r.prepare);
        await session.commit(r.activate);
        state = r.next;
      }
      const commitMs = (Date.now() - t0) / 20;
      assert.equal(await session.close(), "", "nft -i refused an update");
      await table.remove();
      // A packet must enter before one commit and look up after the next: hold ≥ several commit
      // intervals (they are slower while the sender occupies a core).
      const target = Math.min(Math.max(4 * commitMs, 30), 100);
      const k = Math.max(1, Math.ceil((K0 * target) / holdMs));
      log(
        `calibration: ${holdMs.toFixed(2)} ms/packet with K=${K0}, ${commitMs.toFixed(1)} ms/commit (nft -i), ` +
          `target hold ${target.toFixed(0)} ms → K=${k}`,
      );

      // (a) control.
      const control = await untilStraddle("none", k, log);
      assert.ok(
        control.leaks > 0,
        `control: no packet straddled two commits in ${ATTEMPTS} attempts (${show(control)}); ` +
          "the environment did not produce the condition",
      );
      assert.equal(control.drops, 0, "without a guard nothing drops");
      assert.ok(control.hits > 0, "the map answers packets that do not straddle");

      // (b) the map guard.
      const mapGuard = await untilStraddle("map", control.k, log);
      assert.equal(mapGuard.leaks, 0, `map guard: packets took the miss path (${show(mapGuard)})`);
      assert.ok(
        mapGuard.drops > 0,
        `map guard: no straddling packet in ${ATTEMPTS} attempts (${show(mapGuard)})`,
      );
      assert.ok(mapGuard.hits > 0, "the map answers packets that do not straddle");

      // (c) the old interval-set guard.
      const intervalGuard = await untilStraddle("interval", control.k, log);
      assert.ok(
        intervalGuard.leaks > 0,
        `interval-set guard: no straddling packet took the miss path (${show(intervalGuard)})`,
      );
      assert.equal(intervalGuard.drops, 0, "the deleted interval set still answers: its guard never drops");

      // (d) one nft process per update (the agents' way): reported, not asserted.
      log(show(await phase("none", control.k, PHASE_MS, "process")));
    } finally {
      unregister();
      tearDown();
    }
  });
});
