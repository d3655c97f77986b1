import type { BranchRecord, ChatRecord } from '../store/chats.js';
import type { MessageRecord } from '../store/chat-messages.js';

const iso = (date: Date | null) => date?.toISOString() ?? null;

export function chatView(chat: ChatRecord, branches?: readonly BranchRecord[]) {
  return {
    object: 'chat' as const,
    id: chat.id,
    title: chat.title,
    workspace_id: chat.workspace_id,
    owner_id: chat.owner_id,
    archived: chat.archived_at !== null,
    archived_at: iso(chat.archived_at),
    template: chat.template_id ? { id: chat.template_id, version: chat.template_version } : null,
    created_at: chat.created_at.toISOString(),
    updated_at: chat.updated_at.toISOString(),
    ...(branches
      ? {
          default_branch_id: branches.find((branch) => branch.is_default)?.id ?? null,
          branches: branches.map(branchView),
        }
      : {}),
  };
}

export function branchView(branch: BranchRecord) {
  return {
    object: 'chat.branch' as const,
    id: branch.id,
    chat_id: branch.chat_id,
    display_name: branch.display_name,
    parent_branch_id: branch.parent_branch_id,
    fork_sequence: branch.fork_sequence,
    is_default: branch.is_default,
    turn_in_progress: branch.turn_response_id,
    created_at: branch.created_at.toISOString(),
  };
}

export function messageView(message: MessageRecord) {
  return {
    object: 'chat.message' as const,
    id: message.id,
    chat_id: message.chat_id,
    branch_id: message.branch_id,
    sequence: message.sequence,
    parent_id: message.parent_id,
    role: message.role,
    items: message.items,
    response_id: message.response_id,
    usage: message.usage,
    author_id: message.author_id,
    created_at: message.created_at.toISOString(),
  };
}
