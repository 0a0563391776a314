import assert from "node:assert/strict";
import { test } from "node:test";
import { parseRouterEnv, parseRouterMode, ROUTER_MODES } from "./env.js";
import { RouterConfigError } from "./errors.js";

const REDIRECT = {
  EGRESS_SOURCE: "192.168.12.99/24",
  EGRESS_GATEWAY: "192.168.12.1",
  EGRESS_DESTINATION: "203.0.113.25",
};

test("every documented mode parses; unset/empty means legacy; anything else is an error", () => {
  for (const m of ROUTER_MODES) assert.equal(parseRouterMode(m), m);
  assert.equal(parseRouterMode(undefined), "legacy");
  assert.equal(parseRouterMode(""), "legacy");
  for (const bad of ["INIT", "redirect", "http_proxy", "dns"]) {
    assert.throws(
      () => parseRouterMode(bad),
      (e: unknown) =>
        e instanceof RouterConfigError && e.variable === "EGRESS_ROUTER_MODE" && e.value === bad,
    );
  }
});

test("redirect modes need source, gateway and destination", () => {
  for (const mode of ["init", "legacy", "unit-test"]) {
    const c = parseRouterEnv({ ...REDIRECT, EGRESS_ROUTER_MODE: mode });
    assert.equal(c.mode, mode);
    for (const missing of ["EGRESS_SOURCE", "EGRESS_GATEWAY", "EGRESS_DESTINATION"]) {
      assert.throws(
        () => parseRouterEnv({ ...REDIRECT, EGRESS_ROUTER_MODE: mode, [missing]: undefined }),
        (e: unknown) => e instanceof RouterConfigError && e.variable === missing,
        missing,
      );
    }
  }
});

test("proxy modes need their destination list; source and gateway are checked only when set", () => {
  const http = parseRouterEnv({ EGRESS_ROUTER_MODE: "http-proxy", EGRESS_HTTP_PROXY_DESTINATION: "*" });
  assert.ok(http.mode === "http-proxy" && http.source === null && http.policy.rules.length === 1);
  const dns = parseRouterEnv({
    EGRESS_ROUTER_MODE: "dns-proxy",
    EGRESS_DNS_PROXY_DESTINATION: "53 10.0.0.53",
    ...REDIRECT,
  });
  assert.ok(dns.mode === "dns-proxy" && dns.source?.prefixLength === 24 && dns.gateway === "192.168.12.1");
  assert.throws(
    () => parseRouterEnv({ EGRESS_ROUTER_MODE: "http-proxy" }),
    (e: unknown) => e instanceof RouterConfigError && e.variable === "EGRESS_HTTP_PROXY_DESTINATION",
  );
  assert.throws(
    () =>
      parseRouterEnv({
        EGRESS_ROUTER_MODE: "dns-proxy",
        EGRESS_DNS_PROXY_DESTINATION: "53 10.0.0.53",
        EGRESS_SOURCE: "1.2.3",
      }),
    (e: unknown) => e instanceof RouterConfigError && e.variable === "EGRESS_SOURCE" && e.value === "1.2.3",
  );
});
