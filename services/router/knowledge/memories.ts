import { withTransaction } from '../store/db.js';
import type { Pool } from '../store/pool.js';
import { actorOf, appendAudit, type ActingPrincipal } from '../store/audit-log.js';
import { insertMemory, listMemories, newMemoryId, type MemoryRecord } from '../store/memories.js';
import { searchWorkspace, type SearchHit } from '../store/workspace-search.js';

/** A memory of the workspace, audited (its id and size, never its content). */
export async function saveMemory(
  pool: Pool,
  where: { projectId: string; workspaceId: string; chatId: string | null },
  memory: { content: string; tags: readonly string[] },
  actor: ActingPrincipal,
): Promise<MemoryRecord> {
  return withTransaction(pool, async (client) => {
    const saved = await insertMemory(client, {
      id: newMemoryId(),
      project_id: where.projectId,
      workspace_id: where.workspaceId,
      content: memory.content,
      tags: [...memory.tags],
      chat_id: where.chatId,
      created_by: actor.principalId,
    });
    await appendAudit(client, {
      projectId: where.projectId,
      ...actorOf(actor),
      event: 'memory.saved',
      subject: saved.id,
      detail: { workspace_id: saved.workspace_id, chat_id: saved.chat_id, characters: saved.content.length },
    });
    return saved;
  });
}

/** Memories matching the query, best first (ranked full-text search); the newest when there is no query. */
export async function recallMemories(
  pool: Pool,
  workspaceId: string,
  query: string,
  limit: number,
): Promise<{ id: string; content: string; tags: string[]; snippet?: string; created_at: Date }[]> {
  if (query.trim() === '')
    return (await listMemories(pool, workspaceId, { limit })).map(({ id, content, tags, created_at }) => ({
      id,
      content,
      tags,
      created_at,
    }));
  const hits = await searchWorkspace(pool, workspaceId, query, { kinds: ['memory'], limit });
  if (hits.length === 0) return [];
  const found = await pool.query<MemoryRecord>('SELECT * FROM memories WHERE id = ANY($1)', [
    hits.map((hit) => hit.id),
  ]);
  const byId = new Map(found.rows.map((memory) => [memory.id, memory]));
  return hits.flatMap((hit: SearchHit) => {
    const memory = byId.get(hit.id);
    return memory
      ? [
          {
            id: memory.id,
            content: memory.content,
            tags: memory.tags,
            snippet: hit.snippet,
            created_at: memory.created_at,
          },
        ]
      : [];
  });
}
