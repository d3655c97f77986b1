import type { Command } from 'commander';
import { CliError, EXIT, usageError } from '../exit-codes.js';
import type { Kit } from '../kit.js';
import type { Run } from '../runtime.js';
import type { StoredSession } from '../settings/config-file.js';
import { oidcCode } from './oidc-login.js';
import { text } from '../output/render.js';

interface SessionAnswer {
  id: string;
  key: string;
  expires_at: string;
  refresh_until: string;
  principal?: { email?: string | null };
}

async function health(run: Run) {
  const client = await run.client();
  const live = await client
    .callRoot<{ status: string; version?: string }>('GET', '/healthz')
    .catch((error: Error) => ({ status: `unreachable: ${error.message}` }));
  const ready = await client
    .callRoot<{ status: string }>('GET', '/readyz')
    .then((answer) => answer.status)
    .catch((error: CliError) => `not ready (${error.code ?? error.message})`);
  return { live, ready };
}

function contextFor(run: Run): string {
  const connection = run.connection();
  if (!connection.context)
    throw usageError(
      'login stores a session in a context: add one first (xeroctl config add NAME --url URL --project P)',
    );
  return connection.context;
}

export function registerAuth(program: Command, kit: Kit): void {
  const status = program.command('status').description('who you are, the router, its version and health');
  kit.examples(status, 'xeroctl status', 'xeroctl status -o json');
  kit.act(status, async (run) => {
    const connection = run.connection();
    const client = await run.client();
    const { live, ready } = await health(run);
    const whoami = await client.call('GET', 'auth/whoami').catch((error: CliError) => error);
    const answer = {
      object: 'status',
      context: connection.context ?? null,
      router: {
        url: connection.url,
        version: (live as { version?: string }).version ?? null,
        health: live.status,
        readiness: ready,
      },
      project: connection.project,
      credentials: connection.keySource,
      whoami: whoami instanceof CliError ? { error: whoami.code, message: whoami.message } : whoami,
    };
    if (run.format === 'json' || run.format === 'yaml') run.show(answer, []);
    else {
      const who = whoami instanceof CliError ? null : (whoami as Record<string, Record<string, unknown>>);
      const lines = [
        ['Context', connection.context ?? '(environment)'],
        ['Router', `${connection.url} (version ${answer.router.version ?? 'unknown'}, ${live.status}, ${ready})`],
        [
          'Project',
          `${connection.project}${who ? ` (${text(who['project']?.['slug'])} ${text(who['project']?.['id'])})` : ''}`,
        ],
        ['Credentials', connection.keySource],
        who
          ? [
              'Signed in as',
              `${text(who['principal']?.['display_name'] ?? who['principal']?.['id'])} <${text(who['principal']?.['email'] ?? '-')}> roles ${text((who['roles'] as unknown as string[]).join(',') || '-')}`,
            ]
          : ['Signed in as', `nobody: ${(whoami as CliError).message}`],
        ...(who
          ? [
              [
                'Key',
                `${text(who['key']?.['kind'])} ${text(who['key']?.['id'])}, expires ${text(who['key']?.['expires_at'] ?? 'never')}`,
              ],
            ]
          : []),
      ];
      run.out(lines.map(([label, value]) => `${run.paint('bold', `${label}:`.padEnd(14))}${value}`).join('\n') + '\n');
    }
    if (whoami instanceof CliError) throw new CliError('', whoami.exitCode);
  });

  const login = program
    .command('login')
    .description('sign in as a person; the session is kept in the context and refreshed before it lapses')
    .option('--email <email>', 'sign in with this email and a password')
    .option('--password-stdin', 'read the password from stdin (for scripts); otherwise it is asked for, unechoed')
    .option('--oidc', 'sign in through the single sign-on provider in a browser (a loopback listener takes the answer)')
    .option('--no-browser', 'with --oidc: print the URL, do not try to open a browser');
  kit.examples(
    login,
    'xeroctl login --email ana@example.com',
    'xeroctl login --oidc',
    'printf %s "$PASSWORD" | xeroctl login --email ci@example.com --password-stdin',
  );
  kit.act<{ email?: string; passwordStdin?: boolean; oidc?: boolean; browser: boolean }>(
    login,
    async (run, options) => {
      const context = contextFor(run);
      // Whatever the context holds (a lapsed session, say) is not sent: signing in needs none.
      const client = run.plainClient({ anonymous: true });
      let body: Record<string, unknown>;
      if (options.oidc) body = { method: 'code', code: await oidcCode(run, { openBrowser: options.browser }) };
      else {
        if (!options.email) throw usageError('login needs --email (password) or --oidc');
        const password = await kit.deps.terminal.readSecret(
          options.passwordStdin ? '' : `Password for ${options.email}: `,
        );
        if (!password) throw usageError('no password given');
        body = { method: 'password', email: options.email, password, project: run.connection().project, client: 'cli' };
      }
      const session = await client.callRoot<SessionAnswer>('POST', '/v1/auth/sessions', { body });
      const stored: StoredSession = {
        key: session.key,
        id: session.id,
        expires_at: session.expires_at,
        refresh_until: session.refresh_until,
        ...(session.principal?.email ? { email: session.principal.email } : {}),
      };
      run.storeSession(context, stored);
      run.note(
        `Signed in to "${context}" as ${stored.email ?? 'you'}; the session lasts until ${session.expires_at} and refreshes until ${session.refresh_until}.`,
      );
    },
  );

  const logout = program.command('logout').description("end the context's session at the router and forget it");
  kit.examples(logout, 'xeroctl logout');
  kit.act(logout, async (run) => {
    const connection = run.connection();
    if (!connection.session)
      throw new CliError(`context "${connection.context ?? '-'}" holds no session`, EXIT.error, 'no_session');
    const client = run.plainClient();
    await client.call('DELETE', 'auth/sessions/current').catch((error: CliError) => {
      if (error.exitCode !== EXIT.auth) throw error;
    });
    run.storeSession(connection.context!, undefined);
    run.note(`Signed out of "${connection.context}".`);
  });
}
