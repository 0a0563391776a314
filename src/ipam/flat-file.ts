// Reads the Whereabouts flat file (`whereabouts.conf`) for a plugin call: `ipam.configuration_path`,
// else $WHEREABOUTS_FLATFILE of the call's environment (tests, non-standard hosts), else upstream's
// default paths. Shared by the plugin process and the resident daemon, which passes each request's
// environment. Only reads files; decides nothing about addresses.
import { readFileSync } from "node:fs";
import { ConfigError, FLAT_FILE_PATHS } from "./config.js";
import type { FlatFileLoader } from "./plugin.js";

/** A missing default file is normal; a named one that is missing or not JSON is a configuration
 *  error (CNI 7 naming `ipam.configuration_path`). */
export function flatFileLoader(env: Record<string, string | undefined>): FlatFileLoader {
  return (configurationPath) => {
    const named = configurationPath || env.WHEREABOUTS_FLATFILE || undefined;
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
}
