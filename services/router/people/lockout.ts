import type { Queryable } from '../store/db.js';

/**
 * Per-account lockout after repeated failed sign-ins, kept in Postgres so every replica sees it.
 * Keyed by the lower-case email whether or not an account has it: the answer to a guess must not
 * tell which addresses exist.
 */
export interface LockoutRule {
  readonly failures: number;
  readonly seconds: number;
}

/** Seconds until the account may try again, or 0. */
export async function lockedFor(db: Queryable, email: string, now: Date): Promise<number> {
  const found = await db.query<{ locked_until: Date | null }>(
    'SELECT locked_until FROM sign_in_failures WHERE email = $1',
    [email],
  );
  const until = found.rows[0]?.locked_until;
  return until && until > now ? Math.ceil((until.getTime() - now.getTime()) / 1_000) : 0;
}

/**
 * Counts one failure; failures older than the window start a new count. Returns seconds locked
 * (0 while under the limit). One statement, so racing guesses cannot slip past the count.
 */
export async function recordFailure(db: Queryable, email: string, rule: LockoutRule, now: Date): Promise<number> {
  const updated = await db.query<{ locked_until: Date | null }>(
    `INSERT INTO sign_in_failures AS f (email, failures, first_failed_at) VALUES ($1, 1, $2)
     ON CONFLICT (email) DO UPDATE SET
       failures = CASE WHEN f.first_failed_at < $2::timestamptz - make_interval(secs => $3) THEN 1 ELSE f.failures + 1 END,
       first_failed_at = CASE WHEN f.first_failed_at < $2::timestamptz - make_interval(secs => $3) THEN $2 ELSE f.first_failed_at END
     RETURNING failures, locked_until`,
    [email, now, rule.seconds],
  );
  const row = updated.rows[0] as { failures: number; locked_until: Date | null };
  if (row.failures < rule.failures) return 0;
  const until = new Date(now.getTime() + rule.seconds * 1_000);
  await db.query('UPDATE sign_in_failures SET locked_until = $2, failures = 0, first_failed_at = $3 WHERE email = $1', [
    email,
    until,
    now,
  ]);
  return rule.seconds;
}

/** A successful sign-in, or an admin's password reset, forgets the failures. */
export async function clearFailures(db: Queryable, email: string): Promise<void> {
  await db.query('DELETE FROM sign_in_failures WHERE email = $1', [email]);
}
