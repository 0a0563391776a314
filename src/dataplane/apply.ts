// Applies a compiled NodeProgram through the two execers, in the order that keeps traffic sane:
// sysctls, then the nftables table (one `nft -f` transaction writing a new generation of its sets,
// maps and chains: nft/generations.ts), then `ip` (deletes first, announcements last). The agent may
// sequence these itself; this is the plain whole-program path used by the e2e tests and the
// benchmark. Stateless: the table's generation is read back from the kernel on every call. No
// rendering here.
import { TABLE_FAMILY, TABLE_NAME } from "./compile/node-program.js";
import type { NodeProgram } from "./compile/types.js";
import type { IpExecer } from "./ip/execer.js";
import { applySysctls, type IpSyncOptions, type IpSyncResult, reconcileIp } from "./ip/reconciler.js";
import type { NftExecer } from "./nft/execer.js";
import { GenerationalTable } from "./nft/generations.js";

export interface NodeExecers {
  nft: NftExecer;
  ip: IpExecer;
}

export async function applyNodeProgram(
  ex: NodeExecers,
  program: NodeProgram,
  opts: IpSyncOptions = {},
): Promise<IpSyncResult> {
  await applySysctls(ex.ip, program.sysctls);
  await new GenerationalTable(ex.nft, TABLE_FAMILY, TABLE_NAME).replace(program.nft);
  return reconcileIp(ex.ip, program.ip, opts);
}
