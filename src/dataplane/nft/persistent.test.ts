import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { smallNodeView } from "../compile/fixtures.js";
import { compileNodeProgram } from "../compile/node-program.js";
import type { NodeView } from "../compile/types.js";
import { NftError, RealNft } from "./execer.js";
import { elementDelta } from "./incremental.js";
import { DEFAULT_HELPER_PATH, NftHelperError, PersistentNft } from "./persistent.js";

const FAKE = fileURLToPath(new URL("./fake-helper.js", import.meta.url));
const fake = (mode = "ok", extra: { startTimeoutMs?: number } = {}) =>
  new PersistentNft({ helperPath: process.execPath, helperArgs: [FAKE, mode], ...extra });

interface State {
  applied: string[];
  checked: string[];
  pid: number;
}
const state = async (nft: PersistentNft) => (await nft.listJson("inet", "state")) as State;

describe("PersistentNft against a fake helper", () => {
  test("applies, checks and lists through one helper process", async () => {
    const nft = fake();
    try {
      assert.equal(nft.mode, "idle");
      await nft.apply("one");
      await nft.check("two");
      await nft.apply("three");
      const s = await state(nft);
      assert.deepEqual(s.applied, ["one", "three"]);
      assert.deepEqual(s.checked, ["two"]);
      assert.equal(nft.mode, "helper");
      assert.equal(nft.pid, s.pid);
      assert.equal(await nft.listJson("ip", "missing"), undefined);
    } finally {
      await nft.close();
    }
  });

  test("serializes concurrent requests and hands every caller its own reply", async () => {
    const nft = fake("chunked");
    try {
      const names = Array.from({ length: 20 }, (_, i) => `t${i}`);
      const lists = await Promise.all(names.map((n) => nft.listJson("ip", n)));
      assert.deepEqual(
        lists.map((o) => (o as { name: string }).name),
        names,
      );
      const applies = ["sleep:30 a", "b", "sleep:5 c", "d"].map((s) => nft.apply(s));
      await Promise.all(applies);
      assert.deepEqual((await state(nft)).applied, ["a", "b", "c", "d"]);
    } finally {
      await nft.close();
    }
  });

  test("an error reply is an NftError with the line nft named", async () => {
    const nft = fake();
    try {
      const text = "/dev/stdin:7:3-9: Error: syntax error, unexpected junk\n  junk\n  ^^^^\n";
      await assert.rejects(nft.apply(`error:${text}`), (e: unknown) => {
        assert.ok(e instanceof NftError);
        assert.equal(e.line, 7);
        assert.equal(e.stderr, text);
        assert.deepEqual(e.command, ["nft-helper", "-f", "-"]);
        return true;
      });
      await assert.rejects(
        nft.check("error:Error: nope\n"),
        (e: unknown) => e instanceof NftError && e.line === undefined,
      );
      await nft.apply("after");
      assert.deepEqual((await state(nft)).applied, ["after"]);
    } finally {
      await nft.close();
    }
  });

  test("a helper that dies fails the request in flight and the next request starts a new one", async () => {
    const nft = fake();
    try {
      await nft.apply("a");
      const pid1 = nft.pid;
      const dying = nft.apply("die");
      const next = nft.apply("b"); // queued behind the request that kills the helper
      await assert.rejects(
        dying,
        (e: unknown) =>
          e instanceof NftHelperError && /exited \(signal SIGKILL\) while applying a script/.test(e.message),
      );
      await next;
      const s = await state(nft);
      assert.notEqual(s.pid, pid1);
      assert.deepEqual(s.applied, ["b"]);
    } finally {
      await nft.close();
    }
  });

  test("a helper killed while idle is replaced on the next request", async () => {
    const nft = fake();
    try {
      await nft.apply("a");
      const pid1 = nft.pid!;
      process.kill(pid1, "SIGKILL");
      while (nft.mode === "helper") await new Promise((r) => setTimeout(r, 5));
      await nft.apply("b");
      const s = await state(nft);
      assert.notEqual(s.pid, pid1);
      assert.deepEqual(s.applied, ["b"]);
    } finally {
      await nft.close();
    }
  });

  test("no libnftables: falls back to spawning nft, once, and says why", async () => {
    const reasons: string[] = [];
    const nft = new PersistentNft({
      helperPath: process.execPath,
      helperArgs: [FAKE, "nolib"],
      nftPath: "/nonexistent/nft",
      onFallback: (r) => reasons.push(r),
    });
    // The fallback RealNft runs the (missing) nft binary: the spawn error proves which path ran.
    await assert.rejects(nft.apply("x"), /ENOENT/);
    await assert.rejects(nft.check("x"), /ENOENT/);
    assert.equal(nft.mode, "spawn");
    assert.deepEqual(reasons, ["nft-helper: cannot load libnftables.so.1: not found (fake)"]);
    assert.equal(nft.fallbackReason, reasons[0]);
  });

  test("no helper binary: falls back to spawning nft", async () => {
    const nft = new PersistentNft({ helperPath: "/nonexistent/nft-helper", nftPath: "/nonexistent/nft" });
    await assert.rejects(nft.apply("x"), /ENOENT/);
    assert.equal(nft.mode, "spawn");
    assert.match(nft.fallbackReason ?? "", /nonexistent\/nft-helper is missing/);
  });

  test("a helper that crashes or hangs at start fails the request and is retried next time", async () => {
    const crash = fake("crash");
    await assert.rejects(
      crash.apply("x"),
      (e: unknown) =>
        e instanceof NftHelperError &&
        /exited \(code 1\) while starting/.test(e.message) &&
        /crashing at start/.test(e.message),
    );
    assert.equal(crash.mode, "idle");
    await assert.rejects(crash.apply("x"), NftHelperError);
    const silent = fake("silent", { startTimeoutMs: 300 });
    await assert.rejects(silent.apply("x"), /did not start within 300 ms/);
    assert.equal(silent.mode, "idle");
  });

  test("a malformed reply kills the helper and fails the request", async () => {
    const nft = fake("garbage");
    await assert.rejects(nft.apply("x"), /malformed reply.*unknown reply status 0x3f/);
    await nft.close();
  });

  test("refuses table names that would change the listed command", async () => {
    const nft = fake();
    await assert.rejects(nft.listJson("inet", "x; flush ruleset"), NftError);
    await assert.rejects(nft.listJson("inet\nflush", "x"), NftError);
    assert.equal(nft.mode, "idle");
  });
});

