-- Up Migration

-- Single-use nonces an enrolled agent signs with its Ed25519 key to get a fresh token after an
-- outage longer than a token's life: proof of the enrolled key, not a join key, brings it back.
CREATE TABLE agent_auth_challenges (
  nonce      text PRIMARY KEY CHECK (nonce ~ '^[0-9a-f]{64}$'),
  agent_id   text NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
  expires_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX agent_auth_challenges_expiry ON agent_auth_challenges (expires_at);

-- Down Migration

DROP TABLE agent_auth_challenges;
