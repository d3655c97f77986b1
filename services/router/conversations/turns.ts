import { ApiError } from '../http/errors.js';
import type { ResponseItem } from '../inference/responses-request.js';
import { withTransaction } from '../store/db.js';
import type { Pool } from '../store/pool.js';
import {
  branchesOf,
  lockChat,
  markTurn,
  newMessageId,
  touchChat,
  type BranchRecord,
  type ChatRecord,
} from '../store/chats.js';
import { insertMessage, lastMessageOf, messagesOfBranch } from '../store/chat-messages.js';
import { forkBeforeIrreversible, type ContextFork } from './auto-fork.js';
import { assertOwner, branchOf, chatOf } from './chats.js';

/**
 * A turn marked running longer than this is taken to be dead (its router stopped mid-turn) and
 * may be replaced; until then a second turn on the branch is refused.
 */
export const TURN_STALE_MS = 10 * 60_000;

/** The most a turn reads back as history (messages); older ones are the chat API's to show. */
const HISTORY_LIMIT = 1_000;

export interface OpenTurn {
  readonly chat: ChatRecord;
  readonly branch: BranchRecord;
  /** What the model sees before this turn's input: every earlier item of the branch, in order. */
  readonly history: ResponseItem[];
  /** Keeps the turn (the input, then the model's output items and usage) and ends it. */
  finish(output: readonly unknown[], usage: Record<string, unknown> | null): Promise<void>;
  /** Ends a turn that never reached the model (refused before inference): nothing is kept. */
  abandon(): Promise<void>;
  /** Forks before an irreversible call (once: later calls of the turn go on on the same fork); the turn is kept on the fork. */
  fork(call: { tool: string; invocationId: string }): Promise<ContextFork | undefined>;
}

/**
 * Starts a turn on a chat's branch (its default one unless named): refused with 409
 * `turn_in_progress` while another turn runs there, so turns never interleave. The turn is
 * marked on the branch under the chat's transaction lock; its messages (the input, then the
 * model's output) are written together when it ends, so a request the router refuses (no
 * capacity, say) leaves no half turn behind and a retry does not repeat the question.
 */
export async function openTurn(
  pool: Pool,
  request: {
    projectId: string;
    chatId: string;
    branchId?: string;
    principalId: string;
    responseId: string;
    input: readonly ResponseItem[];
  },
  now: () => Date = () => new Date(),
): Promise<OpenTurn> {
  const { chat, branch, history } = await withTransaction(pool, async (client) => {
    const chat = await chatOf(client, request.projectId, request.chatId);
    assertOwner(chat, request.principalId);
    if (chat.archived_at) throw new ApiError('chat_archived');
    await lockChat(client, chat.id);
    const branch = request.branchId
      ? await branchOf(client, chat.id, request.branchId)
      : (await branchesOf(client, chat.id)).find((candidate) => candidate.is_default)!;
    if (branch.turn_started_at && now().getTime() - branch.turn_started_at.getTime() < TURN_STALE_MS)
      throw new ApiError('turn_in_progress', `Branch ${branch.id} has a turn running (${branch.turn_response_id})`);
    const earlier = await messagesOfBranch(client, branch.id, { limit: HISTORY_LIMIT });
    await markTurn(client, branch.id, request.responseId);
    return { chat, branch, history: earlier.flatMap((message) => message.items as ResponseItem[]) };
  });
  let where = { chatId: chat.id, branchId: branch.id };
  let forked: ContextFork | undefined;
  const end = (output?: { items: readonly unknown[]; usage: Record<string, unknown> | null }) =>
    withTransaction(pool, async (client) => {
      await lockChat(client, chat.id);
      if (output) {
        await append(client, where, {
          role: 'user',
          items: request.input,
          responseId: request.responseId,
          usage: null,
          author: request.principalId,
        });
        await append(client, where, {
          role: 'assistant',
          items: output.items,
          responseId: request.responseId,
          usage: output.usage,
          author: null,
        });
      }
      await markTurn(client, where.branchId, null);
    });
  return {
    chat,
    branch,
    history,
    finish: (items, usage) => end({ items, usage }),
    abandon: () => end(),
    async fork(call) {
      if (forked) return undefined;
      forked = await forkBeforeIrreversible(pool, { ...where, responseId: request.responseId }, call);
      where = { chatId: chat.id, branchId: forked.branch.id };
      return forked;
    },
  };
}

async function append(
  client: Parameters<typeof insertMessage>[0],
  where: { chatId: string; branchId: string },
  message: {
    role: 'user' | 'assistant';
    items: readonly unknown[];
    responseId: string;
    usage: Record<string, unknown> | null;
    author: string | null;
  },
): Promise<void> {
  const last = await lastMessageOf(client, where.branchId);
  await insertMessage(client, {
    id: newMessageId(),
    chat_id: where.chatId,
    branch_id: where.branchId,
    sequence: (last?.sequence ?? 0) + 1,
    parent_id: last?.id ?? null,
    role: message.role,
    items: [...message.items],
    response_id: message.responseId,
    usage: message.usage,
    author_id: message.author,
  });
  await touchChat(client, where.chatId);
}

/**
 * Keeps what a turn resumed in the background added (people decided what it waited for): one
 * more assistant message at the end of its branch, written under the chat's lock like any turn.
 */
export async function appendContinuation(
  pool: Pool,
  turn: {
    chatId: string;
    branchId: string;
    responseId: string;
    items: readonly unknown[];
    usage: Record<string, unknown> | null;
  },
): Promise<void> {
  await withTransaction(pool, async (client) => {
    await lockChat(client, turn.chatId);
    await append(client, turn, {
      role: 'assistant',
      items: turn.items,
      responseId: turn.responseId,
      usage: turn.usage,
      author: null,
    });
  });
}
