// Starts an `egress server` for a test: in-process (fast) or as a child process (crash tests),
// in a fresh temporary data directory that is removed afterwards.
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type ApiServer, startApiServer } from "../../../src/apiserver/server.js";

export interface TestServer extends ApiServer {
  dataDir: string;
  stop(): Promise<void>;
}

export async function startTestServer(): Promise<TestServer> {
  const dataDir = await mkdtemp(join(tmpdir(), "egress-test-"));
  const srv = await startApiServer({ dataDir, listen: "127.0.0.1:0" });
  return {
    ...srv,
    dataDir,
    async stop() {
      await srv.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** The repository root (this file is dist/test/e2e/support/server.js or test/e2e/support/server.ts). */
export const REPO_ROOT = findRoot(dirname(fileURLToPath(import.meta.url)));
function findRoot(dir: string): string {
  for (let d = dir; d !== dirname(d); d = dirname(d)) if (existsSync(join(d, "package.json"))) return d;
  throw new Error(`no package.json above ${dir}`);
}
/** The seed examples, vendored unchanged in the repository (examples/seed/README.md). */
export const EXAMPLES_DIR = join(REPO_ROOT, "examples", "seed");
