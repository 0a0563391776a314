// Properties of the whole compiler: on random small views and packets, what tracePolicy says the
// compiled program does equals the reference evaluators (reference.ts for multitenant, mark, DNS and
// egress firewalls with random resolved NetworkPolicy allow lists; np-reference.ts for NetworkPolicy
// objects resolved by networkpolicy.ts); and a packet that outlives its generation (runs its rules
// after their sets and maps were deleted) is dropped or gets the old generation's answer.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { compilePolicyProgram, compileWithResolved, LIVE_SET } from "./compile.js";
import { baseView, pod, randomCase, rng } from "./fixtures.js";
import type { IrSet, PolicyIR } from "./ir.js";
import { networkPolicyAllows } from "./np-reference.js";
import { referencePolicy } from "./reference.js";
import { type PolicyTracePacket, tracePolicy } from "./trace.js";
import type { NetworkPolicyView, PolicyView } from "./types.js";

describe("compiled program vs. reference (property)", () => {
  it("multitenant, mark, DNS, egress firewalls, resolved NetworkPolicy allow lists", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 }), (seed) => {
        const c = randomCase(seed);
        // Odd seeds render NetworkPolicy groups as classified lookups, even ones as one rule per entry.
        const opts = seed % 2 === 1 ? { npInlineMax: 0 } : {};
        const program = compileWithResolved(c.view, { pods: c.np, warnings: [] }, opts);
        for (const pkt of c.packets) {
          const got = tracePolicy(program, pkt);
          const want = referencePolicy(c.view, c.np, pkt);
          assert.deepEqual(
            { verdict: got.verdict, decidedBy: got.decidedBy, marked: got.marked },
            want,
            `seed ${seed} packet ${JSON.stringify(pkt)}`,
          );
        }
        assert.equal(compileWithResolved(c.view, { pods: c.np, warnings: [] }, opts).nft, program.nft);
      }),
      { numRuns: 400 },
    );
  });

  it("NetworkPolicy objects: verdict equals networkPolicyAllows", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 }), (seed) => {
        const { view, packets } = randomNpView(seed);
        const program = compilePolicyProgram(view, seed % 2 === 1 ? { npInlineMax: 0 } : {});
        for (const pkt of packets) {
          const got = tracePolicy(program, pkt);
          const ref = networkPolicyAllows(view, pkt);
          assert.equal(
            got.verdict,
            ref.allowed ? "accept" : "drop",
            `seed ${seed} packet ${JSON.stringify(pkt)} ${JSON.stringify(got)}`,
          );
        }
      }),
      { numRuns: 200 },
    );
  });
});

/** What a deleted generation's objects look like to a packet still running its rules. */
type Deleted = {
  /** Which sets/maps have no elements any more (the others answer with their old elements). */
  gone: (s: IrSet) => boolean;
  /** The regular chains' rules are gone too (only the base chain's rules were read on entry). */
  emptyChains: boolean;
  /** Only new flows are checked (see "every set and map misses"). */
  newOnly?: boolean;
};
const DELETED: Record<string, Deleted> = {
  // Measured on Linux 6.18: a deleted hash map's elements are deactivated; sets (hash or interval)
  // and interval maps still answer.
  "hash maps miss (measured)": { gone: (s) => s.map !== false && !s.interval, emptyChains: false },
  // What reading nft_do_chain suggests for a jump made after the deletion (not measured).
  "hash maps miss, chains empty": { gone: (s) => s.map !== false && !s.interval, emptyChains: true },
  "all maps miss, chains empty": { gone: (s) => s.map !== false, emptyChains: true },
  "all maps miss": { gone: (s) => s.map !== false, emptyChains: false },
  // A kernel that deactivated set elements too (not this one): new flows still fail closed; an
  // established pod → pod packet then misses @cluster_cidrs and skips the multitenant check and its
  // guard (docs/policy.md).
  "every set and map misses": { gone: () => true, emptyChains: false, newOnly: true },
};

function asDeleted(ir: PolicyIR, d: Deleted): PolicyIR {
  return {
    ...ir,
    sets: ir.sets.map((s) => (d.gone(s) ? { ...s, elements: [] } : s)),
    chains: ir.chains.map((c) => (c.base || !d.emptyChains ? c : { ...c, rules: [] })),
  };
}

