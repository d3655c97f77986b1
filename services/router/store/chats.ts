import { randomBytes } from 'node:crypto';
import type { Queryable } from './db.js';

export interface ChatRecord {
  readonly id: string;
  readonly project_id: string;
  readonly workspace_id: string;
  readonly owner_id: string;
  readonly title: string;
  readonly archived_at: Date | null;
  readonly created_at: Date;
  readonly updated_at: Date;
  /** The chat template version it was opened from (pinned), if any. */
  readonly template_id: string | null;
  readonly template_version: number | null;
}

export interface BranchRecord {
  readonly id: string;
  readonly chat_id: string;
  readonly display_name: string;
  readonly parent_branch_id: string | null;
  readonly fork_sequence: number | null;
  readonly is_default: boolean;
  readonly turn_response_id: string | null;
  readonly turn_started_at: Date | null;
  readonly created_at: Date;
}

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export const newChatId = () => `chat_${randomBytes(12).toString('hex')}`;
export const newMessageId = () => `msg_${randomBytes(12).toString('hex')}`;
/** `branch_` and 24 alphanumerics (the public shape); 62 symbols, rejection-free by taking bytes mod 62 of 248. */
export function newBranchId(): string {
  const bytes = randomBytes(48);
  const chars = [...bytes].filter((byte) => byte < 248).map((byte) => ALPHANUMERIC[byte % 62]);
  return chars.length >= 24 ? `branch_${chars.slice(0, 24).join('')}` : newBranchId();
}

/** Serializes writes to one chat for the rest of the transaction (a transaction pooler keeps it). */
export async function lockChat(db: Queryable, chatId: string): Promise<void> {
  await db.query("SELECT pg_advisory_xact_lock(hashtextextended('chat:' || $1, 0))", [chatId]);
}

export async function insertChat(
  db: Queryable,
  chat: Pick<ChatRecord, 'id' | 'project_id' | 'workspace_id' | 'owner_id' | 'title'> &
    Partial<Pick<ChatRecord, 'template_id' | 'template_version'>>,
): Promise<ChatRecord> {
  const inserted = await db.query<ChatRecord>(
    `INSERT INTO chats (id, project_id, workspace_id, owner_id, title, template_id, template_version)
     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *`,
    [
      chat.id,
      chat.project_id,
      chat.workspace_id,
      chat.owner_id,
      chat.title,
      chat.template_id ?? null,
      chat.template_version ?? null,
    ],
  );
  return inserted.rows[0]!;
}

export async function findChat(db: Queryable, projectId: string, id: string): Promise<ChatRecord | undefined> {
  return (await db.query<ChatRecord>('SELECT * FROM chats WHERE project_id = $1 AND id = $2', [projectId, id])).rows[0];
}

export interface ChatFilter {
  readonly workspaceId?: string;
  readonly archived?: boolean;
  readonly ownerId?: string;
}

/** Most recently active first; `after` is the last chat id of the previous page. */
export async function listChats(
  db: Queryable,
  projectId: string,
  filter: ChatFilter & { limit: number; after?: string },
): Promise<ChatRecord[]> {
  const found = await db.query<ChatRecord>(
    `SELECT * FROM chats c WHERE project_id = $1 AND ($2::text IS NULL OR workspace_id = $2)
        AND ($3::boolean IS NULL OR (archived_at IS NOT NULL) = $3) AND ($4::text IS NULL OR owner_id = $4)
        AND ($5::text IS NULL OR (updated_at, id) < (SELECT updated_at, id FROM chats WHERE id = $5 AND project_id = $1))
      ORDER BY updated_at DESC, id DESC LIMIT $6`,
    [
      projectId,
      filter.workspaceId ?? null,
      filter.archived ?? null,
      filter.ownerId ?? null,
      filter.after ?? null,
      filter.limit,
    ],
  );
  return found.rows;
}

export async function updateChat(
  db: Queryable,
  id: string,
  change: { title?: string; archived?: boolean },
): Promise<ChatRecord | undefined> {
  const updated = await db.query<ChatRecord>(
    `UPDATE chats SET title = coalesce($2, title),
            archived_at = CASE WHEN $3::boolean IS NULL THEN archived_at WHEN $3 THEN coalesce(archived_at, now()) ELSE NULL END,
            updated_at = now()
      WHERE id = $1 RETURNING *`,
    [id, change.title ?? null, change.archived ?? null],
  );
  return updated.rows[0];
}

export async function touchChat(db: Queryable, id: string): Promise<void> {
  await db.query('UPDATE chats SET updated_at = now() WHERE id = $1', [id]);
}

export async function deleteChat(db: Queryable, id: string): Promise<void> {
  await db.query('DELETE FROM chats WHERE id = $1', [id]);
}

export async function insertBranch(
  db: Queryable,
  branch: Pick<BranchRecord, 'id' | 'chat_id' | 'display_name' | 'parent_branch_id' | 'fork_sequence' | 'is_default'>,
): Promise<BranchRecord> {
  const inserted = await db.query<BranchRecord>(
    `INSERT INTO chat_branches (id, chat_id, display_name, parent_branch_id, fork_sequence, is_default)
     VALUES ($1, $2, $3, $4, $5, $6) RETURNING *`,
    [branch.id, branch.chat_id, branch.display_name, branch.parent_branch_id, branch.fork_sequence, branch.is_default],
  );
  return inserted.rows[0]!;
}

export async function branchesOf(db: Queryable, chatId: string): Promise<BranchRecord[]> {
  return (
    await db.query<BranchRecord>('SELECT * FROM chat_branches WHERE chat_id = $1 ORDER BY created_at, id', [chatId])
  ).rows;
}

export async function findBranch(db: Queryable, chatId: string, id: string): Promise<BranchRecord | undefined> {
  return (await db.query<BranchRecord>('SELECT * FROM chat_branches WHERE chat_id = $1 AND id = $2', [chatId, id]))
    .rows[0];
}

export async function renameBranch(
  db: Queryable,
  chatId: string,
  id: string,
  name: string,
): Promise<BranchRecord | undefined> {
  const updated = await db.query<BranchRecord>(
    'UPDATE chat_branches SET display_name = $3 WHERE chat_id = $1 AND id = $2 RETURNING *',
    [chatId, id, name],
  );
  return updated.rows[0];
}

/** Marks a turn running on a branch, or clears it (responseId null). */
export async function markTurn(db: Queryable, branchId: string, responseId: string | null): Promise<void> {
  await db.query(
    'UPDATE chat_branches SET turn_response_id = $2, turn_started_at = CASE WHEN $2::text IS NULL THEN NULL ELSE now() END WHERE id = $1',
    [branchId, responseId],
  );
}
