import { Option, type Command } from 'commander';
import { CliError, EXIT } from '../exit-codes.js';
import { pageOptions, type Kit } from '../kit.js';
import { age, cell, type Column, text } from '../output/render.js';
import type { RouterClient } from '../http/router-client.js';
import type { SseEvent } from '../http/sse.js';
import type { Run } from '../runtime.js';
import { watchProject } from './follow.js';

type Row = Record<string, unknown>;
const RISKS = ['read', 'write', 'destructive', 'irreversible'];

export const approvalColumns = (now: () => Date): Column[] => [
  { header: 'ID', value: (row) => row['id'] },
  { header: 'RISK', value: (row) => row['risk'] },
  { header: 'STATE', value: (row) => row['state'] },
  { header: 'REQUESTER', value: (row) => row['requested_by_principal'] ?? row['requested_by'] },
  { header: 'AGE', value: (row) => age(row['created_at'], now()) },
  { header: 'DEADLINE', value: (row) => (row['state'] === 'pending' ? age(row['expires_at'], now()) : '-') },
  { header: 'INVOCATION', value: (row) => row['invocation_id'], wide: true },
  {
    header: 'APPROVERS',
    value: (row) =>
      `${text(((row['decisions'] as Row[] | undefined) ?? []).filter((d) => d['verdict'] === 'approve').length)}/${text(row['min_approvers'] ?? 1)}`,
    wide: true,
  },
];

/**
 * The approval an event of the project's stream is about: a decision (an `approval` event), or a
 * call that just began to wait for one (its state `pending_approval`).
 */
async function approvalOf(client: RouterClient, event: SseEvent): Promise<string | undefined> {
  const data = JSON.parse(event.data) as Row;
  if (event.event === 'approval') return text(data['approval_id']);
  if (event.event !== 'state' || data['state'] !== 'pending_approval') return undefined;
  const invocation = await client.call<Row>('GET', `exec/invocations/${text(data['invocation_id'])}`);
  return invocation['approval_id'] ? text(invocation['approval_id']) : undefined;
}

/** What a person is deciding: the call behind the approval, with its tool and arguments. */
async function underReview(run: Run, id: string) {
  const client = await run.client();
  const approval = await client.call<Row>('GET', `exec/approvals/${id}`);
  const invocation = await client.call<Row>('GET', `exec/invocations/${text(approval['invocation_id'])}`);
  return { client, approval, invocation };
}

async function confirmed(run: Run, question: string, yes: boolean | undefined): Promise<boolean> {
  if (yes || !run.deps.terminal.canPrompt) return true;
  const answer = await run.deps.terminal.readLine(`${question} [y/N] `);
  return /^y(es)?$/i.test(answer?.trim() ?? '');
}

function registerDecisions(approvals: Command, kit: Kit): void {
  const approve = approvals
    .command('approve <id>')
    .description('approve a pending call (pinned to what you reviewed: changed arguments void it)')
    .option('--note <text>', 'why, for the audit log (a ticket, say)')
    .option('--confirm <tool>', 'refuse unless the call is of this tool (a guard for scripts)')
    .option('-y, --yes', 'do not ask on a terminal');
  kit.examples(
    approve,
    'xeroctl approvals approve apr_0123456789abcdef01234567 --note "OPS-42"',
    'xeroctl approvals approve apr_0123456789abcdef01234567 --confirm restart_service --yes',
  );
  kit.act<{ note?: string; confirm?: string; yes?: boolean }>(approve, async (run, options, id) => {
    const { client, approval, invocation } = await underReview(run, id!);
    if (options.confirm && options.confirm !== invocation['tool'])
      throw new CliError(
        `${id} is for ${text(invocation['tool'])}, not ${options.confirm}: nothing approved`,
        EXIT.error,
        'confirm_mismatch',
      );
    run.note(
      `${id}: ${text(invocation['tool'])} (${text(approval['risk'])}) in ${text(invocation['workspace_id'])} with ${text(cell(invocation['args']))}, asked by ${text(approval['requested_by_principal'] ?? approval['requested_by'])}`,
    );
    if (!(await confirmed(run, 'Approve it?', options.yes))) throw new CliError('not approved', EXIT.error, 'declined');
    const body = { request_hash: approval['request_hash'], ...(options.note ? { note: options.note } : {}) };
    const decided = await client.call<Row>('POST', `exec/approvals/${id}/approve`, { body });
    if (run.format !== 'table' && run.format !== 'wide') return run.show(decided, []);
    run.note(
      decided['state'] === 'approved'
        ? `Approved: ${text(invocation['id'])} goes ahead.`
        : `Your approval is recorded; ${id} waits for another person (${text(decided['min_approvers'])} needed).`,
    );
  });
  const reject = approvals
    .command('reject <id>')
    .description('reject a pending call (the requester may always withdraw their own)')
    .option('--reason <text>', 'why: shown to the requester and kept in the audit log');
  kit.examples(reject, 'xeroctl approvals reject apr_0123456789abcdef01234567 --reason "not during business hours"');
  kit.act<{ reason?: string }>(reject, async (run, options, id) => {
    const { client, approval } = await underReview(run, id!);
    const body = { request_hash: approval['request_hash'], ...(options.reason ? { reason: options.reason } : {}) };
    const decided = await client.call<Row>('POST', `exec/approvals/${id}/reject`, { body });
    run.said(decided, `Rejected ${id}.`);
  });
}

