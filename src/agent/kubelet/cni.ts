// Runs CNI plugins as a container runtime does (CNI spec 1.0.0: env + config on stdin, result or
// error JSON on stdout). The cluster network is the reference `bridge` plugin with `host-local` IPAM
// over the node's HostSubnet, both from Debian's containernetworking-plugins.
import { run } from "../exec.js";

export const DEFAULT_CNI_BIN_DIR = "/usr/lib/cni";

export class CniError extends Error {
  override name = "CniError";
  constructor(
    readonly command: string,
    readonly code: number | undefined,
    message: string,
  ) {
    super(`CNI ${command} failed${code !== undefined ? ` (code ${code})` : ""}: ${message}`);
  }
}

export interface CniInvocation {
  command: "ADD" | "DEL" | "CHECK";
  containerId: string;
  netns: string;
  ifname: string;
  args?: Record<string, string>;
  binDirs: string[];
  config: Record<string, unknown>;
}

export interface CniResult {
  interfaces?: { name: string; mac?: string; sandbox?: string }[];
  ips?: { address: string; gateway?: string; interface?: number }[];
  routes?: { dst: string; gw?: string }[];
  dns?: Record<string, unknown>;
}

export async function invokeCni(inv: CniInvocation): Promise<CniResult> {
  const type = inv.config.type;
  if (typeof type !== "string") throw new CniError(inv.command, 7, "network config has no plugin type");
  const binDir = inv.binDirs[0] ?? DEFAULT_CNI_BIN_DIR;
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    CNI_COMMAND: inv.command,
    CNI_CONTAINERID: inv.containerId,
    CNI_NETNS: inv.netns,
    CNI_IFNAME: inv.ifname,
    CNI_PATH: inv.binDirs.join(":"),
    CNI_ARGS: Object.entries({ IgnoreUnknown: "1", ...inv.args })
      .map(([k, v]) => `${k}=${v}`)
      .join(";"),
  };
  const r = await run(`${binDir}/${type}`, [], {
    input: JSON.stringify(inv.config),
    env,
    allowFailure: true,
  });
  if (r.code !== 0) {
    let msg = r.stderr.trim() || r.stdout.trim();
    let code: number | undefined;
    try {
      const e = JSON.parse(r.stdout) as { code?: number; msg?: string; details?: string };
      code = e.code;
      msg = [e.msg, e.details].filter(Boolean).join(": ");
    } catch {
      // not JSON
    }
    throw new CniError(inv.command, code, msg);
  }
  return r.stdout.trim() ? (JSON.parse(r.stdout) as CniResult) : {};
}

/** The cluster network's CNI config for a node: bridge `cbr0`, gateway = first address of the subnet. */
export function clusterNetworkConfig(
  subnet: string,
  dataDir: string,
  bridge = "cbr0",
): Record<string, unknown> {
  return {
    cniVersion: "1.0.0",
    name: "egress-cluster",
    type: "bridge",
    bridge,
    isGateway: true,
    isDefaultGateway: true,
    ipMasq: false,
    hairpinMode: true,
    ipam: { type: "host-local", ranges: [[{ subnet }]], dataDir },
  };
}
