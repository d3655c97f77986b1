import type { Command, Option } from 'commander';
import { EXIT_MEANINGS } from './exit-codes.js';
import type { Kit } from './kit.js';

const path = (command: Command): string =>
  command.parent ? `${path(command.parent)} ${command.name()}` : command.name();
const usage = (command: Command) =>
  `${path(command)} ${command.usage()}`.replace(/\s+\[options\]$/, ' [options]').trim();
const escapeCell = (text: string) => text.replace(/\|/g, '\\|');

function optionRows(options: readonly Option[]): string[] {
  return options.map((option) => {
    const extra = [
      option.argChoices ? `one of ${option.argChoices.map((choice) => `\`${choice}\``).join(', ')}` : '',
      option.defaultValue !== undefined && typeof option.defaultValue !== 'boolean'
        ? `default \`${String(option.defaultValue)}\``
        : '',
      option.mandatory ? 'required' : '',
    ].filter(Boolean);
    return `| \`${escapeCell(option.flags)}\` | ${escapeCell(option.description)}${extra.length ? ` (${extra.join('; ')})` : ''} |`;
  });
}

function section(command: Command, kit: Kit, depth: number): string[] {
  const lines = [`${'#'.repeat(Math.min(depth, 4))} \`${path(command)}\``, '', command.description(), ''];
  if (command.commands.length === 0) {
    lines.push('```', usage(command), '```', '');
    if (command.options.length) lines.push('| option | meaning |', '|---|---|', ...optionRows(command.options), '');
    const examples = kit.examplesOf(command);
    if (examples.length) lines.push('Examples:', '', '```sh', ...examples.map((example) => `$ ${example}`), '```', '');
  }
  for (const sub of command.commands) lines.push(...section(sub, kit, depth + 1));
  return lines;
}

/**
 * docs/xeroctl.md's reference, from the command definitions themselves (`npm run docs:xeroctl`;
 * a test fails when the file and the commands differ).
 */
export function renderReference(program: Command, kit: Kit): string {
  const groups = program.commands.filter((command) => command.name() !== 'help');
  return [
    '### Global options',
    '',
    '| option | meaning |',
    '|---|---|',
    ...optionRows(program.options),
    '',
    '### Exit codes',
    '',
    '| code | meaning |',
    '|---|---|',
    ...EXIT_MEANINGS.map(([code, meaning]) => `| ${code} | ${escapeCell(meaning)} |`),
    '',
    ...groups.flatMap((group) => section(group, kit, 3)),
  ]
    .join('\n')
    .trimEnd();
}
