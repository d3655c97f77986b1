-- Up Migration

-- Single-use enrollment secrets. Only a SHA-256 of the key is kept; a key is consumed by one
-- conditional UPDATE (used_at IS NULL AND not revoked AND not expired), so concurrent
-- enrollments with one key cannot both win.
CREATE TABLE join_keys (
  id            text PRIMARY KEY CHECK (id ~ '^jk_[0-9a-f]{12,64}$'),
  project_id    text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  role          text NOT NULL CHECK (role IN ('xem', 'xim')),
  name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  region        text CHECK (region ~ '^[A-Za-z0-9-]{1,24}$'),
  key_hash      bytea NOT NULL UNIQUE CHECK (length(key_hash) = 32),
  -- Deploy-time keys arrive as hashes from a bootstrap variable.
  provisioned   boolean NOT NULL DEFAULT false,
  created_at    timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz,
  revoked_at    timestamptz,
  used_at       timestamptz,
  used_by_agent text
);
CREATE INDEX join_keys_project ON join_keys (project_id, created_at DESC);

-- Enrolled agents. A registration name is unique per project among agents that are not
-- superseded: re-enrolling under the same name with a new join key supersedes the old record.
CREATE TABLE agents (
  id                  text PRIMARY KEY CHECK (id ~ '^agt_[0-9a-f]{12,64}$'),
  project_id          text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  role                text NOT NULL CHECK (role IN ('xem', 'xim')),
  registration_name   text NOT NULL CHECK (registration_name ~ '^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$' AND length(registration_name) <= 48),
  region              text,
  join_key_id         text REFERENCES join_keys (id),
  signing_public_key  bytea NOT NULL CHECK (length(signing_public_key) = 32),
  curve_public_key    bytea NOT NULL CHECK (length(curve_public_key) = 32),
  status              text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'active', 'stale', 'revoked', 'superseded')),
  manifest            jsonb,
  manifest_hash       text,
  manifest_version    integer,
  enrolled_at         timestamptz NOT NULL DEFAULT now(),
  last_heartbeat      timestamptz,
  revoked_at          timestamptz,
  -- Tokens issued before this instant are refused (revocation, re-enrollment).
  tokens_valid_after  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX agents_live_name ON agents (project_id, registration_name) WHERE status <> 'superseded';
-- One live agent per CURVE key (the mesh admits by key); a superseded or revoked record frees it.
CREATE UNIQUE INDEX agents_live_curve_key ON agents (curve_public_key) WHERE status NOT IN ('superseded', 'revoked');
CREATE INDEX agents_project ON agents (project_id, enrolled_at DESC);

-- Append-only trail of enrollment and agent lifecycle events (folded into the hash-chained
-- audit log later). Rejected enrollments say why here, never to the caller.
CREATE TABLE agent_events (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  project_id  text REFERENCES projects (id) ON DELETE CASCADE,
  agent_id    text REFERENCES agents (id) ON DELETE CASCADE,
  event       text NOT NULL,
  detail      jsonb NOT NULL DEFAULT '{}',
  at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX agent_events_agent ON agent_events (agent_id, at DESC);
CREATE INDEX agent_events_project ON agent_events (project_id, at DESC);

-- Down Migration
DROP TABLE agent_events;
DROP TABLE agents;
DROP TABLE join_keys;
