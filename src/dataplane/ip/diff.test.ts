import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { IpProgram } from "../compile/types.js";
import { diffIp, type IpState, ipArgs, parseAddresses, parseRoutes, parseRules } from "./diff.js";
import { FakeIp, IpExecError } from "./execer.js";
import { reconcileIp } from "./reconciler.js";

// Shapes as printed by iproute2 6.1 (`ip -json ...`).
const ADDR_JSON = [
  {
    ifname: "eth0",
    addr_info: [
      { family: "inet", local: "192.168.126.11", prefixlen: 18, label: "eth0" },
      { family: "inet", local: "192.168.126.10", prefixlen: 32, label: "eth0:eg" },
      { family: "inet6", local: "fe80::1", prefixlen: 64 },
    ],
  },
];
const ROUTE_JSON = [
  { dst: "default", gateway: "192.168.126.1", dev: "eth0", flags: [] },
  { dst: "10.128.2.0/23", gateway: "192.168.126.12", dev: "eth0", protocol: "201", flags: [] },
  { dst: "default", gateway: "192.168.126.13", dev: "eth0", table: "10597", protocol: "201", flags: [] },
  { type: "local", dst: "192.168.126.11", dev: "eth0", table: "local", protocol: "kernel" },
  { dst: "10.9.9.9", dev: "eth0", table: "5", flags: [] },
];
const RULE_JSON = [
  { priority: 0, src: "all", table: "local" },
  { priority: 10597, src: "all", fwmark: "0xe0d0000", fwmask: "0xfff0000", table: "10597", protocol: "201" },
  { priority: 500, src: "all", fwmark: "0x1", table: "5" },
  { priority: 32766, src: "all", table: "main" },
];

const current = (): IpState => ({
  addresses: parseAddresses(ADDR_JSON),
  routes: parseRoutes(ROUTE_JSON),
  rules: parseRules(RULE_JSON),
});

const desired = (): IpProgram => ({
  routes: [
    { table: "main", dst: "10.128.2.0/23", via: "192.168.126.12", dev: "eth0" },
    { table: "main", dst: "10.128.4.0/23", via: "192.168.126.13", dev: "eth0" },
    { table: 10596, dst: "default", via: "192.168.126.12", dev: "eth0" },
  ],
  rules: [{ priority: 10596, fwmark: 0xe0c0000, fwmask: 0xfff0000, table: 10596 }],
  addresses: [{ dev: "eth0", address: "192.168.126.102/32", label: "eth0:eg" }],
});

describe("ip state parsing", () => {
  it("reads addresses, routes (host routes as /32, main by default) and fwmark rules", () => {
    const s = current();
    assert.deepEqual(s.addresses, [
      { dev: "eth0", address: "192.168.126.11/18", label: "eth0" },
      { dev: "eth0", address: "192.168.126.10/32", label: "eth0:eg" },
    ]);
    assert.deepEqual(s.routes[0], { table: "main", dst: "default", via: "192.168.126.1", dev: "eth0" });
    assert.deepEqual(s.routes[3], { table: 5, dst: "10.9.9.9/32", dev: "eth0" });
    assert.equal(s.routes.length, 4, "local table skipped");
    assert.deepEqual(s.rules, [
      { priority: 10597, fwmark: 0xe0d0000, fwmask: 0xfff0000, table: 10597, protocol: "201" },
      { priority: 500, fwmark: 1, fwmask: 0xffffffff, table: 5 },
    ]);
  });
});

