import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type InterfaceAddress, parseGatewayRoutes, underlayInterfaces } from "./interfaces.js";

// `ip -json route show table main` as iproute2 6.1 prints it.
const ROUTES = [
  { dst: "default", gateway: "192.168.126.1", dev: "eth0", flags: [] },
  { dst: "default", gateway: "192.168.12.254", dev: "eth1", metric: 900, flags: [] },
  { dst: "default", gateway: "192.168.12.1", dev: "eth1", metric: 500, flags: [] },
  { dst: "10.99.0.0/16", gateway: "192.168.12.254", dev: "eth1", flags: [] },
  { dst: "10.128.2.0/23", gateway: "192.168.126.12", dev: "eth0", protocol: "201", flags: [] },
  {
    dst: "192.168.12.0/24",
    dev: "eth1",
    protocol: "kernel",
    scope: "link",
    prefsrc: "192.168.12.11",
    flags: [],
  },
  { dst: "10.50.0.0/16", nexthops: [{ gateway: "192.168.12.2", dev: "eth1" }], flags: [] },
  { dst: "fd00::/64", gateway: "fd00::1", dev: "eth1", flags: [] },
  { type: "blackhole", dst: "10.66.0.0/16", flags: [] },
];

const ADDRS: InterfaceAddress[] = [
  { ifname: "eth0", address: "192.168.126.11", prefixLength: 18, family: 4 },
  { ifname: "eth1", address: "192.168.12.11", prefixLength: 24, family: 4 },
  { ifname: "eth1", address: "fd00::11", prefixLength: 64, family: 6 },
  { ifname: "cbr0", address: "10.128.0.1", prefixLength: 23, family: 4 },
  { ifname: "eth1", address: "192.168.12.50", prefixLength: 32, family: 4 },
];

describe("parseGatewayRoutes", () => {
  it("keeps IPv4 single-next-hop routes with a device, not the program's own, multipath or other types", () => {
    assert.deepEqual(parseGatewayRoutes(ROUTES), [
      { dst: "default", via: "192.168.126.1", dev: "eth0", metric: 0 },
      { dst: "default", via: "192.168.12.254", dev: "eth1", metric: 900 },
      { dst: "default", via: "192.168.12.1", dev: "eth1", metric: 500 },
      { dst: "10.99.0.0/16", via: "192.168.12.254", dev: "eth1", metric: 0 },
    ]);
  });

  it("reads a host route as /32 and tolerates junk", () => {
    assert.deepEqual(
      parseGatewayRoutes([{ dst: "1.2.3.4", gateway: "192.168.12.1", dev: "eth1" }, 7, null]),
      [{ dst: "1.2.3.4/32", via: "192.168.12.1", dev: "eth1", metric: 0 }],
    );
    assert.deepEqual(parseGatewayRoutes({}), []);
  });
});

describe("underlayInterfaces", () => {
  it("gives each IPv4 interface its lowest-metric default gateway and next-hop routes", () => {
    const got = underlayInterfaces(ADDRS, parseGatewayRoutes(ROUTES), {
      bridge: "cbr0",
      owned: new Set(["192.168.12.50"]),
    });
    assert.deepEqual(got, [
      { name: "eth0", address: "192.168.126.11/18", gateway: "192.168.126.1" },
      {
        name: "eth1",
        address: "192.168.12.11/24",
        gateway: "192.168.12.1",
        routes: [{ dst: "10.99.0.0/16", via: "192.168.12.254" }],
      },
    ]);
  });

  it("leaves the gateway out when no default route goes through the interface", () => {
    const got = underlayInterfaces(
      ADDRS.slice(0, 2),
      [{ dst: "default", via: "192.168.126.1", dev: "eth0", metric: 0 }],
      {
        bridge: "cbr0",
        owned: new Set(),
      },
    );
    assert.deepEqual(got[1], { name: "eth1", address: "192.168.12.11/24" });
  });
});
