import type { Queryable } from './db.js';

export const SEARCH_KINDS = ['memory', 'artifact', 'message', 'learning'] as const;
export type SearchKind = (typeof SEARCH_KINDS)[number];

export interface SearchHit {
  readonly kind: SearchKind;
  readonly id: string;
  /** The chat a message or artifact belongs to, when it does. */
  readonly chat_id: string | null;
  readonly rank: number;
  /** The best-matching passage, matches between « and ». */
  readonly snippet: string;
  readonly created_at: Date;
}

const HEADLINE = '\'StartSel=«, StopSel=», MaxWords=30, MinWords=10, MaxFragments=2, FragmentDelimiter=" … "\'';

// One ranked list over every kind; each part reads only the workspace's rows.
const PARTS: Record<SearchKind, string> = {
  memory: `SELECT 'memory' AS kind, m.id, m.chat_id, ts_rank_cd(m.search, query.q) AS rank,
                  ts_headline('english', m.content, query.q, ${HEADLINE}) AS snippet, m.created_at
             FROM memories m, query WHERE m.workspace_id = $1 AND m.search @@ query.q`,
  artifact: `SELECT 'artifact', a.id, a.chat_id, ts_rank_cd(v.search, query.q),
                    a.name || ': ' || ts_headline('english', left(v.content, 262144), query.q, ${HEADLINE}), v.created_at
               FROM artifacts a JOIN artifact_versions v ON v.artifact_id = a.id AND v.version = a.latest_version, query
              WHERE a.workspace_id = $1 AND v.search @@ query.q`,
  message: `SELECT 'message', cm.id, cm.chat_id, ts_rank_cd(cm.search, query.q),
                   ts_headline('english', left(cm.search_text, 262144), query.q, ${HEADLINE}), cm.created_at
              FROM chat_messages cm JOIN chats c ON c.id = cm.chat_id, query
             WHERE c.workspace_id = $1 AND cm.search @@ query.q`,
  learning: `SELECT 'learning', l.id, NULL, ts_rank_cd(l.search, query.q) * (0.5 + l.score),
                    ts_headline('english', l.content, query.q, ${HEADLINE}), l.created_at
               FROM learnings l, query WHERE l.workspace_id = $1 AND l.search @@ query.q`,
};

/**
 * Postgres full-text search over a workspace's memories, artifacts (their latest version),
 * chat messages and learnings: the query in web-search syntax (`"exact phrase"`, `-not`, `or`),
 * ranked by cover density, each hit with a snippet. An empty query matches nothing.
 */
export async function searchWorkspace(
  db: Queryable,
  workspaceId: string,
  query: string,
  options: { kinds: readonly SearchKind[]; limit: number },
): Promise<SearchHit[]> {
  const parts = options.kinds.map((kind) => PARTS[kind]);
  if (parts.length === 0) return [];
  const found = await db.query<SearchHit>(
    `WITH query AS (SELECT websearch_to_tsquery('english', $2) AS q)
     SELECT * FROM (${parts.join(' UNION ALL ')}) hits ORDER BY rank DESC, created_at DESC LIMIT $3`,
    [workspaceId, query, options.limit],
  );
  return found.rows.map((hit) => ({ ...hit, rank: Number(hit.rank) }));
}
