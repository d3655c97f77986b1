import { readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Where the stack files live (Pulumi.yaml `stackConfigDir`). */
export const STACK_DIR = join(REPO_ROOT, 'config', 'stacks');

/** The value the offline tools stand in for a `secure:` value the CLI would decrypt. */
export const SECURE_PLACEHOLDER = '[secure]';

/** A stack file as written: its `config:` map, untouched (the CLI's view before it merges). */
export interface StackFile {
  readonly stack: string;
  readonly path: string;
  readonly config: Readonly<Record<string, unknown>>;
}

/**
 * A stack file's config as the Pulumi CLI hands it to the program (PULUMI_CONFIG): every `ns:key`
 * with a string value, objects and lists as JSON. A `secure:` value cannot be decrypted here:
 * it is present as a placeholder and listed among the secret keys, as the CLI would mark it.
 */
export interface StackConfig {
  readonly values: Readonly<Record<string, string>>;
  readonly secretKeys: readonly string[];
}

/** Every stack file in the directory, by stack name: nothing is listed by hand. */
export function listStacks(dir = STACK_DIR): string[] {
  return readdirSync(dir)
    .flatMap((file) => /^Pulumi\.(.+)\.ya?ml$/.exec(file)?.[1] ?? [])
    .sort();
}

export function readStackFile(stackOrPath: string, dir = STACK_DIR): StackFile {
  const path = stackOrPath.endsWith('.yaml') ? stackOrPath : join(dir, `Pulumi.${stackOrPath}.yaml`);
  const parsed = parse(readFileSync(path, 'utf8')) as { config?: Record<string, unknown> } | null;
  return {
    stack: /^Pulumi\.(.+)\.ya?ml$/.exec(basename(path))?.[1] ?? stackOrPath,
    path,
    config: parsed?.config ?? {},
  };
}

export function stackConfig(file: StackFile): StackConfig {
  const values: Record<string, string> = {};
  const secretKeys: string[] = [];
  for (const [raw, value] of Object.entries(file.config)) {
    const key = raw.includes(':') ? raw : `xerotier:${raw}`;
    if (isSecure(value)) {
      values[key] = SECURE_PLACEHOLDER;
      secretKeys.push(key);
    } else values[key] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  return { values, secretKeys };
}

/** Shorthand: a stack's values by name (tests read hostnames and such from it). */
export function loadStackConfig(stack: string, dir = STACK_DIR): Readonly<Record<string, string>> {
  return stackConfig(readStackFile(stack, dir)).values;
}

export function isSecure(value: unknown): value is { secure: string } {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && 'secure' in value;
}
