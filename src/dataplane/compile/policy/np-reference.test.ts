import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { caseView, NP_CASES, probeAddress } from "./np-cases.js";
import { networkPolicyAllows } from "./np-reference.js";

describe("networkPolicyAllows: case table (np-cases.ts)", () => {
  for (const c of NP_CASES) {
    it(c.name, () => {
      const v = caseView(c, () => false);
      for (const p of c.probes) {
        const pkt = {
          src: probeAddress(c, p.from),
          dst: probeAddress(c, p.to),
          protocol: p.protocol,
          dport: p.port,
        };
        const what = `${p.from} -> ${p.to} ${p.protocol}/${p.port}`;
        // Cluster scope: the whole cluster's verdict.
        assert.equal(
          networkPolicyAllows(v, pkt, { scope: "cluster" }).allowed ? "allow" : "deny",
          p.expect,
          what,
        );
        // Node scope with no local pod: nothing is enforced on this node.
        assert.equal(networkPolicyAllows(v, pkt).allowed, true, what);
      }
    });
  }
});

describe("networkPolicyAllows: verdict details", () => {
  const c = NP_CASES.find((x) => x.name === "both-ends-must-allow")!;
  const ip = (ref: string) => probeAddress(c, ref);

  it("names every rule that allowed, in both directions", () => {
    const v = caseView(c);
    const r = networkPolicyAllows(v, {
      src: ip("ns1/client"),
      dst: ip("ns2/frontend"),
      protocol: "TCP",
      dport: 9090,
    });
    assert.deepEqual(r, {
      allowed: true,
      by: [
        { policy: "ns1/to-team-b", direction: "egress", rule: 0 },
        { policy: "ns2/frontend-from-ns1", direction: "ingress", rule: 0 },
      ],
    });
  });

  it("says which side denied", () => {
    const v = caseView(c);
    const r1 = networkPolicyAllows(v, {
      src: ip("ns1/client"),
      dst: ip("ns3/other"),
      protocol: "TCP",
      dport: 80,
    });
    assert.equal(r1.denied, "egress");
    const r2 = networkPolicyAllows(v, {
      src: ip("ns1/client"),
      dst: ip("ns2/client"),
      protocol: "TCP",
      dport: 80,
    });
    assert.equal(r2.denied, "ingress");
    assert.deepEqual(r2.by, [{ policy: "ns1/to-team-b", direction: "egress", rule: 0 }]);
  });

  it("node scope enforces only local pods", () => {
    const v = caseView(c, (p) => p.namespace === "ns2");
    // The source's egress is another node's business; ns2/client's ingress is enforced here.
    assert.equal(
      networkPolicyAllows(v, { src: ip("ns1/client"), dst: ip("ns3/other"), protocol: "TCP", dport: 80 })
        .allowed,
      true,
    );
    assert.equal(
      networkPolicyAllows(v, { src: ip("ns1/client"), dst: ip("ns2/client"), protocol: "TCP", dport: 80 })
        .allowed,
      false,
    );
  });

  it("allows everything outside networkpolicy mode and for unknown addresses", () => {
    const v = caseView(c);
    const pkt = { src: ip("ns1/client"), dst: ip("ns3/other"), protocol: "TCP" as const, dport: 80 };
    assert.deepEqual(networkPolicyAllows({ ...v, mode: "multitenant" }, pkt), { allowed: true });
    assert.deepEqual(
      networkPolicyAllows(v, { src: "192.0.2.1", dst: "192.0.2.2", protocol: "UDP", dport: 1 }),
      { allowed: true },
    );
  });
});
