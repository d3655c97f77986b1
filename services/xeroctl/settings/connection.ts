import { CliError, EXIT } from '../exit-codes.js';
import type { ConfigFile, Context, StoredSession } from './config-file.js';

/** How a command reaches the router: one context, after the environment and flags had their say. */
export interface Connection {
  /** The context the settings came from; absent when the environment alone named the router. */
  readonly context?: string;
  readonly url: string;
  readonly project: string;
  readonly uiUrl?: string;
  readonly key?: string;
  /** Where the key came from, for `status` (never the key itself). */
  readonly keySource: string;
  /** Set when the key is a session from `xeroctl login` (refreshed, and stored back when it is). */
  readonly session?: StoredSession;
}

export interface Selection {
  readonly context?: string | undefined;
  readonly url?: string | undefined;
  readonly project?: string | undefined;
}

/** The context a command uses: `--context`, else XEROCTL_CONTEXT, else the file's current one. */
export function selectedContext(config: ConfigFile, flag: string | undefined, env: NodeJS.ProcessEnv) {
  const name = flag ?? env['XEROCTL_CONTEXT'] ?? config.current_context;
  if (name === undefined) return undefined;
  const context = config.contexts[name];
  if (!context)
    throw new CliError(
      `no context named "${name}" (xeroctl config list shows them)`,
      EXIT.notFound,
      'context_not_found',
    );
  return { name, context };
}

function keyOf(context: Context | undefined, env: NodeJS.ProcessEnv, readKeyFile: (path: string) => string) {
  if (env['XEROCTL_API_KEY']) return { key: env['XEROCTL_API_KEY'], keySource: 'XEROCTL_API_KEY' };
  const credentials = context?.credentials;
  if (credentials?.api_key) return { key: credentials.api_key, keySource: 'api key in the context' };
  if (credentials?.key_file)
    return { key: readKeyFile(credentials.key_file).trim(), keySource: `key file ${credentials.key_file}` };
  if (credentials?.session)
    return { key: credentials.session.key, keySource: 'session from xeroctl login', session: credentials.session };
  return { keySource: 'none' };
}

/**
 * Precedence, per setting: flag > XEROCTL_* environment > the selected context. Pure: the file,
 * the environment and how a key file is read are given.
 */
export function resolveConnection(
  config: ConfigFile,
  selection: Selection,
  env: NodeJS.ProcessEnv,
  readKeyFile: (path: string) => string,
): Connection {
  const chosen = selectedContext(config, selection.context, env);
  const url = selection.url ?? env['XEROCTL_URL'] ?? chosen?.context.url;
  const project = selection.project ?? env['XEROCTL_PROJECT'] ?? chosen?.context.project;
  if (!url)
    throw new CliError(
      'no router configured: add a context (xeroctl config add NAME --url URL --project PROJECT) or set XEROCTL_URL',
      EXIT.error,
      'no_context',
    );
  if (!project)
    throw new CliError('no project: set it in the context, --project or XEROCTL_PROJECT', EXIT.error, 'no_project');
  return {
    ...(chosen ? { context: chosen.name } : {}),
    url: url.replace(/\/+$/, ''),
    project,
    ...(chosen?.context.ui_url ? { uiUrl: chosen.context.ui_url.replace(/\/+$/, '') } : {}),
    ...keyOf(chosen?.context, env, readKeyFile),
  };
}
