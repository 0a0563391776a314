// The vendored seed examples (examples/seed) must stay byte-identical to the seeds' own files
// (../shared/examples beside the repository) whenever those are present.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { EXAMPLES_DIR, REPO_ROOT } from "./paths.js";

const SEEDS = join(REPO_ROOT, "..", "shared", "examples");

test("vendored seed examples equal the seeds' files", {
  skip: !existsSync(SEEDS) && "no seeds beside the repository",
}, () => {
  const manifests = readdirSync(SEEDS).filter((f) => /\.(ya?ml|json)$/.test(f));
  assert.ok(manifests.length >= 8, `expected the seed manifests in ${SEEDS}`);
  for (const f of manifests) {
    assert.ok(existsSync(join(EXAMPLES_DIR, f)), `${f} missing from ${EXAMPLES_DIR}`);
    assert.equal(readFileSync(join(EXAMPLES_DIR, f), "utf8"), readFileSync(join(SEEDS, f), "utf8"), f);
  }
});
