#!/usr/bin/env node
// Compiles the whereabouts CNI shim (src/cni/shim/whereabouts-shim.c) with the system C compiler into
// <out>/bin/whereabouts (default out: dist). The shim execs <out>/src/cni/whereabouts.js (found from
// its own location, else the absolute path compiled in) with this Node binary (compiled in;
// $WHEREABOUTS_NODE overrides it) when no IPAM daemon answers.
//   node scripts/build-cni-shim.mjs [--out DIR] [--optional]
// --optional: a missing compiler is a warning (the Node plugin bin/whereabouts still works), not an error.
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const argv = process.argv.slice(2);
const outIdx = argv.indexOf("--out");
const out = outIdx >= 0 ? argv[outIdx + 1] : join(root, "dist");
if (!out) {
  console.error("build-cni-shim: --out needs a directory");
  process.exit(2);
}
const optional = argv.includes("--optional");
const src = join(root, "src", "cni", "shim", "whereabouts-shim.c");
const bin = join(out, "bin", "whereabouts");
mkdirSync(dirname(bin), { recursive: true });
const cc = process.env.CC || "cc";
const args = [
  "-O2",
  "-Wall",
  "-Wextra",
  "-std=c11",
  "-D_GNU_SOURCE",
  `-DWB_NODE="${process.execPath}"`,
  `-DWB_PLUGIN_JS="${resolve(out, "src", "cni", "whereabouts.js")}"`,
  "-o",
  bin,
  src,
];
const r = spawnSync(cc, args, { stdio: "inherit" });
if (r.error || r.status !== 0) {
  const why = r.error ? r.error.message : `${cc} exited with ${r.status}`;
  console.error(`build-cni-shim: cannot compile ${src}: ${why}`);
  process.exit(optional ? 0 : 1);
}
console.log(`build-cni-shim: ${bin}`);
