/**
 * Declarative description of a service's settings. Each key has one YAML name (the object key),
 * one environment variable and one CLI flag; the compiled config object uses the YAML names so
 * docs, files, deploy code and code all say the same word.
 */
interface BaseSpec {
  /** Environment variable that sets this key. */
  readonly env: string;
  /** CLI flag without dashes. @default the key in kebab-case */
  readonly flag?: string;
  readonly description: string;
  /** Redacted in errors, logs and summaries. */
  readonly secret?: boolean;
  /** Start-up fails when no layer sets the key. */
  readonly required?: boolean;
  /** Not settable from the YAML file (secrets that must come from env or a secret store). */
  readonly envOnly?: boolean;
}

export interface StringSpec extends BaseSpec {
  readonly kind: 'string';
  readonly default?: string;
  readonly pattern?: RegExp;
  /** Human wording of the pattern for error messages. */
  readonly patternHint?: string;
  readonly maxLength?: number;
}
export interface IntegerSpec extends BaseSpec {
  readonly kind: 'integer';
  /** `auto` only when the spec accepts it. */
  readonly default?: number | 'auto';
  readonly min?: number;
  readonly max?: number;
  /** Accepts the word `auto`, compiled to null. */
  readonly auto?: boolean;
}
export interface NumberSpec extends BaseSpec {
  readonly kind: 'number';
  readonly default?: number;
  readonly min?: number;
  readonly max?: number;
}
export interface BooleanSpec extends BaseSpec {
  readonly kind: 'boolean';
  readonly default?: boolean;
}
export interface EnumSpec extends BaseSpec {
  readonly kind: 'enum';
  readonly values: readonly string[];
  readonly default?: string;
}
export interface UrlSpec extends BaseSpec {
  readonly kind: 'url';
  readonly protocols: readonly string[];
  readonly default?: string;
}
export interface PortSpec extends BaseSpec {
  readonly kind: 'port';
  readonly default?: number;
}
export interface PathSpec extends BaseSpec {
  readonly kind: 'path';
  readonly default?: string;
}
/** Whitespace-separated in env and file; the flag may repeat. */
export interface ListSpec extends BaseSpec {
  readonly kind: 'list';
  readonly default?: readonly string[];
}

export type KeySpec =
  StringSpec | IntegerSpec | NumberSpec | BooleanSpec | EnumSpec | UrlSpec | PortSpec | PathSpec | ListSpec;
export type KeySpecs = Readonly<Record<string, KeySpec>>;

export interface ConfigFileSpec {
  /** Used when no `--config` flag names another file; may be absent. */
  readonly defaultPath: string;
}

export interface ConfigSchema<K extends KeySpecs = KeySpecs> {
  /** Service name used in messages. */
  readonly service: string;
  /** Absent for env-only schemas. */
  readonly file?: ConfigFileSpec;
  readonly keys: K;
  /** Cross-key rules, run after every key compiled; returns problems as messages per key. */
  check?(config: ConfigOf<K>): readonly CrossKeyProblem[];
}

export interface CrossKeyProblem {
  readonly key: string;
  readonly expected: string;
}

type ValueOf<S extends KeySpec> = S extends EnumSpec
  ? S['values'][number]
  : S extends BooleanSpec
    ? boolean
    : S extends { readonly auto: true }
      ? number | null
      : S extends IntegerSpec | NumberSpec | PortSpec
        ? number
        : S extends ListSpec
          ? readonly string[]
          : string;

type Present<S> = S extends { readonly required: true } ? true : 'default' extends keyof S ? true : false;

/** The compiled, frozen settings object a schema produces. */
export type ConfigOf<K extends KeySpecs> = {
  readonly [P in keyof K]: Present<K[P]> extends true ? ValueOf<K[P]> : ValueOf<K[P]> | undefined;
};

/** Keeps literal types (enum values, defaults) so ConfigOf can type the result precisely. */
export function defineConfigSchema<const K extends KeySpecs>(schema: ConfigSchema<K>): ConfigSchema<K> {
  return Object.freeze(schema);
}

export function flagName(key: string, spec: KeySpec): string {
  return spec.flag ?? key.replaceAll('_', '-');
}

/** The parts of a schema that do not depend on its key types (for generic helpers). */
export type SchemaShape = Pick<ConfigSchema, 'service' | 'file' | 'keys'>;

/** A schema restricted to some keys, for commands that need only part of a service's settings. */
export function pickConfigSchema<K extends KeySpecs, P extends keyof K & string>(
  schema: ConfigSchema<K>,
  keys: readonly P[],
): ConfigSchema<Pick<K, P>> {
  const picked = Object.fromEntries(keys.map((key) => [key, schema.keys[key]])) as Pick<K, P>;
  return Object.freeze({ service: schema.service, ...(schema.file ? { file: schema.file } : {}), keys: picked });
}
