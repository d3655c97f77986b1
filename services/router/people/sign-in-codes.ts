import { createHash, randomBytes } from 'node:crypto';
import type { SessionClient } from '../store/api-keys.js';
import type { Queryable } from '../store/db.js';

/** How long a code from the identity provider's callback may be traded for a session. */
export const CODE_LIFETIME_MS = 60_000;

const digest = (code: string) => createHash('sha256').update(code).digest();

/**
 * A one-time code for a finished sign-in: it travels in a redirect URL instead of the session key
 * (URLs end up in browser history and proxy logs); only its hash is stored, it works once, for a
 * minute.
 */
export async function issueCode(
  db: Queryable,
  grant: { principalId: string; projectId: string; client: SessionClient },
  now: Date,
): Promise<string> {
  const code = `xsc_${randomBytes(32).toString('base64url')}`;
  await db.query(
    `INSERT INTO sign_in_codes (code_hash, principal_id, project_id, client, method, expires_at) VALUES ($1, $2, $3, $4, 'oidc', $5)`,
    [digest(code), grant.principalId, grant.projectId, grant.client, new Date(now.getTime() + CODE_LIFETIME_MS)],
  );
  return code;
}

export interface RedeemedCode {
  readonly principal_id: string;
  readonly project_id: string;
  readonly client: SessionClient;
}

/** Spends a code; undefined when unknown, spent or expired. One statement: two redeemers, one winner. */
export async function redeemCode(db: Queryable, code: string, now: Date): Promise<RedeemedCode | undefined> {
  const spent = await db.query<RedeemedCode>(
    `UPDATE sign_in_codes SET used_at = $2 WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2
     RETURNING principal_id, project_id, client`,
    [digest(code), now],
  );
  return spent.rows[0];
}
