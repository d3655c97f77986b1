-- Up Migration

-- Operators stop an agent taking new work without dropping its lease (pause-exec / resume-exec).
ALTER TABLE agents ADD COLUMN exec_paused boolean NOT NULL DEFAULT false;

-- Which XEM agents may run a workspace's tools. An agent must also serve the workspace in its
-- manifest: the binding is the operator's consent, the manifest the host's ability.
CREATE TABLE workspace_agent_bindings (
  workspace_id text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  agent_id     text NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
  project_id   text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  created_by   text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, agent_id)
);
CREATE INDEX workspace_agent_bindings_agent ON workspace_agent_bindings (agent_id);

-- Per-workspace approval rules; a workspace without a row uses the defaults below.
CREATE TABLE approval_policies (
  workspace_id                  text PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
  project_id                    text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  timeout_seconds_destructive   integer NOT NULL DEFAULT 900 CHECK (timeout_seconds_destructive BETWEEN 1 AND 604800),
  timeout_seconds_irreversible  integer NOT NULL DEFAULT 3600 CHECK (timeout_seconds_irreversible BETWEEN 1 AND 604800),
  on_timeout_destructive        text NOT NULL DEFAULT 'expire' CHECK (on_timeout_destructive IN ('expire', 'escalate')),
  on_timeout_irreversible       text NOT NULL DEFAULT 'expire' CHECK (on_timeout_irreversible IN ('expire', 'escalate')),
  allow_self_approval           boolean NOT NULL DEFAULT false,
  -- API keys that may decide an escalated approval; empty: any execution key but the requester's.
  escalation_reviewers          text[] NOT NULL DEFAULT '{}' CHECK (cardinality(escalation_reviewers) <= 50),
  updated_at                    timestamptz NOT NULL DEFAULT now()
);

-- Tool calls. Rows, never only memory, so any router can serve them; state changes are
-- conditional UPDATEs on the state they were computed from (exec/invocation-state.ts).
CREATE TABLE invocations (
  id            text PRIMARY KEY CHECK (id ~ '^inv_[0-9a-f]{12,64}$'),
  project_id    text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  workspace_id  text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  tool          text NOT NULL CHECK (tool ~ '^[a-z][a-z0-9_]{0,63}$'),
  risk          text NOT NULL CHECK (risk IN ('read', 'write', 'destructive', 'irreversible')),
  args          jsonb NOT NULL,
  -- sha256 (hex) of the canonical tool + args + workspace: what an approval is bound to.
  request_hash  text NOT NULL CHECK (request_hash ~ '^[0-9a-f]{64}$'),
  requested_by  text NOT NULL,
  state         text NOT NULL CHECK (state IN ('pending_approval', 'queued', 'dispatched', 'running', 'succeeded', 'failed',
                                              'timed_out', 'cancelled', 'rejected', 'expired', 'ambiguous')),
  attempt       integer NOT NULL DEFAULT 0 CHECK (attempt >= 0),
  agent_id      text REFERENCES agents (id) ON DELETE SET NULL,
  timeout_ms    integer NOT NULL CHECK (timeout_ms BETWEEN 100 AND 3600000),
  result        jsonb,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  queued_at     timestamptz,
  dispatched_at timestamptz,
  finished_at   timestamptz
);
CREATE INDEX invocations_project ON invocations (project_id, created_at DESC, id DESC);
CREATE INDEX invocations_queued ON invocations (queued_at, id) WHERE state = 'queued';
CREATE INDEX invocations_in_flight ON invocations (agent_id) WHERE state IN ('dispatched', 'running');

CREATE TABLE approvals (
  id            text PRIMARY KEY CHECK (id ~ '^apr_[0-9a-f]{12,64}$'),
  project_id    text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  workspace_id  text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  invocation_id text NOT NULL UNIQUE REFERENCES invocations (id) ON DELETE CASCADE,
  request_hash  text NOT NULL CHECK (request_hash ~ '^[0-9a-f]{64}$'),
  risk          text NOT NULL CHECK (risk IN ('destructive', 'irreversible')),
  state         text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'approved', 'rejected', 'expired', 'cancelled')),
  -- 1: first reviewers; 2: escalated after a timeout to the policy's escalation reviewers.
  stage         integer NOT NULL DEFAULT 1 CHECK (stage IN (1, 2)),
  requested_by  text NOT NULL,
  expires_at    timestamptz NOT NULL,
  decided_by    text,
  decided_at    timestamptz,
  note          text CHECK (length(note) <= 2000),
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX approvals_project ON approvals (project_id, created_at DESC, id DESC);
CREATE INDEX approvals_due ON approvals (expires_at) WHERE state = 'pending';

