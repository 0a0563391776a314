import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FakeNft } from "./fake.js";
import { TraceError, traceChain } from "./trace.js";

const TABLE = `table ip t {
	counter hits {
		packets 0 bytes 0
	}
	set inside {
		type ipv4_addr
		flags interval
		elements = { 10.0.0.0/8, 192.168.1.1 }
	}
	map snat_eth0 {
		type ipv4_addr : ipv4_addr
		elements = { 10.1.0.5 : 192.168.1.50 }
	}
	chain post {
		type nat hook postrouting priority srcnat; policy accept;
		ip saddr != @inside return
		ip daddr @inside return
		ct mark and 0x0fff0000 != 0 return
		oifname "eth0" snat ip to ip saddr map @snat_eth0
		ip saddr != 10.1.0.0/24 counter name "hits" drop
		oifname != "br0" masquerade
	}
	chain odd {
		type filter hook forward priority filter; policy accept;
		tcp dport 80 drop
	}
}
`;

describe("traceChain", () => {
  const run = async () => {
    const nft = new FakeNft();
    await nft.apply(TABLE);
    return (pkt: Parameters<typeof traceChain>[4], chain = "post") => traceChain(nft, "ip", "t", chain, pkt);
  };

  it("follows matches, map misses and verdicts in rule order", async () => {
    const t = await run();
    const p = { daddr: "8.8.8.8", oifname: "eth0" };
    const table: [Parameters<typeof t>[0], ReturnType<typeof t>][] = [
      [{ ...p, saddr: "172.16.0.1" }, { verdict: "accept" }],
      [{ ...p, saddr: "10.1.0.5", daddr: "192.168.1.1" }, { verdict: "accept" }],
      [{ ...p, saddr: "10.1.0.5", ctMark: 0x10000 }, { verdict: "accept" }],
      [
        { ...p, saddr: "10.1.0.5", ctMark: 0x1 },
        { verdict: "snat", to: "192.168.1.50", counters: [] },
      ],
      [
        { ...p, saddr: "10.1.0.6" },
        { verdict: "masquerade", counters: [] },
      ],
      [
        { ...p, saddr: "10.1.0.5", oifname: "eth1" },
        { verdict: "masquerade", counters: [] },
      ],
      [
        { ...p, saddr: "10.2.0.5" },
        { verdict: "drop", counters: ["hits"] },
      ],
      [{ ...p, saddr: "10.1.0.6", oifname: "br0" }, { verdict: "accept" }],
    ];
    for (const [pkt, want] of table) assert.deepEqual(t(pkt), want, JSON.stringify(pkt));
  });

  it("follows jumps, gotos, verdict maps and numgen, and reports the marks it set", async () => {
    const nft = new FakeNft();
    await nft.apply(`table inet m {
	set live_marks {
		type mark
		elements = { 0x00010000 }
	}
	map pods {
		type ipv4_addr : verdict
		elements = { 10.0.0.1 : goto via-a, 10.0.0.2 : jump via-b, 10.0.0.3 : drop }
	}
	chain pre {
		type filter hook prerouting priority mangle; policy accept;
		ct direction original ct mark and 0x0fff0000 != 0 ct mark and 0x0fff0000 @live_marks meta mark set ct mark return
		ct direction original ct mark and 0x0fff0000 != 0 jump repath
		ct state new ip saddr vmap @pods
		ip saddr 10.0.0.2 meta mark set meta mark or 0x10000000
	}
	chain repath {
		ip saddr vmap @pods
		drop
	}
	chain via-a {
		ct state new ct mark set numgen random mod 2 map { 0 : 0x00000000, 1 : 0x00010000 }
		ct state != new ct mark set 0x00010000
		meta mark set ct mark
	}
	chain via-b {
		ct mark set 0x00020000
		meta mark set ct mark
		return
		drop
	}
}
`);
    const t = (pkt: Partial<Parameters<typeof traceChain>[4]>) =>
      traceChain(nft, "inet", "m", "pre", { saddr: "10.0.0.9", daddr: "8.8.8.8", oifname: "eth0", ...pkt });
    const cases: [Partial<Parameters<typeof traceChain>[4]>, ReturnType<typeof t>][] = [
      [{}, { verdict: "accept" }], // no element: falls off the base chain
      [{ saddr: "10.0.0.1" }, { verdict: "accept", mark: 0, ctMark: 0 }], // goto, numgen branch 0
      [
        { saddr: "10.0.0.1", numgen: 3 },
        { verdict: "accept", mark: 0x10000, ctMark: 0x10000 },
      ],
      // jump: via-b returns, then the base chain goes on and ORs into the packet mark
      [{ saddr: "10.0.0.2" }, { verdict: "accept", mark: 0x10020000, ctMark: 0x20000 }],
      [{ saddr: "10.0.0.3" }, { verdict: "drop", counters: [] }],
      // an established flow with a live mark keeps it; a dead one is re-pathed or dropped
      [
        { saddr: "10.0.0.9", ctMark: 0x10000, established: true },
        { verdict: "accept", mark: 0x10000 },
      ],
      [
        { saddr: "10.0.0.1", ctMark: 0x30000, established: true },
        { verdict: "accept", mark: 0x10000, ctMark: 0x10000 },
      ],
      [
        { saddr: "10.0.0.9", ctMark: 0x30000, established: true },
        { verdict: "drop", counters: [] },
      ],
      // the reply direction skips the ct direction original rules
      [{ saddr: "10.0.0.9", ctMark: 0x30000, established: true, reply: true }, { verdict: "accept" }],
    ];
    for (const [pkt, want] of cases) assert.deepEqual(t(pkt), want, JSON.stringify(pkt));
  });

  it("refuses rule forms it does not know instead of guessing", async () => {
    const t = await run();
    assert.throws(() => t({ saddr: "1.1.1.1", daddr: "2.2.2.2", oifname: "x" }, "odd"), TraceError);
    assert.throws(() => t({ saddr: "1.1.1.1", daddr: "2.2.2.2", oifname: "x" }, "nope"), TraceError);
  });
});
