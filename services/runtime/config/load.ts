import { coerceValue, describeRaw } from './coerce.js';
import { ConfigError, ConfigErrorCode, configErrorFromIssues, type ConfigIssue, type ConfigSource } from './errors.js';
import { parseFlatConfigFile, readConfigFileFromDisk, type RawValue, type ReadConfigFile } from './file-layer.js';
import { flagName, type ConfigOf, type ConfigSchema, type KeySpec, type KeySpecs, type SchemaShape } from './spec.js';

export type Env = Readonly<Record<string, string | undefined>>;

export interface ConfigSources {
  /** The process environment, passed in: config never reads process.env itself. */
  readonly env: Env;
  /** Flag values by key (see parseConfigArgv). */
  readonly flags?: Readonly<Record<string, RawValue | undefined>>;
  /** From `--config`; when set, the file must exist. */
  readonly configPath?: string;
  readonly readFile?: ReadConfigFile;
}

interface Layered {
  readonly raw: RawValue;
  readonly source: ConfigSource;
}

/**
 * Compiles settings from four layers (built-in defaults < YAML file < environment < CLI flags;
 * later wins) into one frozen, typed object. All problems are collected and thrown together as
 * one ConfigError naming each key, the layer it came from and what was expected.
 */
export function loadConfig<K extends KeySpecs>(schema: ConfigSchema<K>, sources: ConfigSources): ConfigOf<K> {
  const fileLayer = readFileLayer(schema, sources);
  const issues: ConfigIssue[] = [];
  const config: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(schema.keys)) {
    const chosen = pickLayer(key, spec, fileLayer, sources);
    if (chosen === undefined) {
      if (spec.required) issues.push(missingIssue(key, spec, schema));
      else config[key] = undefined;
      continue;
    }
    const compiled = coerceValue(spec, chosen.raw);
    if (compiled.ok) config[key] = compiled.value;
    else
      issues.push({
        key,
        problem: 'invalid',
        expected: compiled.expected,
        got: describeRaw(chosen.raw, spec.secret),
        source: chosen.source,
      });
  }
  if (issues.length === 0 && schema.check) {
    for (const problem of schema.check(config as ConfigOf<K>))
      issues.push({ key: problem.key, problem: 'invalid', expected: problem.expected });
  }
  if (issues.length > 0) throw configErrorFromIssues(schema.service, issues);
  return Object.freeze(config) as ConfigOf<K>;
}

function readFileLayer(
  schema: SchemaShape,
  sources: ConfigSources,
): { path: string; values: Map<string, RawValue> } | undefined {
  if (!schema.file) return undefined;
  const path = sources.configPath ?? schema.file.defaultPath;
  const text = (sources.readFile ?? readConfigFileFromDisk)(path);
  if (text === null) {
    if (sources.configPath !== undefined) throw missingFileError(path);
    return { path, values: new Map() };
  }
  return { path, values: parseFlatConfigFile(text, path, schema.keys) };
}

function pickLayer(
  key: string,
  spec: KeySpec,
  file: { path: string; values: Map<string, RawValue> } | undefined,
  sources: ConfigSources,
): Layered | undefined {
  const flag = sources.flags?.[key];
  if (flag !== undefined) return { raw: flag, source: { layer: 'flag', where: flagName(key, spec) } };
  const env = sources.env[spec.env];
  if (env !== undefined && env !== '') return { raw: env, source: { layer: 'env', where: spec.env } };
  const fromFile = file?.values.get(key);
  if (fromFile !== undefined) return { raw: fromFile, source: { layer: 'file', where: file!.path } };
  if (spec.default !== undefined) return { raw: spec.default, source: { layer: 'default', where: 'default' } };
  return undefined;
}

function missingIssue(key: string, spec: KeySpec, schema: SchemaShape): ConfigIssue {
  const ways = [`env ${spec.env}`, `flag --${flagName(key, spec)}`];
  if (schema.file && !spec.envOnly)
    ways.push(`"${key}" in the config file (${schema.file.defaultPath} unless --config)`);
  return { key, problem: 'missing', expected: 'a value', howToSet: ways.join(', ') };
}

function missingFileError(path: string): ConfigError {
  return new ConfigError(
    ConfigErrorCode.invalidConfigFile,
    `invalid config file ${path}: does not exist (named by --config)`,
  );
}

/** The effective settings with secrets redacted, for a start-up log line. */
export function describeConfig<K extends KeySpecs>(
  schema: ConfigSchema<K>,
  config: ConfigOf<K>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(schema.keys)) {
    const value = (config as Record<string, unknown>)[key];
    out[key] = spec.secret && value !== undefined ? '<redacted>' : value;
  }
  return out;
}
