import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse, stringify } from 'yaml';
import { CliError, EXIT } from '../exit-codes.js';

/** A session from `xeroctl login`: the key is a secret like an API key, refreshed before it lapses. */
export interface StoredSession {
  readonly key: string;
  readonly id: string;
  readonly expires_at: string;
  readonly refresh_until: string;
  readonly email?: string;
}

/** Exactly one way to authenticate per context. */
export interface Credentials {
  readonly api_key?: string;
  readonly key_file?: string;
  readonly session?: StoredSession;
}

export interface Context {
  readonly url: string;
  readonly project: string;
  /** The web UI, for approval links (`<ui_url>/ops#apr_…`). */
  readonly ui_url?: string;
  readonly credentials?: Credentials;
}

export interface ConfigFile {
  readonly current_context?: string;
  readonly contexts: Readonly<Record<string, Context>>;
}

export const EMPTY_CONFIG: ConfigFile = Object.freeze({ contexts: {} });

/** Where the file is: `--config`, else XEROCTL_CONFIG, else the XDG config home. */
export function configPath(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  if (flag) return flag;
  if (env['XEROCTL_CONFIG']) return env['XEROCTL_CONFIG'];
  const base = env['XDG_CONFIG_HOME'] || join(env['HOME'] ?? '.', '.config');
  return join(base, 'xerotier', 'config.yaml');
}

const CONTEXT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
export const isContextName = (name: string) => CONTEXT_NAME.test(name);

function invalid(path: string, key: string, problem: string): never {
  throw new CliError(`${path}: ${key} ${problem}`, EXIT.error, 'config_invalid');
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function checkContext(path: string, name: string, value: unknown): Context {
  const key = `contexts.${name}`;
  if (!isContextName(name)) invalid(path, key, 'is not a valid context name (letters, digits, . _ -)');
  if (!isRecord(value)) invalid(path, key, 'must be a mapping');
  for (const field of ['url', 'project'] as const)
    if (typeof value[field] !== 'string' || value[field] === '') invalid(path, `${key}.${field}`, 'must be a string');
  if (!/^https?:\/\//.test(String(value['url']))) invalid(path, `${key}.url`, 'must be an http(s) URL');
  const credentials = value['credentials'];
  if (credentials !== undefined) {
    if (!isRecord(credentials)) invalid(path, `${key}.credentials`, 'must be a mapping');
    const kinds = ['api_key', 'key_file', 'session'].filter((kind) => credentials[kind] !== undefined);
    if (kinds.length > 1) invalid(path, `${key}.credentials`, `has ${kinds.join(' and ')}: keep exactly one`);
    const session = credentials['session'];
    if (session !== undefined && (!isRecord(session) || typeof session['key'] !== 'string'))
      invalid(path, `${key}.credentials.session`, 'must hold the session key');
  }
  return value as unknown as Context;
}

/** The file's text, checked: every problem names the key and the file. */
export function parseConfigFile(text: string, path: string): ConfigFile {
  let document: unknown;
  try {
    document = parse(text);
  } catch (error) {
    throw new CliError(`${path}: not YAML (${(error as Error).message.split('\n')[0]})`, EXIT.error, 'config_invalid');
  }
  if (document === null || document === undefined) return EMPTY_CONFIG;
  if (!isRecord(document)) invalid(path, 'the document', 'must be a mapping');
  const contexts = document['contexts'] ?? {};
  if (!isRecord(contexts)) invalid(path, 'contexts', 'must be a mapping of name to context');
  const checked = Object.fromEntries(
    Object.entries(contexts).map(([name, value]) => [name, checkContext(path, name, value)]),
  );
  const current = document['current_context'];
  if (current !== undefined && typeof current !== 'string') invalid(path, 'current_context', 'must be a string');
  return { ...(current ? { current_context: current } : {}), contexts: checked };
}

export function readConfigFile(path: string): ConfigFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return EMPTY_CONFIG;
    throw new CliError(
      `${path}: cannot read (${(error as NodeJS.ErrnoException).code})`,
      EXIT.error,
      'config_unreadable',
    );
  }
  return parseConfigFile(text, path);
}

/**
 * Written whole or not at all (a temporary file renamed over the old one), readable by its owner
 * only: the file holds keys and sessions.
 */
export function writeConfigFile(path: string, config: ConfigFile): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  // Created exclusively under a fresh name: a file or link planted there beforehand is refused.
  const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  const fd = openSync(temporary, 'wx', 0o600);
  try {
    writeSync(fd, stringify(config));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  chmodSync(temporary, 0o600);
  renameSync(temporary, path);
}
