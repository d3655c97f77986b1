import { lstatSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { join, sep } from 'node:path';
import { parse } from 'yaml';
import { isSecretName } from '../../runtime/redact.js';

const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export class CredentialsError extends Error {
  override readonly name = 'CredentialsError';
}

/** Credentials prepared for one execution: what the executor gets, and what must never be shown. */
export interface ResolvedCredentials {
  /** Added to the executor's environment. */
  readonly env: Record<string, string>;
  /** Literal values to scrub from output, progress, errors and logs. */
  readonly secrets: readonly string[];
}

/**
 * Resolves `credentials_ref` for a workspace to `<credentials dir>/<workspace>/<ref>`, read fresh
 * for every execution (so rotated files apply without a restart):
 * - `*.env` file: its KEY=VALUE lines become environment variables (values are secrets unless
 *   the name is a plain connection setting such as PGHOST or DB_PORT);
 * - a kubeconfig (`kind: Config`): KUBECONFIG points at it; its tokens and keys are secrets;
 * - another file: XEROTIER_CREDENTIALS_FILE points at it;
 * - a directory: XEROTIER_CREDENTIALS_DIR points at it.
 * Names are allowlisted and the real path must stay inside the workspace's own folder.
 */
export function resolveCredentials(credentialsDir: string, workspace: string, ref: string): ResolvedCredentials {
  if (!SEGMENT.test(workspace) || !SEGMENT.test(ref) || ref.startsWith('.'))
    throw new CredentialsError('credentials reference or workspace has an invalid name');
  let folder: string;
  let path: string;
  try {
    folder = realpathSync(join(credentialsDir, workspace));
    path = realpathSync(join(folder, ref));
  } catch {
    throw new CredentialsError(`no credentials "${ref}" for workspace ${workspace}`);
  }
  // A workspace's reference may not reach another workspace's credentials, nor leave the folder.
  if (!path.startsWith(folder + sep) || !folder.startsWith(realpathSync(credentialsDir) + sep)) {
    throw new CredentialsError("credentials path resolves outside the workspace's credentials folder");
  }
  if (lstatSync(path).isDirectory()) return { env: { XEROTIER_CREDENTIALS_DIR: path }, secrets: [] };
  if (statSync(path).size > 1024 * 1024) throw new CredentialsError('credentials file is larger than 1 MiB');
  const text = readFileSync(path, 'utf8');
  if (ref.endsWith('.env')) return envFile(text);
  const kubeconfig = asKubeconfig(text);
  if (kubeconfig) return { env: { KUBECONFIG: path }, secrets: kubeconfig };
  return { env: { XEROTIER_CREDENTIALS_FILE: path }, secrets: [text.trim()].filter((value) => value.length >= 6) };
}

// Env-file values are secrets unless the name says plain connection setting: a database's name
// or a host shown in a tool's output is not worth hiding, a password always is.
const SETTING_NAME = /(?:^|_|PG)(?:HOST|HOSTNAME|PORT|USER|USERNAME|DATABASE|DBNAME|REGION|NAMESPACE|SSLMODE|CONTEXT)$/;
const SECRET_MARK = /PASS|SECRET|TOKEN|KEY|CREDENTIAL|AUTH|PRIVATE/;

function envFile(text: string): ResolvedCredentials {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^\s*(?:export\s+)?([A-Z_][A-Z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (!match) continue;
    env[match[1]!] = match[2]!.replace(/^(['"])(.*)\1$/, '$2');
  }
  const secret = ([name]: [string, string]) => SECRET_MARK.test(name) || !SETTING_NAME.test(name);
  return {
    env,
    secrets: Object.entries(env)
      .filter(secret)
      .map(([, value]) => value)
      .filter((value) => value.length >= 6),
  };
}

function asKubeconfig(text: string): string[] | undefined {
  let document: unknown;
  try {
    document = parse(text);
  } catch {
    return undefined;
  }
  if (!document || typeof document !== 'object' || (document as { kind?: unknown }).kind !== 'Config') return undefined;
  const secrets: string[] = [];
  collectSecrets(document, secrets, 0);
  return secrets;
}

function collectSecrets(value: unknown, into: string[], depth: number): void {
  if (depth > 12 || value === null || typeof value !== 'object') return;
  for (const [key, member] of Object.entries(value)) {
    if (typeof member === 'string' && member.length >= 6 && (isSecretName(key) || /-data$/.test(key)))
      into.push(member);
    else collectSecrets(member, into, depth + 1);
  }
}
