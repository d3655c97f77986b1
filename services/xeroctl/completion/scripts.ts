import type { Command, Option } from 'commander';

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

interface Node {
  /** Space separated path from the root ('' for xeroctl itself). */
  readonly path: string;
  readonly command: Command;
}

/** Every command of the tree with its path, depth first. */
function walk(command: Command, path = ''): Node[] {
  return [
    { path, command },
    ...command.commands.flatMap((sub) => walk(sub, path ? `${path} ${sub.name()}` : sub.name())),
  ];
}

const flagsOf = (options: readonly Option[]) =>
  options.flatMap((option) => [option.long, option.short].filter((flag): flag is string => Boolean(flag)));
const valued = (options: readonly Option[]) => options.filter((option) => option.required || option.optional);
const quote = (text: string) => text.replace(/'/g, `'\\''`);

/**
 * Bash: walks the typed words along the tree (skipping options and their values), then offers
 * the subcommands, or the options, of the command reached; `-o` offers the formats.
 */
function bash(program: Command): string {
  const nodes = walk(program);
  const globals = program.options;
  const cases = (pick: (node: Node) => string[]) =>
    nodes.map((node) => `    '${node.path}') echo '${quote(pick(node).join(' '))}' ;;`).join('\n');
  const valuedFlags = [...new Set(nodes.flatMap((node) => flagsOf(valued(node.command.options))))];
  const choices = (program.options.find((option) => option.long === '--output')?.argChoices ?? []).join(' ');
  return `# xeroctl completion for bash (generated from the command tree: xeroctl completion bash)
__xeroctl_subcommands() {
  case "$1" in
${cases((node) => node.command.commands.map((sub) => sub.name()))}
  esac
}
__xeroctl_options() {
  case "$1" in
${cases((node) => [...flagsOf(node.command.options), ...(node.path ? flagsOf(globals) : []), '--help'])}
  esac
}
_xeroctl() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" path="" word i skip=0
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="\${COMP_WORDS[i]}"
    if ((skip)); then skip=0; continue; fi
    case " ${valuedFlags.join(' ')} " in *" $word "*) skip=1; continue ;; esac
    [[ "$word" == -* ]] && continue
    case " $(__xeroctl_subcommands "$path") " in
      *" $word "*) path="\${path:+$path }$word" ;;
    esac
  done
  case "$prev" in
    -o|--output) COMPREPLY=($(compgen -W '${choices}' -- "$cur")); return ;;
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$(__xeroctl_options "$path")" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$(__xeroctl_subcommands "$path")" -- "$cur"))
  fi
}
complete -o default -F _xeroctl xeroctl
`;
}

/** Zsh runs the bash function through its bashcompinit layer (shipped with zsh). */
function zsh(program: Command): string {
  return `#compdef xeroctl
# xeroctl completion for zsh (generated: xeroctl completion zsh)
autoload -U +X bashcompinit && bashcompinit
${bash(program).split('\n').slice(1).join('\n')}`;
}

/** Fish: one `complete` line per subcommand and option, gated on the path typed so far. */
function fish(program: Command): string {
  const lines = ['# xeroctl completion for fish (generated: xeroctl completion fish)', 'complete -c xeroctl -f'];
  for (const node of walk(program)) {
    const words = node.path ? node.path.split(' ') : [];
    const condition = words.length
      ? `${words.map((word) => `__fish_seen_subcommand_from ${word}`).join('; and ')}`
      : '__fish_use_subcommand';
    for (const sub of node.command.commands)
      lines.push(
        `complete -c xeroctl -n '${condition}' -a '${sub.name()}' -d '${quote(sub.description().slice(0, 80))}'`,
      );
    if (!node.path) continue;
    for (const option of node.command.options)
      if (option.long)
        lines.push(
          `complete -c xeroctl -n '${condition}' -l '${option.long.slice(2)}'${option.required || option.optional ? ' -r' : ''} -d '${quote(option.description.slice(0, 80))}'`,
        );
  }
  for (const option of program.options)
    if (option.long)
      lines.push(
        `complete -c xeroctl -l '${option.long.slice(2)}'${option.required || option.optional ? ' -r' : ''} -d '${quote(option.description.slice(0, 80))}'`,
      );
  lines.push(
    `complete -c xeroctl -n '__fish_seen_argument -s o -l output' -a '${(program.options.find((o) => o.long === '--output')?.argChoices ?? []).join(' ')}'`,
  );
  return `${lines.join('\n')}\n`;
}

export function completionScript(program: Command, shell: Shell): string {
  return shell === 'bash' ? bash(program) : shell === 'zsh' ? zsh(program) : fish(program);
}
