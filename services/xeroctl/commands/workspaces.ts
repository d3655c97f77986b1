import type { Command } from 'commander';
import { parse } from 'yaml';
import { CliError, usageError } from '../exit-codes.js';
import { pageOptions, type Kit } from '../kit.js';
import { text, type Column } from '../output/render.js';

type Row = Record<string, unknown>;

const COLUMNS: Column[] = [
  { header: 'ID', value: (row) => row['id'] },
  { header: 'NAME', value: (row) => row['name'] },
  { header: 'TYPE', value: (row) => row['type'] },
  { header: 'DEFAULT', value: (row) => row['is_default'] },
  { header: 'CREATED', value: (row) => row['created_at'], wide: true },
];

const POLICY_FIELDS: Column[] = [
  'min_approvers_destructive',
  'min_approvers_irreversible',
  'timeout_seconds_destructive',
  'timeout_seconds_irreversible',
  'on_timeout_destructive',
  'on_timeout_irreversible',
  'allow_self_approval',
  'chat_user_may_approve',
  'approval_required_read',
  'approval_required_write',
  'approvers',
  'escalation_reviewers',
  'is_default',
  'updated_at',
].map((name) => ({ header: name, value: (row: Row) => row[name] }));

const LISTS = new Set(['approvers', 'escalation_reviewers']);

/** `key=value` as the policy's JSON: numbers, booleans, and comma separated principal lists. */
export function policyAssignment(text: string): [string, unknown] {
  const at = text.indexOf('=');
  if (at < 1) throw usageError(`"${text}" is not key=value (e.g. min_approvers_irreversible=2)`);
  const key = text.slice(0, at);
  const value = text.slice(at + 1);
  if (LISTS.has(key))
    return [
      key,
      value
        .split(',')
        .map((part) => part.trim())
        .filter(Boolean),
    ];
  if (value === 'true' || value === 'false') return [key, value === 'true'];
  if (/^\d+$/.test(value)) return [key, Number(value)];
  return [key, value];
}

export function registerWorkspaces(program: Command, kit: Kit): void {
  const workspaces = program
    .command('workspaces')
    .description('workspaces: where tools run, and which agents serve them');
  const list = pageOptions(workspaces.command('list').description('workspaces of the project'));
  kit.examples(list, 'xeroctl workspaces list');
  kit.act<{ limit?: number; after?: string }>(list, async (run, options) => {
    run.list(
      await (
        await run.client()
      ).call('GET', 'management/workspaces', { query: { limit: options.limit, after: options.after } }),
      COLUMNS,
    );
  });
  const show = workspaces.command('show <id>').description('one workspace and its bound agents');
  kit.examples(show, 'xeroctl workspaces show ws_0123456789ab');
  kit.act(show, async (run, _options, id) => {
    const client = await run.client();
    const workspace = await client.call<Row>('GET', `management/workspaces/${id}`);
    const bindings = await client.call<{ data: Row[] }>('GET', `management/workspaces/${id}/bindings`);
    if (run.format !== 'table' && run.format !== 'wide') return run.show({ ...workspace, bindings: bindings.data }, []);
    run.show(workspace, COLUMNS);
    run.out(`\nBound agents: ${text(bindings.data.map((binding) => binding['agent_id']).join(', ') || 'none')}\n`);
  });
  const create = workspaces
    .command('create <name>')
    .description('a new workspace')
    .option('--type <type>', 'what kind (e.g. ops, staging)');
  kit.examples(create, 'xeroctl workspaces create payments --type ops');
  kit.act<{ type?: string }>(create, async (run, options, name) => {
    const answer = await (
      await run.client()
    ).call<Row>('POST', 'management/workspaces', { body: { name, ...(options.type ? { type: options.type } : {}) } });
    run.show(answer, COLUMNS);
  });
  const bind = workspaces
    .command('bind <workspace>')
    .description("let an agent serve the workspace's tool calls")
    .requiredOption('--agent <id>', 'the XEM agent');
  kit.examples(bind, 'xeroctl workspaces bind ws_0123456789ab --agent agt_0123456789abcdef01234567');
  kit.act<{ agent: string }>(bind, async (run, options, workspace) => {
    const answer = await (
      await run.client()
    ).call<Row>('POST', `management/workspaces/${workspace}/bindings`, { body: { agent_id: options.agent } });
    run.said(answer, `Agent ${options.agent} bound to ${workspace}.`);
  });
  const unbind = workspaces
    .command('unbind <workspace>')
    .description('stop an agent serving the workspace')
    .requiredOption('--agent <id>', 'the XEM agent');
  kit.examples(unbind, 'xeroctl workspaces unbind ws_0123456789ab --agent agt_0123456789abcdef01234567');
  kit.act<{ agent: string }>(unbind, async (run, options, workspace) => {
    await (await run.client()).call('DELETE', `management/workspaces/${workspace}/bindings/${options.agent}`);
    run.note(`Agent ${options.agent} unbound from ${workspace}.`);
  });

  const policies = program
    .command('policies')
    .description("a workspace's approval policy: who approves what, and how long calls wait");
  const policyShow = policies.command('show <workspace>').description('the approval policy of a workspace');
  kit.examples(
    policyShow,
    'xeroctl policies show ws_0123456789ab',
    'xeroctl policies show ws_0123456789ab -o yaml > policy.yaml',
  );
  kit.act(policyShow, async (run, _options, workspace) =>
    run.show(await (await run.client()).call('GET', `management/approval-policies/${workspace}`), POLICY_FIELDS),
  );
  const set = policies
    .command('set <workspace> [assignments...]')
    .description('change fields of the policy (key=value), or set them from a YAML/JSON file')
    .option(
      '-f, --file <path>',
      'a file of fields (what `policies show -o yaml` prints; read-only fields are dropped)',
    );
  kit.examples(
    set,
    'xeroctl policies set ws_0123456789ab min_approvers_irreversible=2 timeout_seconds_destructive=600',
    'xeroctl policies set ws_0123456789ab -f policy.yaml',
  );
  kit.act<{ file?: string }>(set, async (run, options, workspace, ...rest) => {
    const assignments = (rest[0] as unknown as string[] | undefined) ?? [];
    const fromFile = options.file ? (parse(kit.deps.readFile(options.file)) as Row) : {};
    if (typeof fromFile !== 'object' || fromFile === null)
      throw new CliError(`${options.file}: not a mapping of policy fields`);
    const { object: _o, workspace_id: _w, is_default: _d, updated_at: _u, ...fields } = fromFile;
    const body = { ...fields, ...Object.fromEntries(assignments.map(policyAssignment)) };
    if (Object.keys(body).length === 0) throw usageError('nothing to set: give key=value pairs or --file');
    run.show(
      await (await run.client()).call('PATCH', `management/approval-policies/${workspace}`, { body }),
      POLICY_FIELDS,
    );
  });
}
