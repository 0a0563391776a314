// Process entry of the whereabouts CNI plugin: reads CNI_* from the environment and the config from
// stdin, runs the skeleton with the Whereabouts plugin and writes the result. Kept to a tiny import
// graph (no logger, no Kubernetes client library) because runtimes start one process per CNI call.
// The compiled shim (src/cni/shim/whereabouts-shim.c) execs this file when no daemon answers.
import { flatFileLoader } from "../ipam/flat-file.js";
import { openConfiguredStore, whereaboutsPlugin } from "../ipam/plugin.js";
import { runPlugin } from "./skel.js";

/** Reads stdin as a stream: runtimes hand over pipes or socketpairs, where a synchronous read can see
 *  "no data yet" and mistake it for an empty config. */
async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) return "";
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

const out = await runPlugin(
  process.env,
  await readStdin(),
  whereaboutsPlugin(openConfiguredStore, flatFileLoader(process.env)),
);
if (out.stdout !== "") process.stdout.write(out.stdout);
process.exitCode = out.exitCode;
