import { Option, type Command } from 'commander';
import { CliError, EXIT, usageError } from '../exit-codes.js';
import type { Kit } from '../kit.js';
import type { Column } from '../output/render.js';
import { isContextName, type Context, type Credentials } from '../settings/config-file.js';

/** A context as listed: where it points and how it signs in, never the secret itself. */
export function credentialKind(context: Context): string {
  const credentials = context.credentials;
  if (credentials?.api_key) return 'api key';
  if (credentials?.key_file) return `key file ${credentials.key_file}`;
  if (credentials?.session)
    return `session (${credentials.session.email ?? 'signed in'}, until ${credentials.session.expires_at})`;
  return 'none';
}

const COLUMNS: Column[] = [
  { header: 'CURRENT', value: (row) => (row['current'] ? '*' : '') },
  { header: 'NAME', value: (row) => row['name'] },
  { header: 'URL', value: (row) => row['url'] },
  { header: 'PROJECT', value: (row) => row['project'] },
  { header: 'CREDENTIALS', value: (row) => row['credentials'] },
  { header: 'UI', value: (row) => row['ui_url'], wide: true },
];

interface AddOptions {
  uiUrl?: string;
  apiKeyStdin?: boolean;
  keyFile?: string;
  use?: boolean;
}

export function registerConfig(program: Command, kit: Kit): void {
  const config = program.command('config').description('contexts: which router, project and credentials commands use');
  const add = config
    .command('add <name>')
    .description('add a context (or replace one of that name) from --url and --project; the file is written 0600')
    .option('--ui-url <url>', 'the web UI, for approval links')
    .addOption(
      new Option('--api-key-stdin', 'read an API key from stdin (never from the command line)').conflicts('keyFile'),
    )
    .option('--key-file <path>', 'a file holding the API key (read at each command)')
    .option('--use', 'make it the current context');
  kit.examples(
    add,
    'xeroctl config add prod --url https://router.example.com --project acme --ui-url https://ui.router.example.com',
    'printf %s "$KEY" | xeroctl config add ci --url $ROUTER --project acme --api-key-stdin --use',
  );
  kit.act<AddOptions>(add, async (run, options, name) => {
    // --url and --project are the global options (they name a router everywhere else too).
    const { url, project } = run.globals;
    if (!isContextName(name!)) throw usageError(`"${name}" is not a context name (letters, digits, . _ -)`);
    if (!url || !project) throw usageError('config add needs --url and --project');
    if (!/^https?:\/\//.test(url)) throw usageError(`--url must be an http(s) URL, not "${url}"`);
    let credentials: Credentials | undefined;
    if (options.apiKeyStdin) {
      const key = (await kit.deps.terminal.readSecret('API key: '))?.trim();
      if (!key) throw usageError('no API key on stdin');
      credentials = { api_key: key };
    } else if (options.keyFile) credentials = { key_file: options.keyFile };
    const file = run.readConfig();
    const context: Context = {
      url: url.replace(/\/+$/, ''),
      project,
      ...(options.uiUrl ? { ui_url: options.uiUrl } : {}),
      ...(credentials ? { credentials } : {}),
    };
    const current = options.use || !file.current_context ? name : file.current_context;
    run.writeConfig({ ...file, current_context: current!, contexts: { ...file.contexts, [name!]: context } });
    run.note(`Context "${name}" saved in ${run.configPath}${current === name ? ' and in use' : ''}.`);
  });

  const use = config.command('use <name>').description('make a context the current one');
  kit.examples(use, 'xeroctl config use staging');
  kit.act(use, async (run, _options, name) => {
    const file = run.readConfig();
    if (!file.contexts[name!]) throw new CliError(`no context named "${name}"`, EXIT.notFound, 'context_not_found');
    run.writeConfig({ ...file, current_context: name! });
    run.note(`Using context "${name}".`);
  });

  const list = config.command('list').description('the contexts, the current one marked');
  kit.examples(list, 'xeroctl config list', 'xeroctl config list -o json');
  kit.act(list, async (run) => {
    const file = run.readConfig();
    const data = Object.entries(file.contexts).map(([name, context]) => ({
      object: 'context',
      name,
      current: name === file.current_context,
      url: context.url,
      project: context.project,
      ui_url: context.ui_url ?? null,
      credentials: credentialKind(context),
    }));
    run.list({ data }, COLUMNS);
  });

  const current = config.command('current').description('the name of the current context');
  kit.examples(current, 'xeroctl config current');
  kit.act(current, async (run) => {
    const name = run.globals.context ?? kit.deps.env['XEROCTL_CONTEXT'] ?? run.readConfig().current_context;
    if (!name) throw new CliError('no current context (xeroctl config use NAME)', EXIT.notFound, 'context_not_found');
    run.out(`${name}\n`);
  });

  const remove = config.command('remove <name>').alias('rm').description('remove a context and its credentials');
  kit.examples(remove, 'xeroctl config remove old-staging');
  kit.act(remove, async (run, _options, name) => {
    const file = run.readConfig();
    if (!file.contexts[name!]) throw new CliError(`no context named "${name}"`, EXIT.notFound, 'context_not_found');
    const { [name!]: _gone, ...contexts } = file.contexts;
    const { current_context: _current, ...rest } = file;
    run.writeConfig({
      ...rest,
      ...(file.current_context === name ? {} : { current_context: file.current_context! }),
      contexts,
    });
    run.note(`Context "${name}" removed.`);
  });
}
