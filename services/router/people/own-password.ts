import { ApiError } from '../http/errors.js';
import { appendAudit, type AuditEntry } from '../store/audit-log.js';
import { withTransaction } from '../store/db.js';
import type { Pool } from '../store/pool.js';
import { findPrincipal, passwordHashOf, setPassword } from '../store/principals.js';
import { hashPassword, passwordProblem, verifyPassword } from './passwords.js';

/**
 * A user changes their own password: the current one must be given when one is set (a stolen
 * session alone cannot take the account over), and every other session of theirs ends.
 */
export async function changeOwnPassword(
  pool: Pool,
  change: { principalId: string; projectId: string; keyId: string; current?: string; next: string },
  actor: Pick<AuditEntry, 'actor' | 'via'>,
): Promise<void> {
  const user = await findPrincipal(pool, change.principalId);
  if (user?.kind !== 'user') throw new ApiError('user_not_found', 'Only users have passwords');
  const stored = await passwordHashOf(pool, user.id);
  if (stored !== null && !(await verifyPassword(change.current ?? '', stored)))
    throw new ApiError('invalid_credentials', 'The current password is wrong', 'current_password');
  const problem = passwordProblem(change.next, user.email ?? undefined);
  if (problem) throw new ApiError('weak_password', problem, 'new_password');
  const hash = await hashPassword(change.next);
  await withTransaction(pool, async (client) => {
    await setPassword(client, user.id, hash);
    const revoked = await client.query(
      "UPDATE api_keys SET revoked_at = now() WHERE principal_id = $1 AND kind = 'session' AND revoked_at IS NULL AND id <> $2",
      [user.id, change.keyId],
    );
    await appendAudit(client, {
      projectId: change.projectId,
      ...actor,
      event: 'principal.password_changed',
      subject: user.id,
      detail: { sessions_revoked: revoked.rowCount ?? 0 },
    });
  });
}
