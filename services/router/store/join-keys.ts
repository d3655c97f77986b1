import type { Queryable } from './db.js';
import { listPage } from './paging.js';
import { newId } from './ids.js';

export interface JoinKeyRecord {
  readonly id: string;
  readonly project_id: string;
  readonly role: 'xem' | 'xim';
  readonly name: string;
  readonly region: string | null;
  readonly provisioned: boolean;
  readonly created_at: Date;
  readonly expires_at: Date | null;
  readonly revoked_at: Date | null;
  readonly used_at: Date | null;
  readonly used_by_agent: string | null;
  readonly allow_replace: boolean;
  readonly registration_name: string | null;
  /** `platform`: the agent it enrolls serves every project (XIM only; migration 016). */
  readonly scope: 'project' | 'platform';
}

const COLUMNS =
  'id, project_id, role, name, region, provisioned, created_at, expires_at, revoked_at, used_at, used_by_agent, allow_replace, registration_name, scope';

export async function insertJoinKey(
  db: Queryable,
  key: {
    projectId: string;
    role: 'xem' | 'xim';
    name: string;
    region: string | null;
    hash: Buffer;
    expiresAt: Date | null;
    allowReplace?: boolean;
    registrationName?: string | null;
    scope?: 'project' | 'platform';
  },
): Promise<JoinKeyRecord> {
  const inserted = await db.query<JoinKeyRecord>(
    `INSERT INTO join_keys (id, project_id, role, name, region, key_hash, expires_at, allow_replace, registration_name, scope) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING ${COLUMNS}`,
    [
      newId('jk'),
      key.projectId,
      key.role,
      key.name,
      key.region,
      key.hash,
      key.expiresAt,
      key.allowReplace ?? false,
      key.registrationName ?? null,
      key.scope ?? 'project',
    ],
  );
  return inserted.rows[0]!;
}

export async function listJoinKeys(
  db: Queryable,
  projectId: string,
  page: { limit: number; after?: string },
): Promise<JoinKeyRecord[]> {
  return listPage<JoinKeyRecord>(db, { table: 'join_keys', columns: COLUMNS, orderBy: 'created_at' }, projectId, page);
}

export async function findJoinKey(db: Queryable, projectId: string, id: string): Promise<JoinKeyRecord | undefined> {
  return (
    await db.query<JoinKeyRecord>(`SELECT ${COLUMNS} FROM join_keys WHERE project_id = $1 AND id = $2`, [projectId, id])
  ).rows[0];
}

/** Revoking keeps already-enrolled agents; it only stops future use. */
export async function revokeJoinKey(db: Queryable, projectId: string, id: string): Promise<JoinKeyRecord | undefined> {
  const updated = await db.query<JoinKeyRecord>(
    `UPDATE join_keys SET revoked_at = coalesce(revoked_at, now()) WHERE project_id = $1 AND id = $2 RETURNING ${COLUMNS}`,
    [projectId, id],
  );
  return updated.rows[0];
}

/**
 * Spends a join key in one conditional UPDATE: of any number of concurrent callers presenting
 * the same key, exactly one gets the row back.
 */
export async function consumeJoinKey(
  db: Queryable,
  hash: Buffer,
  role: string,
  agentId: string,
): Promise<JoinKeyRecord | undefined> {
  const consumed = await db.query<JoinKeyRecord>(
    `UPDATE join_keys SET used_at = now(), used_by_agent = $3
      WHERE key_hash = $1 AND role = $2 AND used_at IS NULL AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())
      RETURNING ${COLUMNS}`,
    [hash, role, agentId],
  );
  return consumed.rows[0];
}

export type JoinKeyRefusal = 'unknown' | 'revoked' | 'reused' | 'expired' | 'role_mismatch';

/** Why a key could not be consumed (for the audit trail only; callers get one generic answer). */
export async function explainJoinKeyRefusal(
  db: Queryable,
  hash: Buffer,
  role: string,
): Promise<{ reason: JoinKeyRefusal; key?: JoinKeyRecord }> {
  const key = (await db.query<JoinKeyRecord>(`SELECT ${COLUMNS} FROM join_keys WHERE key_hash = $1`, [hash])).rows[0];
  if (!key) return { reason: 'unknown' };
  if (key.revoked_at) return { reason: 'revoked', key };
  if (key.used_at) return { reason: 'reused', key };
  if (key.expires_at && key.expires_at <= new Date()) return { reason: 'expired', key };
  if (key.role !== role) return { reason: 'role_mismatch', key };
  return { reason: 'unknown', key };
}
