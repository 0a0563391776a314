// Stand-alone entry for the lab subcommands (tests spawn it; the real CLI is src/cli/main.ts).
import { Command } from "commander";
import { registerLabCommands } from "./cli.js";

const program = new Command("egress");
program.exitOverride((err) => {
  process.exit(err.exitCode === 0 ? 0 : 1);
});
registerLabCommands(program);
program.parseAsync(process.argv).catch((e: unknown) => {
  process.stderr.write(`egress: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