-- The tamper-evident trail. Each row's hash covers its content and the previous row's hash;
-- the position is assigned by the insert trigger under a transaction-scoped advisory lock, so
-- concurrent writers queue instead of forking the chain. Rows never change once written.
CREATE TABLE execution_audit_log (
  position   bigint PRIMARY KEY,
  at         timestamptz NOT NULL,
  project_id text,
  actor      text NOT NULL,
  event      text NOT NULL CHECK (event ~ '^[a-z_]+\.[a-z_.]+$'),
  subject    text,
  detail     jsonb NOT NULL DEFAULT '{}',
  -- The agent's Ed25519 signature over the frame that reported a result.
  signature  text,
  prev_hash  bytea,
  hash       bytea NOT NULL CHECK (length(hash) = 32)
);
CREATE INDEX execution_audit_log_project ON execution_audit_log (project_id, position DESC);
CREATE INDEX execution_audit_log_subject ON execution_audit_log (subject, position);

-- Timestamps enter the hash as epoch microseconds: text forms depend on the session's TimeZone.
CREATE FUNCTION audit_entry_hash(prev bytea, pos bigint, at timestamptz, project_id text, actor text, event text, subject text, detail jsonb, signature text)
RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
  SELECT sha256(coalesce(prev, '\x'::bytea) || convert_to(concat_ws(E'\x1f',
    pos::text, (extract(epoch FROM at) * 1000000)::bigint::text, coalesce(project_id, ''), actor, event,
    coalesce(subject, ''), detail::text, coalesce(signature, '')), 'UTF8'))
$$;

CREATE FUNCTION audit_chain_append() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  last record;
BEGIN
  PERFORM pg_advisory_xact_lock(7346001);
  SELECT position, hash INTO last FROM execution_audit_log ORDER BY position DESC LIMIT 1;
  NEW.position := coalesce(last.position, 0) + 1;
  NEW.prev_hash := last.hash;
  NEW.at := clock_timestamp();
  NEW.hash := audit_entry_hash(NEW.prev_hash, NEW.position, NEW.at, NEW.project_id, NEW.actor, NEW.event, NEW.subject, NEW.detail, NEW.signature);
  RETURN NEW;
END $$;

CREATE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'execution_audit_log is append-only' USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER audit_chain_append BEFORE INSERT ON execution_audit_log FOR EACH ROW EXECUTE FUNCTION audit_chain_append();
CREATE TRIGGER audit_refuse_update BEFORE UPDATE OR DELETE ON execution_audit_log FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_refuse_truncate BEFORE TRUNCATE ON execution_audit_log FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
-- ALWAYS: the triggers fire even with session_replication_role = replica.
ALTER TABLE execution_audit_log ENABLE ALWAYS TRIGGER audit_chain_append;
ALTER TABLE execution_audit_log ENABLE ALWAYS TRIGGER audit_refuse_update;
ALTER TABLE execution_audit_log ENABLE ALWAYS TRIGGER audit_refuse_truncate;
REVOKE UPDATE, DELETE, TRUNCATE ON execution_audit_log FROM PUBLIC;

-- The enrollment trail moves into the chain, oldest first.
INSERT INTO execution_audit_log (project_id, actor, event, subject, detail)
  SELECT project_id, CASE WHEN detail ? 'by' THEN 'key:' || (detail->>'by') ELSE 'router' END,
         'agent.' || event, coalesce(agent_id, detail->>'join_key_id'), detail || jsonb_build_object('migrated_at', at)
    FROM agent_events ORDER BY id;
DROP TABLE agent_events;

-- Down Migration

CREATE TABLE agent_events (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  project_id  text REFERENCES projects (id) ON DELETE CASCADE,
  agent_id    text REFERENCES agents (id) ON DELETE CASCADE,
  event       text NOT NULL,
  detail      jsonb NOT NULL DEFAULT '{}',
  at          timestamptz NOT NULL DEFAULT now()
);
DROP TABLE execution_audit_log;
DROP FUNCTION audit_refuse_change();
DROP FUNCTION audit_chain_append();
DROP FUNCTION audit_entry_hash(bytea, bigint, timestamptz, text, text, text, text, jsonb, text);
DROP TABLE approvals;
DROP TABLE invocations;
DROP TABLE approval_policies;
DROP TABLE workspace_agent_bindings;
ALTER TABLE agents DROP COLUMN exec_paused;