describe("diffIp", () => {
  it("deletes what it owns and no longer wants first, adds after, announces last; ignores the rest", () => {
    const ops = diffIp(desired(), current()).map((a) => [a.op, ...(ipArgs(a) ?? [])].join(" "));
    assert.deepEqual(ops, [
      "del-address addr del 192.168.126.10/32 dev eth0",
      "del-rule rule del fwmark 0xe0d0000/0xfff0000 lookup 10597 priority 10597 protocol 201",
      "del-route route del default via 192.168.126.13 dev eth0 table 10597 proto 201",
      "replace-route route replace 10.128.4.0/23 via 192.168.126.13 dev eth0 table main proto 201",
      "replace-route route replace default via 192.168.126.12 dev eth0 table 10596 proto 201",
      "add-rule rule add fwmark 0xe0c0000/0xfff0000 lookup 10596 priority 10596 protocol 201",
      "add-address addr add 192.168.126.102/32 dev eth0 label eth0:eg",
      "announce",
    ]);
  });

  it("replaces a route whose next hop changed", () => {
    const s = current();
    s.routes[1]!.via = "192.168.126.99";
    const ops = diffIp(desired(), s).filter((a) => a.op === "replace-route");
    assert.equal(ops.length, 3);
  });

  it("reaches a fixed point: after reconciling, the diff is empty and foreign state is intact", async () => {
    const ip = new FakeIp(current());
    const r = await reconcileIp(ip, desired());
    assert.deepEqual(ip.announced, [{ dev: "eth0", ip: "192.168.126.102" }]);
    assert.equal(r.actions.length, 8);
    assert.deepEqual(diffIp(desired(), await ip.read()), []);
    const s = await ip.read();
    assert.ok(
      s.routes.some((x) => x.table === 5),
      "foreign table 5 route kept",
    );
    assert.ok(
      s.routes.some((x) => x.dst === "default" && x.table === "main"),
      "foreign default kept",
    );
    assert.ok(
      s.rules.some((x) => x.priority === 500),
      "foreign rule kept",
    );
    assert.ok(
      s.addresses.some((x) => x.address === "192.168.126.11/18"),
      "node address kept",
    );
    const again = await reconcileIp(ip, desired());
    assert.deepEqual(again.actions, []);
  });

  it("returns announcements to the caller when asked not to run them", async () => {
    const ip = new FakeIp(current());
    const r = await reconcileIp(ip, desired(), { announce: false });
    assert.deepEqual(r.pendingAnnouncements, [{ op: "announce", dev: "eth0", ip: "192.168.126.102" }]);
    assert.deepEqual(ip.announced, []);
  });

  it("an empty program removes everything owned and nothing else", async () => {
    const ip = new FakeIp(current());
    await reconcileIp(ip, { routes: [], rules: [], addresses: [] });
    const s = await ip.read();
    assert.deepEqual(
      s.routes.filter((r) => r.protocol === "201"),
      [],
    );
    assert.equal(s.rules.length, 1);
    assert.deepEqual(
      s.addresses.map((a) => a.address),
      ["192.168.126.11/18"],
    );
  });

  it("the fake refuses what the kernel refuses", async () => {
    const ip = new FakeIp(current());
    await assert.rejects(
      ip.exec([
        { op: "add-address", address: { dev: "eth0", address: "192.168.126.10/32", label: "eth0:eg" } },
      ]),
      IpExecError,
    );
    await assert.rejects(
      ip.exec([{ op: "del-address", dev: "eth0", address: "1.1.1.1/32" }]),
      /Cannot assign/,
    );
  });
});

