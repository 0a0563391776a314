import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { parseRouterEnv, type RedirectConfig } from "../config/env.js";
import { dnatRules, renderNftScript } from "./nft.js";

const seed = parseRouterEnv({
  EGRESS_ROUTER_MODE: "init",
  EGRESS_SOURCE: "192.168.12.99/24",
  EGRESS_GATEWAY: "192.168.12.1",
  EGRESS_DESTINATION:
    "80   tcp 203.0.113.25\n8080 tcp 203.0.113.26 80\n8443 tcp 203.0.113.26 443\n203.0.113.27",
}) as RedirectConfig;

test("the seed's redirect renders DNAT per port, then the fallback, and SNAT out of the egress interface", () => {
  assert.equal(
    renderNftScript(seed),
    `# egress router, mode init: source 192.168.12.99, gateway 192.168.12.1
table ip egress-router
delete table ip egress-router
table ip egress-router {
\tchain prerouting {
\t\ttype nat hook prerouting priority dstnat; policy accept;
\t\tiifname "eth0" tcp dport 80 dnat to 203.0.113.25:80
\t\tiifname "eth0" tcp dport 8080 dnat to 203.0.113.26:80
\t\tiifname "eth0" tcp dport 8443 dnat to 203.0.113.26:443
\t\tiifname "eth0" dnat to 203.0.113.27
\t}
\tchain postrouting {
\t\ttype nat hook postrouting priority srcnat; policy accept;
\t\toifname "macvlan0" snat to 192.168.12.99
\t}
}
`,
  );
});

test("without a fallback other ports are refused; interface names are parameters", () => {
  const c: RedirectConfig = { ...seed, destination: { ...seed.destination, fallback: null } };
  const s = renderNftScript(c, { cluster: "pod0", egress: "egr0" });
  assert.match(s, /chain input \{/);
  assert.match(s, /iifname "pod0" meta l4proto tcp reject with tcp reset/);
  assert.match(s, /iifname "pod0" meta l4proto udp reject/);
  assert.match(s, /oifname "egr0" snat to 192.168.12.99/);
  assert.doesNotMatch(s, /dnat to 203\.0\.113\.27\b/);
  assert.doesNotMatch(renderNftScript(seed), /reject/);
});

test("property: one DNAT rule per line in order, fallback last", () => {
  const ip = fc
    .tuple(fc.integer({ min: 1, max: 223 }), fc.nat(255), fc.nat(255), fc.integer({ min: 1, max: 254 }))
    .filter(([a]) => a !== 127)
    .map((o) => o.join("."));
  const rule = fc.record({
    protocol: fc.constantFrom("tcp", "udp"),
    destination: ip,
    remotePort: fc.integer({ min: 1, max: 65535 }),
  });
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.integer({ min: 1, max: 65535 }), { maxLength: 20 }),
      fc.array(rule, { minLength: 20, maxLength: 20 }),
      fc.option(ip),
      (ports, rs, fallback) => {
        const text = ports.map(
          (p, i) => `${p} ${rs[i]!.protocol} ${rs[i]!.destination} ${rs[i]!.remotePort}`,
        );
        if (fallback !== null) text.push(fallback);
        if (text.length === 0) return;
        const c = parseRouterEnv({
          EGRESS_ROUTER_MODE: "init",
          EGRESS_SOURCE: "10.0.0.2",
          EGRESS_GATEWAY: "10.0.0.1",
          EGRESS_DESTINATION: text.join("\n"),
        }) as RedirectConfig;
        const lines = dnatRules(c);
        assert.equal(lines.length, ports.length + (fallback === null ? 0 : 1));
        ports.forEach((p, i) => {
          assert.equal(
            lines[i],
            `iifname "eth0" ${rs[i]!.protocol} dport ${p} dnat to ${rs[i]!.destination}:${rs[i]!.remotePort}`,
          );
        });
        if (fallback !== null) assert.equal(lines.at(-1), `iifname "eth0" dnat to ${fallback}`);
      },
    ),
    { numRuns: 200 },
  );
});
