-- Up Migration

-- Tenancy root. Ids are external ids (proj_<hex>) used in every API path.
CREATE TABLE projects (
  id          text PRIMARY KEY CHECK (id ~ '^proj_[a-z0-9]{6,64}$'),
  slug        text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- Operational workspaces (ws_<hex>): XEM agents bind to them; every project has a default one.
CREATE TABLE workspaces (
  id          text PRIMARY KEY CHECK (id ~ '^ws_[0-9a-f]{12,48}$'),
  project_id  text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  name        text NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
  is_default  boolean NOT NULL DEFAULT false,
  created_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (project_id, name)
);
CREATE UNIQUE INDEX workspaces_one_default ON workspaces (project_id) WHERE is_default;

-- API keys: xero_<project slug>_<secret>. Only a SHA-256 of the secret is kept; the prefix is the
-- first characters of the secret, shown in listings so operators can tell keys apart.
CREATE TABLE api_keys (
  id            text PRIMARY KEY CHECK (id ~ '^key_[0-9a-f]{12,48}$'),
  project_id    text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  prefix        text NOT NULL,
  secret_hash   bytea NOT NULL UNIQUE CHECK (length(secret_hash) = 32),
  scopes        text[] NOT NULL CHECK (scopes <@ ARRAY['inference', 'management', 'execution']::text[] AND cardinality(scopes) > 0),
  created_at    timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz,
  revoked_at    timestamptz,
  last_used_at  timestamptz,
  -- Rotation: the old key keeps working until grace_until, then is treated as revoked.
  rotated_to    text REFERENCES api_keys (id),
  grace_until   timestamptz
);
CREATE INDEX api_keys_project ON api_keys (project_id, created_at DESC);

-- Down Migration
DROP TABLE api_keys;
DROP TABLE workspaces;
DROP TABLE projects;