describe("diffIp properties", () => {
  const addr = fc.record({
    dev: fc.constantFrom("eth0", "eth1"),
    address: fc.integer({ min: 1, max: 40 }).map((n) => `192.168.126.${n}/32`),
  });
  const route = fc.record({
    table: fc.constantFrom<"main" | number>("main", 7001, 7002),
    dst: fc.constantFrom("default", "10.128.2.0/23", "10.128.4.0/23"),
    via: fc.constantFrom("192.168.126.12", "192.168.126.13"),
    dev: fc.constant("eth0"),
  });
  const rule = fc.integer({ min: 1, max: 4 }).map((id) => ({
    priority: 7000 + id,
    fwmark: id << 16,
    fwmask: 0x0fff0000,
    table: 7000 + id,
  }));
  const uniq = <T>(xs: T[], key: (x: T) => string) => [...new Map(xs.map((x) => [key(x), x])).values()];
  const program = fc.record({
    addresses: fc
      .array(addr)
      .map((a) => uniq(a, (x) => `${x.dev}${x.address}`).map((x) => ({ ...x, label: `${x.dev}:eg` }))),
    routes: fc.array(route).map((r) => uniq(r, (x) => `${x.table}${x.dst}`)),
    rules: fc.array(rule).map((r) => uniq(r, (x) => String(x.priority))),
  });
  const foreign = fc.record({
    addresses: fc.array(addr).map((a) => uniq(a, (x) => `${x.dev}${x.address}`)),
    routes: fc.array(route).map((r) => uniq(r, (x) => `${x.table}${x.dst}`)),
  });

  it("from any owned start, one reconcile reaches the desired state and leaves foreign state alone", async () => {
    await fc.assert(
      fc.asyncProperty(program, program, foreign, async (start, want, other) => {
        // Foreign entries use keys the owned ones do not, as the kernel would not hold both.
        const ownedRoutes = new Set(start.routes.map((r) => `${r.table}${r.dst}`));
        const wantRoutes = new Set(want.routes.map((r) => `${r.table}${r.dst}`));
        const fRoutes = other.routes.filter(
          (r) => !ownedRoutes.has(`${r.table}${r.dst}`) && !wantRoutes.has(`${r.table}${r.dst}`),
        );
        const ownedAddr = new Set([...start.addresses, ...want.addresses].map((a) => `${a.dev}${a.address}`));
        const fAddr = other.addresses.filter((a) => !ownedAddr.has(`${a.dev}${a.address}`));
        const ip = new FakeIp({
          addresses: [...start.addresses, ...fAddr],
          routes: [...start.routes.map((r) => ({ ...r, protocol: "201" })), ...fRoutes],
          rules: start.rules.map((r) => ({ ...r, protocol: "201" })),
        });
        const r = await reconcileIp(ip, want);
        const ops = r.actions.map((a) => a.op);
        const firstAdd = ops.findIndex((o) => !o.startsWith("del-"));
        assert.ok(firstAdd < 0 || ops.slice(firstAdd).every((o) => !o.startsWith("del-")), "deletes first");
        const s = await ip.read();
        assert.deepEqual(diffIp(want, s), []);
        for (const f of fAddr) assert.ok(s.addresses.some((a) => a.dev === f.dev && a.address === f.address));
        for (const f of fRoutes)
          assert.ok(s.routes.some((x) => x.table === f.table && x.dst === f.dst && !x.protocol));
      }),
      { numRuns: 200 },
    );
  });
});

describe("unreachable routes (a secondary NIC's egress table without a gateway)", () => {
  const T = 11101;
  it("parses them from ip -json (no dev) and keeps other route types out", () => {
    const routes = parseRoutes([
      { type: "unreachable", dst: "default", table: String(T), protocol: "201", flags: [] },
      { type: "blackhole", dst: "10.0.0.0/8", table: String(T), protocol: "201", flags: [] },
      { dst: "192.168.12.0/24", dev: "eth1", table: String(T), protocol: "201", scope: "link", flags: [] },
    ]);
    assert.deepEqual(routes, [
      { table: T, dst: "default", type: "unreachable", protocol: "201" },
      { table: T, dst: "192.168.12.0/24", dev: "eth1", protocol: "201" },
    ]);
  });

  it("renders ip route replace/del with the type and without a device", () => {
    const route = { table: T, dst: "default", type: "unreachable" as const };
    assert.deepEqual(ipArgs({ op: "replace-route", route }), [
      "route",
      "replace",
      "unreachable",
      "default",
      "table",
      String(T),
      "proto",
      "201",
    ]);
    assert.deepEqual(ipArgs({ op: "del-route", route })?.slice(0, 4), [
      "route",
      "del",
      "unreachable",
      "default",
    ]);
  });

  it("replaces an unreachable default by the gateway route when one appears, and back", async () => {
    const unreachable: IpProgram = {
      routes: [{ table: T, dst: "default", type: "unreachable" }],
      rules: [{ priority: T, fwmark: 0x10000000, fwmask: 0xf0000000, table: T }],
      addresses: [],
    };
    const viaGw: IpProgram = {
      ...unreachable,
      routes: [{ table: T, dst: "default", via: "192.168.12.1", dev: "eth1" }],
    };
    const ip = new FakeIp();
    await reconcileIp(ip, unreachable);
    assert.deepEqual(diffIp(unreachable, await ip.read()), []);
    const toGw = diffIp(viaGw, await ip.read());
    assert.deepEqual(toGw, [{ op: "replace-route", route: viaGw.routes[0] }]);
    await ip.exec(toGw);
    assert.deepEqual(diffIp(unreachable, await ip.read()), [
      { op: "replace-route", route: unreachable.routes[0] },
    ]);
    assert.deepEqual(ipArgs({ op: "add-rule", rule: unreachable.rules[0]! }), [
      "rule",
      "add",
      "fwmark",
      "0x10000000/0xf0000000",
      "lookup",
      String(T),
      "priority",
      String(T),
      "protocol",
      "201",
    ]);
  });
});
