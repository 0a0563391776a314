// Loads the rendered script with the real nft inside a network namespace this test creates
// (and always deletes), to prove the text is valid nftables and replaces itself on reload.
// Skipped when not root or when `ip`/`nft` are missing.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { after, before, test } from "node:test";
import { parseRouterEnv, type RedirectConfig } from "../config/env.js";
import { renderNftScript } from "./nft.js";

const ns = `egress-router-t${process.pid}`;
const canRun =
  process.getuid?.() === 0 &&
  spawnSync("nft", ["--version"]).status === 0 &&
  spawnSync("ip", ["-V"]).status === 0;

function nft(args: string[], input?: string): string {
  return execFileSync("ip", ["netns", "exec", ns, "nft", ...args], { input, encoding: "utf8" });
}

before(() => {
  if (canRun) execFileSync("ip", ["netns", "add", ns]);
});
after(() => {
  if (canRun) spawnSync("ip", ["netns", "del", ns]);
});

test("rendered redirect scripts load with nft -f and reload idempotently", {
  skip: !canRun && "needs root, ip and nft",
}, () => {
  const base = {
    EGRESS_ROUTER_MODE: "init",
    EGRESS_SOURCE: "192.168.12.99/24",
    EGRESS_GATEWAY: "192.168.12.1",
  };
  const withFallback = parseRouterEnv({
    ...base,
    EGRESS_DESTINATION: "80 tcp 203.0.113.25\n53 udp 203.0.113.26 5353\n203.0.113.27",
  }) as RedirectConfig;
  const without = parseRouterEnv({
    ...base,
    EGRESS_DESTINATION: "8080 tcp 203.0.113.26 80",
  }) as RedirectConfig;

  nft(["-f", "-"], renderNftScript(withFallback));
  let listed = nft(["list", "table", "ip", "egress-router"]);
  assert.match(listed, /udp dport 53 dnat to 203\.0\.113\.26:5353/);
  assert.match(listed, /iifname "eth0" dnat to 203\.0\.113\.27/);
  assert.doesNotMatch(listed, /chain input/);

  // Loading a different config replaces the table as a whole.
  nft(["-f", "-"], renderNftScript(without));
  nft(["-f", "-"], renderNftScript(without));
  listed = nft(["list", "table", "ip", "egress-router"]);
  assert.match(listed, /tcp dport 8080 dnat to 203\.0\.113\.26:80/);
  assert.doesNotMatch(listed, /203\.0\.113\.27/);
  assert.match(listed, /chain input/);
  assert.equal((listed.match(/snat to 192\.168\.12\.99/g) ?? []).length, 1);
  assert.match(nft(["list", "tables"]), /^table ip egress-router$/m);
});