export function registerApprovals(program: Command, kit: Kit): void {
  const approvals = program
    .command('approvals')
    .description('approvals of destructive and irreversible calls (under exec/approvals)');
  const list = pageOptions(
    approvals.command('list').description('approvals (pending ones unless --state says otherwise)'),
  )
    .addOption(
      new Option('--state <state>', 'which')
        .choices(['pending', 'approved', 'rejected', 'expired', 'cancelled', 'all'])
        .default('pending'),
    )
    .addOption(new Option('--risk <risk>', 'only of this risk').choices(RISKS))
    .option('--workspace <id>', 'only in this workspace');
  kit.examples(list, 'xeroctl approvals list', 'xeroctl approvals list --state all --risk irreversible -o json');
  kit.act<{ limit?: number; after?: string; state: string; risk?: string; workspace?: string }>(
    list,
    async (run, options) => {
      const answer = await (
        await run.client()
      ).call<{ data: Row[] }>('GET', 'exec/approvals', {
        query: {
          limit: options.limit,
          after: options.after,
          state: options.state === 'all' ? undefined : options.state,
          workspace_id: options.workspace,
        },
      });
      const data = options.risk ? answer.data.filter((row) => row['risk'] === options.risk) : answer.data;
      run.list({ ...answer, data }, approvalColumns(kit.deps.now));
    },
  );
  const show = approvals.command('show <id>').description('one approval, its call and every decision');
  kit.examples(show, 'xeroctl approvals show apr_0123456789abcdef01234567');
  kit.act(show, async (run, _options, id) => {
    const { approval, invocation } = await underReview(run, id!);
    if (run.format !== 'table' && run.format !== 'wide') return run.show(approval, []);
    run.show({ ...approval, tool: invocation['tool'], args: invocation['args'] }, [
      ...approvalColumns(kit.deps.now).map((column) => ({ ...column, wide: false })),
      { header: 'TOOL', value: (row) => row['tool'] },
      { header: 'ARGS', value: (row) => row['args'] },
      { header: 'REQUEST HASH', value: (row) => row['request_hash'] },
      {
        header: 'DECISIONS',
        value: (row) =>
          ((row['decisions'] as Row[]) ?? [])
            .map(
              (d) =>
                `${text(d['verdict'])} by ${text((d['principal'] as Row | undefined)?.['display_name'] ?? d['key_id'])}${d['note'] ? ` (${text(d['note'])})` : ''}`,
            )
            .join('; '),
      },
    ]);
  });
  registerDecisions(approvals, kit);
  const watch = approvals
    .command('watch')
    .description('approvals as they open and are decided, live (NDJSON with -o json)')
    .addOption(new Option('--risk <risk>', 'only of this risk').choices(RISKS));
  kit.examples(watch, 'xeroctl approvals watch', 'xeroctl approvals watch --risk irreversible -o json | jq .id');
  kit.act<{ risk?: string }>(watch, async (run, options) => {
    const client = await run.client();
    await watchProject(run, client, 'Watching approvals (Ctrl-C stops).', async (event) => {
      const id = await approvalOf(client, event);
      if (!id) return;
      const approval = await client.call<Row>('GET', `exec/approvals/${id}`);
      if (options.risk && approval['risk'] !== options.risk) return;
      if (run.format === 'json') run.out(`${JSON.stringify(approval)}\n`);
      else
        run.out(
          `${kit.deps.now().toISOString()}  ${id}  ${text(approval['risk'])}  ${text(approval['state'])}  ${text(approval['invocation_id'])}\n`,
        );
    });
  });
}
