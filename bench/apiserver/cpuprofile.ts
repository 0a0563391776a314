// Summarises a V8 .cpuprofile (from `node --cpu-prof`, e.g. BENCH_CPU_PROF=DIR bench/apiserver/run.sh):
// self time per function and per source file, top entries first. Reads the file, prints text.
// Run: node dist/bench/apiserver/cpuprofile.js PROFILE.cpuprofile [--top N]
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: "string", default: "25" } },
});
const file = positionals[0];
if (!file) {
  process.stderr.write("usage: cpuprofile.js PROFILE.cpuprofile [--top N]\n");
  process.exit(2);
}
const top = Number(values.top);
const p = JSON.parse(readFileSync(file, "utf8")) as Profile;
const byId = new Map<number, ProfileNode>();
for (const n of p.nodes) byId.set(n.id, n);
const self = new Map<number, number>();
for (let i = 0; i < p.samples.length; i++) {
  const id = p.samples[i]!;
  self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0));
}
const total = [...self.values()].reduce((a, b) => a + b, 0);
const shortUrl = (u: string): string =>
  u.replace(/^file:\/\/.*?\/(node_modules|src|bench)\//, "$1/").replace(/^node:/, "node:") || "(native)";
const fnKey = (n: ProfileNode): string =>
  `${n.callFrame.functionName || "(anonymous)"}  ${shortUrl(n.callFrame.url)}${n.callFrame.url ? `:${n.callFrame.lineNumber + 1}` : ""}`;
const fileKey = (n: ProfileNode): string => shortUrl(n.callFrame.url) || n.callFrame.functionName;

function table(title: string, key: (n: ProfileNode) => string): void {
  const sums = new Map<string, number>();
  for (const [id, us] of self) {
    const k = key(byId.get(id)!);
    sums.set(k, (sums.get(k) ?? 0) + us);
  }
  console.log(`\n${title} (total ${(total / 1000).toFixed(0)} ms sampled)`);
  for (const [k, us] of [...sums.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(
      `${((100 * us) / total).toFixed(1).padStart(5)} %  ${(us / 1000).toFixed(0).padStart(6)} ms  ${k}`,
    );
  }
}
table("self time by function", fnKey);
table("self time by file", fileKey);
