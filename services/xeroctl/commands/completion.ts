import { Argument, type Command } from 'commander';
import { usageError } from '../exit-codes.js';
import type { Kit } from '../kit.js';
import { completionScript, SHELLS, type Shell } from '../completion/scripts.js';

export function registerCompletion(program: Command, kit: Kit): void {
  const completion = program
    .command('completion')
    .description('print a shell completion script (commands, subcommands and options, from this build)')
    .addArgument(new Argument('<shell>', 'the shell').choices(SHELLS));
  kit.examples(
    completion,
    'source <(xeroctl completion bash)',
    'xeroctl completion zsh > "${fpath[1]}/_xeroctl"',
    'xeroctl completion fish > ~/.config/fish/completions/xeroctl.fish',
  );
  kit.act(completion, async (run, _options, shell) => {
    if (!SHELLS.includes(shell as Shell)) throw usageError(`no completion for ${shell}`);
    let root: Command = program;
    while (root.parent) root = root.parent;
    run.out(completionScript(root, shell as Shell));
  });
}
