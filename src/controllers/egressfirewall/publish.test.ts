import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { applyLookup, type DnsNameState } from "./dns-schedule.js";
import { annotationPatch, dnsAnnotation, EF_APPLIED, egressFirewallStatus } from "./publish.js";
import { decideFirewallEffects } from "./restrictions.js";

const state = (...ips: string[]): DnsNameState =>
  applyLookup(
    undefined,
    { ok: true, records: ips.map((address) => ({ address, ttl: 5 })) },
    { ok: false, negative: true, code: "ENODATA" },
    0,
  );

describe("dnsAnnotation", () => {
  it("keys as written, sorted; unresolved names absent; wildcards flagged", () => {
    const states = new Map([["www.foo.com", state("1.2.3.4")]]);
    assert.equal(
      dnsAnnotation(["WWW.foo.com.", "pending.example", "*.bar.com"], states),
      JSON.stringify({
        "*.bar.com": { addresses: [], error: "wildcard names are not resolved by the control plane" },
        "WWW.foo.com.": { addresses: ["1.2.3.4"] },
      }),
    );
    assert.equal(dnsAnnotation([], states), undefined);
  });
  it("a failing lookup shows the kept addresses and the error", () => {
    const failing = applyLookup(
      state("1.2.3.4"),
      { ok: false, negative: false, code: "ETIMEOUT" },
      { ok: false, negative: true, code: "ENODATA" },
      1,
    );
    const v = JSON.parse(dnsAnnotation(["x.com"], new Map([["x.com", failing]])) ?? "{}");
    assert.deepEqual(v["x.com"].addresses, ["1.2.3.4"]);
    assert.match(v["x.com"].error, /ETIMEOUT/);
  });
});

describe("egressFirewallStatus", () => {
  it("applied / not applied / ignored", () => {
    const [ok] = decideFirewallEffects({
      policies: [{ kind: "EgressFirewall", namespace: "p", name: "default" }],
      netids: new Map(),
    });
    assert.deepEqual(egressFirewallStatus(ok!, undefined), { status: EF_APPLIED });
    const [ign] = decideFirewallEffects({
      policies: [{ kind: "EgressFirewall", namespace: "default", name: "default" }],
      netids: new Map(),
    });
    assert.match(egressFirewallStatus(ign!, undefined).status, /^EgressFirewall Rules ignored: /);
    const dns = JSON.stringify({ "a.com": { addresses: [], error: "lookup failing (A: ETIMEOUT)" } });
    assert.deepEqual(egressFirewallStatus(ok!, dns).messages, [
      "dnsName a.com: lookup failing (A: ETIMEOUT)",
    ]);
  });
});

describe("annotationPatch", () => {
  it("sets changed keys, removes unwanted ones, nothing when equal", () => {
    assert.deepEqual(annotationPatch({ a: "1", b: "2", keep: "x" }, { a: "1", b: "3", c: undefined }), {
      b: "3",
    });
    assert.deepEqual(annotationPatch({ c: "1" }, { c: undefined }), { c: null });
    assert.equal(annotationPatch({ a: "1" }, { a: "1" }), undefined);
    assert.deepEqual(annotationPatch(undefined, { a: "1" }), { a: "1" });
  });
});
