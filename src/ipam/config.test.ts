import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatIP } from "../api/ip.js";
import { ConfigError, DEFAULT_DATA_DIR, parseConfig } from "./config.js";

const parse = (ipam: Record<string, unknown>, top: Record<string, unknown> = {}) =>
  parseConfig({ cniVersion: "1.0.0", name: "n", ...top, ipam: { type: "whereabouts", ...ipam } });

describe("config: accepted forms", () => {
  it("normalizes range, bounds and pool name", () => {
    const c = parse({
      range: "192.168.2.225/28",
      network_name: "tenant-a",
      datastore: "file",
      data_dir: "/tmp/x",
    });
    const r = c.ranges[0]!;
    assert.deepEqual(
      [
        r.pool,
        formatIP({ family: 4, value: r.first }),
        formatIP({ family: 4, value: r.last }),
        c.overlapping,
      ],
      ["tenant-a-192.168.2.224-28", "192.168.2.225", "192.168.2.238", true],
    );
    assert.equal(c.dataDir, "/tmp/x");
  });
  it("defaults: kubernetes datastore (upstream), data dir, overlapping on", () => {
    const c = parse({ range: "10.0.0.0/24" });
    assert.deepEqual([c.datastore, c.dataDir, c.overlapping], ["kubernetes", DEFAULT_DATA_DIR, true]);
  });
  it("A-B/len sets start and end; range_end beyond broadcast is clamped", () => {
    const c = parse({ range: "10.0.0.5-10.0.0.255/24" });
    assert.deepEqual(
      [c.ranges[0]!.first, c.ranges[0]!.last].map((v) => formatIP({ family: 4, value: v })),
      ["10.0.0.5", "10.0.0.254"],
    );
  });
  it("passes static addresses, routes (with 1.1 extras) and dns through", () => {
    const c = parse({
      range: "10.0.0.0/24",
      addresses: [{ address: "192.168.1.7/24", gateway: "192.168.1.1" }],
      routes: [{ dst: "0.0.0.0/0", gw: "10.0.0.1", mtu: 1400 }],
      dns: { nameservers: ["10.0.0.53"], domain: "example.com", search: ["example.com"] },
    });
    assert.deepEqual(c.addresses, [{ address: "192.168.1.7/24", gateway: "192.168.1.1", family: 4 }]);
    assert.deepEqual(c.routes, [{ dst: "0.0.0.0/0", gw: "10.0.0.1", extra: { mtu: 1400 } }]);
    assert.equal(c.dns?.domain, "example.com");
  });
  it("reads GC attachments from cni.dev/valid-attachments and cni.dev/attachments", () => {
    const att = [{ containerID: "c1", ifname: "eth0" }];
    assert.deepEqual(
      parse({ range: "10.0.0.0/24" }, { "cni.dev/valid-attachments": att }).validAttachments,
      att,
    );
    assert.deepEqual(parse({ range: "10.0.0.0/24" }, { "cni.dev/attachments": att }).validAttachments, att);
  });
});

describe("config: errors name the field and the value", () => {
  const table: { name: string; ipam: Record<string, unknown>; field: string; match?: RegExp }[] = [
    { name: "no ipam type", ipam: { type: "host-local", range: "10.0.0.0/24" }, field: "ipam.type" },
    { name: "no range", ipam: {}, field: "ipam.range" },
    { name: "bad CIDR", ipam: { range: "10.0.0.0/33" }, field: "ipam.range", match: /10\.0\.0\.0\/33/ },
    { name: "too small", ipam: { range: "10.0.0.0/31" }, field: "ipam.range", match: /2 host bits/ },
    {
      name: "A-B start outside",
      ipam: { range: "10.1.0.5-10.0.0.9/24" },
      field: "ipam.range",
      match: /inside/,
    },
    {
      name: "range_start outside",
      ipam: { range: "10.0.0.0/24", range_start: "10.0.1.1" },
      field: "ipam.range_start",
    },
    {
      name: "range_end before start",
      ipam: { range: "10.0.0.0/24", range_start: "10.0.0.9", range_end: "10.0.0.3" },
      field: "ipam.range_end",
    },
    {
      name: "bad exclude",
      ipam: { range: "10.0.0.0/24", exclude: ["10.0.0.0/24", "nope"] },
      field: "ipam.exclude[1]",
    },
    {
      name: "ipRanges entry",
      ipam: { ipRanges: [{ range: "10.0.0.0/24" }, { range: "fd00::/129" }] },
      field: "ipam.ipRanges[1].range",
    },
    {
      name: "same range twice",
      ipam: { range: "10.0.0.0/24", ipRanges: [{ range: "10.0.0.7/24" }] },
      field: "ipam.ipRanges[0].range",
    },
    { name: "gateway", ipam: { range: "10.0.0.0/24", gateway: "10.0.0.300" }, field: "ipam.gateway" },
    {
      name: "overlapping flag type",
      ipam: { range: "10.0.0.0/24", enable_overlapping_ranges: "yes" },
      field: "ipam.enable_overlapping_ranges",
    },
    { name: "datastore", ipam: { range: "10.0.0.0/24", datastore: "etcd" }, field: "ipam.datastore" },
    { name: "relative data_dir", ipam: { range: "10.0.0.0/24", data_dir: "var/x" }, field: "ipam.data_dir" },
    {
      name: "static address",
      ipam: { range: "10.0.0.0/24", addresses: [{ address: "10.0.0.7" }] },
      field: "ipam.addresses[0].address",
    },
    {
      name: "route dst",
      ipam: { range: "10.0.0.0/24", routes: [{ dst: "x" }] },
      field: "ipam.routes[0].dst",
    },
    {
      name: "dns type",
      ipam: { range: "10.0.0.0/24", dns: { nameservers: "10.0.0.1" } },
      field: "ipam.dns.nameservers",
    },
  ];
  for (const t of table) {
    it(t.name, () => {
      assert.throws(
        () => parse(t.ipam),
        (e: unknown) =>
          e instanceof ConfigError && e.field === t.field && (!t.match || t.match.test(e.message)),
      );
    });
  }
  it("a config without ipam object", () => {
    assert.throws(
      () => parseConfig({ cniVersion: "1.0.0", name: "n" }),
      (e: unknown) => e instanceof ConfigError && e.field === "ipam",
    );
  });
});
