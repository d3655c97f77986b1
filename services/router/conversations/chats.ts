import { ApiError } from '../http/errors.js';
import { withTransaction, type Queryable } from '../store/db.js';
import type { Pool } from '../store/pool.js';
import {
  findBranch,
  findChat,
  insertBranch,
  insertChat,
  lockChat,
  newBranchId,
  newChatId,
  type BranchRecord,
  type ChatRecord,
} from '../store/chats.js';
import { findMessage } from '../store/chat-messages.js';

export const DEFAULT_BRANCH_NAME = 'main';

/** A chat and its default branch, in one transaction: a chat never exists without a branch. */
export async function createChat(
  pool: Pool,
  chat: {
    projectId: string;
    workspaceId: string;
    ownerId: string;
    title?: string;
    /** The template version it opens from, pinned. */
    template?: { id: string; version: number };
  },
): Promise<{ chat: ChatRecord; branch: BranchRecord }> {
  return withTransaction(pool, async (client) => {
    const created = await insertChat(client, {
      id: newChatId(),
      project_id: chat.projectId,
      workspace_id: chat.workspaceId,
      owner_id: chat.ownerId,
      title: chat.title ?? 'New chat',
      ...(chat.template ? { template_id: chat.template.id, template_version: chat.template.version } : {}),
    });
    const branch = await insertBranch(client, {
      id: newBranchId(),
      chat_id: created.id,
      display_name: DEFAULT_BRANCH_NAME,
      parent_branch_id: null,
      fork_sequence: null,
      is_default: true,
    });
    return { chat: created, branch };
  });
}

export async function chatOf(db: Queryable, projectId: string, chatId: string): Promise<ChatRecord> {
  const chat = await findChat(db, projectId, chatId);
  if (!chat) throw new ApiError('chat_not_found', undefined, 'chat_id');
  return chat;
}

export async function branchOf(db: Queryable, chatId: string, branchId: string): Promise<BranchRecord> {
  const branch = await findBranch(db, chatId, branchId);
  if (!branch) throw new ApiError('branch_not_found', undefined, 'branch_id');
  return branch;
}

/** Only the chat's owner writes to it (others with access read it). */
export function assertOwner(chat: ChatRecord, principalId: string): void {
  if (chat.owner_id !== principalId) throw new ApiError('chat_not_owned');
}

/**
 * A new branch that shares the conversation up to and including `fromMessageId`, then goes its
 * own way. The parent is the branch the message was written on: every branch that sees that
 * message sees the same messages before it.
 */
export async function forkBranch(
  pool: Pool,
  chat: ChatRecord,
  fork: { fromMessageId: string; displayName?: string },
): Promise<BranchRecord> {
  return withTransaction(pool, async (client) => {
    await lockChat(client, chat.id);
    const message = await findMessage(client, chat.id, fork.fromMessageId);
    if (!message) throw new ApiError('message_not_found', undefined, 'from_message_id');
    return insertBranch(client, {
      id: newBranchId(),
      chat_id: chat.id,
      display_name: fork.displayName ?? `fork at message ${message.sequence}`,
      parent_branch_id: message.branch_id,
      fork_sequence: message.sequence,
      is_default: false,
    });
  });
}
