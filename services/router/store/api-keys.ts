import type { Role } from '../people/roles.js';
import type { Queryable } from './db.js';
import { newId } from './ids.js';
import type { PrincipalKind, PrincipalStatus } from './principals.js';

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
  readonly principal_id: string;
  readonly kind: 'key' | 'session';
  readonly session: SessionInfo | null;
}

export type SessionClient = 'ui' | 'cli' | 'api';

/** What a session key keeps about how it was opened. */
export interface SessionInfo {
  readonly method: 'password' | 'oidc';
  readonly client: SessionClient;
  /** ISO time: refreshes never carry it past this. */
  readonly max_until: string;
}

/** A key with its project, its owner and the owner's roles in the project, as authentication needs it. */
export interface ApiKeyWithProject extends ApiKeyRecord {
  readonly project_slug: string;
  readonly project_name: string;
  readonly project_created_at: Date;
  readonly principal_kind: PrincipalKind;
  readonly principal_name: string;
  readonly principal_status: PrincipalStatus;
  /** Empty when the owner is no longer a member: then the key can do nothing. */
  readonly roles: Role[];
}

/** A key with its owner's name and kind, as listings show it. */
export interface ApiKeyWithOwner extends ApiKeyRecord {
  readonly principal_kind: PrincipalKind;
  readonly principal_name: string;
}

const COLUMNS =
  'id, project_id, name, prefix, scopes, created_at, expires_at, revoked_at, last_used_at, rotated_to, grace_until, principal_id, kind, session';
const prefixed = (alias: string) =>
  COLUMNS.split(', ')
    .map((column) => `${alias}.${column}`)
    .join(', ');

export interface NewApiKey {
  readonly id?: string;
  readonly projectId: string;
  readonly name: string;
  readonly scopes: readonly Scope[];
  readonly secretHash: Buffer;
  readonly prefix: string;
  readonly expiresAt: Date | null;
  readonly principalId: string;
  /** Present for a session key. */
  readonly session?: SessionInfo;
}

export async function insertApiKey(db: Queryable, key: NewApiKey): Promise<ApiKeyRecord> {
  const inserted = await db.query<ApiKeyRecord>(
    `INSERT INTO api_keys (id, project_id, name, prefix, secret_hash, scopes, expires_at, principal_id, kind, session)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING ${COLUMNS}`,
    [
      key.id ?? newId('key'),
      key.projectId,
      key.name,
      key.prefix,
      key.secretHash,
      key.scopes,
      key.expiresAt,
      key.principalId,
      key.session ? 'session' : 'key',
      key.session ?? null,
    ],
  );
  return inserted.rows[0]!;
}

const WITH_PROJECT = `SELECT ${prefixed('k')}, p.slug AS project_slug, p.name AS project_name, p.created_at AS project_created_at,
              pr.kind AS principal_kind, pr.display_name AS principal_name, pr.status AS principal_status,
              coalesce(m.roles, '{}') AS roles
       FROM api_keys k JOIN projects p ON p.id = k.project_id JOIN principals pr ON pr.id = k.principal_id
       LEFT JOIN memberships m ON m.project_id = k.project_id AND m.principal_id = k.principal_id`;

export async function findApiKeyBySecretHash(db: Queryable, hash: Buffer): Promise<ApiKeyWithProject | undefined> {
  const found = await db.query<ApiKeyWithProject>({
    name: 'api_key_by_hash',
    text: `${WITH_PROJECT} WHERE k.secret_hash = $1`,
    values: [hash],
  });
  return found.rows[0];
}

/** A key by id as authentication would see it now (for work done later in its name). */
export async function findApiKeyInUse(
  db: Queryable,
  projectId: string,
  id: string,
): Promise<ApiKeyWithProject | undefined> {
  const found = await db.query<ApiKeyWithProject>({
    name: 'api_key_in_use',
    text: `${WITH_PROJECT} WHERE k.project_id = $1 AND k.id = $2`,
    values: [projectId, id],
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

/**
 * Keys (or sessions) newest first, optionally of one owner; `after` is the id of the last key of
 * the previous page.
 */
export async function listApiKeys(
  db: Queryable,
  projectId: string,
  page: { limit: number; after?: string; kind?: 'key' | 'session'; principalId?: string; liveOnly?: boolean },
): Promise<ApiKeyWithOwner[]> {
  const found = await db.query<ApiKeyWithOwner>(
    `SELECT ${prefixed('k')}, pr.kind AS principal_kind, pr.display_name AS principal_name
       FROM api_keys k JOIN principals pr ON pr.id = k.principal_id
      WHERE k.project_id = $1 AND k.kind = $2 AND ($3::text IS NULL OR k.principal_id = $3)
        AND (NOT $4 OR (k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())))
        AND ($5::text IS NULL OR (k.created_at, k.id) < (SELECT created_at, id FROM api_keys WHERE id = $5 AND project_id = $1))
      ORDER BY k.created_at DESC, k.id DESC LIMIT $6`,
    [projectId, page.kind ?? 'key', page.principalId ?? null, page.liveOnly ?? false, page.after ?? null, page.limit],
  );
  return found.rows;
}

/** Ends every live session of a principal (disabled, removed, or its password changed). */
export async function revokeSessionsOf(db: Queryable, principalId: string, projectId?: string): Promise<number> {
  const revoked = await db.query(
    `UPDATE api_keys SET revoked_at = now() WHERE principal_id = $1 AND kind = 'session' AND revoked_at IS NULL
       AND ($2::text IS NULL OR project_id = $2)`,
    [principalId, projectId ?? null],
  );
  return revoked.rowCount ?? 0;
}

/** A later expiry for a live session, never past its refresh limit; undefined when it cannot be refreshed. */
export async function extendSession(db: Queryable, id: string, until: Date): Promise<ApiKeyRecord | undefined> {
  const updated = await db.query<ApiKeyRecord>(
    `UPDATE api_keys SET expires_at = least($2::timestamptz, (session->>'max_until')::timestamptz)
      WHERE id = $1 AND kind = 'session' AND revoked_at IS NULL AND expires_at > now()
        AND (session->>'max_until')::timestamptz > now()
      RETURNING ${COLUMNS}`,
    [id, until],
  );
  return updated.rows[0];
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
