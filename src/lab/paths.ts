// Where the lab finds its programs and files: the compiled CLI and echo server beside this module
// (so it works from dist/ and from a private build dir), the repository root (default topology,
// default state dirs), and the seed examples beside the repository.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

/** Compiled `egress` CLI entry (…/src/cli/main.js). */
export const CLI_MAIN = join(here, "..", "cli", "main.js");
/** Compiled whereabouts CNI plugin entry (…/src/cni/whereabouts.js), run by the lab's shim. */
export const WHEREABOUTS_PLUGIN = join(here, "..", "cni", "whereabouts.js");
/** Compiled echo server (…/src/lab/echo-server.js). */
export const ECHO_SERVER = join(here, "echo-server.js");

function findRoot(dir: string): string {
  for (let d = dir; d !== dirname(d); d = dirname(d)) if (existsSync(join(d, "package.json"))) return d;
  return process.cwd();
}
export const REPO_ROOT = findRoot(here);
export const DEFAULT_TOPOLOGY = join(REPO_ROOT, "lab", "topology.yaml");
/** The seed examples, vendored unchanged from the seeds (examples/seed/README.md). */
export const EXAMPLES_DIR = join(REPO_ROOT, "examples", "seed");
export const defaultStateDir = (id: string): string => join(REPO_ROOT, ".lab", id);
