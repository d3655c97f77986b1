import type { Queryable } from './db.js';
import { listPage } from './paging.js';
import { newId } from './ids.js';

export type Scope = 'inference' | 'management' | 'execution';
export const SCOPES: readonly Scope[] = ['inference', 'management', 'execution'];

/** An API key as stored. `secret_hash` never leaves the store layer through responses. */
export interface ApiKeyRecord {
  readonly id: string;
  readonly project_id: string;
  readonly name: string;
  readonly prefix: string;
  readonly scopes: Scope[];
  readonly created_at: Date;
  readonly expires_at: Date | null;
  readonly revoked_at: Date | null;
  readonly last_used_at: Date | null;
  readonly rotated_to: string | null;
  readonly grace_until: Date | null;
}

/** A key with its project, as authentication needs it. */
export interface ApiKeyWithProject extends ApiKeyRecord {
  readonly project_slug: string;
  readonly project_name: string;
  readonly project_created_at: Date;
}

const COLUMNS =
  'id, project_id, name, prefix, scopes, created_at, expires_at, revoked_at, last_used_at, rotated_to, grace_until';

export interface NewApiKey {
  readonly id?: string;
  readonly projectId: string;
  readonly name: string;
  readonly scopes: readonly Scope[];
  readonly secretHash: Buffer;
  readonly prefix: string;
  readonly expiresAt: Date | null;
}

export async function insertApiKey(db: Queryable, key: NewApiKey): Promise<ApiKeyRecord> {
  const inserted = await db.query<ApiKeyRecord>(
    `INSERT INTO api_keys (id, project_id, name, prefix, secret_hash, scopes, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${COLUMNS}`,
    [key.id ?? newId('key'), key.projectId, key.name, key.prefix, key.secretHash, key.scopes, key.expiresAt],
  );
  return inserted.rows[0]!;
}

export async function findApiKeyBySecretHash(db: Queryable, hash: Buffer): Promise<ApiKeyWithProject | undefined> {
  const found = await db.query<ApiKeyWithProject>({
    name: 'api_key_by_hash',
    text: `SELECT ${COLUMNS.split(', ')
      .map((column) => `k.${column}`)
      .join(', ')}, p.slug AS project_slug, p.name AS project_name, p.created_at AS project_created_at
       FROM api_keys k JOIN projects p ON p.id = k.project_id WHERE k.secret_hash = $1`,
    values: [hash],
  });
  return found.rows[0];
}

export async function findApiKey(db: Queryable, projectId: string, id: string): Promise<ApiKeyRecord | undefined> {
  const found = await db.query<ApiKeyRecord>(`SELECT ${COLUMNS} FROM api_keys WHERE project_id = $1 AND id = $2`, [
    projectId,
    id,
  ]);
  return found.rows[0];
}

/** Newest first; `after` is the id of the last key of the previous page. */
export async function listApiKeys(
  db: Queryable,
  projectId: string,
  page: { limit: number; after?: string },
): Promise<ApiKeyRecord[]> {
  return listPage<ApiKeyRecord>(db, { table: 'api_keys', columns: COLUMNS, orderBy: 'created_at' }, projectId, page);
}

/** Idempotent: revoking a revoked key keeps its first revocation time. */
export async function revokeApiKey(db: Queryable, projectId: string, id: string): Promise<ApiKeyRecord | undefined> {
  const updated = await db.query<ApiKeyRecord>(
    `UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE project_id = $1 AND id = $2 RETURNING ${COLUMNS}`,
    [projectId, id],
  );
  return updated.rows[0];
}

/** Marks a key as replaced; it keeps working until graceUntil. Only live, unrotated keys rotate. */
export async function markRotated(
  db: Queryable,
  projectId: string,
  id: string,
  successor: string,
  graceUntil: Date,
): Promise<boolean> {
  const updated = await db.query(
    `UPDATE api_keys SET rotated_to = $3, grace_until = $4
      WHERE project_id = $1 AND id = $2 AND revoked_at IS NULL AND rotated_to IS NULL`,
    [projectId, id, successor, graceUntil],
  );
  return updated.rowCount === 1;
}

export async function touchApiKey(db: Queryable, id: string): Promise<void> {
  await db.query('UPDATE api_keys SET last_used_at = now() WHERE id = $1', [id]);
}
