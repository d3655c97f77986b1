import { Option, type Command } from 'commander';
import { CliError, EXIT } from './exit-codes.js';
import { Run, type CliDeps } from './runtime.js';

/** What every command module gets: the run's dependencies, examples for help, and actions. */
export interface Kit {
  readonly deps: CliDeps;
  /** Examples shown under `--help` and in docs/xeroctl.md. */
  examples(command: Command, ...lines: string[]): Command;
  examplesOf(command: Command): readonly string[];
  /** The command's action, given its run, its options and its arguments; it throws CliError to fail. */
  act<O = Record<string, string | boolean | undefined>>(
    command: Command,
    action: (run: Run, options: O, ...args: string[]) => Promise<void>,
  ): Command;
}

export function createKit(deps: CliDeps): Kit {
  const examples = new Map<Command, readonly string[]>();
  return {
    deps,
    examples(command, ...lines) {
      examples.set(command, lines);
      return command.addHelpText('after', `\nExamples:\n${lines.map((line) => `  $ ${line}`).join('\n')}\n`);
    },
    examplesOf: (command) => examples.get(command) ?? [],
    act(command, action) {
      return command.action(async (...params: unknown[]) => {
        const own = params[params.length - 1] as Command;
        const options = params[params.length - 2] as never;
        await action(Run.of(deps, own), options, ...(params.slice(0, -2) as string[]));
      });
    },
  };
}

/** `--limit` and `--after` of every list (the router's cursor pages). */
export function pageOptions(command: Command): Command {
  return command
    .addOption(new Option('--limit <n>', 'how many to show (1–100)').argParser(integerIn(1, 100)))
    .option('--after <id>', 'the page after this id (the hint under a long list says it)');
}

export function integerIn(min: number, max: number) {
  return (value: string): number => {
    const number = Number(value);
    if (!Number.isInteger(number) || number < min || number > max)
      throw new CliError(`"${value}" is not a whole number from ${min} to ${max}`, EXIT.usage, 'usage');
    return number;
  };
}

/** A duration like `90s`, `15m`, `2h` or plain seconds, in milliseconds. */
export function duration(value: string): number {
  const match = /^(\d+)(ms|s|m|h)?$/.exec(value.trim());
  if (!match) throw new CliError(`"${value}" is not a duration (e.g. 90s, 15m, 2h)`, EXIT.usage, 'usage');
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[(match[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  return Number(match[1]) * unit;
}

/** Options given as `--flag a,b` or repeated. */
export const collect = (value: string, previous: string[] = []) => [
  ...previous,
  ...value
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean),
];
