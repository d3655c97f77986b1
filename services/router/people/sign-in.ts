import { ApiError } from '../http/errors.js';
import type { SessionClient } from '../store/api-keys.js';
import { withTransaction, type Queryable } from '../store/db.js';
import type { Pool } from '../store/pool.js';
import { findMember, findUserByEmail, normalizeEmail, passwordHashOf } from '../store/principals.js';
import { findProject } from '../store/projects.js';
import { appendAudit } from '../store/audit-log.js';
import { clearFailures, lockedFor, recordFailure } from './lockout.js';
import { verifyPassword } from './passwords.js';
import { openSession, type OpenedSession } from './sessions.js';
import { redeemCode } from './sign-in-codes.js';
import type { IdentitySettings } from './settings.js';

export interface PasswordSignIn {
  readonly email: string;
  readonly password: string;
  /** The project's id or slug. */
  readonly project: string;
  readonly client: SessionClient;
}

/**
 * Email and password to a session. Every wrong answer looks the same (401 invalid_credentials:
 * unknown email, wrong password, disabled account, no password set) and costs the same scrypt
 * work; each counts against the account, known or not, and enough of them lock it (429
 * sign_in_locked with retry-after) without even checking the password. Not being a member of
 * the project is said plainly, but only to someone who knew the password.
 */
export async function signInWithPassword(
  pool: Pool,
  settings: IdentitySettings,
  attempt: PasswordSignIn,
  now: Date,
): Promise<OpenedSession & { project: { id: string; slug: string } }> {
  const email = normalizeEmail(attempt.email);
  const locked = await lockedFor(pool, email, now);
  if (locked > 0) throw ApiError.rateLimited(locked, undefined, 'sign_in_locked');
  const user = await findUserByEmail(pool, email);
  const stored = user ? await passwordHashOf(pool, user.id) : null;
  const matches = await verifyPassword(attempt.password, stored);
  if (!user || !matches || user.status !== 'active') {
    await refuse(pool, settings, email, user?.id, now);
    throw new ApiError('invalid_credentials');
  }
  await clearFailures(pool, email);
  const project = await findProject(pool, attempt.project);
  const member = project ? await findMember(pool, project.id, user.id) : undefined;
  if (!project || !member)
    throw new ApiError('not_a_member', `${email} is not a member of project ${attempt.project.slice(0, 64)}`);
  const opened = await withTransaction(pool, (client) =>
    openSession(
      client,
      settings,
      { principalId: user.id, project, roles: member.roles, method: 'password', client: attempt.client },
      now,
    ),
  );
  return { ...opened, project: { id: project.id, slug: project.slug } };
}

async function refuse(db: Queryable, settings: IdentitySettings, email: string, userId: string | undefined, now: Date) {
  const lockedSeconds = await recordFailure(
    db,
    email,
    { failures: settings.lockoutFailures, seconds: settings.lockoutSeconds },
    now,
  );
  // A known account's lockout is recorded (platform-wide: an account is not one project's);
  // guesses at unknown addresses are only counted.
  if (lockedSeconds > 0 && userId) {
    await appendAudit(db, {
      projectId: null,
      actor: 'router',
      event: 'principal.sign_in_locked',
      subject: userId,
      detail: { seconds: lockedSeconds },
    });
  }
}

/** A one-time code from the OIDC callback to a session (the code is spent either way). */
export async function signInWithCode(
  pool: Pool,
  settings: IdentitySettings,
  code: string,
  now: Date,
): Promise<OpenedSession & { project: { id: string; slug: string } }> {
  return withTransaction(pool, async (client) => {
    const grant = await redeemCode(client, code, now);
    if (!grant) throw new ApiError('sign_in_code_invalid');
    const member = await findMember(client, grant.project_id, grant.principal_id);
    if (!member) throw new ApiError('not_a_member');
    if (member.status !== 'active') throw new ApiError('principal_disabled');
    const project = (await findProject(client, grant.project_id))!;
    const opened = await openSession(
      client,
      settings,
      { principalId: member.id, project, roles: member.roles, method: 'oidc', client: grant.client },
      now,
    );
    return { ...opened, project: { id: project.id, slug: project.slug } };
  });
}
