// The CNI plugin skeleton: validates the CNI_* environment and the stdin config the way libcni's skel
// does, dispatches ADD/DEL/CHECK/GC/STATUS/VERSION to a plugin, and turns outcomes into the spec's
// stdout JSON and exit code. Pure with respect to the process: it takes env and stdin as values and
// returns stdout and the exit code; the entry point does the actual I/O.
import { CniCode, CniError } from "./errors.js";
import { compareVersions, LATEST_VERSION, requireSupported, SUPPORTED_VERSIONS } from "./version.js";

export type Command = "ADD" | "DEL" | "CHECK" | "GC" | "STATUS" | "VERSION";

export interface CmdArgs {
  command: Command;
  containerID: string;
  netns: string;
  ifName: string;
  /** CNI_ARGS decoded (`K=V;K=V`). */
  args: Map<string, string>;
  path: string[];
  /** The decoded stdin config. */
  config: Record<string, unknown>;
  cniVersion: string;
}

export interface Plugin {
  /** CNI_ARGS keys the plugin understands (others fail unless IgnoreUnknown is set). */
  knownArgs: readonly string[];
  add(a: CmdArgs): Promise<Record<string, unknown>>;
  del(a: CmdArgs): Promise<void>;
  check(a: CmdArgs): Promise<void>;
  gc(a: CmdArgs): Promise<void>;
  status(a: CmdArgs): Promise<void>;
  /** Maps errors the plugin throws (other than CniError) to a CniError; default is code 999. */
  toCniError?(e: unknown): CniError | undefined;
}

const COMMANDS: readonly Command[] = ["ADD", "DEL", "CHECK", "GC", "STATUS", "VERSION"];

