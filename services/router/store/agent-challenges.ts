import type { Queryable } from './db.js';

/** Stores a challenge for an existing agent (none for an unknown id: the answer then fails alike). */
export async function insertChallenge(
  db: Queryable,
  challenge: { nonce: string; agentId: string; expiresAt: Date },
): Promise<void> {
  await db.query(
    `WITH old AS (DELETE FROM agent_auth_challenges WHERE expires_at < now())
     INSERT INTO agent_auth_challenges (nonce, agent_id, expires_at) SELECT $1, id, $3 FROM agents WHERE id = $2`,
    [challenge.nonce, challenge.agentId, challenge.expiresAt],
  );
}

/** Spends a challenge of this agent that has not expired; true once, for exactly one caller. */
export async function consumeChallenge(db: Queryable, nonce: string, agentId: string, now: Date): Promise<boolean> {
  const spent = await db.query(
    'DELETE FROM agent_auth_challenges WHERE nonce = $1 AND agent_id = $2 AND expires_at > $3',
    [nonce, agentId, now],
  );
  return spent.rowCount === 1;
}
