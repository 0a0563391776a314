// Turns the JSON lines written by the API server benchmarks ($BENCH_RESULTS) into a markdown table
// for run.sh. Reads one file, prints to stdout; no other I/O.
import { readFileSync } from "node:fs";
import type { ResultRow } from "./support.js";

const file = process.argv[2];
if (!file) {
  process.stderr.write("usage: report.js RESULTS.jsonl\n");
  process.exit(2);
}
const rows = readFileSync(file, "utf8")
  .split("\n")
  .filter((l) => l.trim() !== "")
  .map((l) => JSON.parse(l) as ResultRow);
const cell = (s: string): string => s.replaceAll("|", "\\|");
const lines = ["| area | measurement | result | target | met |", "|---|---|---|---|---|"];
for (const r of rows) {
  const met = r.ok === undefined ? "" : r.ok ? "yes" : "**no**";
  lines.push(`| ${cell(r.area)} | ${cell(r.metric)} | ${cell(r.value)} | ${cell(r.target ?? "")} | ${met} |`);
}
console.log(lines.join("\n"));
