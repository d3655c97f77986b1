import { Command, CommanderError, Option } from 'commander';
import { ConfigError, ConfigErrorCode } from './errors.js';
import type { RawValue } from './file-layer.js';
import { flagName, type SchemaShape } from './spec.js';

export interface ParsedConfigArgs {
  readonly configPath?: string;
  readonly flags: Readonly<Record<string, RawValue | undefined>>;
}

/** Registers `--config` (when the schema has a file) and one flag per key on a commander command. */
export function addConfigOptions(command: Command, schema: SchemaShape): Command {
  if (schema.file) command.option('--config <path>', `config file (default ${schema.file.defaultPath})`);
  for (const [key, spec] of Object.entries(schema.keys)) {
    const name = flagName(key, spec);
    const help = `${spec.description} [env ${spec.env}]`;
    if (spec.kind === 'boolean') command.addOption(new Option(`--${name} [value]`, help));
    else if (spec.kind === 'list')
      command.addOption(new Option(`--${name} <value>`, `${help} (repeatable)`).argParser(collect));
    else command.addOption(new Option(`--${name} <value>`, help));
  }
  return command;
}

/** Reads the parsed commander options back into flag values by config key. */
export function configArgsFromOptions(schema: SchemaShape, options: Record<string, unknown>): ParsedConfigArgs {
  const flags: Record<string, RawValue | undefined> = {};
  for (const [key, spec] of Object.entries(schema.keys)) {
    const value = options[camel(flagName(key, spec))];
    if (value === undefined) continue;
    flags[key] = value === true ? 'true' : (value as RawValue);
  }
  const configPath = typeof options['config'] === 'string' ? options['config'] : undefined;
  return configPath === undefined ? { flags } : { configPath, flags };
}

/**
 * Parses argv (without node and script) for a service that takes only config flags. Unknown
 * flags and missing flag values become ConfigError `invalidConfigFlag`.
 */
export function parseConfigArgv(schema: SchemaShape, argv: readonly string[]): ParsedConfigArgs {
  const command = addConfigOptions(new Command(schema.service), schema)
    .exitOverride()
    .configureOutput({ writeErr: () => undefined, writeOut: () => undefined })
    .allowExcessArguments(false);
  try {
    command.parse([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError)
      throw new ConfigError(ConfigErrorCode.invalidConfigFlag, error.message.replace(/^error: /, ''));
    throw error;
  }
  return configArgsFromOptions(schema, command.opts());
}

function collect(value: string, previous: readonly string[] | undefined): readonly string[] {
  return [...(previous ?? []), value];
}

function camel(flag: string): string {
  return flag.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}
