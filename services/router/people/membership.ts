import { ApiError } from '../http/errors.js';
import { revokeSessionsOf } from '../store/api-keys.js';
import { appendAudit, type AuditEntry } from '../store/audit-log.js';
import { withTransaction, type Queryable } from '../store/db.js';
import type { Pool } from '../store/pool.js';
import {
  findMember,
  findUserByEmail,
  insertServiceAccount,
  insertUser,
  otherActiveAdmins,
  projectsOf,
  removeMembership,
  setPassword,
  updatePrincipal,
  upsertMembership,
  type MemberRecord,
  type PrincipalStatus,
} from '../store/principals.js';
import { clearFailures } from './lockout.js';
import { hashPassword, passwordProblem } from './passwords.js';
import type { Role } from './roles.js';

/** Who is changing membership: the acting principal and the audit fields it writes. */
export type Actor = Pick<AuditEntry, 'actor' | 'via'> & { readonly principalId: string };

// Membership changes of one project run one at a time, so two admins demoting each other cannot
// both pass the last-admin check.
const lockProject = (db: Queryable, projectId: string) =>
  db.query("SELECT pg_advisory_xact_lock(hashtextextended('memberships:' || $1, 0))", [projectId]);

/** Adds a person: a new user, or one who exists (by email) in other projects. */
export async function addUser(
  pool: Pool,
  projectId: string,
  user: { email: string; displayName: string; roles: readonly Role[]; password?: string },
  actor: Actor,
): Promise<MemberRecord> {
  const problem = user.password === undefined ? undefined : passwordProblem(user.password, user.email);
  if (problem) throw new ApiError('weak_password', problem, 'password');
  const passwordHash = user.password === undefined ? null : await hashPassword(user.password);
  return withTransaction(pool, async (client) => {
    await lockProject(client, projectId);
    const existing = await findUserByEmail(client, user.email);
    if (existing && (await findMember(client, projectId, existing.id)))
      throw new ApiError('member_exists', undefined, 'email');
    // An existing account keeps its own name and password: another project's admin does not set them.
    const principal =
      existing ?? (await insertUser(client, { email: user.email, displayName: user.displayName, passwordHash }));
    return join(client, projectId, principal, user.roles, actor);
  });
}

export async function addServiceAccount(
  pool: Pool,
  projectId: string,
  account: { name: string; roles: readonly Role[] },
  actor: Actor,
): Promise<MemberRecord> {
  return withTransaction(pool, async (client) => {
    const principal = await insertServiceAccount(client, { projectId, name: account.name });
    return join(client, projectId, principal, account.roles, actor);
  });
}

async function join(
  db: Queryable,
  projectId: string,
  principal: { id: string; kind: string },
  roles: readonly Role[],
  actor: Actor,
): Promise<MemberRecord> {
  await upsertMembership(db, projectId, principal.id, roles);
  await appendAudit(db, {
    projectId,
    ...actor,
    event: 'member.added',
    subject: principal.id,
    detail: { roles, kind: principal.kind },
  });
  return (await findMember(db, projectId, principal.id))!;
}

/** New roles for a member; the project always keeps one active admin. Takes effect on the next request of every key. */
export async function setRoles(
  pool: Pool,
  projectId: string,
  principalId: string,
  roles: readonly Role[],
  actor: Actor,
) {
  return withTransaction(pool, async (client) => {
    await lockProject(client, projectId);
    const member = await memberOf(client, projectId, principalId);
    if (member.roles.includes('admin') && !roles.includes('admin')) await keepAnAdmin(client, projectId, principalId);
    await upsertMembership(client, projectId, principalId, roles);
    await appendAudit(client, {
      projectId,
      ...actor,
      event: 'member.roles_changed',
      subject: principalId,
      detail: { from: member.roles, to: roles },
    });
    return (await findMember(client, projectId, principalId))!;
  });
}

/** Removes a member: their keys here can do nothing from the next request, their sessions here end. */
export async function removeMember(pool: Pool, projectId: string, principalId: string, actor: Actor): Promise<void> {
  await withTransaction(pool, async (client) => {
    await lockProject(client, projectId);
    const member = await memberOf(client, projectId, principalId);
    if (member.roles.includes('admin')) await keepAnAdmin(client, projectId, principalId);
    await removeMembership(client, projectId, principalId);
    const sessions = await revokeSessionsOf(client, principalId, projectId);
    await appendAudit(client, {
      projectId,
      ...actor,
      event: 'member.removed',
      subject: principalId,
      detail: { roles: member.roles, sessions_revoked: sessions },
    });
  });
}

/**
 * Disables or re-enables a principal. A user is one person across projects, so only an admin of
 * every project they belong to may change their status; a disabled principal's keys and sessions
 * stop at once (each request reads the owner's status), and its sessions are revoked outright.
 */
export async function setStatus(
  pool: Pool,
  projectId: string,
  principalId: string,
  change: { status?: PrincipalStatus; displayName?: string },
  actor: Actor,
): Promise<MemberRecord> {
  return withTransaction(pool, async (client) => {
    await lockProject(client, projectId);
    const member = await memberOf(client, projectId, principalId);
    if (change.status && change.status !== member.status) {
      if (member.kind === 'user') await mustAdministerAll(client, principalId, actor.principalId);
      if (change.status === 'disabled' && member.roles.includes('admin'))
        await keepAnAdmin(client, projectId, principalId);
    }
    await updatePrincipal(client, principalId, change);
    const revoked = change.status === 'disabled' ? await revokeSessionsOf(client, principalId) : 0;
    await appendAudit(client, {
      projectId,
      ...actor,
      event:
        change.status && change.status !== member.status
          ? `principal.${change.status === 'disabled' ? 'disabled' : 'enabled'}`
          : 'principal.updated',
      subject: principalId,
      detail: { ...(change.displayName ? { display_name: change.displayName } : {}), sessions_revoked: revoked },
    });
    return (await findMember(client, projectId, principalId))!;
  });
}

/** An admin sets a user's password (a reset): their sessions end and the lockout is lifted. */
export async function resetPassword(
  pool: Pool,
  projectId: string,
  principalId: string,
  password: string,
  actor: Actor,
) {
  await withTransaction(pool, async (client) => {
    const member = await memberOf(client, projectId, principalId);
    if (member.kind !== 'user') throw new ApiError('user_not_found', undefined, 'id');
    await mustAdministerAll(client, principalId, actor.principalId);
    const problem = passwordProblem(password, member.email ?? undefined);
    if (problem) throw new ApiError('weak_password', problem, 'password');
    await setPassword(client, principalId, await hashPassword(password));
    await clearFailures(client, member.email!);
    const revoked = await revokeSessionsOf(client, principalId);
    await appendAudit(client, {
      projectId,
      ...actor,
      event: 'principal.password_reset',
      subject: principalId,
      detail: { sessions_revoked: revoked },
    });
  });
}

async function memberOf(db: Queryable, projectId: string, principalId: string): Promise<MemberRecord> {
  const member = await findMember(db, projectId, principalId);
  if (!member) throw new ApiError('member_not_found', undefined, 'id');
  return member;
}

async function keepAnAdmin(db: Queryable, projectId: string, leaving: string): Promise<void> {
  if ((await otherActiveAdmins(db, projectId, leaving)) === 0) throw new ApiError('last_admin');
}

async function mustAdministerAll(db: Queryable, userId: string, adminId: string): Promise<void> {
  for (const project of await projectsOf(db, userId)) {
    const admin = await findMember(db, project, adminId);
    if (!admin?.roles.includes('admin')) throw new ApiError('user_in_other_projects');
  }
}
