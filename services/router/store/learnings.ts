import { randomBytes } from 'node:crypto';
import type { Queryable } from './db.js';

export type LearningSource = 'tool' | 'chat' | 'operator' | 'model';

export interface LearningRecord {
  readonly id: string;
  readonly project_id: string;
  readonly workspace_id: string;
  readonly content: string;
  readonly score: number;
  readonly source: LearningSource;
  readonly source_ref: string | null;
  readonly created_by: string | null;
  readonly created_at: Date;
}

const COLUMNS = 'id, project_id, workspace_id, content, score, source, source_ref, created_by, created_at';

export const newLearningId = () => `lrn_${randomBytes(12).toString('hex')}`;

/**
 * Keeps a learning; the same content learnt again in the workspace is the same learning, its
 * score raised (seen again, it is likelier to matter) and its source the latest.
 */
export async function upsertLearning(
  db: Queryable,
  learning: Omit<LearningRecord, 'id' | 'created_at'>,
): Promise<LearningRecord> {
  const kept = await db.query<LearningRecord>(
    `INSERT INTO learnings (id, project_id, workspace_id, content, score, source, source_ref, created_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (workspace_id, md5(content)) DO UPDATE
        SET score = least(1, greatest(learnings.score, excluded.score) + 0.1), source_ref = excluded.source_ref
     RETURNING ${COLUMNS}`,
    [
      newLearningId(),
      learning.project_id,
      learning.workspace_id,
      learning.content,
      learning.score,
      learning.source,
      learning.source_ref,
      learning.created_by,
    ],
  );
  return kept.rows[0]!;
}

export async function listLearnings(
  db: Queryable,
  workspaceId: string,
  page: { limit: number; after?: string },
): Promise<LearningRecord[]> {
  return (
    await db.query<LearningRecord>(
      `SELECT ${COLUMNS} FROM learnings WHERE workspace_id = $1
          AND ($2::text IS NULL OR (created_at, id) < (SELECT created_at, id FROM learnings WHERE id = $2))
        ORDER BY created_at DESC, id DESC LIMIT $3`,
      [workspaceId, page.after ?? null, page.limit],
    )
  ).rows;
}

export async function deleteLearning(
  db: Queryable,
  projectId: string,
  id: string,
): Promise<LearningRecord | undefined> {
  return (
    await db.query<LearningRecord>(`DELETE FROM learnings WHERE project_id = $1 AND id = $2 RETURNING ${COLUMNS}`, [
      projectId,
      id,
    ])
  ).rows[0];
}

/**
 * The learnings of these workspaces that best match the text (full-text rank weighted by score),
 * the top few; with no match, none (a learning is context only where it is relevant).
 */
export async function relevantLearnings(
  db: Queryable,
  workspaceIds: readonly string[],
  text: string,
  limit: number,
): Promise<LearningRecord[]> {
  if (workspaceIds.length === 0 || text.trim() === '') return [];
  // Any word of the text may match (OR of its lexemes), so a question finds what it is about.
  return (
    await db.query<LearningRecord>(
      `WITH query AS (
         SELECT string_agg(quote_literal(lexeme), ' | ')::tsquery AS q
           FROM unnest(to_tsvector('english', left($2, 4000))) AS t(lexeme, positions, weights))
       SELECT ${COLUMNS} FROM learnings, query
        WHERE workspace_id = ANY($1) AND query.q IS NOT NULL AND search @@ query.q
        ORDER BY ts_rank_cd(search, query.q) * (0.5 + score) DESC, created_at DESC LIMIT $3`,
      [workspaceIds, text, limit],
    )
  ).rows;
}
