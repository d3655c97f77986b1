import type { Queryable } from './db.js';
import { listPage } from './paging.js';

export type AgentStatus = 'pending' | 'active' | 'stale' | 'revoked' | 'superseded';

export interface AgentRecord {
  readonly id: string;
  readonly project_id: string;
  readonly role: 'xem' | 'xim';
  readonly registration_name: string;
  readonly region: string | null;
  readonly join_key_id: string | null;
  readonly signing_public_key: Buffer;
  readonly curve_public_key: Buffer;
  readonly status: AgentStatus;
  readonly manifest_hash: string | null;
  readonly manifest_version: number | null;
  readonly enrolled_at: Date;
  readonly last_heartbeat: Date | null;
  readonly revoked_at: Date | null;
  readonly tokens_valid_after: Date;
  readonly exec_paused: boolean;
}

const COLUMNS = `id, project_id, role, registration_name, region, join_key_id, signing_public_key, curve_public_key, status,
  manifest_hash, manifest_version, enrolled_at, last_heartbeat, revoked_at, tokens_valid_after, exec_paused`;

export interface NewAgent {
  readonly id: string;
  readonly projectId: string;
  readonly role: 'xem' | 'xim';
  readonly registrationName: string;
  readonly region: string | null;
  readonly joinKeyId: string;
  readonly signingPublicKey: Buffer;
  readonly curvePublicKey: Buffer;
  readonly manifest: Record<string, unknown> | null;
}

export async function insertAgent(db: Queryable, agent: NewAgent): Promise<AgentRecord> {
  const inserted = await db.query<AgentRecord>(
    `INSERT INTO agents (id, project_id, role, registration_name, region, join_key_id, signing_public_key, curve_public_key, manifest)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ${COLUMNS}`,
    [agent.id, agent.projectId, agent.role, agent.registrationName, agent.region, agent.joinKeyId, agent.signingPublicKey, agent.curvePublicKey, agent.manifest],
  );
  return inserted.rows[0]!;
}

/**
 * Retires every live record holding this name or this CURVE key, so a re-enrollment takes over
 * cleanly; returns the retired ids.
 */
export async function supersedeAgents(db: Queryable, projectId: string, registrationName: string, curvePublicKey: Buffer): Promise<string[]> {
  const updated = await db.query<{ id: string }>(
    `UPDATE agents SET status = 'superseded', revoked_at = coalesce(revoked_at, now()), tokens_valid_after = now()
      WHERE status NOT IN ('superseded', 'revoked') AND ((project_id = $1 AND registration_name = $2) OR curve_public_key = $3)
      RETURNING id`,
    [projectId, registrationName, curvePublicKey],
  );
  return updated.rows.map((row) => row.id);
}

export async function findAgent(db: Queryable, projectId: string, id: string): Promise<AgentRecord | undefined> {
  return (await db.query<AgentRecord>(`SELECT ${COLUMNS} FROM agents WHERE project_id = $1 AND id = $2`, [projectId, id])).rows[0];
}

/** The capability manifest an agent last published (tools and workspaces), if any. */
export async function findAgentManifest(db: Queryable, projectId: string, id: string): Promise<{ manifest: Record<string, unknown> | null; manifest_version: number | null } | undefined> {
  return (await db.query<{ manifest: Record<string, unknown> | null; manifest_version: number | null }>('SELECT manifest, manifest_version FROM agents WHERE project_id = $1 AND id = $2', [projectId, id])).rows[0];
}

export async function findAgentById(db: Queryable, id: string): Promise<AgentRecord | undefined> {
  return (await db.query<AgentRecord>(`SELECT ${COLUMNS} FROM agents WHERE id = $1`, [id])).rows[0];
}

export async function listAgents(db: Queryable, projectId: string, page: { limit: number; after?: string }): Promise<AgentRecord[]> {
  return listPage<AgentRecord>(db, { table: 'agents', columns: COLUMNS, orderBy: 'enrolled_at' }, projectId, page);
}

