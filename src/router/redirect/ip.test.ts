import assert from "node:assert/strict";
import { test } from "node:test";
import { networkSetup } from "./ip.js";

test("with a prefix length the subnet is on-link; without it the address is a /32", () => {
  const withLen = networkSetup({ address: "192.168.12.99", prefixLength: 24 }, "192.168.12.1");
  assert.deepEqual(withLen.ip, [
    ["ip", "address", "add", "192.168.12.99/24", "dev", "macvlan0"],
    ["ip", "link", "set", "dev", "macvlan0", "up"],
    ["ip", "route", "add", "192.168.12.1/32", "dev", "macvlan0"],
    ["ip", "route", "replace", "default", "via", "192.168.12.1", "dev", "macvlan0"],
  ]);
  assert.deepEqual(withLen.sysctls, { "net.ipv4.ip_forward": "1" });
  const bare = networkSetup({ address: "192.168.12.99", prefixLength: null }, "192.168.12.1", "egr0", false);
  assert.deepEqual(bare.ip[0], ["ip", "address", "add", "192.168.12.99/32", "dev", "egr0"]);
  assert.deepEqual(bare.arping, ["arping", "-q", "-A", "-c", "1", "-I", "egr0", "192.168.12.99"]);
  assert.deepEqual(bare.sysctls, {});
});
