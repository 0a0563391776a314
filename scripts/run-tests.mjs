#!/usr/bin/env node
// Runs the compiled test files with node's test runner.
//   unit: dist/src/**/*.test.js   (pure logic, fakes, no root needed)
//   e2e:  dist/test/**/*.test.js  (real processes, kubectl, namespaces; CI runs them as root)
//   all:  both
// Extra arguments after the suite name are passed to `node --test` (e.g. --test-name-pattern).
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const suite = process.argv[2] ?? "all";
const extra = process.argv.slice(3);
const roots = { unit: ["dist/src"], e2e: ["dist/test"], all: ["dist/src", "dist/test"] }[suite];
if (!roots) {
  console.error(`unknown suite "${suite}" (expected unit, e2e or all)`);
  process.exit(2);
}
if (!existsSync("dist")) {
  console.error("dist/ is missing: run `npm run build` first");
  process.exit(2);
}
function walk(dir, out) {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith(".test.js")) out.push(p);
  }
  return out;
}
const files = roots.flatMap((r) => walk(r, []));
if (files.length === 0) {
  console.error(`no test files under ${roots.join(", ")}`);
  process.exit(1);
}
const res = spawnSync(
  process.execPath,
  // A test that hangs fails after 10 minutes instead of holding CI until its deadline.
  [
    "--enable-source-maps",
    "--test",
    "--test-reporter=spec",
    "--test-concurrency=2",
    "--test-timeout=600000",
    ...extra,
    ...files,
  ],
  { stdio: "inherit" },
);
process.exit(res.status ?? 1);
