// What the second transaction of a generational update costs (src/dataplane/nft/generations.ts:
// `prepare` creates the new generation, `activate` points the base chains at it; docs/policy.md,
// "New sets are not ready in their own transaction"). For three policy programs it alternates
// between two variants (changed as in policy.bench.ts) and times each whole update (also where the
// agent would apply an element delta), as the agent does it (GenerationalTable's two
// transactions) and with the same update in one transaction (prepare + activate in one apply, the
// old form), taking turns, through the agent's executor (PersistentNft: libnftables in a
// long-lived helper; falls back to spawning `nft` when the helper is not built). Prints the median
// and p90 wall time per update. Runs inside a scratch network namespace (bench/scratch-netns.ts:
// created and deleted around the run, also on failure or Ctrl-C; needs root).
// Run after building: node <out>/bench/dataplane/generations.bench.js [--runs N] [--rules N] [--policies N] [--pods N]
import { loadavg } from "node:os";
import { compilePolicyProgram } from "../../src/dataplane/compile/policy/compile.js";
import {
  baseView,
  bigFirewallView,
  manyPoliciesView,
  pod,
} from "../../src/dataplane/compile/policy/fixtures.js";
import type { EgressFirewallRuleView } from "../../src/dataplane/compile/policy/types.js";
import { emptyState, renderUpdate } from "../../src/dataplane/nft/generations.js";
import { PersistentNft } from "../../src/dataplane/nft/persistent.js";
import { runInScratchNamespace } from "../scratch-netns.js";
import { arg } from "../support/args.js";

const RUNS = arg("runs", 21);
const RULES = arg("rules", 8000);
const POLICIES = arg("policies", 1000);
const PODS = arg("pods", 10_000);

const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.floor(q * (xs.length - 1))]!;

function firewall(rules: EgressFirewallRuleView[]): string {
  return compilePolicyProgram(
    baseView({
      mode: "networkpolicy",
      pods: [pod("e", "a", "10.128.0.5")],
      egressFirewalls: [
        { namespace: "e", kind: "EgressNetworkPolicy", name: "default", effect: "Enforced", rules },
      ],
    }),
  ).nft;
}

const programs: { name: string; variants: () => [string, string] }[] = [
  {
    name: "small (one firewall, two rule orders)",
    variants: () => [
      firewall([
        { type: "Allow", cidrSelector: "1.2.3.0/24" },
        { type: "Deny", cidrSelector: "0.0.0.0/0" },
      ]),
      firewall([
        { type: "Deny", cidrSelector: "203.0.113.0/24" },
        { type: "Allow", cidrSelector: "0.0.0.0/0" },
      ]),
    ],
  },
  {
    name: `EgressFirewall of ${RULES} rules, one rule changed`,
    variants: () => {
      const a = bigFirewallView(RULES);
      const b = bigFirewallView(RULES);
      const rules = b.egressFirewalls[0]!.rules;
      const rule = rules[RULES >> 1]!;
      rules[RULES >> 1] = { ...rule, type: rule.type === "Allow" ? "Deny" : "Allow" };
      return [compilePolicyProgram(a).nft, compilePolicyProgram(b).nft];
    },
  },
  {
    name: `${POLICIES} NetworkPolicies over ${PODS} pods, one policy changed`,
    variants: () => [
      compilePolicyProgram(manyPoliciesView(POLICIES, PODS, 100)).nft,
      compilePolicyProgram(manyPoliciesView(POLICIES, PODS, 100, 1)).nft,
    ],
  },
];

async function inside(): Promise<void> {
  const nft = new PersistentNft({ onFallback: (r) => console.error(`# helper fallback: ${r}`) });
  try {
    console.log(
      `# ${new Date().toISOString()} load ${loadavg()
        .map((x) => x.toFixed(2))
        .join(" ")}, ${RUNS} updates per form`,
    );
    console.log("| program | two transactions: median / p90 ms | one transaction: median / p90 ms |");
    console.log("|---|---|---|");
    for (const p of programs) {
      const [a, b] = p.variants();
      if (a === b) throw new Error(`${p.name}: the variants are equal`);
      // GenerationalTable's update without its retry, so both forms share one known state.
      let state = emptyState("inet", "egress-policy");
      const update = async (script: string, transactions: 1 | 2): Promise<number> => {
        const r = renderUpdate(script, state);
        const t0 = performance.now();
        if (transactions === 2) {
          await nft.apply(r.prepare);
          await nft.apply(r.activate);
        } else await nft.apply(r.prepare + r.activate);
        state = r.next;
        return performance.now() - t0;
      };
      await update(a, 2);
      await update(a, 2);
      const two: number[] = [];
      const one: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        // a → b and back, the two forms taking turns at going first.
        const [first, second] = i % 2 === 0 ? ([2, 1] as const) : ([1, 2] as const);
        (first === 2 ? two : one).push(await update(b, first));
        (second === 2 ? two : one).push(await update(a, second));
      }
      await nft.apply("table inet egress-policy {}\ndelete table inet egress-policy\n");
      const f = (xs: number[]) => `${quantile(xs, 0.5).toFixed(1)} / ${quantile(xs, 0.9).toFixed(1)}`;
      console.log(`| ${p.name} | ${f(two)} | ${f(one)} |`);
    }
  } finally {
    await nft.close();
  }
}

await runInScratchNamespace("eggen", inside);
