import { randomBytes } from 'node:crypto';
import type { Queryable } from './db.js';

export interface MemoryRecord {
  readonly id: string;
  readonly project_id: string;
  readonly workspace_id: string;
  readonly content: string;
  readonly tags: string[];
  readonly chat_id: string | null;
  readonly created_by: string | null;
  readonly created_at: Date;
}

const COLUMNS = 'id, project_id, workspace_id, content, tags, chat_id, created_by, created_at';

export const newMemoryId = () => `mem_${randomBytes(12).toString('hex')}`;

export async function insertMemory(db: Queryable, memory: Omit<MemoryRecord, 'created_at'>): Promise<MemoryRecord> {
  const inserted = await db.query<MemoryRecord>(
    `INSERT INTO memories (id, project_id, workspace_id, content, tags, chat_id, created_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${COLUMNS}`,
    [memory.id, memory.project_id, memory.workspace_id, memory.content, memory.tags, memory.chat_id, memory.created_by],
  );
  return inserted.rows[0]!;
}

/** Newest first; `before` is the last id of the previous page. */
export async function listMemories(
  db: Queryable,
  workspaceId: string,
  page: { limit: number; after?: string },
): Promise<MemoryRecord[]> {
  return (
    await db.query<MemoryRecord>(
      `SELECT ${COLUMNS} FROM memories WHERE workspace_id = $1
          AND ($2::text IS NULL OR (created_at, id) < (SELECT created_at, id FROM memories WHERE id = $2))
        ORDER BY created_at DESC, id DESC LIMIT $3`,
      [workspaceId, page.after ?? null, page.limit],
    )
  ).rows;
}

export async function deleteMemory(db: Queryable, projectId: string, id: string): Promise<MemoryRecord | undefined> {
  return (
    await db.query<MemoryRecord>(`DELETE FROM memories WHERE project_id = $1 AND id = $2 RETURNING ${COLUMNS}`, [
      projectId,
      id,
    ])
  ).rows[0];
}

export async function findMemory(db: Queryable, projectId: string, id: string): Promise<MemoryRecord | undefined> {
  return (
    await db.query<MemoryRecord>(`SELECT ${COLUMNS} FROM memories WHERE project_id = $1 AND id = $2`, [projectId, id])
  ).rows[0];
}
