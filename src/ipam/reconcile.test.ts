import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { IPPool } from "./model.js";
import {
  networkOfPool,
  networkStatusIPs,
  type PodView,
  planPodDeleted,
  planReconcile,
  type ReservationRecord,
} from "./reconcile.js";

const pool = (allocs: Record<string, [string, string]>, name = "net-10.0.0.0-24"): IPPool => ({
  name,
  range: "10.0.0.0/24",
  resourceVersion: "7",
  allocations: Object.fromEntries(
    Object.entries(allocs).map(([off, [id, podref]]) => [off, { id, podref, ifname: "net1" }]),
  ),
});
const res = (ip: string, id: string, podref: string, createdMs?: number): ReservationRecord => ({
  name: `net-${ip}`,
  containerid: id,
  podref,
  ifname: "net1",
  ...(createdMs === undefined ? {} : { createdMs }),
});
const status = (...ips: string[]): PodView => ({ networkStatusIPs: new Set(ips) });
const NOW = 1_000_000;

describe("reconcile: which allocations go", () => {
  const table: {
    name: string;
    pods: Record<string, PodView>;
    since?: number;
    resCreated?: number;
    /** No reservation (enable_overlapping_ranges off): age only from allocationSince. */
    noRes?: boolean;
    removed: string[];
  }[] = [
    { name: "pod exists and lists the address: kept", pods: { "ns/a": status("10.0.0.5") }, removed: [] },
    {
      name: "pod gone: removed",
      pods: {},
      removed: ["IPPool allocation 10.0.0.5 pod-gone", "OverlappingRangeIPReservation 10.0.0.5 pod-gone"],
    },
    { name: "pod gone but allocation young: kept", pods: {}, since: NOW - 1000, noRes: true, removed: [] },
    {
      name: "reservation older than first sighting: its age counts",
      pods: {},
      since: NOW - 1000,
      removed: ["IPPool allocation 10.0.0.5 pod-gone", "OverlappingRangeIPReservation 10.0.0.5 pod-gone"],
    },
    { name: "pod gone, reservation young: kept", pods: {}, resCreated: NOW - 1000, removed: [] },
    { name: "pod without network-status yet: kept", pods: { "ns/a": {} }, removed: [] },
    {
      name: "pod no longer lists the address: removed",
      pods: { "ns/a": status("10.0.0.9") },
      removed: [
        "IPPool allocation 10.0.0.5 not-in-network-status",
        "OverlappingRangeIPReservation 10.0.0.5 not-in-network-status",
      ],
    },
    {
      name: "not listed but young (sandbox being re-created): kept",
      pods: { "ns/a": status("10.0.0.9") },
      resCreated: NOW - 59_000,
      removed: [],
    },
    {
      name: "not listed, no reservation, unknown age: removed",
      pods: { "ns/a": status("10.0.0.9") },
      noRes: true,
      removed: ["IPPool allocation 10.0.0.5 not-in-network-status"],
    },
    { name: "listed with prefix length: kept", pods: { "ns/a": status("10.0.0.5") }, removed: [] },
  ];
  for (const t of table) {
    it(t.name, () => {
      const plan = planReconcile({
        pools: [pool({ "5": ["c1", "ns/a"] })],
        reservations: t.noRes ? [] : [res("10.0.0.5", "c1", "ns/a", t.resCreated ?? NOW - 3600_000)],
        pod: (ref) => t.pods[ref],
        now: NOW,
        graceMs: 60_000,
        allocationSince: () => t.since,
      });
      assert.deepEqual(
        plan.removed.map((r) => `${r.kind} ${r.ip} ${r.reason}`),
        t.removed,
      );
      assert.equal(plan.pools.length, t.removed.length > 0 ? 1 : 0);
      if (plan.pools[0]) {
        assert.deepEqual(plan.pools[0].allocations, {});
        assert.equal(plan.pools[0].resourceVersion, "7", "written against the version read");
      }
    });
  }

  it("keeps the other pods' allocations and their reservations", () => {
    const plan = planReconcile({
      pools: [pool({ "5": ["c1", "ns/a"], "6": ["c2", "ns/b"] })],
      reservations: [res("10.0.0.5", "c1", "ns/a"), res("10.0.0.6", "c2", "ns/b")],
      pod: (ref) => (ref === "ns/b" ? status("10.0.0.6") : undefined),
      now: NOW,
      graceMs: 0,
    });
    assert.deepEqual(Object.keys(plan.pools[0]!.allocations), ["6"]);
    assert.deepEqual(plan.deleteReservations, ["net-10.0.0.5"]);
  });

  it("a reservation held by someone else for the same address is not the removed allocation's", () => {
    const plan = planReconcile({
      pools: [pool({ "5": ["c1", "ns/a"] })],
      reservations: [res("10.0.0.5", "other", "ns/b")],
      pod: (ref) => (ref === "ns/b" ? {} : undefined),
      now: NOW,
      graceMs: 0,
    });
    assert.equal(plan.removed.length, 2);
    assert.deepEqual(
      plan.removed.map((r) => r.reason),
      ["pod-gone", "orphaned-reservation"],
    );
  });

  it("orphaned reservations (no allocation) go once old; those of live allocations stay", () => {
    const plan = planReconcile({
      pools: [pool({ "6": ["c2", "ns/b"] })],
      reservations: [
        res("10.0.0.5", "c1", "ns/a", NOW - 120_000), // pod exists, no allocation: orphan
        res("10.0.0.7", "c3", "ns/a", NOW - 1000), // young: an ADD may be between reservation and pool write
        res("10.0.0.6", "c2", "ns/b", NOW - 120_000),
      ],
      pod: () => ({}),
      now: NOW,
      graceMs: 60_000,
    });
    assert.deepEqual(plan.deleteReservations, ["net-10.0.0.5"]);
    assert.deepEqual(
      plan.removed.map((r) => r.reason),
      ["orphaned-reservation"],
    );
    assert.deepEqual(plan.pools, []);
  });

  it("allocations without a pod reference are never judged", () => {
    const plan = planReconcile({
      pools: [pool({ "5": ["c1", ""] })],
      reservations: [],
      pod: () => undefined,
      now: NOW,
      graceMs: 0,
    });
    assert.deepEqual(plan.removed, []);
  });

  it("IPv6 pools and unnamed networks", () => {
    const p: IPPool = {
      name: "fd00-10---64",
      range: "fd00:10::/64",
      resourceVersion: "1",
      allocations: { "1": { id: "c1", podref: "ns/a", ifname: "net1" } },
    };
    assert.equal(networkOfPool(p), "");
    const plan = planReconcile({
      pools: [p],
      reservations: [{ name: "fd00-10--1", containerid: "c1", podref: "ns/a", ifname: "net1" }],
      pod: () => status("fd00:10::2"),
      now: NOW,
      graceMs: 0,
    });
    assert.deepEqual(
      plan.removed.map((r) => `${r.kind} ${r.ip}`),
      ["IPPool allocation fd00:10::1", "OverlappingRangeIPReservation fd00:10::1"],
    );
  });

  it("pod deleted: only that pod's allocations, no grace", () => {
    const plan = planPodDeleted(
      "ns/a",
      [
        pool({ "5": ["c1", "ns/a"], "6": ["c2", "ns/b"] }),
        pool({ "9": ["c9", "ns/c"] }, "other-10.0.0.0-24"),
      ],
      [res("10.0.0.5", "c1", "ns/a", NOW), res("10.0.0.6", "c2", "ns/b", NOW)],
    );
    assert.equal(plan.pools.length, 1);
    assert.deepEqual(Object.keys(plan.pools[0]!.allocations), ["6"]);
    assert.deepEqual(plan.deleteReservations, ["net-10.0.0.5"]);
  });
});

describe("reconcile: network-status annotation", () => {
  it("collects every listed address, canonical, prefix lengths dropped", () => {
    const ips = networkStatusIPs(
      JSON.stringify([
        { name: "k8s-pod-network", interface: "eth0", ips: ["10.128.0.5"], default: true },
        { name: "default/wb", interface: "net1", ips: ["192.0.2.199/27", "FD00:10:0::1"] },
        { name: "x" },
      ]),
    );
    assert.deepEqual([...(ips ?? [])], ["10.128.0.5", "192.0.2.199", "fd00:10::1"]);
  });
  it("absent or undecodable: undefined (attachments may be in progress)", () => {
    assert.equal(networkStatusIPs(undefined), undefined);
    assert.equal(networkStatusIPs("{not json"), undefined);
    assert.equal(networkStatusIPs('{"a":1}'), undefined);
  });
  it("network_name from the pool name", () => {
    assert.equal(networkOfPool(pool({})), "net");
    assert.equal(networkOfPool({ ...pool({}), name: "tenant-a-10.0.0.0-24" }), "tenant-a");
  });
});
