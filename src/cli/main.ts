// The `egress` command line. Each subcommand lives in its own module; this file only wires them.
import { Command } from "commander";
import { registerLabCommands } from "../lab/cli.js";
import { registerRouterCommands } from "../router/cli.js";
import { registerAdmCommands } from "./adm.js";
import { registerAgentCommand } from "./agent.js";
import { registerApplyCommand } from "./apply.js";
import { registerControllersCommand } from "./controllers.js";
import { registerDemoCommand } from "./demo.js";
import { registerIpamCommands } from "./ipam.js";
import { registerServerCommand } from "./server.js";
import { registerTraceCommand } from "./trace.js";

const program = new Command();
program
  .name("egress")
  .description("OpenShift-style cluster egress networking: API server, controllers, node agent, lab")
  .showHelpAfterError()
  .configureOutput({ outputError: (s, write) => write(s) });

registerServerCommand(program);
registerDemoCommand(program);
registerApplyCommand(program);
registerAgentCommand(program);
registerAdmCommands(program);
registerIpamCommands(program);
registerControllersCommand(program);
registerRouterCommands(program);
registerTraceCommand(program);
registerLabCommands(program);

program.parseAsync(process.argv).catch((e: unknown) => {
  process.stderr.write(`egress: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
