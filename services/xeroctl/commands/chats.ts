import { Option, type Command } from 'commander';
import { CliError, EXIT, usageError } from '../exit-codes.js';
import type { RouterClient } from '../http/router-client.js';
import { pageOptions, type Kit } from '../kit.js';
import { age, cell, type Column, text } from '../output/render.js';
import type { Run } from '../runtime.js';
import { sendTurn, type PendingApproval, type TurnOutcome } from './chat-turn.js';

type Row = Record<string, unknown>;

const columns = (now: () => Date): Column[] => [
  { header: 'ID', value: (row) => row['id'] },
  { header: 'TITLE', value: (row) => row['title'] },
  { header: 'WORKSPACE', value: (row) => row['workspace_id'] },
  { header: 'UPDATED', value: (row) => age(row['updated_at'], now()) },
  { header: 'ARCHIVED', value: (row) => row['archived'], wide: true },
  { header: 'TEMPLATE', value: (row) => (row['template'] as Row | null)?.['id'], wide: true },
];

interface SendOptions {
  chat?: string;
  workspace?: string;
  template?: string;
  endpoint: string;
  model?: string;
  fromFile?: string;
  interactive?: boolean;
  tools: boolean;
}

/** The model to ask: --model, else the first the endpoint serves now. */
async function modelOf(client: RouterClient, slug: string, wanted: string | undefined): Promise<string> {
  if (wanted) return wanted;
  const models = await client.call<{ data: Row[] }>(
    'GET',
    `/${encodeURIComponent(client.connection.project)}/${slug}/v1/models`,
  );
  const model = models.data.find((entry) => entry['available'] !== false) ?? models.data[0];
  if (!model) throw new CliError(`endpoint "${slug}" serves no model`, EXIT.error, 'model_not_found');
  return String(model['id']);
}

async function chatFor(run: Run, client: RouterClient, options: SendOptions): Promise<Row> {
  if (options.chat) return client.call<Row>('GET', `chats/${options.chat}`);
  const created = await client.call<Row>('POST', 'chats', {
    body: {
      ...(options.workspace ? { workspace_id: options.workspace } : {}),
      ...(options.template ? { template_id: options.template } : {}),
    },
  });
  run.note(`New chat ${text(created['id'])} (continue it with --chat ${text(created['id'])}).`);
  return created;
}

/** Asks, for each approval this person may give, approve / reject (with a reason) / leave it. */
async function decide(run: Run, approvals: readonly PendingApproval[], mayApprove: boolean): Promise<Row[]> {
  const answers: Row[] = [];
  for (const approval of approvals) {
    if (approval.waitingFor || !mayApprove) {
      run.note(
        `${approval.approvalId} waits for ${approval.waitingFor ?? 'an approver'}; the chat goes on by itself once decided.`,
      );
      continue;
    }
    const said =
      (
        await run.deps.terminal.readLine(
          `Approve ${approval.tool} [${approval.risk}] ${cell(approval.args)}? [y]es / [n]o / Enter to leave it: `,
        )
      )?.trim() ?? '';
    if (!/^(y|yes|n|no)$/i.test(said)) continue;
    const approve = /^y/i.test(said);
    const reason = approve ? undefined : (await run.deps.terminal.readLine('Reason (optional): '))?.trim();
    answers.push({
      type: 'mcp_approval_response',
      approval_request_id: approval.itemId,
      approve,
      ...(reason ? { reason } : {}),
    });
  }
  return answers;
}

async function conversation(
  run: Run,
  client: RouterClient,
  options: SendOptions,
  first: string | undefined,
): Promise<TurnOutcome | undefined> {
  const chat = await chatFor(run, client, options);
  const model = await modelOf(client, options.endpoint, options.model);
  const whoami = await client.call<{ permissions?: string[] }>('GET', 'auth/whoami');
  const tools =
    options.tools && (whoami.permissions ?? []).includes('exec.invoke')
      ? [{ type: 'mcp', server_label: chat['workspace_id'] }]
      : undefined;
  const path = `/${encodeURIComponent(client.connection.project)}/${options.endpoint}/v1/responses`;
  const turn = (input: unknown) =>
    sendTurn(run, client, path, { model, input, conversation: chat['id'], ...(tools ? { tools } : {}) });
  let outcome: TurnOutcome | undefined;
  let next: unknown = first;
  for (;;) {
    if (next === undefined && options.interactive) next = await run.deps.terminal.readLine(run.paint('bold', 'you> '));
    if (next === undefined || next === '') return outcome;
    outcome = await turn(next);
    next = undefined;
    if (!options.interactive) return outcome;
    const answers = await decide(run, outcome.pending, (whoami.permissions ?? []).includes('exec.approve'));
    if (answers.length) next = answers;
  }
}

