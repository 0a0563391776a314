import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { decideFirewallEffects, type FirewallPolicyRef, verdictEvent } from "./restrictions.js";

const enp = (namespace: string, name = "default"): FirewallPolicyRef => ({
  kind: "EgressNetworkPolicy",
  namespace,
  name,
});
const ef = (namespace: string): FirewallPolicyRef => ({ kind: "EgressFirewall", namespace, name: "default" });

describe("decideFirewallEffects", () => {
  const table: {
    name: string;
    policies: FirewallPolicyRef[];
    netids: [string, number][];
    global?: string[];
    want: Record<string, [string, string]>;
  }[] = [
    {
      name: "one policy in an isolated project is enforced",
      policies: [enp("p1")],
      netids: [
        ["p1", 11],
        ["p2", 12],
      ],
      want: { "p1/EgressNetworkPolicy/default": ["Enforced", "Applied"] },
    },
    {
      name: "default project: ignored even without NetNamespaces",
      policies: [enp("default")],
      netids: [],
      want: { "default/EgressNetworkPolicy/default": ["Ignored", "GlobalProject"] },
    },
    {
      name: "project made global (netid 0): ignored",
      policies: [enp("p1")],
      netids: [
        ["p1", 0],
        ["default", 0],
      ],
      want: { "p1/EgressNetworkPolicy/default": ["Ignored", "GlobalProject"] },
    },
    {
      name: "global namespaces option applies without a NetNamespace",
      policies: [ef("infra")],
      netids: [],
      global: ["infra"],
      want: { "infra/EgressFirewall/default": ["Ignored", "GlobalProject"] },
    },
    {
      name: "joined projects: drop, only the project with the policy",
      policies: [enp("p1")],
      netids: [
        ["p1", 11],
        ["p2", 11],
      ],
      want: { "p1/EgressNetworkPolicy/default": ["DropAll", "JoinedProjects"] },
    },
    {
      name: "two policies in one project: both drop",
      policies: [enp("p1", "a"), enp("p1", "b"), enp("p2")],
      netids: [
        ["p1", 11],
        ["p2", 12],
      ],
      want: {
        "p1/EgressNetworkPolicy/a": ["DropAll", "MultiplePolicies"],
        "p1/EgressNetworkPolicy/b": ["DropAll", "MultiplePolicies"],
        "p2/EgressNetworkPolicy/default": ["Enforced", "Applied"],
      },
    },
    {
      name: "EgressNetworkPolicy and EgressFirewall count together",
      policies: [enp("p1"), ef("p1")],
      netids: [],
      want: {
        "p1/EgressNetworkPolicy/default": ["DropAll", "MultiplePolicies"],
        "p1/EgressFirewall/default": ["DropAll", "MultiplePolicies"],
      },
    },
    {
      name: "global wins over multiple (upstream order)",
      policies: [enp("default", "a"), enp("default", "b")],
      netids: [["default", 0]],
      want: {
        "default/EgressNetworkPolicy/a": ["Ignored", "GlobalProject"],
        "default/EgressNetworkPolicy/b": ["Ignored", "GlobalProject"],
      },
    },
    {
      name: "joined wins over multiple",
      policies: [enp("p1", "a"), enp("p1", "b")],
      netids: [
        ["p1", 11],
        ["p3", 11],
      ],
      want: {
        "p1/EgressNetworkPolicy/a": ["DropAll", "JoinedProjects"],
        "p1/EgressNetworkPolicy/b": ["DropAll", "JoinedProjects"],
      },
    },
  ];
  for (const t of table) {
    it(t.name, () => {
      const got = decideFirewallEffects({
        policies: t.policies,
        netids: new Map(t.netids),
        ...(t.global ? { globalNamespaces: t.global } : {}),
      });
      const m = Object.fromEntries(
        got.map((v) => [`${v.policy.namespace}/${v.policy.kind}/${v.policy.name}`, [v.effect, v.reason]]),
      );
      assert.deepEqual(m, t.want);
    });
  }

  it("messages name the project, the partners and the effect", () => {
    const [v] = decideFirewallEffects({
      policies: [enp("p1")],
      netids: new Map([
        ["p1", 11],
        ["p3", 11],
        ["p2", 11],
      ]),
    });
    assert.equal(
      v?.message,
      "egress firewalls are not allowed in joined projects: project p1 shares netid 11 with p2, p3; all external traffic of project p1 is dropped",
    );
  });

  it("property: one verdict per policy, same verdict for every policy of a namespace, order-independent", () => {
    const arbRef = fc.record({
      kind: fc.constantFrom("EgressNetworkPolicy" as const, "EgressFirewall" as const),
      namespace: fc.constantFrom("default", "a", "b", "c"),
      name: fc.constantFrom("default", "x", "y"),
    });
    fc.assert(
      fc.property(
        fc.uniqueArray(arbRef, { selector: (r) => `${r.kind}/${r.namespace}/${r.name}` }),
        fc.dictionary(fc.constantFrom("default", "a", "b", "c"), fc.integer({ min: 0, max: 3 })),
        (policies, ids) => {
          const netids = new Map(Object.entries(ids));
          const v1 = decideFirewallEffects({ policies, netids });
          const v2 = decideFirewallEffects({ policies: [...policies].reverse(), netids });
          assert.deepEqual(v1, v2);
          assert.equal(v1.length, policies.length);
          const perNs = new Map<string, string>();
          for (const v of v1) {
            const k = `${v.effect}/${v.message}`;
            assert.equal(perNs.get(v.policy.namespace) ?? k, k);
            perNs.set(v.policy.namespace, k);
            if (v.policy.namespace === "default") assert.equal(v.effect, "Ignored");
          }
        },
      ),
    );
  });
});

describe("verdictEvent", () => {
  const [drop] = decideFirewallEffects({ policies: [enp("p", "a"), enp("p", "b")], netids: new Map() });
  const [ok] = decideFirewallEffects({ policies: [enp("p")], netids: new Map() });
  it("violations are Warnings with the reason", () => {
    assert.equal(verdictEvent(drop!, undefined)?.type, "Warning");
    assert.equal(verdictEvent(drop!, undefined)?.reason, "MultiplePolicies");
  });
  it("enforced: an event only when recovering from a violation", () => {
    assert.equal(verdictEvent(ok!, undefined), undefined);
    assert.equal(verdictEvent(ok!, "Enforced"), undefined);
    assert.equal(verdictEvent(ok!, "DropAll")?.reason, "EgressFirewallApplied");
  });
});
