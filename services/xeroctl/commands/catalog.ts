import { Option, type Command } from 'commander';
import { parse } from 'yaml';
import { CliError, EXIT, usageError } from '../exit-codes.js';
import { collect, pageOptions, type Kit } from '../kit.js';
import { age, type Column, text } from '../output/render.js';

type Row = Record<string, unknown>;
type Page = { limit?: number; after?: string };

/** A YAML or JSON file of fields (what `show -o yaml` prints, read-only fields dropped by the caller). */
function fieldsFile(kit: Kit, path: string): Row {
  const document = parse(kit.deps.readFile(path)) as unknown;
  if (typeof document !== 'object' || document === null || Array.isArray(document))
    throw new CliError(`${path}: not a mapping of fields`, EXIT.usage, 'usage');
  return document as Row;
}

function registerEndpoints(program: Command, kit: Kit): void {
  const columns: Column[] = [
    { header: 'ID', value: (row) => row['id'] },
    { header: 'SLUG', value: (row) => row['slug'] },
    { header: 'MODELS', value: (row) => row['models'] },
    { header: 'TIER', value: (row) => row['service_tier'] },
    { header: 'DEFAULTS', value: (row) => row['defaults'], wide: true },
  ];
  const endpoints = program.command('endpoints').description('inference endpoints: which models, at which tier');
  const list = pageOptions(endpoints.command('list').description('endpoints of the project'));
  kit.examples(list, 'xeroctl endpoints list');
  kit.act<Page>(list, async (run, o) =>
    run.list(
      await (await run.client()).call('GET', 'management/endpoints', { query: { limit: o.limit, after: o.after } }),
      columns,
    ),
  );
  const show = endpoints.command('show <id-or-slug>').description('one endpoint');
  kit.examples(show, 'xeroctl endpoints show default');
  kit.act(show, async (run, _o, id) =>
    run.show(await (await run.client()).call('GET', `management/endpoints/${id}`), columns),
  );
  const create = endpoints
    .command('create <slug>')
    .description('a new endpoint')
    .addOption(
      new Option('--models <models>', 'model names (comma separated)').argParser(collect).makeOptionMandatory(),
    )
    .option('--tier <tier>', 'service tier', 'self_hosted');
  kit.examples(create, 'xeroctl endpoints create chat --models llama-3.1-8b --tier self_hosted');
  kit.act<{ models: string[]; tier: string }>(create, async (run, o, slug) =>
    run.show(
      await (
        await run.client()
      ).call('POST', 'management/endpoints', { body: { slug, models: o.models, service_tier: o.tier } }),
      columns,
    ),
  );
  const update = endpoints
    .command('update <id-or-slug>')
    .description("change an endpoint's models or tier")
    .addOption(new Option('--models <models>', 'model names (comma separated)').argParser(collect))
    .option('--tier <tier>', 'service tier');
  kit.examples(update, 'xeroctl endpoints update chat --models llama-3.1-8b,qwen-2.5-7b');
  kit.act<{ models?: string[]; tier?: string }>(update, async (run, o, id) => {
    const body = { ...(o.models ? { models: o.models } : {}), ...(o.tier ? { service_tier: o.tier } : {}) };
    if (!Object.keys(body).length) throw usageError('nothing to change: --models or --tier');
    run.show(await (await run.client()).call('PATCH', `management/endpoints/${id}`, { body }), columns);
  });
  const remove = endpoints.command('delete <id-or-slug>').description('delete an endpoint');
  kit.examples(remove, 'xeroctl endpoints delete old-chat');
  kit.act(remove, async (run, _o, id) =>
    run.said(await (await run.client()).call('DELETE', `management/endpoints/${id}`), `Endpoint ${id} deleted.`),
  );
}

