// Benchmark of the policy compiler and `nft -f` at scale: (a) one EgressFirewall of 8,000 rules
// (CIDRs, resolved DNS names, ports), (b) 1,000 NetworkPolicies over 10,000 pods in 100 namespaces,
// (c) each re-applied after one rule changed. Reports compile time (median), script size and
// `nft -f` wall time (first apply, median of re-applies after one rule changed). Runs inside a network
// namespace it creates and deletes (needs root).
// Run after building: node <out>/bench/dataplane/policy.bench.js [--rules N] [--policies N] [--pods N] [--runs N]
import { execFileSync } from "node:child_process";
import { loadavg } from "node:os";
import { compilePolicyProgram } from "../../src/dataplane/compile/policy/compile.js";
import { bigFirewallView, manyPoliciesView } from "../../src/dataplane/compile/policy/fixtures.js";
import type { PolicyProgram, PolicyView } from "../../src/dataplane/compile/policy/types.js";
import { RealNft } from "../../src/dataplane/nft/execer.js";

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}
const RULES = arg("rules", 8000);
const POLICIES = arg("policies", 1000);
const PODS = arg("pods", 10_000);
const RUNS = arg("runs", 5);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

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
  changedApplyMs: number;
  changedCompileMs: number;
}

async function measure(
  name: string,
  base: () => PolicyView,
  changed: () => PolicyView,
  nft: RealNft,
): Promise<Row> {
  const compiles: number[] = [];
  let program: PolicyProgram | undefined;
  for (let i = 0; i < RUNS; i++) {
    const [p, ms] = timed(() => compilePolicyProgram(base()));
    program = p;
    compiles.push(ms);
  }
  const changedCompiles: number[] = [];
  let other: PolicyProgram | undefined;
  for (let i = 0; i < RUNS; i++) {
    const [p, ms] = timed(() => compilePolicyProgram(changed()));
    other = p;
    changedCompiles.push(ms);
  }
  if (!program || !other) throw new Error("no program");
  if (other.nft === program.nft) throw new Error(`${name}: the changed rule did not change the program`);
  if (program.warnings.length > 0)
    throw new Error(`${name}: warnings ${JSON.stringify(program.warnings.slice(0, 3))}`);
  await nft.apply("flush ruleset\n");
  let t0 = performance.now();
  await nft.apply(program.nft);
  const firstApplyMs = performance.now() - t0;
  const applies: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    t0 = performance.now();
    await nft.apply(i % 2 === 0 ? other.nft : program.nft);
    applies.push(performance.now() - t0);
  }
  return {
    name,
    compileMs: median(compiles),
    bytes: program.nft.length,
    elements: program.stats.elements ?? 0,
    firstApplyMs,
    changedApplyMs: median(applies),
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
    `${pad("case", 46)}${"compile".padStart(9)}${"bytes".padStart(10)}${"elements".padStart(10)}${"nft -f".padStart(9)}${"changed".padStart(9)}${"+compile".padStart(9)}`,
  );
  for (const r of rows)
    console.log(
      `${pad(r.name, 46)}${num(r.compileMs)}${String(r.bytes).padStart(10)}${String(r.elements).padStart(10)}${num(r.firstApplyMs)}${num(r.changedApplyMs)}${num(r.changedCompileMs)}`,
    );
  console.log(
    `(ms; compile and "changed" = median of ${RUNS}; "nft -f" = first apply into an empty namespace; "changed" = nft -f of the program with one rule changed; load ${loadavg()
      .map((x) => x.toFixed(1))
      .join(" ")})`,
  );
} finally {
  execFileSync("ip", ["netns", "del", ns]);
}
