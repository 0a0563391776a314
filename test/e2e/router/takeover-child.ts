// Child of takeover.test.ts, run inside the test's node namespace (as the agent runs inside its
// node's): sets up N router pods at once, each `ensureUnderlayBridge` → `attachEgress` →
// `probeAddress`, as the kubelet's workers do, and prints one JSON line per pod.
//   node takeover-child.js IFNAME ADDRESS NETNS...
import { attachEgress, ensureUnderlayBridge, probeAddress } from "../../../src/agent/kubelet/router-net.js";

const [ifname, address, ...netnses] = process.argv.slice(2);
const results = await Promise.all(
  netnses.map(async (ns) => {
    try {
      await ensureUnderlayBridge(ifname!);
      await attachEgress(ns, ifname!);
      const holder = await probeAddress(ns, address!);
      return { ns, holder: holder ?? null };
    } catch (e) {
      return { ns, error: e instanceof Error ? e.message : String(e) };
    }
  }),
);
for (const r of results) process.stdout.write(`${JSON.stringify(r)}\n`);