function registerWebhooks(program: Command, kit: Kit): void {
  const columns: Column[] = [
    { header: 'ID', value: (row) => row['id'] },
    { header: 'URL', value: (row) => row['url'] },
    { header: 'EVENTS', value: (row) => row['events'] },
    { header: 'ACTIVE', value: (row) => row['active'] },
    { header: 'DESCRIPTION', value: (row) => row['description'], wide: true },
  ];
  const webhooks = program.command('webhooks').description('webhook endpoints and their deliveries');
  const list = pageOptions(webhooks.command('list').description('webhook endpoints'));
  kit.examples(list, 'xeroctl webhooks list');
  kit.act<Page>(list, async (run, o) =>
    run.list(
      await (await run.client()).call('GET', 'management/webhooks', { query: { limit: o.limit, after: o.after } }),
      columns,
    ),
  );
  const create = webhooks
    .command('create <url>')
    .description('subscribe a URL to events; the signing secret is printed once')
    .addOption(
      new Option('--events <types>', 'event types (comma separated, e.g. exec.approval_requested)')
        .argParser(collect)
        .makeOptionMandatory(),
    )
    .option('--description <text>', 'what it is for');
  kit.examples(
    create,
    'xeroctl webhooks create https://hooks.example.com/xerotier --events exec.approval_requested,exec.failed',
  );
  kit.act<{ events: string[]; description?: string }>(create, async (run, o, url) => {
    const answer = await (
      await run.client()
    ).call<Row>('POST', 'management/webhooks', {
      body: { url, events: o.events, ...(o.description ? { description: o.description } : {}) },
    });
    if (run.format !== 'table' && run.format !== 'wide') return run.show(answer, []);
    run.out(`${text(answer['secret'] ?? '')}\n`);
    run.note(`Webhook ${text(answer['id'])}: its signing secret is above, shown once.`);
  });
  const deliveries = webhooks
    .command('deliveries <id>')
    .description('what was sent to an endpoint and how it answered (the newest 100)');
  kit.examples(deliveries, 'xeroctl webhooks deliveries wh_0123456789abcdef01234567');
  kit.act(deliveries, async (run, _o, id) =>
    run.list(await (await run.client()).call('GET', `management/webhooks/${id}/deliveries`), [
      { header: 'EVENT', value: (row) => row['event_type'] },
      { header: 'STATUS', value: (row) => row['status'] },
      { header: 'ATTEMPTS', value: (row) => row['attempts'] },
      { header: 'ANSWER', value: (row) => row['last_status_code'] ?? row['last_error'] },
      { header: 'AGE', value: (row) => age(row['created_at'], kit.deps.now()) },
      { header: 'EVENT ID', value: (row) => row['event_id'], wide: true },
    ]),
  );
  const remove = webhooks.command('delete <id>').description('delete a webhook endpoint');
  kit.examples(remove, 'xeroctl webhooks delete wh_0123456789abcdef01234567');
  kit.act(remove, async (run, _o, id) =>
    run.said(await (await run.client()).call('DELETE', `management/webhooks/${id}`), `Webhook ${id} deleted.`),
  );
}

function registerUsers(program: Command, kit: Kit): void {
  const columns: Column[] = [
    { header: 'ID', value: (row) => row['id'] },
    { header: 'EMAIL', value: (row) => row['email'] },
    { header: 'NAME', value: (row) => row['display_name'] },
    { header: 'ROLES', value: (row) => row['roles'] },
    { header: 'STATUS', value: (row) => row['status'] },
    { header: 'SSO', value: (row) => row['oidc_linked'], wide: true },
    { header: 'PASSWORD', value: (row) => row['has_password'], wide: true },
  ];
  const users = program.command('users').description('people of the project and their roles');
  const list = pageOptions(users.command('list').description('people (service accounts: --all)')).option(
    '--all',
    'people and service accounts',
  );
  kit.examples(list, 'xeroctl users list', 'xeroctl users list --all -o wide');
  kit.act<Page & { all?: boolean }>(list, async (run, o) =>
    run.list(
      await (
        await run.client()
      ).call('GET', o.all ? 'management/members' : 'management/users', { query: { limit: o.limit, after: o.after } }),
      columns,
    ),
  );
  const add = users
    .command('add <email>')
    .description('add a person (an initial password from stdin, or none: they sign in with SSO)')
    .option('--name <name>', 'display name')
    .addOption(
      new Option('--roles <roles>', 'admin, operator, approver, viewer (comma separated)')
        .argParser(collect)
        .makeOptionMandatory(),
    )
    .option('--password-stdin', 'read an initial password from stdin');
  kit.examples(add, 'xeroctl users add ana@example.com --name "Ana Lima" --roles operator,approver');
  kit.act<{ name?: string; roles: string[]; passwordStdin?: boolean }>(add, async (run, o, email) => {
    const password = o.passwordStdin ? await kit.deps.terminal.readSecret('Initial password: ') : undefined;
    const body = {
      email,
      display_name: o.name ?? email!.split('@')[0],
      roles: o.roles,
      ...(password ? { password } : {}),
    };
    run.show(await (await run.client()).call('POST', 'management/users', { body }), columns);
  });
  const roles = users
    .command('set-roles <id>')
    .description("replace a member's roles")
    .addOption(new Option('--roles <roles>', 'the roles (comma separated)').argParser(collect).makeOptionMandatory());
  kit.examples(roles, 'xeroctl users set-roles usr_0123456789ab --roles operator');
  kit.act<{ roles: string[] }>(roles, async (run, o, id) =>
    run.show(
      await (await run.client()).call('PUT', `management/members/${id}/roles`, { body: { roles: o.roles } }),
      columns,
    ),
  );
  for (const [verb, status] of [
    ['disable', 'disabled'],
    ['enable', 'active'],
  ] as const) {
    const command = users
      .command(`${verb} <id>`)
      .description(
        verb === 'disable' ? 'stop a member signing in (their sessions end)' : 'let a disabled member sign in again',
      );
    kit.examples(command, `xeroctl users ${verb} usr_0123456789ab`);
    kit.act(command, async (run, _o, id) =>
      run.show(await (await run.client()).call('PATCH', `management/members/${id}`, { body: { status } }), columns),
    );
  }
}

