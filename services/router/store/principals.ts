import { randomBytes } from 'node:crypto';
import type { Role } from '../people/roles.js';
import type { Queryable } from './db.js';

export type PrincipalKind = 'user' | 'service_account';
export type PrincipalStatus = 'active' | 'disabled';

/** A user or service account as the API shows it (never its password hash). */
export interface PrincipalRecord {
  readonly id: string;
  readonly kind: PrincipalKind;
  readonly display_name: string;
  readonly status: PrincipalStatus;
  readonly email: string | null;
  readonly project_id: string | null;
  readonly has_password: boolean;
  readonly oidc_linked: boolean;
  readonly created_at: Date;
  readonly updated_at: Date;
  readonly disabled_at: Date | null;
}

/** A principal with its roles in one project. */
export interface MemberRecord extends PrincipalRecord {
  readonly roles: Role[];
  readonly member_since: Date;
}

const COLUMNS = `p.id, p.kind, p.display_name, p.status, p.email, p.project_id, (p.password_hash IS NOT NULL) AS has_password,
  (p.oidc_subject IS NOT NULL) AS oidc_linked, p.created_at, p.updated_at, p.disabled_at`;

export function newPrincipalId(kind: PrincipalKind): string {
  return `${kind === 'user' ? 'usr' : 'sa'}_${randomBytes(12).toString('hex')}`;
}

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

export async function insertUser(
  db: Queryable,
  user: { id?: string; email: string; displayName: string; passwordHash?: string | null },
): Promise<PrincipalRecord> {
  const inserted = await db.query<PrincipalRecord>(
    `INSERT INTO principals AS p (id, kind, display_name, email, password_hash, password_changed_at)
     VALUES ($1, 'user', $2, $3, $4, CASE WHEN $4::text IS NULL THEN NULL ELSE now() END) RETURNING ${COLUMNS}`,
    [user.id ?? newPrincipalId('user'), user.displayName, normalizeEmail(user.email), user.passwordHash ?? null],
  );
  return inserted.rows[0]!;
}

export async function insertServiceAccount(
  db: Queryable,
  account: { projectId: string; name: string },
): Promise<PrincipalRecord> {
  const inserted = await db.query<PrincipalRecord>(
    `INSERT INTO principals AS p (id, kind, display_name, project_id) VALUES ($1, 'service_account', $2, $3) RETURNING ${COLUMNS}`,
    [newPrincipalId('service_account'), account.name, account.projectId],
  );
  return inserted.rows[0]!;
}

export async function findPrincipal(db: Queryable, id: string): Promise<PrincipalRecord | undefined> {
  return (await db.query<PrincipalRecord>(`SELECT ${COLUMNS} FROM principals p WHERE p.id = $1`, [id])).rows[0];
}

export async function findUserByEmail(db: Queryable, email: string): Promise<PrincipalRecord | undefined> {
  const found = await db.query<PrincipalRecord>(`SELECT ${COLUMNS} FROM principals p WHERE p.email = $1`, [
    normalizeEmail(email),
  ]);
  return found.rows[0];
}

/** The stored password hash of a user (sign-in only; it never leaves the people module). */
export async function passwordHashOf(db: Queryable, id: string): Promise<string | null> {
  const found = await db.query<{ password_hash: string | null }>('SELECT password_hash FROM principals WHERE id = $1', [
    id,
  ]);
  return found.rows[0]?.password_hash ?? null;
}

export async function setPassword(db: Queryable, id: string, passwordHash: string): Promise<void> {
  await db.query(
    'UPDATE principals SET password_hash = $2, password_changed_at = now(), updated_at = now() WHERE id = $1',
    [id, passwordHash],
  );
}

export async function findUserByOidc(
  db: Queryable,
  issuer: string,
  subject: string,
): Promise<PrincipalRecord | undefined> {
  const found = await db.query<PrincipalRecord>(
    `SELECT ${COLUMNS} FROM principals p WHERE p.oidc_issuer = $1 AND p.oidc_subject = $2`,
    [issuer, subject],
  );
  return found.rows[0];
}

