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

  it("refuses rule forms it does not know instead of guessing", async () => {
    const t = await run();
    assert.throws(() => t({ saddr: "1.1.1.1", daddr: "2.2.2.2", oifname: "x" }, "odd"), TraceError);
    assert.throws(() => t({ saddr: "1.1.1.1", daddr: "2.2.2.2", oifname: "x" }, "nope"), TraceError);
  });
});