const VERSION_COLUMNS: Column[] = [
  { header: 'VERSION', value: (row) => row['version'] },
  { header: 'CREATED', value: (row) => row['created_at'] },
  { header: 'BY', value: (row) => row['created_by'] },
  { header: 'DESCRIPTION', value: (row) => row['description'] },
];

/** What a new version may change (the router's update body), from a file shaped like `show -o yaml` or flat. */
export const TEMPLATE_CONTENT = [
  'description',
  'system_prompt',
  'allowed_tools',
  'approval_policy',
  'applicable_workspace_types',
  'tags',
];
export function templateContent(file: Row): Row {
  const nested = typeof file['version'] === 'object' && file['version'] !== null ? (file['version'] as Row) : {};
  const merged = { ...nested, ...file };
  return Object.fromEntries(
    TEMPLATE_CONTENT.filter((key) => merged[key] !== undefined && merged[key] !== null).map((key) => [
      key,
      merged[key],
    ]),
  );
}

function registerTemplates(program: Command, kit: Kit): void {
  const columns: Column[] = [
    { header: 'ID', value: (row) => row['id'] },
    { header: 'NAME', value: (row) => row['name'] },
    { header: 'SCOPE', value: (row) => row['scope'] },
    { header: 'VERSION', value: (row) => row['latest_version'] },
    { header: 'WORKSPACE', value: (row) => row['workspace_id'], wide: true },
  ];
  const templates = program.command('templates').description('chat templates: a system prompt and settings, versioned');
  const list = pageOptions(templates.command('list').description('templates you can open chats from'))
    .addOption(new Option('--scope <scope>', 'only this layer').choices(['platform', 'project', 'workspace']))
    .option('--workspace <id>', "a workspace's view");
  kit.examples(list, 'xeroctl templates list', 'xeroctl templates list --scope project');
  kit.act<Page & { scope?: string; workspace?: string }>(list, async (run, o) =>
    run.list(
      await (
        await run.client()
      ).call('GET', 'templates', {
        query: { limit: o.limit, after: o.after, scope: o.scope, workspace_id: o.workspace },
      }),
      columns,
    ),
  );
  const show = templates
    .command('show <id>')
    .description('one template (its latest version, or --template-version)')
    .option('--template-version <n>', 'an earlier version');
  kit.examples(show, 'xeroctl templates show tpl_0123456789abcdef01234567 --template-version 2');
  kit.act<{ templateVersion?: string }>(show, async (run, o, id) =>
    run.show(
      await (await run.client()).call('GET', `templates/${id}`, { query: { version: o.templateVersion } }),
      columns,
    ),
  );
  const versions = templates.command('versions <id>').description('every version of a template');
  kit.examples(versions, 'xeroctl templates versions tpl_0123456789abcdef01234567');
  kit.act(versions, async (run, _o, id) =>
    run.list(await (await run.client()).call('GET', `templates/${id}/versions`), VERSION_COLUMNS),
  );
  const create = templates
    .command('create')
    .description('a new template from a file (name, system_prompt, scope, …)')
    .requiredOption('-f, --file <path>', 'YAML or JSON');
  kit.examples(create, 'xeroctl templates create -f incident-triage.yaml');
  kit.act<{ file: string }>(create, async (run, o) =>
    run.show(await (await run.client()).call('POST', 'templates', { body: fieldsFile(kit, o.file) }), columns),
  );
  const update = templates
    .command('update <id>')
    .description('a new version from a file (the fields that change)')
    .requiredOption('-f, --file <path>', 'YAML or JSON');
  kit.examples(update, 'xeroctl templates update tpl_0123456789abcdef01234567 -f incident-triage.yaml');
  kit.act<{ file: string }>(update, async (run, o, id) => {
    run.show(
      await (await run.client()).call('PATCH', `templates/${id}`, { body: templateContent(fieldsFile(kit, o.file)) }),
      columns,
    );
  });
}

export function registerCatalog(program: Command, kit: Kit): void {
  registerEndpoints(program, kit);
  registerWebhooks(program, kit);
  registerUsers(program, kit);
  registerTemplates(program, kit);
}
