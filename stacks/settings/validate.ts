import Value from 'typebox/value';
import { SETTINGS_SCHEMA, type RawSettings, type SettingsKey } from './schema.js';

export class SettingsError extends Error {
  override readonly name = 'SettingsError';
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(`xerotier:${key}: ${message}`);
  }
}

type Read = (key: string) => string | undefined;

const STRING_KEYS = new Set<SettingsKey>(['target', 'environment', 'hostname', 'namespace', 'bootstrapProject']);

/**
 * Every key the stack file sets, parsed (objects and lists arrive as JSON from the CLI) and
 * checked against its schema; the first problem is thrown with the key's full path
 * (`xerotier:aws.cpuNodes.min`), before any resource is declared.
 */
export function readRaw(read: Read): RawSettings {
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(SETTINGS_SCHEMA) as SettingsKey[]) {
    const text = read(key);
    if (text === undefined) continue;
    const value = STRING_KEYS.has(key) ? text : parseJson(key, text);
    const problem = firstProblem(key, value);
    if (problem) throw problem;
    raw[key] = value;
  }
  return raw as RawSettings;
}

function parseJson(key: string, text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new SettingsError(
      key,
      'is not valid JSON (objects and lists are set with `pulumi config set --path` or as YAML in the stack file)',
    );
  }
}

function firstProblem(key: SettingsKey, value: unknown): SettingsError | undefined {
  const errors = [...Value.Errors(SETTINGS_SCHEMA[key], value)];
  // "schema is false" repeats an additionalProperties error on the field itself; the parent's names it better.
  const error = errors.find((candidate) => candidate.keyword !== 'boolean') ?? errors[0];
  if (!error) return undefined;
  const path = error.instancePath
    .split('/')
    .slice(1)
    .map((segment) => (/^\d+$/.test(segment) ? `[${segment}]` : `.${segment}`))
    .join('');
  return new SettingsError(`${key}${path}`, explain(error, value, error.instancePath));
}

function explain(
  error: { keyword: string; message: string; params: Record<string, unknown> },
  root: unknown,
  pointer: string,
): string {
  const found = JSON.stringify(Value.Pointer.Get(root as object, pointer) ?? null);
  switch (error.keyword) {
    case 'additionalProperties':
      return `has unknown fields ${(error.params['additionalProperties'] as string[]).join(', ')}`;
    case 'enum':
      return `must be one of ${(error.params['allowedValues'] as string[]).join(', ')}, not ${found}`;
    case 'const':
      return `must be ${JSON.stringify(error.params['allowedValue'])}, not ${found}`;
    case 'pattern':
      return `${found} is not well-formed (${error.message})`;
    default:
      return `${error.message}, not ${found}`;
  }
}