// ---- against the real nft-helper and libnftables, in scratch network namespaces ----

const canRun =
  process.getuid?.() === 0 &&
  spawnSync("nft", ["--version"]).status === 0 &&
  spawnSync("ip", ["-V"]).status === 0;
const helperBuilt = existsSync(DEFAULT_HELPER_PATH);
const skip = !canRun
  ? "needs root, nft and ip"
  : !helperBuilt
    ? `nft-helper not built (${DEFAULT_HELPER_PATH})`
    : false;
const nsA = `egnf-a${process.pid}`;
const nsB = `egnf-b${process.pid}`;
const inNs = (ns: string, ...args: string[]) =>
  execFileSync("ip", ["netns", "exec", ns, ...args], { encoding: "utf8" });

describe("PersistentNft with the real nft-helper", { skip }, () => {
  let helper: PersistentNft;
  let real: RealNft;
  before(() => {
    execFileSync("ip", ["netns", "add", nsA]);
    execFileSync("ip", ["netns", "add", nsB]);
    helper = new PersistentNft({ netns: nsA });
    real = new RealNft({ netns: nsB });
  });
  after(async () => {
    await helper?.close();
    spawnSync("ip", ["netns", "del", nsA]);
    spawnSync("ip", ["netns", "del", nsB]);
  });

  const reset = async () => {
    await helper.apply("flush ruleset\n");
    await real.apply("flush ruleset\n");
  };

  test("applies, lists as JSON, and checks without committing", async () => {
    await reset();
    await helper.apply("table ip t {\n  set s {\n    type ipv4_addr\n    elements = { 10.0.0.1 }\n  }\n}\n");
    assert.equal(helper.mode, "helper");
    const j = (await helper.listJson("ip", "t")) as { nftables: Record<string, unknown>[] };
    assert.deepEqual(j, JSON.parse(inNs(nsA, "nft", "-j", "list", "table", "ip", "t")));
    assert.ok(j.nftables.some((o) => "set" in o));
    await helper.check("delete table ip t\n");
    assert.match(inNs(nsA, "nft", "list", "ruleset"), /table ip t/);
    assert.equal(await helper.listJson("ip", "nope"), undefined);
  });

  test("errors carry nft's exact text and the script line, for apply and check", async () => {
    await reset();
    const scripts = [
      "table ip t {\n  chain c {\n    ip saddr 1.2.3 drop\n  }\n}\n",
      "table ip t {\n  chain c {\n  }\n}\ndelete table ip nope\n",
      "add table ip t\nadd set ip t s { type ipv4_addr; }\nadd element ip t s { 10.0.0.1, 10.0.0.300 }\n",
      "table ip t {\n  chain c {\n    jump nowhere\n  }\n}\n",
    ];
    for (const s of scripts) {
      for (const how of ["apply", "check"] as const) {
        const got = await helper[how](s).then(
          () => undefined,
          (e: unknown) => e,
        );
        const want = await real[how](s).then(
          () => undefined,
          (e: unknown) => e,
        );
        assert.ok(got instanceof NftError, `${how} ${JSON.stringify(s)}: ${String(got)}`);
        assert.ok(want instanceof NftError);
        assert.equal(got.stderr, want.stderr, `${how} ${JSON.stringify(s)}`);
        assert.equal(got.line, want.line);
        assert.notEqual(got.line, undefined);
      }
    }
    assert.equal(inNs(nsA, "nft", "list", "ruleset"), "");
  });

  test("produces the same ruleset as RealNft for the same scripts", async () => {
    await reset();
    const view = (pods: number): NodeView => {
      const ips = Array.from({ length: pods }, (_, i) => `10.128.0.${i + 2}`);
      return smallNodeView(
        [
          { name: "e1", ips: [{ ip: "192.168.126.102", node: "n1", nodeIP: "192.168.126.11" }], podIPs: ips },
          {
            name: "e2",
            ips: [{ ip: "192.168.126.103", node: "n2", nodeIP: "192.168.126.12" }],
            podIPs: ["10.128.2.9"],
          },
        ],
        ips,
        false,
      );
    };
    const first = compileNodeProgram(view(5)).nft;
    const second = compileNodeProgram(view(9)).nft;
    const delta = elementDelta(first, second);
    assert.ok(delta, "the second program differs from the first by elements only");
    const steps = [
      first,
      delta,
      second, // whole-table replacement over the same state
      "add table ip extra\nadd chain ip extra c { type filter hook output priority 0; }\nadd rule ip extra c counter accept\n",
      "delete table ip extra\n",
    ];
    for (const [i, s] of steps.entries()) {
      await helper.apply(s);
      await real.apply(s);
      assert.equal(
        inNs(nsA, "nft", "list", "ruleset"),
        inNs(nsB, "nft", "list", "ruleset"),
        `after step ${i}`,
      );
    }
    assert.match(inNs(nsA, "nft", "list", "ruleset"), /10\.128\.0\.10/);
  });

  test("survives the helper being SIGKILLed, idle or in flight", async () => {
    await reset();
    await helper.apply("add table ip k\n");
    const pid1 = helper.pid!;
    process.kill(pid1, "SIGKILL");
    while (helper.mode === "helper") await new Promise((r) => setTimeout(r, 5));
    await helper.apply("add chain ip k c\n");
    const pid2 = helper.pid!;
    assert.notEqual(pid2, pid1);
    assert.match(inNs(nsA, "nft", "list", "table", "ip", "k"), /chain c/);

    // A large script, killed right after it is sent: the caller learns the helper died.
    const big = `add set ip k s { type ipv4_addr; }\nadd element ip k s { ${Array.from(
      { length: 20000 },
      (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
    ).join(", ")} }\n`;
    const inFlight = helper.apply(big);
    process.kill(pid2, "SIGKILL");
    await assert.rejects(inFlight, (e: unknown) => e instanceof NftHelperError && /SIGKILL/.test(e.message));
    await helper.apply("add chain ip k d\n");
    assert.notEqual(helper.pid, pid2);
    assert.match(inNs(nsA, "nft", "list", "table", "ip", "k"), /chain d/);
  });

  test("falls back to spawning nft in the namespace when the helper binary is missing", async () => {
    const fallbacks: string[] = [];
    const nft = new PersistentNft({
      netns: nsA,
      helperPath: "/nonexistent/nft-helper",
      onFallback: (r) => fallbacks.push(r),
    });
    await nft.apply("flush ruleset\nadd table ip fb\n");
    assert.equal(nft.mode, "spawn");
    assert.equal(fallbacks.length, 1);
    assert.match(inNs(nsA, "nft", "list", "ruleset"), /table ip fb/);
    await assert.rejects(
      nft.apply("delete table ip nope\n"),
      (e: unknown) => e instanceof NftError && e.line === 1,
    );
  });
});
