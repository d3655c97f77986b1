-- Up Migration

-- Results of tool calls as agents report them, one per invocation attempt. The primary key
-- makes recording idempotent: an agent resends a result until it is acknowledged (after its
-- own crash, or the router's), and the copy changes nothing. The agent's signature over the
-- frame is kept for the audit log. The invocation records themselves arrive with the exec API.
CREATE TABLE exec_results (
  invocation_id    text NOT NULL CHECK (length(invocation_id) BETWEEN 1 AND 128),
  attempt          integer NOT NULL CHECK (attempt >= 1),
  agent_id         text NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
  project_id       text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  status           text NOT NULL CHECK (status IN ('succeeded', 'failed', 'timed_out', 'cancelled', 'interrupted', 'rejected')),
  exit_code        integer,
  output           text NOT NULL,
  output_truncated boolean NOT NULL,
  duration_ms      integer NOT NULL CHECK (duration_ms >= 0),
  error            jsonb,
  frame_id         text NOT NULL,
  signature        text,
  received_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (invocation_id, attempt)
);
CREATE INDEX exec_results_agent ON exec_results (agent_id, received_at DESC);

-- Down Migration

DROP TABLE exec_results;
