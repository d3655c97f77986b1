-- Up Migration

-- Output past a result's first 256 KiB arrives in chunks (exec.output frames, sent before the
-- result, up to 64 of them); the result says how many to expect. Recording is idempotent.
ALTER TABLE exec_results ADD COLUMN output_chunks integer NOT NULL DEFAULT 0 CHECK (output_chunks BETWEEN 0 AND 64);

CREATE TABLE exec_output_chunks (
  invocation_id text NOT NULL,
  attempt       integer NOT NULL,
  index         integer NOT NULL CHECK (index BETWEEN 1 AND 64),
  agent_id      text NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
  data          text NOT NULL,
  PRIMARY KEY (invocation_id, attempt, index)
);

-- Down Migration

DROP TABLE exec_output_chunks;
ALTER TABLE exec_results DROP COLUMN output_chunks;
