#!/usr/bin/env node
// Compiles the project's two small C programs with the system C compiler (`cc`, or $CC):
//  - <out>/bin/whereabouts: the whereabouts CNI shim (src/cni/shim/whereabouts-shim.c). It execs
//    <out>/src/cni/whereabouts.js (found from its own location, else the absolute path compiled in)
//    with this Node binary (compiled in; $WHEREABOUTS_NODE overrides it) when no IPAM daemon answers.
//  - <out>/bin/nft-helper: the long-lived nftables executor (src/dataplane/nft/helper/nft-helper.c),
//    where src/dataplane/nft/persistent.js looks for it. No libnftables headers are needed: it
//    dlopen()s libnftables.so.1 at run time.
//   node scripts/build-native.mjs [--out DIR] [--optional]     (default out: dist)
// --optional: a missing compiler is a warning, not an error (the Node plugin bin/whereabouts still
// works, and the agent then spawns `nft` per change).
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const argv = process.argv.slice(2);
const outIdx = argv.indexOf("--out");
const out = outIdx >= 0 ? argv[outIdx + 1] : join(root, "dist");
if (!out) {
  console.error("build-native: --out needs a directory");
  process.exit(2);
}
const optional = argv.includes("--optional");
const cc = process.env.CC || "cc";
const common = ["-O2", "-Wall", "-Wextra", "-std=c11", "-D_GNU_SOURCE"];

const targets = [
  {
    src: join(root, "src", "cni", "shim", "whereabouts-shim.c"),
    bin: join(out, "bin", "whereabouts"),
    flags: [
      `-DWB_NODE="${process.execPath}"`,
      `-DWB_PLUGIN_JS="${resolve(out, "src", "cni", "whereabouts.js")}"`,
    ],
    libs: [],
  },
  {
    src: join(root, "src", "dataplane", "nft", "helper", "nft-helper.c"),
    bin: join(out, "bin", "nft-helper"),
    flags: [],
    libs: ["-ldl"],
  },
];

let failed = false;
for (const t of targets) {
  mkdirSync(dirname(t.bin), { recursive: true });
  const r = spawnSync(cc, [...common, ...t.flags, "-o", t.bin, t.src, ...t.libs], { stdio: "inherit" });
  if (r.error || r.status !== 0) {
    const why = r.error ? r.error.message : `${cc} exited with ${r.status}`;
    console.error(`build-native: cannot compile ${t.src}: ${why}`);
    failed = true;
  } else console.log(`build-native: ${t.bin}`);
}
if (failed && !optional) process.exit(1);
