// A minimal `egress` program with only the `adm` commands, for tests that spawn the CLI before
// the lead wires registerAdmCommands into main.ts (and as a fast entry: it loads no server code).
import { Command } from "commander";
import { registerAdmCommands } from "./adm.js";

const program = new Command();
program.name("egress").showHelpAfterError();
registerAdmCommands(program);
program.parseAsync(process.argv).catch((e: unknown) => {
  process.stderr.write(`egress: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