export async function linkOidc(db: Queryable, id: string, issuer: string, subject: string): Promise<void> {
  await db.query('UPDATE principals SET oidc_issuer = $2, oidc_subject = $3, updated_at = now() WHERE id = $1', [
    id,
    issuer,
    subject,
  ]);
}

export async function updatePrincipal(
  db: Queryable,
  id: string,
  change: { displayName?: string; status?: PrincipalStatus },
): Promise<PrincipalRecord | undefined> {
  const updated = await db.query<PrincipalRecord>(
    `UPDATE principals p SET display_name = coalesce($2, display_name), status = coalesce($3, status),
            disabled_at = CASE WHEN $3::text = 'disabled' THEN coalesce(disabled_at, now()) WHEN $3::text = 'active' THEN NULL ELSE disabled_at END,
            updated_at = now()
      WHERE p.id = $1 RETURNING ${COLUMNS}`,
    [id, change.displayName ?? null, change.status ?? null],
  );
  return updated.rows[0];
}

export async function upsertMembership(
  db: Queryable,
  projectId: string,
  principalId: string,
  roles: readonly Role[],
): Promise<void> {
  await db.query(
    `INSERT INTO memberships (project_id, principal_id, roles) VALUES ($1, $2, $3)
     ON CONFLICT (project_id, principal_id) DO UPDATE SET roles = $3, updated_at = now()`,
    [projectId, principalId, roles],
  );
}

export async function removeMembership(db: Queryable, projectId: string, principalId: string): Promise<boolean> {
  const removed = await db.query('DELETE FROM memberships WHERE project_id = $1 AND principal_id = $2', [
    projectId,
    principalId,
  ]);
  return removed.rowCount === 1;
}

export async function findMember(
  db: Queryable,
  projectId: string,
  principalId: string,
): Promise<MemberRecord | undefined> {
  const found = await db.query<MemberRecord>(
    `SELECT ${COLUMNS}, m.roles, m.created_at AS member_since FROM memberships m JOIN principals p ON p.id = m.principal_id
      WHERE m.project_id = $1 AND m.principal_id = $2`,
    [projectId, principalId],
  );
  return found.rows[0];
}

/** Members newest first, optionally of one kind; `after` is the last principal id of the previous page. */
export async function listMembers(
  db: Queryable,
  projectId: string,
  page: { limit: number; after?: string; kind?: PrincipalKind },
): Promise<MemberRecord[]> {
  const found = await db.query<MemberRecord>(
    `SELECT ${COLUMNS}, m.roles, m.created_at AS member_since FROM memberships m JOIN principals p ON p.id = m.principal_id
      WHERE m.project_id = $1 AND ($2::text IS NULL OR p.kind = $2)
        AND ($3::text IS NULL OR (m.created_at, p.id) < (SELECT created_at, principal_id FROM memberships WHERE project_id = $1 AND principal_id = $3))
      ORDER BY m.created_at DESC, p.id DESC LIMIT $4`,
    [projectId, page.kind ?? null, page.after ?? null, page.limit],
  );
  return found.rows;
}

/** Projects a principal belongs to. */
export async function projectsOf(db: Queryable, principalId: string): Promise<string[]> {
  const found = await db.query<{ project_id: string }>('SELECT project_id FROM memberships WHERE principal_id = $1', [
    principalId,
  ]);
  return found.rows.map((row) => row.project_id);
}

/** Active admins of a project other than `except` (the last one may not go). */
export async function otherActiveAdmins(db: Queryable, projectId: string, except: string): Promise<number> {
  const found = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM memberships m JOIN principals p ON p.id = m.principal_id
      WHERE m.project_id = $1 AND p.id <> $2 AND p.status = 'active' AND 'admin' = ANY (m.roles)`,
    [projectId, except],
  );
  return found.rows[0]!.n;
}