/** Revokes an agent's credentials: no token refresh, no mesh admission, until it re-enrolls. */
export async function revokeAgent(db: Queryable, projectId: string, id: string): Promise<AgentRecord | undefined> {
  const updated = await db.query<AgentRecord>(
    `UPDATE agents SET status = CASE WHEN status = 'superseded' THEN status ELSE 'revoked' END,
            revoked_at = coalesce(revoked_at, now()), tokens_valid_after = now()
      WHERE project_id = $1 AND id = $2 RETURNING ${COLUMNS}`,
    [projectId, id],
  );
  return updated.rows[0];
}

/** Agents the mesh may admit: enrolled and neither revoked nor superseded. */
export async function listAdmissibleAgents(db: Queryable): Promise<Pick<AgentRecord, 'id' | 'project_id' | 'role' | 'curve_public_key' | 'signing_public_key' | 'status'>[]> {
  const found = await db.query<AgentRecord>(
    "SELECT id, project_id, role, curve_public_key, signing_public_key, status FROM agents WHERE status NOT IN ('revoked', 'superseded')",
  );
  return found.rows;
}

export interface ExecManifestRow {
  readonly id: string;
  readonly status: AgentStatus;
  readonly exec_paused: boolean;
  readonly manifest: Record<string, unknown> | null;
  readonly last_heartbeat: Date | null;
}

/**
 * A fingerprint of the project's live XEM agents (ids, manifest hashes, status, pause): when it
 * has not changed, neither has the tool catalog, and the manifests need not be read again.
 */
export async function execManifestFingerprint(db: Queryable, projectId: string): Promise<string> {
  const found = await db.query<{ fingerprint: string | null }>({ name: 'exec_manifest_fingerprint', text: `SELECT string_agg(id || ':' || coalesce(manifest_hash, '') || ':' || status || ':' || exec_paused::text, ',' ORDER BY id) AS fingerprint FROM agents
      WHERE project_id = $1 AND role = 'xem' AND status IN ('pending', 'active', 'stale') AND manifest IS NOT NULL`, values: [projectId] });
  return found.rows[0]?.fingerprint ?? '';
}

/** The project's live XEM agents with their manifests: what the tool catalog is built from. */
export async function listExecManifests(db: Queryable, projectId: string): Promise<ExecManifestRow[]> {
  const found = await db.query<ExecManifestRow>(
    `SELECT id, status, exec_paused, manifest, last_heartbeat FROM agents
      WHERE project_id = $1 AND role = 'xem' AND status IN ('pending', 'active', 'stale') AND manifest IS NOT NULL
      ORDER BY last_heartbeat DESC NULLS LAST, id`,
    [projectId],
  );
  return found.rows;
}

/** The models the project's active XIM agents serve now, and which of them are scripted stand-ins. */
export async function servedModels(db: Queryable, projectId: string): Promise<{ model: string; agents: number; scripted: boolean }[]> {
  const found = await db.query<{ model: string; agents: number; scripted: boolean }>(
    `SELECT m.model, count(*)::int AS agents, bool_or(a.manifest->'scripted_models' ? m.model) AS scripted
       FROM agents a CROSS JOIN LATERAL jsonb_array_elements_text(coalesce(a.manifest->'models', '[]')) AS m(model)
      WHERE a.project_id = $1 AND a.role = 'xim' AND a.status = 'active' AND coalesce((a.manifest->'engine'->>'healthy')::boolean, false)
      GROUP BY m.model`,
    [projectId],
  );
  return found.rows;
}

export interface XimManifest {
  readonly id: string;
  readonly models: string[] | null;
  readonly service_tiers: string[] | null;
}

/** The project's XIM agents that may serve (not revoked or superseded): models and tiers from their manifests. */
export async function ximManifests(db: Queryable, projectId: string): Promise<XimManifest[]> {
  const found = await db.query<XimManifest>({
    name: 'xim_manifests',
    text: `SELECT id, ARRAY(SELECT jsonb_array_elements_text(coalesce(manifest->'models', '[]'))) AS models,
                  CASE WHEN jsonb_typeof(manifest->'service_tiers') = 'array' THEN ARRAY(SELECT jsonb_array_elements_text(manifest->'service_tiers')) END AS service_tiers
             FROM agents WHERE project_id = $1 AND role = 'xim' AND status NOT IN ('revoked', 'superseded')`,
    values: [projectId],
  });
  return found.rows;
}
