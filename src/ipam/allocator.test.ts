import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { cidrContains, cidrLast, formatIP } from "../api/ip.js";
import {
  type Change,
  exhaustedRanges,
  findAllocations,
  PoolExhaustedError,
  planAdd,
  planDel,
  planGC,
  type Snapshot,
} from "./allocator.js";
import { parseConfig } from "./config.js";
import type { Owner } from "./model.js";
import { applyChange, type NetworkState, snapshotOf } from "./store.js";

type Ipam = Record<string, unknown>;
const conf = (ipam: Ipam) =>
  parseConfig({ cniVersion: "1.0.0", name: "t", ipam: { type: "whereabouts", ...ipam } });
const empty = (): NetworkState => ({ pools: {}, reservations: {} });
const owner = (n: number | string, ifName = "eth0"): Owner => ({
  containerID: `c${n}`,
  podRef: `ns/p${n}`,
  ifName,
});

/** Runs ADDs against a state, returning the addresses (text) and the final state. */
function addAll(ipam: Ipam, owners: Owner[], start = empty()): { ips: string[][]; state: NetworkState } {
  const c = conf(ipam);
  let state = start;
  const ips: string[][] = [];
  const scope = {
    network: c.networkName,
    pools: c.ranges.map((r) => ({ name: r.pool, range: r.cidr })),
    reservations: true,
  };
  for (const o of owners) {
    const { assigned, change } = planAdd(c.ranges, o, snapshotOf(state, scope), {
      networkName: c.networkName,
      overlapping: c.overlapping,
    });
    state = applyChange(state, change);
    ips.push(assigned.map((a) => formatIP(a.ip)));
  }
  return { ips, state };
}

