import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTurn } from '../../services/router/conversations/turns.js';
import { startAppHarness, type AppHarness } from '../helpers/app-harness.js';
import { execClient } from '../helpers/exec-client.js';
import type { SeededProject } from '../helpers/fixtures.js';

describe('conversations: chats, branches and turns', () => {
  let harness: AppHarness;
  let app: FastifyInstance;
  let acme: SeededProject;
  let api: ReturnType<typeof execClient>;
  let operator: { key: string; principalId: string };

  beforeAll(async () => {
    harness = await startAppHarness();
    ({ app, acme } = harness);
    api = execClient(app, acme.project.id);
    operator = await api.mintKey(acme.adminKey, 'Olga Operator', ['inference'], ['operator']);
  });
  afterAll(() => harness.close());

  const text = (words: string) => [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: words }] }];
  /** A turn as the Responses route runs one, without a model: the answer is given. */
  async function say(chatId: string, words: string, branchId?: string) {
    const turn = await openTurn(harness.pool, {
      projectId: acme.project.id,
      chatId,
      ...(branchId ? { branchId } : {}),
      principalId: operator.principalId,
      responseId: `resp_${'0'.repeat(24)}${Math.random().toString(16).slice(2, 10).padEnd(8, '0')}`,
      input: text(words) as never,
    });
    await turn.finish(
      [{ type: 'message', role: 'assistant', content: [{ type: 'output_text', text: `re: ${words}` }] }],
      {
        total_tokens: 3,
      },
    );
    return turn;
  }

  it('creates a chat with a default branch, lists, renames, archives, and lets only its owner change it', async () => {
    const created = await api.call('POST', '/chats', operator.key, { title: 'db cleanup' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      object: 'chat',
      title: 'db cleanup',
      workspace_id: acme.workspace.id,
      owner_id: operator.principalId,
      archived: false,
      branches: [{ display_name: 'main', is_default: true }],
    });
    const id = created.body['id'] as string;
    expect((await api.call('PATCH', `/chats/${id}`, operator.key, { title: 'db cleanup, take 2' })).body['title']).toBe(
      'db cleanup, take 2',
    );
    const stranger = await api.call('PATCH', `/chats/${id}`, acme.adminKey, { title: 'mine now' });
    expect([stranger.status, stranger.body.error?.code]).toEqual([403, 'chat_not_owned']);
    expect((await api.call('GET', `/chats/${id}`, acme.adminKey)).status).toBe(200);
    await api.call('PATCH', `/chats/${id}`, operator.key, { archived: true });
    const active = await api.call('GET', '/chats?archived=false', operator.key);
    expect((active.body['data'] as { id: string }[]).map((chat) => chat.id)).not.toContain(id);
    const archived = await api.call('GET', '/chats?archived=true&mine=true', operator.key);
    expect((archived.body['data'] as { id: string }[]).map((chat) => chat.id)).toEqual([id]);
    await expect(say(id, 'anyone there?')).rejects.toMatchObject({ code: 'chat_archived' });
    expect((await api.call('DELETE', `/chats/${id}`, acme.adminKey)).status).toBe(204);
    expect((await api.call('GET', `/chats/${id}`, operator.key)).body.error?.code).toBe('chat_not_found');
  });

  it('keeps turns in order, forks a branch at a message that sees what came before, and continues each apart', async () => {
    const chat = (await api.call('POST', '/chats', operator.key, {})).body;
    const id = chat['id'] as string;
    const main = chat['default_branch_id'] as string;
    await say(id, 'one');
    await say(id, 'two');
    const messages = async (branch: string) =>
      (
        (await api.call('GET', `/chats/${id}/branches/${branch}/messages`, operator.key)).body['data'] as {
          id: string;
          sequence: number;
          role: string;
          items: { content: { text: string }[] }[];
        }[]
      ).map((message) => `${message.sequence}:${message.role}:${message.items[0]!.content[0]!.text}`);
    expect(await messages(main)).toEqual(['1:user:one', '2:assistant:re: one', '3:user:two', '4:assistant:re: two']);
    const firstAnswer = (
      (await api.call('GET', `/chats/${id}/branches/${main}/messages?limit=2`, operator.key)).body['data'] as {
        id: string;
      }[]
    )[1]!.id;
    const fork = await api.call('POST', `/chats/${id}/branches`, operator.key, {
      from_message_id: firstAnswer,
      display_name: 'try again',
    });
    expect(fork.body).toMatchObject({
      parent_branch_id: main,
      fork_sequence: 2,
      is_default: false,
      display_name: 'try again',
    });
    const branch = fork.body['id'] as string;
    await say(id, 'three', branch);
    expect(await messages(branch)).toEqual([
      '1:user:one',
      '2:assistant:re: one',
      '3:user:three',
      '4:assistant:re: three',
    ]);
    expect(await messages(main)).toEqual(['1:user:one', '2:assistant:re: one', '3:user:two', '4:assistant:re: two']);
    const page = await api.call('GET', `/chats/${id}/branches/${branch}/messages?limit=3`, operator.key);
    expect(page.body).toMatchObject({ has_more: true, next_cursor: '3' });
    const rest = await api.call('GET', `/chats/${id}/branches/${branch}/messages?after=3`, operator.key);
    expect((rest.body['data'] as { sequence: number }[]).map((message) => message.sequence)).toEqual([4]);
    const renamed = await api.call('PATCH', `/chats/${id}/branches/${branch}`, operator.key, {
      display_name: 'plan B',
    });
    expect(renamed.body['display_name']).toBe('plan B');
    expect((await api.call('GET', `/chats/${id}/branches`, operator.key)).body['data']).toHaveLength(2);
  });

  it('runs one turn at a time on a branch: of two at once, one is refused and nothing interleaves', async () => {
    const id = (await api.call('POST', '/chats', operator.key, {})).body['id'] as string;
    const open = () =>
      openTurn(harness.pool, {
        projectId: acme.project.id,
        chatId: id,
        principalId: operator.principalId,
        responseId: `resp_${'1'.repeat(32)}`,
        input: text('at once') as never,
      });
    const results = await Promise.allSettled([open(), open()]);
    expect(results.map((result) => result.status).sort()).toEqual(['fulfilled', 'rejected']);
    const refused = results.find((result) => result.status === 'rejected') as PromiseRejectedResult;
    expect(refused.reason).toMatchObject({ code: 'turn_in_progress' });
    const running = results.find((result) => result.status === 'fulfilled') as PromiseFulfilledResult<
      Awaited<ReturnType<typeof open>>
    >;
    await running.value.abandon();
    // A turn refused before the model ran leaves nothing behind, and the branch is free again.
    const free = await open();
    await free.finish([], null);
    const messages = await api.call('GET', `/chats/${id}/branches/${running.value.branch.id}/messages`, operator.key);
    expect((messages.body['data'] as unknown[]).length).toBe(2);
  });

  it('refuses unknown chats, branches and messages with the documented codes', async () => {
    const id = (await api.call('POST', '/chats', operator.key, {})).body['id'] as string;
    expect((await api.call('GET', `/chats/chat_${'0'.repeat(24)}`, operator.key)).body.error?.code).toBe(
      'chat_not_found',
    );
    expect(
      (await api.call('GET', `/chats/${id}/branches/branch_${'A'.repeat(24)}/messages`, operator.key)).body.error?.code,
    ).toBe('branch_not_found');
    expect(
      (await api.call('POST', `/chats/${id}/branches`, operator.key, { from_message_id: `msg_${'0'.repeat(24)}` })).body
        .error?.code,
    ).toBe('message_not_found');
    const viewer = await api.mintKey(acme.adminKey, 'Vic Viewer', ['execution'], ['viewer']);
    expect((await api.call('GET', '/chats', viewer.key)).status).toBe(403);
  });
});
