#!/usr/bin/env node
// Compiles the long-lived nftables executor (src/dataplane/nft/helper/nft-helper.c) with the system C
// compiler into <out>/bin/nft-helper (default out: dist), where src/dataplane/nft/persistent.js looks
// for it. No libnftables headers are needed: the helper dlopen()s libnftables.so.1 at run time.
//   node scripts/build-nft-helper.mjs [--out DIR] [--optional]
// --optional: a missing compiler is a warning (the agent then spawns `nft` per change), not an error.
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const argv = process.argv.slice(2);
const outIdx = argv.indexOf("--out");
const out = outIdx >= 0 ? argv[outIdx + 1] : join(root, "dist");
if (!out) {
  console.error("build-nft-helper: --out needs a directory");
  process.exit(2);
}
const optional = argv.includes("--optional");
const src = join(root, "src", "dataplane", "nft", "helper", "nft-helper.c");
const bin = join(out, "bin", "nft-helper");
mkdirSync(dirname(bin), { recursive: true });
const cc = process.env.CC || "cc";
const args = ["-O2", "-Wall", "-Wextra", "-std=c11", "-D_GNU_SOURCE", "-o", bin, src, "-ldl"];
const r = spawnSync(cc, args, { stdio: "inherit" });
if (r.error || r.status !== 0) {
  const why = r.error ? r.error.message : `${cc} exited with ${r.status}`;
  console.error(`build-nft-helper: cannot compile ${src}: ${why}`);
  process.exit(optional ? 0 : 1);
}
console.log(`build-nft-helper: ${bin}`);
