import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateCurveKeyPair } from '../protocol/curve-keys.js';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface DevPaths {
  readonly root: string;
  readonly pgData: string;
  readonly logs: string;
  readonly secrets: string;
  readonly stackFile: string;
}

/** Everything devstack keeps lives under one directory (default .xerotier/dev/, git-ignored). */
export function devPaths(env: NodeJS.ProcessEnv): DevPaths {
  const root = resolve(REPO_ROOT, env['XEROTIER_DEV_DIR'] ?? '.xerotier/dev');
  for (const dir of [root, join(root, 'logs')]) mkdirSync(dir, { recursive: true, mode: 0o755 });
  return {
    root,
    pgData: join(root, 'pg'),
    logs: join(root, 'logs'),
    secrets: join(root, 'secrets.json'),
    stackFile: join(root, 'stack.json'),
  };
}

/** Generated once per dev directory and reused, so restarts keep the same data readable. */
export interface DevSecrets {
  readonly postgres_password: string;
  readonly completion_encryption_key: string;
  /** The dev project's admin API key (xero_dev_…); the router gets only its hash. */
  readonly admin_api_key: string;
  /** The dev admin user's password (admin@localhost), for signing in to the UI and the CLI. */
  readonly admin_password: string;
  readonly token_signing_key: string;
  readonly router_curve_secret_key: string;
  readonly audit_signing_key: string;
  /** The router's database role (not the owner): see services/router/store/app-role.ts. */
  readonly app_db_password: string;
}

export const DEV_PROJECT = 'dev';

export async function loadOrCreateDevSecrets(path: string): Promise<DevSecrets> {
  const existing = existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as Partial<DevSecrets>) : {};
  const secrets: DevSecrets = {
    postgres_password: existing.postgres_password ?? randomBytes(18).toString('base64url'),
    completion_encryption_key: existing.completion_encryption_key ?? randomBytes(32).toString('hex'),
    admin_api_key: existing.admin_api_key ?? `xero_${DEV_PROJECT}_${randomBytes(32).toString('base64url')}`,
    admin_password: existing.admin_password ?? randomBytes(18).toString('base64url'),
    token_signing_key: existing.token_signing_key ?? randomBytes(32).toString('hex'),
    router_curve_secret_key: existing.router_curve_secret_key ?? generateCurveKeyPair().secretKey,
    audit_signing_key: existing.audit_signing_key ?? randomBytes(32).toString('hex'),
    app_db_password: existing.app_db_password ?? randomBytes(18).toString('base64url'),
  };
  if (JSON.stringify(existing) !== JSON.stringify(secrets)) await writePrivateJson(path, secrets);
  return secrets;
}

/** Writes JSON readable by the owner only, atomically (temp file + rename): never half-written. */
export async function writePrivateJson(path: string, value: unknown): Promise<void> {
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  await rename(temp, path);
}
