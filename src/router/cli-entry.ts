// Stand-alone entry for the router subcommands (tests spawn it; the real CLI is src/cli/main.ts).
import { Command } from "commander";
import { registerRouterCommands } from "./cli.js";

const program = new Command("egress");
program.exitOverride((err) => {
  process.exit(err.exitCode === 0 ? 0 : 1);
});
registerRouterCommands(program);
await program.parseAsync(process.argv);