/** Parses CNI_ARGS (`K=V;K=V`); unknown keys are an error unless IgnoreUnknown is 1/true. */
export function parseCniArgs(text: string, known: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  if (text === "") return out;
  for (const pair of text.split(";")) {
    if (pair === "") continue;
    const eq = pair.indexOf("=");
    if (eq <= 0)
      throw new CniError(
        CniCode.InvalidEnvironment,
        "invalid CNI_ARGS",
        `pair ${JSON.stringify(pair)} is not K=V`,
      );
    out.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  const ignore = (out.get("IgnoreUnknown") ?? "").toLowerCase();
  if (ignore !== "1" && ignore !== "true") {
    const unknown = [...out.keys()].filter((k) => k !== "IgnoreUnknown" && !known.includes(k));
    if (unknown.length > 0) {
      throw new CniError(
        CniCode.InvalidEnvironment,
        "invalid CNI_ARGS",
        `unknown args ${JSON.stringify(unknown)}`,
      );
    }
  }
  return out;
}

const CONTAINER_ID = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** libcni ValidateInterfaceName: 1..15 bytes, not "." or "..", no "/", ":" or whitespace. */
export function interfaceNameProblem(name: string): string | undefined {
  if (name === "") return "is empty";
  if (Buffer.byteLength(name) > 15) return "is longer than 15 bytes";
  if (name === "." || name === "..") return "is . or ..";
  if (/[/:\s]/.test(name)) return "contains /, : or whitespace";
  return undefined;
}

export interface Outcome {
  stdout: string;
  exitCode: number;
}

function errorOutcome(e: CniError, cniVersion: string): Outcome {
  return { stdout: `${JSON.stringify(e.toJSON(cniVersion || LATEST_VERSION))}\n`, exitCode: 1 };
}

/** Runs one plugin invocation. Never throws. */
export async function runPlugin(
  env: Record<string, string | undefined>,
  stdin: string,
  plugin: Plugin,
): Promise<Outcome> {
  let cniVersion = "";
  try {
    const cmd = env.CNI_COMMAND ?? "";
    if (!(COMMANDS as readonly string[]).includes(cmd)) {
      throw new CniError(
        CniCode.InvalidEnvironment,
        cmd === "" ? "required env variables [CNI_COMMAND] missing" : `unknown CNI_COMMAND: ${cmd}`,
      );
    }
    const command = cmd as Command;
    let config: Record<string, unknown> = {};
    if (stdin.trim() !== "" || command !== "VERSION") {
      let decoded: unknown;
      try {
        decoded = JSON.parse(stdin);
      } catch (e) {
        throw new CniError(
          CniCode.DecodeFailure,
          "failed to decode network configuration",
          (e as Error).message,
        );
      }
      if (typeof decoded !== "object" || decoded === null || Array.isArray(decoded)) {
        throw new CniError(
          CniCode.DecodeFailure,
          "failed to decode network configuration",
          "not a JSON object",
        );
      }
      config = decoded as Record<string, unknown>;
      const v = config.cniVersion;
      if (v !== undefined && typeof v !== "string") {
        throw new CniError(
          CniCode.DecodeFailure,
          "failed to decode network configuration",
          "cniVersion must be a string",
        );
      }
      cniVersion = v ?? "";
    }
    if (command === "VERSION") {
      return {
        stdout: `${JSON.stringify({ cniVersion: LATEST_VERSION, supportedVersions: SUPPORTED_VERSIONS })}\n`,
        exitCode: 0,
      };
    }
    requireSupported(cniVersion);
    if (command === "CHECK" && compareVersions(cniVersion, "0.4.0") < 0) {
      throw new CniError(CniCode.IncompatibleVersion, "config version does not allow CHECK", cniVersion);
    }
    if ((command === "GC" || command === "STATUS") && compareVersions(cniVersion, "1.1.0") < 0) {
      throw new CniError(CniCode.IncompatibleVersion, `config version does not allow ${command}`, cniVersion);
    }
    // Required variables per command, as libcni's skel.
    const needs: Record<string, readonly Command[]> = {
      CNI_CONTAINERID: ["ADD", "DEL", "CHECK"],
      CNI_NETNS: ["ADD", "CHECK"],
      CNI_IFNAME: ["ADD", "DEL", "CHECK"],
      CNI_PATH: ["ADD", "DEL", "CHECK", "GC", "STATUS"],
    };
    const missing = Object.entries(needs)
      .filter(([k, cmds]) => cmds.includes(command) && (env[k] ?? "") === "")
      .map(([k]) => k);
    if (missing.length > 0) {
      throw new CniError(CniCode.InvalidEnvironment, `required env variables [${missing.join(",")}] missing`);
    }
    const containerID = env.CNI_CONTAINERID ?? "";
    if (containerID !== "" && !CONTAINER_ID.test(containerID)) {
      throw new CniError(CniCode.InvalidEnvironment, "invalid characters in containerID", containerID);
    }
    const ifName = env.CNI_IFNAME ?? "";
    const ifProblem = ifName === "" ? undefined : interfaceNameProblem(ifName);
    if (ifProblem) throw new CniError(CniCode.InvalidEnvironment, `interface name ${ifProblem}`, ifName);
    const a: CmdArgs = {
      command,
      containerID,
      netns: env.CNI_NETNS ?? "",
      ifName,
      args: parseCniArgs(env.CNI_ARGS ?? "", plugin.knownArgs),
      path: (env.CNI_PATH ?? "").split(":").filter((p) => p !== ""),
      config,
      cniVersion,
    };
    switch (command) {
      case "ADD":
        return { stdout: `${JSON.stringify(await plugin.add(a))}\n`, exitCode: 0 };
      case "DEL":
        await plugin.del(a);
        return { stdout: "", exitCode: 0 };
      case "CHECK":
        await plugin.check(a);
        return { stdout: "", exitCode: 0 };
      case "GC":
        await plugin.gc(a);
        return { stdout: "", exitCode: 0 };
      case "STATUS":
        await plugin.status(a);
        return { stdout: "", exitCode: 0 };
    }
  } catch (e) {
    if (e instanceof CniError) return errorOutcome(e, cniVersion);
    const mapped = plugin.toCniError?.(e);
    if (mapped) return errorOutcome(mapped, cniVersion);
    return errorOutcome(new CniError(CniCode.Other, e instanceof Error ? e.message : String(e)), cniVersion);
  }
}