describe("packets that outlive their generation (fail closed)", () => {
  for (const [name, d] of Object.entries(DELETED))
    it(`${name}: dropped, or the old generation's verdict`, () => {
      let dropped = 0;
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 2 ** 31 }), (seed) => {
          const c = randomCase(seed);
          const opts = seed % 2 === 1 ? { npInlineMax: 0 } : {};
          const program = compileWithResolved(c.view, { pods: c.np, warnings: [] }, opts);
          const stale = asDeleted(program.ir, d);
          assert.ok(stale.sets.some((s) => s.name === LIVE_SET && s.elements.length === 0));
          for (const pkt of c.packets) {
            if (d.newOnly && pkt.state !== "new") continue;
            const old = tracePolicy(program, pkt).verdict;
            const got = tracePolicy(stale, pkt).verdict;
            if (got === "drop" && old === "accept") dropped++;
            assert.ok(
              got === "drop" || got === old,
              `seed ${seed} packet ${JSON.stringify(pkt)}: stale ${got}, generation said ${old}`,
            );
          }
        }),
        // Seeds that found the unguarded paths: an established pod → pod packet through an empty
        // multitenant chain (9, 12), an isolated pod's DNS past a missed NetworkPolicy map (204, 737).
        { numRuns: 300, examples: [[9], [12], [204], [737]] },
      );
      assert.ok(dropped > 0, "no stale packet was dropped (are the guards evaluated?)");
    });

  it("the tracer: a packet passes the guard iff `live` holds ipv4", () => {
    const program = compilePolicyProgram(baseView({ mode: "subnet", pods: [pod("a", "p", "10.128.0.2")] }));
    const pkt: PolicyTracePacket = {
      src: "10.128.0.2",
      dst: "1.1.1.1",
      protocol: "TCP",
      dport: 80,
      state: "new",
    };
    const only = (keep: string[]): PolicyIR => ({
      ...program.ir,
      sets: program.ir.sets.map((s) =>
        s.name === LIVE_SET
          ? { ...s, elements: s.elements.filter((e) => keep.includes(e.nfproto ?? "")) }
          : s,
      ),
    });
    assert.equal(tracePolicy(program, pkt).verdict, "accept");
    assert.equal(tracePolicy(only(["ipv4"]), pkt).verdict, "accept");
    assert.equal(tracePolicy(only(["ipv6"]), pkt).verdict, "drop");
    assert.equal(tracePolicy(only([]), pkt).verdict, "drop");
    assert.equal(tracePolicy(only([]), { ...pkt, state: "established" }).verdict, "accept");
  });
});

/** Random NetworkPolicy objects over a few pods in two namespaces (no firewalls: only NP decides). */
function randomNpView(seed: number): { view: PolicyView; packets: PolicyTracePacket[] } {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const nsNames = ["a", "b"];
  const pods = Array.from({ length: 5 }, (_, i) => ({
    ...pod(pick(nsNames), `p${i}`, i < 3 ? `10.128.0.${2 + i}` : `10.128.2.${i}`, i < 3, {
      app: pick(["web", "db"]),
    }),
    ports: [{ name: "http", port: pick([80, 8080]), protocol: "TCP" as const }],
  }));
  const peer = () =>
    pick([
      { podSelector: { matchLabels: { app: pick(["web", "db"]) } } },
      { namespaceSelector: { matchLabels: { name: pick(nsNames) } } },
      { namespaceSelector: {}, podSelector: { matchLabels: { app: "web" } } },
      { ipBlock: { cidr: "1.2.3.0/24", except: ["1.2.3.128/25"] } },
      { ipBlock: { cidr: "10.128.0.0/14", except: ["10.128.0.3/32"] } },
    ]);
  const ports = () =>
    pick([
      undefined,
      [{ protocol: "TCP", port: 80 }],
      [{ protocol: "TCP", port: "http" }],
      [{ protocol: "UDP", port: 53, endPort: 60 }],
      [{ protocol: "SCTP" }],
      // Several ports in one rule: rendered as one shared port set per peer component.
      [
        { protocol: "TCP", port: 80 },
        { protocol: "UDP", port: 53, endPort: 60 },
      ],
      [{ protocol: "TCP", port: "http" }, { protocol: "SCTP" }, { protocol: "TCP", port: 8080 }],
    ]);
  const rule = (dir: "from" | "to") => {
    const p = ports();
    // Sometimes more peers than NP_MAX_COMPONENTS (merged into one component).
    const n = r() < 0.15 ? 5 + Math.floor(r() * 2) : 1 + Math.floor(r() * 2);
    const peers = r() < 0.3 ? undefined : Array.from({ length: n }, peer);
    return { ...(peers ? { [dir]: peers } : {}), ...(p ? { ports: p } : {}) };
  };
  const networkPolicies: NetworkPolicyView[] = Array.from({ length: Math.floor(r() * 4) }, (_, i) => {
    const types = pick([undefined, ["Ingress"], ["Egress"], ["Ingress", "Egress"]]);
    return {
      namespace: pick(nsNames),
      name: `np${i}`,
      spec: {
        podSelector: r() < 0.5 ? {} : { matchLabels: { app: pick(["web", "db"]) } },
        ...(types ? { policyTypes: types } : {}),
        ...(r() < 0.7 ? { ingress: Array.from({ length: Math.floor(r() * 3) }, () => rule("from")) } : {}),
        ...(r() < 0.7 ? { egress: Array.from({ length: Math.floor(r() * 3) }, () => rule("to")) } : {}),
      } as NetworkPolicyView["spec"],
    };
  });
  const view = baseView({
    mode: "networkpolicy",
    pods,
    namespaces: nsNames.map((name) => ({ name, labels: { name }, multicast: false })),
    networkPolicies,
  });
  const addrs = [...pods.map((p) => p.ip), "1.2.3.4", "1.2.3.200", "8.8.8.8"];
  const packets: PolicyTracePacket[] = Array.from({ length: 30 }, () => {
    const protocol = pick(["TCP", "UDP", "SCTP", "ICMP"] as const);
    return {
      src: pick(addrs),
      dst: pick(addrs),
      protocol,
      ...(protocol === "ICMP" ? {} : { dport: pick([53, 55, 80, 8080, 9]) }),
      state: "new" as const,
    };
  });
  return { view, packets };
}
