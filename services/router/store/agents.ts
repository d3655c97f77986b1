import type { LiveAgent } from '../enrollment/replacement.js';
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
  /** `platform`: a shared XIM agent serving every project (it belongs to the platform project). */
  readonly scope: 'project' | 'platform';
}

const COLUMNS = `id, project_id, role, registration_name, region, join_key_id, signing_public_key, curve_public_key, status,
  manifest_hash, manifest_version, enrolled_at, last_heartbeat, revoked_at, tokens_valid_after, exec_paused, scope`;

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
  readonly scope?: 'project' | 'platform';
}

export async function insertAgent(db: Queryable, agent: NewAgent): Promise<AgentRecord> {
  const inserted = await db.query<AgentRecord>(
    `INSERT INTO agents (id, project_id, role, registration_name, region, join_key_id, signing_public_key, curve_public_key, manifest, scope)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING ${COLUMNS}`,
    [
      agent.id,
      agent.projectId,
      agent.role,
      agent.registrationName,
      agent.region,
      agent.joinKeyId,
      agent.signingPublicKey,
      agent.curvePublicKey,
      agent.manifest,
      agent.scope ?? 'project',
    ],
  );
  return inserted.rows[0]!;
}

/** Live agents an enrollment could collide with: this name in this project, or this CURVE key anywhere. Locked. */
export async function lockCollidingAgents(
  db: Queryable,
  projectId: string,
  registrationName: string,
  curvePublicKey: Buffer,
): Promise<LiveAgent[]> {
  const found = await db.query<LiveAgent>(
    `SELECT id, project_id, registration_name, curve_public_key FROM agents
      WHERE status NOT IN ('superseded', 'revoked') AND ((project_id = $1 AND registration_name = $2) OR curve_public_key = $3)
      FOR UPDATE`,
    [projectId, registrationName, curvePublicKey],
  );
  return found.rows;
}

/** Retires the given live records of the project (a replacement the operator allowed). */
export async function supersedeAgents(db: Queryable, projectId: string, ids: readonly string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const updated = await db.query<{ id: string }>(
    `UPDATE agents SET status = 'superseded', revoked_at = coalesce(revoked_at, now()), tokens_valid_after = now()
      WHERE project_id = $1 AND id = ANY($2) AND status NOT IN ('superseded', 'revoked') RETURNING id`,
    [projectId, ids],
  );
  return updated.rows.map((row) => row.id);
}

export async function findAgent(db: Queryable, projectId: string, id: string): Promise<AgentRecord | undefined> {
  return (
    await db.query<AgentRecord>(`SELECT ${COLUMNS} FROM agents WHERE project_id = $1 AND id = $2`, [projectId, id])
  ).rows[0];
}

/** The capability manifest an agent last published (tools and workspaces), if any. */
export async function findAgentManifest(
  db: Queryable,
  projectId: string,
  id: string,
): Promise<{ manifest: Record<string, unknown> | null; manifest_version: number | null } | undefined> {
  return (
    await db.query<{ manifest: Record<string, unknown> | null; manifest_version: number | null }>(
      'SELECT manifest, manifest_version FROM agents WHERE project_id = $1 AND id = $2',
      [projectId, id],
    )
  ).rows[0];
}

export async function findAgentById(db: Queryable, id: string): Promise<AgentRecord | undefined> {
  return (await db.query<AgentRecord>(`SELECT ${COLUMNS} FROM agents WHERE id = $1`, [id])).rows[0];
}

export async function listAgents(
  db: Queryable,
  projectId: string,
  page: { limit: number; after?: string },
): Promise<AgentRecord[]> {
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

export async function agentStatuses(db: Queryable, ids: readonly string[]): Promise<Map<string, AgentStatus>> {
  const found = await db.query<{ id: string; status: AgentStatus }>(
    'SELECT id, status FROM agents WHERE id = ANY($1)',
    [ids],
  );
  return new Map(found.rows.map((row) => [row.id, row.status]));
}

/** Agents the mesh may admit: enrolled and neither revoked nor superseded. */
export async function listAdmissibleAgents(
  db: Queryable,
): Promise<Pick<AgentRecord, 'id' | 'project_id' | 'role' | 'curve_public_key' | 'signing_public_key' | 'status'>[]> {
  const found = await db.query<AgentRecord>(
    "SELECT id, project_id, role, curve_public_key, signing_public_key, status FROM agents WHERE status NOT IN ('revoked', 'superseded')",
  );
  return found.rows;
}

/** The models the project's active XIM agents (its own and the platform's shared fleet) serve now, and which are scripted stand-ins. */
export async function servedModels(
  db: Queryable,
  projectId: string,
): Promise<{ model: string; agents: number; scripted: boolean }[]> {
  const found = await db.query<{ model: string; agents: number; scripted: boolean }>(
    `SELECT m.model, count(*)::int AS agents, bool_or(a.manifest->'scripted_models' ? m.model) AS scripted
       FROM agents a CROSS JOIN LATERAL jsonb_array_elements_text(coalesce(a.manifest->'models', '[]')) AS m(model)
      WHERE (a.project_id = $1 OR a.scope = 'platform') AND a.role = 'xim' AND a.status = 'active' AND coalesce((a.manifest->'engine'->>'healthy')::boolean, false)
      GROUP BY m.model`,
    [projectId],
  );
  return found.rows;
}

export interface XimManifest {
  readonly id: string;
  readonly models: string[] | null;
  readonly service_tiers: string[] | null;
  readonly status: string;
  /** The router replica that last wrote the agent's heartbeat, where it is reached, and the load it reported. */
  readonly held_by: string | null;
  readonly held_by_url: string | null;
  readonly lease_load: Record<string, unknown> | null;
  /** Milliseconds since that heartbeat; null when it never beat. */
  readonly heartbeat_age_ms: number | null;
}

/**
 * The XIM agents that may serve a project (not revoked or superseded): its own and the platform's
 * shared fleet, with models and tiers from their manifests and where in the fleet each is held.
 */
export async function ximManifests(db: Queryable, projectId: string): Promise<XimManifest[]> {
  const found = await db.query<XimManifest>({
    name: 'xim_manifests',
    text: `SELECT id, ARRAY(SELECT jsonb_array_elements_text(coalesce(manifest->'models', '[]'))) AS models,
                  CASE WHEN jsonb_typeof(manifest->'service_tiers') = 'array' THEN ARRAY(SELECT jsonb_array_elements_text(manifest->'service_tiers')) END AS service_tiers,
                  status, held_by, held_by_url, lease_load,
                  (extract(epoch FROM now() - last_heartbeat) * 1000)::float8 AS heartbeat_age_ms
             FROM agents WHERE (project_id = $1 OR scope = 'platform') AND role = 'xim' AND status NOT IN ('revoked', 'superseded')`,
    values: [projectId],
  });
  return found.rows;
}
