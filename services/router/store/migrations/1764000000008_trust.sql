-- Up Migration

-- A dangerous call that reaches dispatch without an approved approval matching what it would
-- run now ends here, having run nowhere.
ALTER TABLE invocations DROP CONSTRAINT invocations_state_check;
ALTER TABLE invocations ADD CONSTRAINT invocations_state_check CHECK (state IN ('pending_approval', 'queued', 'dispatched', 'running',
  'succeeded', 'failed', 'timed_out', 'cancelled', 'rejected', 'expired', 'approval_voided', 'ambiguous'));

-- What an agent's result signature covers besides the result itself (the frame's version and
-- timestamp), so `audit verify` can check every stored signature against the agent's key.
ALTER TABLE exec_results ADD COLUMN frame_v smallint, ADD COLUMN frame_ts bigint;

-- Operators may raise a tool's risk in a workspace; the effective risk is the strictest of this
-- and every bound agent's declaration, so an override can never lower it.
CREATE TABLE tool_risk_overrides (
  workspace_id text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  project_id   text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  tool         text NOT NULL CHECK (tool ~ '^[a-z][a-z0-9_]{0,63}$'),
  risk         text NOT NULL CHECK (risk IN ('write', 'destructive', 'irreversible')),
  reason       text CHECK (length(reason) <= 500),
  created_by   text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, tool)
);

-- Disagreements between bound agents about one tool (risk, parameters, bundle version), each
-- recorded once so every router audits and counts it once.
CREATE TABLE tool_conflicts (
  workspace_id text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  project_id   text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  tool         text NOT NULL,
  signature    text NOT NULL CHECK (signature ~ '^[0-9a-f]{64}$'),
  detail       jsonb NOT NULL,
  first_seen   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, tool, signature)
);

-- Enrolling under a live agent's name (or key) replaces it only when the join key says so;
-- a key may also be bound to one registration name.
ALTER TABLE join_keys ADD COLUMN allow_replace boolean NOT NULL DEFAULT false,
  ADD COLUMN registration_name text CHECK (registration_name ~ '^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$' AND length(registration_name) <= 48);

-- A revoked agent's name is free again (revocation ended that identity); only live agents hold one.
DROP INDEX agents_live_name;
CREATE UNIQUE INDEX agents_live_name ON agents (project_id, registration_name) WHERE status NOT IN ('superseded', 'revoked');

-- How long each webhook attempt took (the log records status and timing, never a receiver's body).
ALTER TABLE webhook_deliveries ADD COLUMN last_duration_ms integer;

-- When the last checkpoint of the audit chain was signed, so replicas take turns, not all sign.
CREATE TABLE audit_checkpoint_schedule (
  id          integer PRIMARY KEY CHECK (id = 1),
  position    bigint NOT NULL DEFAULT 0,
  emitted_at  timestamptz NOT NULL DEFAULT '-infinity'
);
INSERT INTO audit_checkpoint_schedule (id) VALUES (1);

-- Down Migration

DROP TABLE audit_checkpoint_schedule;
ALTER TABLE webhook_deliveries DROP COLUMN last_duration_ms;
DROP INDEX agents_live_name;
CREATE UNIQUE INDEX agents_live_name ON agents (project_id, registration_name) WHERE status <> 'superseded';
ALTER TABLE join_keys DROP COLUMN registration_name, DROP COLUMN allow_replace;
DROP TABLE tool_conflicts;
DROP TABLE tool_risk_overrides;
ALTER TABLE exec_results DROP COLUMN frame_ts, DROP COLUMN frame_v;
UPDATE invocations SET state = 'cancelled' WHERE state = 'approval_voided';
ALTER TABLE invocations DROP CONSTRAINT invocations_state_check;
ALTER TABLE invocations ADD CONSTRAINT invocations_state_check CHECK (state IN ('pending_approval', 'queued', 'dispatched', 'running',
  'succeeded', 'failed', 'timed_out', 'cancelled', 'rejected', 'expired', 'ambiguous'));
