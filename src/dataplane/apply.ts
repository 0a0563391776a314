// Applies a compiled NodeProgram through the two execers, in the order that keeps traffic sane:
// sysctls, then the nftables table (one atomic `nft -f` transaction), then `ip` (deletes first,
// announcements last). The agent may sequence these itself; this is the plain whole-program path
// used by the e2e tests and the benchmark. No rendering here.
import type { NodeProgram } from "./compile/types.js";
import type { IpExecer } from "./ip/execer.js";
import { applySysctls, type IpSyncOptions, type IpSyncResult, reconcileIp } from "./ip/reconciler.js";
import type { NftExecer } from "./nft/execer.js";

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
  await ex.nft.apply(program.nft);
  return reconcileIp(ex.ip, program.ip, opts);
}
