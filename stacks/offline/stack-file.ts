import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * A stack file's config as the Pulumi CLI would hand it to the program (PULUMI_CONFIG): every
 * `ns:key` with a string value, objects and lists as JSON. Used where there is no CLI (tests,
 * `npm run synth`); `secure:` values cannot be decrypted here and are left out.
 */
export function loadStackConfig(stack: string): Record<string, string> {
  const file = join(REPO_ROOT, 'config', 'stacks', `Pulumi.${stack}.yaml`);
  const parsed = parse(readFileSync(file, 'utf8')) as { config?: Record<string, unknown> } | null;
  const config: Record<string, string> = {};
  for (const [key, value] of Object.entries(parsed?.config ?? {})) {
    if (value && typeof value === 'object' && 'secure' in value) continue;
    config[key.includes(':') ? key : `xerotier:${key}`] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  return config;
}

export const STACKS = ['dev-us-east-1', 'staging-us-east-1', 'prod-us-east-1', 'prod-eu-west-1', 'pr-template'] as const;
