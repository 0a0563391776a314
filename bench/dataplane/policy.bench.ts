// Benchmark of the policy compiler and `nft -f` at scale: (a) one EgressFirewall of 8,000 rules
// (CIDRs, resolved DNS names, ports), (b) 1,000 NetworkPolicies over 10,000 pods in 100 namespaces,
// (c) each re-applied after one rule changed. Reports compile time (median), script size and
// `nft -f` wall time (first apply, median of re-applies after one rule changed) and the CPU time nft
// used for them (user + system, from this process's reaped-children counters in /proc/self/stat:
// on a loaded machine wall time mostly measures the wait for a core). Runs inside a network
// namespace it creates and deletes (needs root).
// Run after building: node <out>/bench/dataplane/policy.bench.js [--rules N] [--policies N] [--pods N] [--runs N]
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { compilePolicyProgram } from "../../src/dataplane/compile/policy/compile.js";
import { bigFirewallView, manyPoliciesView } from "../../src/dataplane/compile/policy/fixtures.js";
import type { PolicyProgram, PolicyView } from "../../src/dataplane/compile/policy/types.js";
import { RealNft } from "../../src/dataplane/nft/execer.js";
import { arg } from "../support/args.js";

const RULES = arg("rules", 8000);
const POLICIES = arg("policies", 1000);
const PODS = arg("pods", 10_000);
const RUNS = arg("runs", 5);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
/** CPU time (ms) of every terminated, reaped child so far: fields cutime + cstime of /proc/self/stat. */
function childrenCpuMs(): number {
  const stat = readFileSync("/proc/self/stat", "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // f[0] is field 3 (state)
  return ((Number(f[13]) + Number(f[14])) * 1000) / CLK_TCK;
}

const ns = `egpol-${Math.random().toString(36).slice(2, 7)}-bench`;

function timed<T>(f: () => T): [T, number] {
  const t0 = performance.now();
  const v = f();
  return [v, performance.now() - t0];
}

interface Row {
  name: string;
  compileMs: number;
  bytes: number;
  elements: number;
  firstApplyMs: number;
  firstApplyCpuMs: number;
  changedApplyMs: number;
  changedApplyCpuMs: number;
  changedCompileMs: number;
}

async function measure(
  name: string,
  base: () => PolicyView,
  changed: () => PolicyView,
  nft: RealNft,
): Promise<Row> {
  // Views are generated outside the timing: compile time is the compiler's alone.
  const compiles: number[] = [];
  let program: PolicyProgram | undefined;
  for (let i = 0; i < RUNS; i++) {
    const view = base();
    const [p, ms] = timed(() => compilePolicyProgram(view));
    program = p;
    compiles.push(ms);
  }
  const changedCompiles: number[] = [];
  let other: PolicyProgram | undefined;
  for (let i = 0; i < RUNS; i++) {
    const view = changed();
    const [p, ms] = timed(() => compilePolicyProgram(view));
    other = p;
    changedCompiles.push(ms);
  }
  if (!program || !other) throw new Error("no program");
  if (other.nft === program.nft) throw new Error(`${name}: the changed rule did not change the program`);
  if (program.warnings.length > 0)
    throw new Error(`${name}: warnings ${JSON.stringify(program.warnings.slice(0, 3))}`);
  await nft.apply("flush ruleset\n");
  let c0 = childrenCpuMs();
  let t0 = performance.now();
  await nft.apply(program.nft);
  const firstApplyMs = performance.now() - t0;
  const firstApplyCpuMs = childrenCpuMs() - c0;
  const applies: number[] = [];
  const applyCpus: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    c0 = childrenCpuMs();
    t0 = performance.now();
    await nft.apply(i % 2 === 0 ? other.nft : program.nft);
    applies.push(performance.now() - t0);
    applyCpus.push(childrenCpuMs() - c0);
  }
  return {
    name,
    compileMs: median(compiles),
    bytes: program.nft.length,
    elements: program.stats.elements ?? 0,
    firstApplyMs,
    firstApplyCpuMs,
    changedApplyMs: median(applies),
    changedApplyCpuMs: median(applyCpus),
    changedCompileMs: median(changedCompiles),
  };
}

execFileSync("ip", ["netns", "add", ns]);
try {
  const nft = new RealNft({ netns: ns });
  const fwBase = () => bigFirewallView(RULES);
  const fwChanged = () => {
    const v = bigFirewallView(RULES);
    const rule = v.egressFirewalls[0]!.rules[RULES >> 1]!;
    v.egressFirewalls[0]!.rules[RULES >> 1] = { ...rule, type: rule.type === "Allow" ? "Deny" : "Allow" };
    return v;
  };
  const rows = [
    await measure(`(a) EgressFirewall, ${RULES} rules`, fwBase, fwChanged, nft),
    await measure(
      `(b) ${POLICIES} NetworkPolicies, ${PODS} pods, 100 ns`,
      () => manyPoliciesView(POLICIES, PODS, 100),
      () => manyPoliciesView(POLICIES, PODS, 100, 1),
      nft,
    ),
  ];
  const pad = (s: string, n: number) => s.padEnd(n);
  const num = (n: number) => n.toFixed(1).padStart(9);
  console.log(
    `${pad("case", 46)}${"compile".padStart(9)}${"bytes".padStart(10)}${"elements".padStart(10)}${"nft -f".padStart(9)}${"cpu".padStart(7)}${"changed".padStart(9)}${"cpu".padStart(7)}${"+compile".padStart(9)}`,
  );
  const cpu = (n: number) => n.toFixed(0).padStart(7);
  for (const r of rows)
    console.log(
      `${pad(r.name, 46)}${num(r.compileMs)}${String(r.bytes).padStart(10)}${String(r.elements).padStart(10)}${num(r.firstApplyMs)}${cpu(r.firstApplyCpuMs)}${num(r.changedApplyMs)}${cpu(r.changedApplyCpuMs)}${num(r.changedCompileMs)}`,
    );
  console.log(
    `(ms; compile and "changed" = median of ${RUNS}; "nft -f" = first apply into an empty namespace; "changed" = nft -f of the program with one rule changed; "cpu" = nft's user + system time (${1000 / CLK_TCK} ms resolution); load ${loadavg()
      .map((x) => x.toFixed(1))
      .join(" ")})`,
  );
} finally {
  execFileSync("ip", ["netns", "del", ns]);
}
