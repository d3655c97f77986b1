import { Command, CommanderError, Option } from 'commander';
import { registerAgents } from './commands/agents.js';
import { registerApprovals } from './commands/approvals.js';
import { registerAudit } from './commands/audit.js';
import { registerAuth } from './commands/auth.js';
import { registerBootstrap } from './commands/bootstrap.js';
import { registerCatalog } from './commands/catalog.js';
import { registerChats } from './commands/chats.js';
import { registerCompletion } from './commands/completion.js';
import { registerConfig } from './commands/config.js';
import { registerExec } from './commands/exec.js';
import { registerKeys } from './commands/keys.js';
import { registerWorkspaces } from './commands/workspaces.js';
import { CliError, EXIT } from './exit-codes.js';
import { createKit, type Kit } from './kit.js';
import { FORMATS } from './output/render.js';
import type { CliDeps } from './runtime.js';

/** Every group in the order `--help` lists them. */
const GROUPS = [
  registerConfig,
  registerAuth,
  registerAgents,
  registerKeys,
  registerWorkspaces,
  registerExec,
  registerApprovals,
  registerAudit,
  registerCatalog,
  registerChats,
  registerCompletion,
  registerBootstrap,
];

/** The whole command tree, built and not run: `runCli` runs it, completion and docs read it. */
export function buildProgram(deps: CliDeps): { program: Command; kit: Kit } {
  const kit = createKit(deps);
  const program = new Command('xeroctl')
    .description("Xerotier's operator CLI: agents, keys, workspaces, tool calls and approvals, audit, chats")
    .version(deps.version, '-v, --version')
    .addOption(new Option('--context <name>', 'the context to use (XEROCTL_CONTEXT; default: the current one)'))
    .addOption(new Option('--url <url>', "the router's URL, over the context's (XEROCTL_URL)"))
    .addOption(new Option('--project <id>', 'the project (id or slug), over the context (XEROCTL_PROJECT)'))
    .addOption(new Option('-o, --output <format>', 'how to print answers').choices(FORMATS).default('table'))
    .addOption(
      new Option('--config <path>', 'the config file (XEROCTL_CONFIG; default ~/.config/xerotier/config.yaml)'),
    )
    .option('--no-color', 'no colour (also when stdout is not a terminal, or NO_COLOR is set)')
    .showSuggestionAfterError()
    .exitOverride()
    .configureOutput({
      writeOut: (text) => deps.terminal.out(text),
      writeErr: (text) => deps.terminal.err(text),
    });
  program.addHelpText(
    'after',
    '\nExit codes: 0 ok, 1 error, 2 usage, 3 auth, 4 not found, 5 timed out, 6 ended unsuccessfully (docs/xeroctl.md).\n',
  );
  for (const register of GROUPS) register(program, kit);
  return { program, kit };
}

/** Help and version end 0; every other parse problem is a usage error, 2. */
function commanderExit(error: CommanderError): number {
  return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
}

/** Runs one command line (`argv` without node and the script) and says how it ended. */
export async function runCli(argv: readonly string[], deps: CliDeps): Promise<number> {
  const { program } = buildProgram(deps);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) return commanderExit(error);
    if (error instanceof CliError) {
      if (error.message) deps.terminal.err(`error: ${error.message}\n`);
      return error.exitCode;
    }
    if (deps.interrupted.aborted) return EXIT.interrupted;
    deps.terminal.err(`error: ${(error as Error).message}\n`);
    return EXIT.error;
  }
}
