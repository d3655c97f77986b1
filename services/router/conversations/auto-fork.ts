import { withTransaction } from '../store/db.js';
import type { Pool } from '../store/pool.js';
import { findBranch, insertBranch, lockChat, markTurn, newBranchId, type BranchRecord } from '../store/chats.js';
import { lastMessageOf } from '../store/chat-messages.js';

export interface ContextFork {
  readonly chatId: string;
  readonly parent: BranchRecord;
  readonly branch: BranchRecord;
  /** The last message both branches share (none on an empty branch), and its sequence. */
  readonly forkMessageId: string | null;
  readonly forkSequence: number;
}

/**
 * Auto-fork before an irreversible call: a new branch of the turn's branch at its last message
 * (the message before the call), named for the call, on which the turn goes on. The parent stays
 * as it was before the call: rolling the conversation back is continuing there. The new branch
 * takes over as the chat's default when the parent was it (a client that names no branch goes
 * on where the call happened), and a turn marked running on the parent moves with it.
 */
export async function forkBeforeIrreversible(
  pool: Pool,
  where: { chatId: string; branchId: string; responseId: string },
  call: { tool: string; invocationId: string },
): Promise<ContextFork> {
  return withTransaction(pool, async (client) => {
    await lockChat(client, where.chatId);
    const parent = (await findBranch(client, where.chatId, where.branchId))!;
    const last = await lastMessageOf(client, parent.id);
    const forkSequence = last?.sequence ?? 0;
    if (parent.is_default) await client.query('UPDATE chat_branches SET is_default = false WHERE id = $1', [parent.id]);
    const branch = await insertBranch(client, {
      id: newBranchId(),
      chat_id: where.chatId,
      display_name: `auto-fork before ${call.tool} (${call.invocationId})`.slice(0, 200),
      parent_branch_id: parent.id,
      fork_sequence: forkSequence,
      is_default: parent.is_default,
    });
    if (parent.turn_response_id === where.responseId) {
      await markTurn(client, parent.id, null);
      await markTurn(client, branch.id, where.responseId);
    }
    return { chatId: where.chatId, parent, branch, forkMessageId: last?.id ?? null, forkSequence };
  });
}

/** The `x_context_fork` event's fields. */
export function forkEvent(fork: ContextFork, call: { tool: string; invocationId: string }) {
  return {
    chat_id: fork.chatId,
    parent_branch_id: fork.parent.id,
    branch_id: fork.branch.id,
    branch_display_name: fork.branch.display_name,
    fork_sequence: fork.forkSequence,
    fork_message_id: fork.forkMessageId,
    reason: { kind: 'irreversible_call', tool: call.tool, invocation_id: call.invocationId },
  };
}
