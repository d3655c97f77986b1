import { Option, type Command } from 'commander';
import { collect, integerIn, pageOptions, type Kit } from '../kit.js';
import { age, type Column, text } from '../output/render.js';
import type { Run } from '../runtime.js';

type Row = Record<string, unknown>;

const columns = (now: () => Date): Column[] => [
  { header: 'ID', value: (row) => row['id'] },
  { header: 'NAME', value: (row) => row['name'] },
  { header: 'SCOPES', value: (row) => row['scopes'] },
  { header: 'ACTIVE', value: (row) => row['active'] },
  { header: 'LAST USED', value: (row) => (row['last_used_at'] ? age(row['last_used_at'], now()) : 'never') },
  { header: 'EXPIRES', value: (row) => (row['expires_at'] ? age(row['expires_at'], now()) : 'never'), wide: true },
  { header: 'PREFIX', value: (row) => row['prefix'], wide: true },
  { header: 'OWNER', value: (row) => (row['owner'] as Row | undefined)?.['id'] ?? row['owner'], wide: true },
];

/** A secret the router shows once: alone on stdout (for `$(…)`), what it is on stderr. */
function printSecret(run: Run, answer: Row, what: string): void {
  if (run.format !== 'table' && run.format !== 'wide') return run.show(answer, []);
  run.out(`${text(answer['key'])}\n`);
  run.note(`${what} ${text(answer['id'])}: shown once, copy it now.`);
}

export function registerKeys(program: Command, kit: Kit): void {
  const keys = program.command('keys').description('API keys of the project');
  const list = pageOptions(keys.command('list').description('API keys (never their secrets)')).option(
    '--owner <principal>',
    'keys of this member',
  );
  kit.examples(list, 'xeroctl keys list', 'xeroctl keys list --owner sa_0123456789ab -o wide');
  kit.act<{ limit?: number; after?: string; owner?: string }>(list, async (run, options) => {
    const answer = await (
      await run.client()
    ).call('GET', 'management/api-keys', {
      query: { limit: options.limit, after: options.after, owner: options.owner },
    });
    run.list(answer, columns(kit.deps.now));
  });
  const show = keys.command('show <id>').description('one API key');
  kit.examples(show, 'xeroctl keys show key_0123456789abcdef01234567');
  kit.act(show, async (run, _options, id) =>
    run.show(await (await run.client()).call('GET', `management/api-keys/${id}`), columns(kit.deps.now)),
  );
  const create = keys
    .command('create <name>')
    .description('create a key; the secret is printed once')
    .addOption(
      new Option('--scopes <scopes>', 'inference, execution, management (comma separated)')
        .argParser(collect)
        .makeOptionMandatory(),
    )
    .addOption(new Option('--expires-in <seconds>', 'lifetime in seconds').argParser(integerIn(60, 400 * 86_400)))
    .option('--owner <principal>', 'whose key it is (a service account, say); needs the admin role');
  kit.examples(
    create,
    'xeroctl keys create ci-deployer --scopes execution',
    'KEY=$(xeroctl keys create grafana --scopes management --expires-in 2592000)',
  );
  kit.act<{ scopes: string[]; expiresIn?: number; owner?: string }>(create, async (run, options, name) => {
    const answer = await (
      await run.client()
    ).call<Row>('POST', 'management/api-keys', {
      body: {
        name,
        scopes: options.scopes,
        ...(options.expiresIn ? { expires_in_seconds: options.expiresIn } : {}),
        ...(options.owner ? { owner: options.owner } : {}),
      },
    });
    printSecret(run, answer, 'API key');
  });
  const revoke = keys.command('revoke <id>').description('revoke a key now');
  kit.examples(revoke, 'xeroctl keys revoke key_0123456789abcdef01234567');
  kit.act(revoke, async (run, _options, id) => {
    const answer = await (await run.client()).call<Row>('DELETE', `management/api-keys/${id}`);
    run.said(answer, `API key ${id} revoked.`);
  });
  const rotate = keys
    .command('rotate <id>')
    .description('a new secret for the key; the old one keeps working for the grace period')
    .addOption(
      new Option('--grace <seconds>', 'how long the old secret still works').argParser(integerIn(0, 7 * 86_400)),
    );
  kit.examples(rotate, 'xeroctl keys rotate key_0123456789abcdef01234567 --grace 3600');
  kit.act<{ grace?: number }>(rotate, async (run, options, id) => {
    const answer = await (
      await run.client()
    ).call<Row>('POST', `management/api-keys/${id}/rotate`, {
      body: options.grace !== undefined ? { grace_seconds: options.grace } : {},
    });
    printSecret(run, answer, 'New secret of API key');
  });
}
