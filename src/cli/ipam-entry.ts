// A minimal `egress` program with only the `ipam` commands: for tests, and the light entry the agent
// starts `egress ipam daemon` through (main.js loads every command and takes longer to start).
import { Command } from "commander";
import { registerIpamCommands } from "./ipam.js";

const program = new Command();
program.name("egress").showHelpAfterError();
registerIpamCommands(program);
program.parseAsync(process.argv).catch((e: unknown) => {
  process.stderr.write(`egress: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
