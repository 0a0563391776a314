// Process entry of the whereabouts CNI plugin: reads CNI_* from the environment and the config from
// stdin, runs the skeleton with the Whereabouts plugin and writes the result. Kept to a tiny import
// graph (no logger, no Kubernetes client library) because runtimes start one process per CNI call.
import { readFileSync } from "node:fs";
import { ConfigError, FLAT_FILE_PATHS } from "../ipam/config.js";
import { type FlatFileLoader, openConfiguredStore, whereaboutsPlugin } from "../ipam/plugin.js";
import { runPlugin } from "./skel.js";

/** Reads stdin as a stream: runtimes hand over pipes or socketpairs, where a synchronous read can see
 *  "no data yet" and mistake it for an empty config. */
async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) return "";
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** The flat file: `ipam.configuration_path`, else $WHEREABOUTS_FLATFILE (tests, non-standard hosts),
 *  else upstream's default paths. A missing default file is normal; a named one that is missing or
 *  not JSON is a configuration error. */
const loadFlatFile: FlatFileLoader = (configurationPath) => {
  const named = configurationPath || process.env.WHEREABOUTS_FLATFILE || undefined;
  for (const path of named ? [named] : FLAT_FILE_PATHS) {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (e) {
      if (named)
        throw new ConfigError("ipam.configuration_path", path, `cannot read: ${(e as Error).message}`);
      continue;
    }
    try {
      return { doc: JSON.parse(text) as unknown, source: path };
    } catch (e) {
      throw new ConfigError("ipam.configuration_path", path, `not valid JSON: ${(e as Error).message}`);
    }
  }
  return undefined;
};

const out = await runPlugin(
  process.env,
  await readStdin(),
  whereaboutsPlugin(openConfiguredStore, loadFlatFile),
);
if (out.stdout !== "") process.stdout.write(out.stdout);
process.exitCode = out.exitCode;