describe("allocator: upstream allocation table", () => {
  // Cases follow upstream's allocate_test.go / config_test.go; the expected values are what upstream
  // hands out for the same input (except the /64 tail, which upstream cannot reach).
  const table: { name: string; ipam: Ipam; n?: number; want: string[] }[] = [
    { name: "IPv4 first usable", ipam: { range: "192.168.1.0/24" }, want: ["192.168.1.1"] },
    {
      name: "IPv4 host bits in range are masked",
      ipam: { range: "192.168.2.225/28" },
      n: 2,
      want: ["192.168.2.225", "192.168.2.226"],
    },
    { name: "IPv6 /116", ipam: { range: "2001::1/116" }, want: ["2001::1"] },
    { name: "IPv6 no leading zeroes", ipam: { range: "caa5::0/112" }, want: ["caa5::1"] },
    { name: "IPv6 all leading zeroes", ipam: { range: "::1/126" }, n: 2, want: ["::1", "::2"] },
    { name: "IPv6 two leads", ipam: { range: "00aa::1/64" }, want: ["aa::1"] },
    { name: "IPv6 /96", ipam: { range: "2001:db8:abcd:0012::0/96" }, want: ["2001:db8:abcd:12::1"] },
    {
      name: "exclude a /30",
      ipam: { range: "192.168.0.0/29", exclude: ["192.168.0.0/30"] },
      want: ["192.168.0.4"],
    },
    {
      name: "exclude a single IP",
      ipam: { range: "192.168.0.0/29", exclude: ["192.168.0.1/32"] },
      want: ["192.168.0.2"],
    },
    {
      name: "exclude a plain address",
      ipam: { range: "192.168.0.0/29", exclude: ["192.168.0.1"] },
      want: ["192.168.0.2"],
    },
    {
      name: "exclude masks host bits",
      ipam: { range: "192.168.0.0/29", exclude: ["192.168.0.3/30"] },
      want: ["192.168.0.4"],
    },
    { name: "IPv6 exclude", ipam: { range: "100::2:1/125", exclude: ["100::2:1/126"] }, want: ["100::2:4"] },
    {
      name: "IPv6 exclude a very large range",
      ipam: { range: "2001:db8::/32", exclude: ["2001:db8::0/33"] },
      want: ["2001:db8:8000::"],
    },
    {
      name: "unsorted exclusions",
      ipam: {
        range: "192.168.0.0/28",
        exclude: ["192.168.0.0/30", "192.168.0.6/31", "192.168.0.8/31", "192.168.0.4/30"],
      },
      want: ["192.168.0.10"],
    },
    {
      name: "seed example 003 (exclude /30 and /32)",
      ipam: { range: "192.0.2.192/27", exclude: ["192.0.2.192/30", "192.0.2.196/32"] },
      n: 3,
      want: ["192.0.2.197", "192.0.2.198", "192.0.2.199"],
    },
    {
      name: "range_start",
      ipam: { range: "192.168.0.0/24", range_start: "192.168.0.100" },
      want: ["192.168.0.100"],
    },
    {
      name: "range_start = network address means first usable",
      ipam: { range: "10.0.0.0/24", range_start: "10.0.0.0" },
      want: ["10.0.0.1"],
    },
    {
      name: "A-B/len",
      ipam: { range: "192.168.1.5-192.168.1.25/24" },
      n: 2,
      want: ["192.168.1.5", "192.168.1.6"],
    },
    { name: "IPv6 A-B/len", ipam: { range: "fd00::5-fd00::6/64" }, n: 2, want: ["fd00::5", "fd00::6"] },
    {
      name: "IPv6 beyond the first /65 of a /64",
      ipam: { range: "fd00:1::/64", range_start: "fd00:1::8000:0:0:0", exclude: ["fd00:1::8000:0:0:0/127"] },
      n: 2,
      want: ["fd00:1::8000:0:0:2", "fd00:1::8000:0:0:3"],
    },
    {
      name: "IPv6 last usable of a /64 (never all-ones)",
      ipam: { range: "fd00:2::ffff:ffff:ffff:fffd-fd00:2::ffff:ffff:ffff:ffff/64" },
      n: 2,
      want: ["fd00:2::ffff:ffff:ffff:fffd", "fd00:2::ffff:ffff:ffff:fffe"],
    },
    {
      name: "gateway inside the range is skipped",
      ipam: { range: "10.1.0.0/24", gateway: "10.1.0.1" },
      want: ["10.1.0.2"],
    },
    {
      name: "dual stack: top-level range first, then ipRanges",
      ipam: {
        range: "10.2.0.0/24",
        ipRanges: [{ range: "fd00:10::/64" }, { range: "10.3.0.0/24", exclude: ["10.3.0.1"] }],
      },
      want: ["10.2.0.1", "fd00:10::1", "10.3.0.2"],
    },
  ];
  for (const t of table) {
    it(t.name, () => {
      const owners = Array.from({ length: t.n ?? 1 }, (_, i) => owner(i));
      const { ips } = addAll(t.ipam, owners);
      assert.deepEqual(t.n ? ips.map((x) => x[0]) : ips[0], t.want);
    });
  }

  it("exhausts a /30 after its two usable addresses", () => {
    const { state } = addAll({ range: "10.9.0.0/30" }, [owner(1), owner(2)]);
    assert.throws(() => addAll({ range: "10.9.0.0/30" }, [owner(3)], state), PoolExhaustedError);
  });
  it("exhausts a range_end-bounded IPv6 tail", () => {
    const ipam = { range: "fd00::ffff:ffff:ffff:fffe-fd00::ffff:ffff:ffff:ffff/64" };
    const { ips, state } = addAll(ipam, [owner(1)]);
    assert.deepEqual(ips, [["fd00::ffff:ffff:ffff:fffe"]]);
    assert.throws(() => addAll(ipam, [owner(2)], state), /no free address in ipam.range/);
  });
});

