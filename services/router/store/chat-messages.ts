import type { Queryable } from './db.js';

export type MessageRole = 'user' | 'assistant' | 'system';

export interface MessageRecord {
  readonly id: string;
  readonly chat_id: string;
  readonly branch_id: string;
  readonly sequence: number;
  readonly parent_id: string | null;
  readonly role: MessageRole;
  readonly items: unknown[];
  readonly response_id: string | null;
  readonly usage: Record<string, unknown> | null;
  readonly author_id: string | null;
  readonly created_at: Date;
}

export type NewMessage = Pick<
  MessageRecord,
  'id' | 'chat_id' | 'branch_id' | 'sequence' | 'parent_id' | 'role' | 'items' | 'response_id' | 'usage' | 'author_id'
>;

// A branch and its ancestors, each with the last sequence of it the branch sees.
const BRANCH_LINE = `WITH RECURSIVE line (id, parent_branch_id, upto) AS (
    SELECT id, parent_branch_id, 2147483647 FROM chat_branches WHERE id = $1
    UNION ALL
    SELECT b.id, b.parent_branch_id, least(line.upto, child.fork_sequence)
      FROM line JOIN chat_branches child ON child.id = line.id JOIN chat_branches b ON b.id = child.parent_branch_id)
  SELECT m.* FROM chat_messages m JOIN line ON m.branch_id = line.id AND m.sequence <= line.upto`;

export async function insertMessage(db: Queryable, message: NewMessage): Promise<MessageRecord> {
  const inserted = await db.query<MessageRecord>(
    `INSERT INTO chat_messages (id, chat_id, branch_id, sequence, parent_id, role, items, response_id, usage, author_id, search_text)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING *`,
    [
      message.id,
      message.chat_id,
      message.branch_id,
      message.sequence,
      message.parent_id,
      message.role,
      JSON.stringify(message.items),
      message.response_id,
      message.usage === null ? null : JSON.stringify(message.usage),
      message.author_id,
      searchableText(message.items),
    ],
  );
  return inserted.rows[0]!;
}

/** What a message says, for full-text search: its text, the tools called and what they returned. */
export function searchableText(items: readonly unknown[]): string {
  const parts: string[] = [];
  const text = (value: unknown) => {
    if (typeof value === 'string') parts.push(value);
    else if (Array.isArray(value)) value.forEach((part: { text?: unknown }) => text(part?.text));
  };
  for (const item of items as Record<string, unknown>[]) {
    if (item['type'] === 'message' || item['role'] !== undefined) text(item['content']);
    else if (item['type'] === 'mcp_call' || item['type'] === 'function_call') {
      text(item['name']);
      text(item['output']);
    } else if (item['type'] === 'function_call_output') text(item['output']);
  }
  // The index reads the first 256 KB; a 16 MB tool output need not be copied whole.
  return parts.join('\n').slice(0, 262_144);
}

/**
 * The messages a branch sees, in order: each ancestor's up to where the next branch forked from
 * it, then the branch's own. Sequences continue across a fork, so they are the order.
 */
export async function messagesOfBranch(
  db: Queryable,
  branchId: string,
  page: { after?: number; limit: number },
): Promise<MessageRecord[]> {
  const found = await db.query<MessageRecord>(`${BRANCH_LINE} WHERE m.sequence > $2 ORDER BY m.sequence LIMIT $3`, [
    branchId,
    page.after ?? 0,
    page.limit,
  ]);
  return found.rows;
}

/** The branch's newest message (its own or inherited), the parent of the next one. */
export async function lastMessageOf(db: Queryable, branchId: string): Promise<MessageRecord | undefined> {
  const found = await db.query<MessageRecord>(`${BRANCH_LINE} ORDER BY m.sequence DESC LIMIT 1`, [branchId]);
  return found.rows[0];
}

export async function findMessage(db: Queryable, chatId: string, id: string): Promise<MessageRecord | undefined> {
  return (await db.query<MessageRecord>('SELECT * FROM chat_messages WHERE chat_id = $1 AND id = $2', [chatId, id]))
    .rows[0];
}
