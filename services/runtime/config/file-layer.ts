import { readFileSync } from 'node:fs';
import { isMap, isScalar, isSeq, parseDocument } from 'yaml';
import { ConfigError, ConfigErrorCode } from './errors.js';
import type { KeySpecs } from './spec.js';

export type RawValue = string | number | boolean | readonly string[];

/** Reads a config file; null when it does not exist. Other failures are errors. */
export type ReadConfigFile = (path: string) => string | null;

export const readConfigFileFromDisk: ReadConfigFile = (path) => {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw fileError(path, `cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
};

/**
 * Parses the flat YAML companion file: a mapping of scalars, keys lower-cased. Nested maps,
 * lists, duplicate keys (after lower-casing), unknown keys and env-only keys are refused with
 * `invalidConfigFile`, naming the file and key. Null values count as unset.
 */
export function parseFlatConfigFile(text: string, path: string, keys: KeySpecs): Map<string, RawValue> {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false });
  const firstError = doc.errors[0];
  if (firstError) throw fileError(path, `is not valid YAML: ${firstError.message.split('\n')[0]}`);
  const root = doc.contents;
  const values = new Map<string, RawValue>();
  if (root === null || (isScalar(root) && root.value === null)) return values;
  if (!isMap(root)) throw fileError(path, 'must be a flat mapping of key: value pairs');
  for (const pair of root.items) {
    const key = String(isScalar(pair.key) ? pair.key.value : pair.key).toLowerCase();
    if (values.has(key)) throw fileError(path, `sets key "${key}" twice`);
    const value = scalarValue(pair.value, key, path);
    checkKnownKey(key, keys, path);
    if (value !== null) values.set(key, value);
  }
  return values;
}

function scalarValue(node: unknown, key: string, path: string): string | number | boolean | null {
  if (isMap(node))
    throw fileError(path, `key "${key}" must be a scalar (string, number or boolean), got a nested mapping`);
  if (isSeq(node)) throw fileError(path, `key "${key}" must be a scalar (string, number or boolean), got a list`);
  if (node === null || node === undefined) return null;
  if (!isScalar(node)) throw fileError(path, `key "${key}" must be a scalar (string, number or boolean)`);
  const value = node.value;
  if (value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')
    return value;
  throw fileError(path, `key "${key}" must be a scalar (string, number or boolean)`);
}

function checkKnownKey(key: string, keys: KeySpecs, path: string): void {
  const spec = keys[key];
  if (!spec) throw fileError(path, `has unknown key "${key}"${suggest(key, Object.keys(keys))}`);
  if (spec.envOnly)
    throw fileError(path, `may not set "${key}": it is a secret accepted only from ${spec.env} or a flag`);
}

function suggest(key: string, known: readonly string[]): string {
  const close = known.find((candidate) => distance(candidate, key) <= 2);
  return close ? ` (did you mean "${close}"?)` : ` (known keys: ${known.join(', ')})`;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length]!;
}

function fileError(path: string, problem: string): ConfigError {
  return new ConfigError(ConfigErrorCode.invalidConfigFile, `invalid config file ${path}: ${problem}`);
}
