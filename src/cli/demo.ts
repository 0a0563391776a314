// `egress demo`: the API server with every seed example applied — the project's main job until the
// lab cluster (nodes, pods, real packets) arrives. Runs until SIGINT/SIGTERM; data stays in --data-dir.
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as k8s from "@kubernetes/client-node";
import type { Command } from "commander";
import { startApiServer } from "../apiserver/server.js";
import { applyManifests, parseManifests } from "./apply.js";

function repoRoot(): string {
  for (let d = dirname(fileURLToPath(import.meta.url)); d !== dirname(d); d = dirname(d)) {
    if (existsSync(join(d, "package.json"))) return d;
  }
  return process.cwd();
}

/** Namespaces the seeds use that a user would have created (OpenShift projects). */
const USER_NAMESPACES = ["example-namespace", "test-namespace"];

export function registerDemoCommand(program: Command): void {
  program
    .command("demo")
    .description("run the API server with the seed examples applied")
    .option("--data-dir <dir>", "data directory", join(repoRoot(), ".lab", "demo"))
    .option("--listen <host:port>", "address to serve HTTPS on", "127.0.0.1:6443")
    .option("--examples <dir>", "directory of example manifests", join(repoRoot(), "examples", "seed"))
    .action(async (o: { dataDir: string; listen: string; examples: string }) => {
      const srv = await startApiServer({ dataDir: resolve(o.dataDir), listen: o.listen });
      const kc = new k8s.KubeConfig();
      kc.loadFromFile(srv.kubeconfigPath);
      const ns = USER_NAMESPACES.map((name) => ({ apiVersion: "v1", kind: "Namespace", metadata: { name } }));
      for (const line of await applyManifests(kc, ns)) process.stdout.write(`${line}\n`);
      const files = (await readdir(o.examples)).filter((f) => /\.(ya?ml|json)$/.test(f)).sort();
      for (const f of files) {
        const path = join(o.examples, f);
        for (const line of await applyManifests(kc, parseManifests(await readFile(path, "utf8"), path))) {
          process.stdout.write(`${f}: ${line}\n`);
        }
      }
      process.stdout.write(
        `\negress API server: ${srv.url}\nTry: kubectl --kubeconfig ${srv.kubeconfigPath} get egressip,netnamespaces,pods -A\nCtrl-C stops it.\n`,
      );
      const stop = () => void srv.close().then(() => process.exit(0));
      process.on("SIGINT", stop);
      process.on("SIGTERM", stop);
    });
}
