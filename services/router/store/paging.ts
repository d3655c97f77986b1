import type pg from 'pg';
import type { Queryable } from './db.js';

/** A project-owned table listed newest first. Names come from code, never from requests. */
export interface PagedSource {
  readonly table: 'api_keys' | 'join_keys' | 'agents';
  readonly columns: string;
  readonly orderBy: 'created_at' | 'enrolled_at';
}

/** One page, newest first; `after` is the id of the last row of the previous page. */
export async function listPage<R extends pg.QueryResultRow>(
  db: Queryable,
  source: PagedSource,
  projectId: string,
  page: { limit: number; after?: string },
): Promise<R[]> {
  const { table, columns, orderBy } = source;
  const found = await db.query<R>(
    `SELECT ${columns} FROM ${table}
      WHERE project_id = $1
        AND ($2::text IS NULL OR (${orderBy}, id) < (SELECT ${orderBy}, id FROM ${table} WHERE id = $2 AND project_id = $1))
      ORDER BY ${orderBy} DESC, id DESC LIMIT $3`,
    [projectId, page.after ?? null, page.limit],
  );
  return found.rows;
}