describe("allocator: idempotency, DEL and GC", () => {
  const ipam = { range: "10.0.0.0/24" };
  it("ADD is idempotent per pod + interface", () => {
    const { ips, state } = addAll(ipam, [owner(1), owner(1), owner(1, "net1"), owner(2)]);
    assert.deepEqual(ips, [["10.0.0.1"], ["10.0.0.1"], ["10.0.0.2"], ["10.0.0.3"]]);
    assert.equal(Object.keys(state.pools["10.0.0.0-24"]!.allocations).length, 3);
  });
  it("a new sandbox of the same pod takes the address over; the old sandbox's DEL keeps it", () => {
    const c = conf(ipam);
    let { state } = addAll(ipam, [owner(1)]);
    const again: Owner = { ...owner(1), containerID: "sandbox2" };
    const r = addAll(ipam, [again], state);
    assert.deepEqual(r.ips, [["10.0.0.1"]]);
    state = r.state;
    assert.equal(state.pools["10.0.0.0-24"]!.allocations["1"]!.id, "sandbox2");
    const scope = {
      network: "",
      pools: [{ name: "10.0.0.0-24", range: c.ranges[0]!.cidr }],
      reservations: true,
    };
    const del = planDel(c.ranges, "c1", "eth0", snapshotOf(state, scope), "");
    assert.deepEqual(del.released, []);
    assert.equal(state.reservations["10.0.0.1"]!.containerid, "sandbox2");
  });
  it("without pod args the container ID identifies the attachment", () => {
    const anon = (id: string): Owner => ({ containerID: id, podRef: "", ifName: "eth0" });
    const { ips } = addAll(ipam, [anon("a"), anon("a"), anon("b")]);
    assert.deepEqual(ips, [["10.0.0.1"], ["10.0.0.1"], ["10.0.0.2"]]);
  });
  it("DEL by container ID + interface frees the address for the lowest-free rule; repeated DEL is a no-op", () => {
    const c = conf(ipam);
    let { state } = addAll(ipam, [owner(1), owner(2), owner(3)]);
    const scope = {
      network: "",
      pools: [{ name: "10.0.0.0-24", range: c.ranges[0]!.cidr }],
      reservations: true,
    };
    const d1 = planDel(c.ranges, "c2", "eth0", snapshotOf(state, scope), "");
    assert.deepEqual(d1.released.map(formatIP), ["10.0.0.2"]);
    state = applyChange(state, d1.change);
    assert.equal(state.reservations["10.0.0.2"], undefined);
    const d2 = planDel(c.ranges, "c2", "eth0", snapshotOf(state, scope), "");
    assert.deepEqual(d2.change, {
      pools: [],
      createReservations: [],
      deleteReservations: [],
    } satisfies Change);
    assert.deepEqual(planDel(c.ranges, "c1", "net9", snapshotOf(state, scope), "").released, []);
    const r = addAll(ipam, [owner(4)], state);
    assert.deepEqual(r.ips, [["10.0.0.2"]]);
  });
  it("GC keeps valid attachments and drops the rest with their reservations", () => {
    const c = conf(ipam);
    const { state } = addAll(ipam, [owner(1), owner(2), owner(3)]);
    const scope = {
      network: "",
      pools: [{ name: "10.0.0.0-24", range: c.ranges[0]!.cidr }],
      reservations: true,
    };
    const gc = planGC(c.ranges, [{ containerID: "c2", ifname: "eth0" }], snapshotOf(state, scope), "");
    assert.deepEqual(gc.released.map(formatIP), ["10.0.0.1", "10.0.0.3"]);
    const after = applyChange(state, gc.change);
    assert.deepEqual(Object.keys(after.pools["10.0.0.0-24"]!.allocations), ["2"]);
    assert.deepEqual(Object.keys(after.reservations), ["10.0.0.2"]);
    const f = findAllocations(c.ranges, "c2", "eth0", snapshotOf(after, scope));
    assert.deepEqual([f.found.map((x) => formatIP(x.ip)), f.missing.length], [["10.0.0.2"], 0]);
  });
});

describe("allocator: overlapping ranges", () => {
  it("pools with overlapping ranges in one network never share an address", () => {
    let state = empty();
    const a = addAll({ range: "10.0.0.0/24" }, [owner(1), owner(2)], state);
    state = a.state;
    const b = addAll({ range: "10.0.0.0/16" }, [owner(3, "net1")], state);
    assert.deepEqual(b.ips, [["10.0.0.3"]]);
    assert.deepEqual(Object.keys(b.state.pools).sort(), ["10.0.0.0-16", "10.0.0.0-24"]);
  });
  it("separate network_names keep separate pools and reservations", () => {
    const a = addAll({ range: "192.168.2.225/28", network_name: "tenant-a" }, [owner(1)]);
    const b = addAll({ range: "192.168.2.225/28", network_name: "tenant-b" }, [owner(2)]);
    assert.deepEqual([a.ips, b.ips], [[["192.168.2.225"]], [["192.168.2.225"]]]);
    assert.deepEqual(Object.keys(a.state.pools), ["tenant-a-192.168.2.224-28"]);
    assert.deepEqual(Object.keys(a.state.reservations), ["tenant-a-192.168.2.225"]);
  });
  it("enable_overlapping_ranges=false ignores and writes no reservations", () => {
    const a = addAll({ range: "10.0.0.0/24" }, [owner(1)]);
    const b = addAll({ range: "10.0.0.0/16", enable_overlapping_ranges: false }, [owner(2)], a.state);
    assert.deepEqual(b.ips, [["10.0.0.1"]]);
    assert.equal(b.state.reservations["10.0.0.1"]?.containerid, "c1");
  });
  it("IPv6 reservation names follow upstream (':' → '-', never ending in '-')", () => {
    const { state } = addAll({ range: "fd00::/120", network_name: "n" }, [owner(1)]);
    assert.deepEqual(Object.keys(state.reservations), ["n-fd00--1"]);
    assert.deepEqual(Object.keys(state.pools), ["n-fd00---120"]);
  });
  it("STATUS reports a range exhausted by another pool's reservations", () => {
    const small = conf({ range: "10.5.0.0/30" });
    const a = addAll({ range: "10.5.0.0/24" }, [owner(1), owner(2)]);
    const scope = {
      network: "",
      pools: [{ name: small.ranges[0]!.pool, range: small.ranges[0]!.cidr }],
      reservations: true,
    };
    const snap = snapshotOf(a.state, scope);
    assert.equal(exhaustedRanges(small.ranges, snap, { networkName: "", overlapping: true }).length, 1);
    assert.equal(exhaustedRanges(small.ranges, snap, { networkName: "", overlapping: false }).length, 0);
  });
});

