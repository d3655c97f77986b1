import type { BoundManifestRow, RiskOverride } from '../exec/tool-catalog.js';
import type { Risk } from '../../protocol/request-hash.js';
import type { Queryable } from './db.js';

// What a workspace's tool catalog is built from: its bound, live XEM agents that serve it, and
// the operators' risk overrides. An agent that is not bound contributes nothing.

const BOUND_SERVING = `FROM workspace_agent_bindings b JOIN agents a ON a.id = b.agent_id
  WHERE b.workspace_id = $1 AND a.role = 'xem' AND a.status IN ('pending', 'active', 'stale') AND a.manifest IS NOT NULL
    AND a.manifest->'workspaces' ? $1`;

/**
 * Changes whenever the catalog could: an agent bound or unbound, a manifest, a status, a pause,
 * an override. Cheap enough to read on every request, so the catalog is never stale.
 */
export async function workspaceCatalogFingerprint(db: Queryable, workspaceId: string): Promise<string> {
  const found = await db.query<{ fingerprint: string | null }>({
    name: 'workspace_catalog_fingerprint',
    text: `SELECT (SELECT string_agg(a.id || ':' || coalesce(a.manifest_hash, '') || ':' || a.status || ':' || a.exec_paused::text, ',' ORDER BY a.id) ${BOUND_SERVING})
              || '|' || coalesce((SELECT string_agg(tool || ':' || risk, ',' ORDER BY tool) FROM tool_risk_overrides WHERE workspace_id = $1), '') AS fingerprint`,
    values: [workspaceId],
  });
  return found.rows[0]?.fingerprint ?? '';
}

export async function listBoundManifests(db: Queryable, workspaceId: string): Promise<BoundManifestRow[]> {
  const found = await db.query<BoundManifestRow>(
    `SELECT a.id, a.status, a.exec_paused, a.manifest ${BOUND_SERVING} ORDER BY a.id`,
    [workspaceId],
  );
  return found.rows;
}

export async function listRiskOverrides(db: Queryable, workspaceId: string): Promise<Map<string, RiskOverride>> {
  const found = await db.query<{ tool: string; risk: Risk; reason: string | null }>(
    'SELECT tool, risk, reason FROM tool_risk_overrides WHERE workspace_id = $1',
    [workspaceId],
  );
  return new Map(found.rows.map((row) => [row.tool, { risk: row.risk, reason: row.reason }]));
}

export interface RiskOverrideRecord {
  readonly workspace_id: string;
  readonly tool: string;
  readonly risk: Risk;
  readonly reason: string | null;
  readonly created_by: string | null;
  readonly created_at: Date;
}

export async function saveRiskOverride(
  db: Queryable,
  override: {
    projectId: string;
    workspaceId: string;
    tool: string;
    risk: Risk;
    reason: string | null;
    createdBy: string | null;
  },
): Promise<RiskOverrideRecord> {
  const saved = await db.query<RiskOverrideRecord>(
    `INSERT INTO tool_risk_overrides (workspace_id, project_id, tool, risk, reason, created_by) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (workspace_id, tool) DO UPDATE SET risk = EXCLUDED.risk, reason = EXCLUDED.reason, created_by = EXCLUDED.created_by, created_at = now()
     RETURNING workspace_id, tool, risk, reason, created_by, created_at`,
    [override.workspaceId, override.projectId, override.tool, override.risk, override.reason, override.createdBy],
  );
  return saved.rows[0]!;
}

export async function listRiskOverrideRecords(db: Queryable, workspaceId: string): Promise<RiskOverrideRecord[]> {
  const found = await db.query<RiskOverrideRecord>(
    'SELECT workspace_id, tool, risk, reason, created_by, created_at FROM tool_risk_overrides WHERE workspace_id = $1 ORDER BY tool',
    [workspaceId],
  );
  return found.rows;
}

export async function deleteRiskOverride(db: Queryable, workspaceId: string, tool: string): Promise<boolean> {
  return (
    ((await db.query('DELETE FROM tool_risk_overrides WHERE workspace_id = $1 AND tool = $2', [workspaceId, tool]))
      .rowCount ?? 0) === 1
  );
}

/** Records a conflict the first time anyone sees it; true for that first time only. */
export async function recordToolConflict(
  db: Queryable,
  conflict: {
    workspaceId: string;
    projectId: string;
    tool: string;
    signature: string;
    detail: Record<string, unknown>;
  },
): Promise<boolean> {
  const inserted = await db.query(
    'INSERT INTO tool_conflicts (workspace_id, project_id, tool, signature, detail) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING',
    [conflict.workspaceId, conflict.projectId, conflict.tool, conflict.signature, JSON.stringify(conflict.detail)],
  );
  return inserted.rowCount === 1;
}