function registerChat(program: Command, kit: Kit): void {
  const chat = program
    .command('chat')
    .description('talk with the model: its answer streams, its tool calls show as cards');
  const send = chat
    .command('send [message]')
    .description(
      'send a message (to a new chat unless --chat); --interactive keeps going and asks for approvals inline',
    )
    .option('--chat <id>', 'continue this chat')
    .option('--workspace <id>', 'a new chat in this workspace (default: the project default)')
    .option('--template <id>', 'a new chat from this template')
    .option('--endpoint <slug>', 'the inference endpoint', 'default')
    .option('--model <name>', 'the model (default: the first the endpoint serves)')
    .option('--from-file <path>', 'the message from a file')
    .option('-i, --interactive', 'a conversation: type messages, decide approvals you may give')
    .option('--no-tools', 'no tool calls, even if your role may call tools');
  kit.examples(
    send,
    'xeroctl chat send "how full are the disks on db-1?"',
    'xeroctl chat send --chat chat_0123456789abcdef01234567 "and now?"',
    'xeroctl chat send -i',
  );
  kit.act<SendOptions>(send, async (run, options, message) => {
    const text = options.fromFile ? kit.deps.readFile(options.fromFile) : message;
    if (!text && !options.interactive) throw usageError('what to say? (a message, --from-file, or --interactive)');
    const client = await run.client();
    const outcome = await conversation(run, client, options, text);
    if (run.format === 'json' || run.format === 'yaml') return run.show(outcome?.response ?? {}, []);
    for (const approval of outcome?.pending ?? [])
      if (!options.interactive)
        run.note(
          `Waiting on approval ${approval.approvalId}: xeroctl approvals approve ${approval.approvalId} (the chat goes on by itself once decided)`,
        );
  });
}

export function registerChats(program: Command, kit: Kit): void {
  const chats = program.command('chats').description('chats of the project');
  const list = pageOptions(chats.command('list').description('chats, newest first'))
    .option('--workspace <id>', 'only in this workspace')
    .option('--archived', 'archived ones instead')
    .option('--mine', 'only your own');
  kit.examples(list, 'xeroctl chats list --mine');
  kit.act<{ limit?: number; after?: string; workspace?: string; archived?: boolean; mine?: boolean }>(
    list,
    async (run, o) =>
      run.list(
        await (
          await run.client()
        ).call('GET', 'chats', {
          query: {
            limit: o.limit,
            after: o.after,
            workspace_id: o.workspace,
            archived: o.archived ? 'true' : 'false',
            mine: o.mine ? 'true' : undefined,
          },
        }),
        columns(kit.deps.now),
      ),
  );
  const show = chats.command('show <id>').description('one chat and its branches');
  kit.examples(show, 'xeroctl chats show chat_0123456789abcdef01234567');
  kit.act(show, async (run, _o, id) =>
    run.show(await (await run.client()).call('GET', `chats/${id}`), [
      ...columns(kit.deps.now),
      {
        header: 'BRANCHES',
        value: (row) => ((row['branches'] as Row[]) ?? []).map((b) => b['display_name'] ?? b['id']),
      },
    ]),
  );
  const create = chats
    .command('create')
    .description('a new, empty chat')
    .option('--title <title>', 'its title')
    .option('--workspace <id>', 'its workspace')
    .addOption(new Option('--template <id>', 'open it from a template (pinned to its latest version)'));
  kit.examples(create, 'xeroctl chats create --title "db-1 disk" --workspace ws_0123456789ab');
  kit.act<{ title?: string; workspace?: string; template?: string }>(create, async (run, o) =>
    run.show(
      await (
        await run.client()
      ).call('POST', 'chats', {
        body: {
          ...(o.title ? { title: o.title } : {}),
          ...(o.workspace ? { workspace_id: o.workspace } : {}),
          ...(o.template ? { template_id: o.template } : {}),
        },
      }),
      columns(kit.deps.now),
    ),
  );
  const rename = chats.command('rename <id> <title>').description('a new title');
  kit.examples(rename, 'xeroctl chats rename chat_0123456789abcdef01234567 "db-1 disk, resolved"');
  kit.act(rename, async (run, _o, id, title) =>
    run.show(await (await run.client()).call('PATCH', `chats/${id}`, { body: { title } }), columns(kit.deps.now)),
  );
  const archive = chats.command('archive <id>').description('archive a chat (it stays readable)');
  kit.examples(archive, 'xeroctl chats archive chat_0123456789abcdef01234567');
  kit.act(archive, async (run, _o, id) =>
    run.show(
      await (await run.client()).call('PATCH', `chats/${id}`, { body: { archived: true } }),
      columns(kit.deps.now),
    ),
  );
  registerChat(program, kit);
}