describe("allocator: properties", () => {
  // Random small ranges (IPv4 /24../29, IPv6 /120../125 anywhere in a /64), exclusions and a random
  // sequence of ADD/DEL; each ADD must return exactly the brute-force lowest free address.
  const rangeArb = fc.oneof(
    fc.record({
      fam: fc.constant(4 as const),
      prefix: fc.integer({ min: 24, max: 29 }),
      hi: fc.bigInt({ min: 0n, max: (1n << 24n) - 1n }),
    }),
    fc.record({
      fam: fc.constant(6 as const),
      prefix: fc.integer({ min: 120, max: 125 }),
      hi: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    }),
  );
  it("never network/all-ones, never excluded, never duplicate, always the lowest free", () => {
    fc.assert(
      fc.property(
        rangeArb,
        fc.array(fc.record({ off: fc.nat(255), len: fc.integer({ min: 0, max: 3 }) }), { maxLength: 3 }),
        fc.array(fc.oneof(fc.constant("add" as const), fc.nat(40)), { maxLength: 60 }),
        fc.boolean(),
        (r, excl, ops, withGw) => {
          const bits = r.fam === 4 ? 32 : 128;
          const size = 1n << BigInt(bits - r.prefix);
          const network =
            r.fam === 4 ? (r.hi << 8n) & ~(size - 1n) : (0xfd00n << 112n) | ((r.hi << 64n) & ~(size - 1n));
          const text = (v: bigint) => formatIP({ family: r.fam, value: v });
          const exclude = excl.map((e) => `${text(network + (BigInt(e.off) % size))}/${bits - e.len}`);
          const ipam: Ipam = { range: `${text(network)}/${r.prefix}`, exclude };
          if (withGw) ipam.gateway = text(network + 1n);
          const c = conf(ipam);
          const range = c.ranges[0]!;
          const scope = { network: "", pools: [{ name: range.pool, range: range.cidr }], reservations: true };
          let state = empty();
          const live = new Map<string, bigint>();
          let n = 0;
          for (const op of ops) {
            const snap: Snapshot = snapshotOf(state, scope);
            if (op === "add") {
              const o = owner(n++);
              const free: bigint[] = [];
              for (let v = network + 1n; v < network + size - 1n; v++) {
                const ip = { family: r.fam, value: v };
                if (range.exclude.some((x) => cidrContains(x, ip))) continue;
                if (withGw && v === network + 1n) continue;
                if ([...live.values()].includes(v)) continue;
                free.push(v);
              }
              let got: bigint | undefined;
              try {
                const p = planAdd(c.ranges, o, snap, { networkName: "", overlapping: true });
                state = applyChange(state, p.change);
                got = p.assigned[0]!.ip.value;
              } catch (e) {
                if (!(e instanceof PoolExhaustedError)) throw e;
              }
              assert.equal(got, free[0]);
              if (got !== undefined) {
                assert.ok(got !== network && got !== cidrLast(range.cidr));
                live.set(o.containerID, got);
              }
            } else {
              const id = `c${op}`;
              const p = planDel(c.ranges, id, "eth0", snap, "");
              state = applyChange(state, p.change);
              assert.deepEqual(
                p.released.map((x) => x.value),
                live.has(id) ? [live.get(id)] : [],
              );
              live.delete(id);
            }
            const held = Object.keys(state.pools[range.pool]?.allocations ?? {});
            assert.equal(new Set(held).size, live.size);
            assert.equal(Object.keys(state.reservations).length, live.size);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
