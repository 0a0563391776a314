// PLACEHOLDER (lead): compilePolicyProgram's signature, so the agent can be wired while the compiler
// is written. Replaced by the policy compiler.
import { POLICY_TABLE, type PolicyProgram, type PolicyView } from "./types.js";

export function compilePolicyProgram(_view: PolicyView): PolicyProgram {
  const T = `${POLICY_TABLE.family} ${POLICY_TABLE.name}`;
  return {
    table: POLICY_TABLE,
    nft: `table ${T} {}\ndelete table ${T}\ntable ${T} {\n}\n`,
    warnings: [],
    stats: {},
  };
}
