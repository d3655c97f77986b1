-- Up Migration

-- Every event of a stored response, in order, so a client can replay its stream from any
-- sequence number (`GET …/responses/:id?stream=true&starting_after=N`). A response may go on
-- after it first ended (a parked turn resumed in the background), so its status can be
-- `in_progress` again while that runs.
ALTER TABLE responses ADD COLUMN events jsonb;
ALTER TABLE responses ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE responses DROP CONSTRAINT responses_status_check;
ALTER TABLE responses ADD CONSTRAINT responses_status_check
  CHECK (status IN ('in_progress', 'completed', 'incomplete', 'failed', 'cancelled'));

-- A loop turn that ended waiting for people (its mcp_approval_request items): once every one of
-- its approvals is decided — through the exec API, /ops, the CLI, or expiry — whichever router
-- claims the row first (DELETE … RETURNING) resumes the turn in the background as the person
-- who started it. The request is the Responses body without its input (the stored response
-- keeps the history). A later turn that answers the same approvals removes the row.
CREATE TABLE parked_turns (
  response_id   text PRIMARY KEY REFERENCES responses (id) ON DELETE CASCADE,
  project_id    text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  endpoint_id   text NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
  approval_ids  text[] NOT NULL CHECK (cardinality(approval_ids) > 0),
  request       jsonb NOT NULL,
  principal_id  text NOT NULL,
  key_id        text NOT NULL,
  chat_id       text,
  branch_id     text,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX parked_turns_approvals ON parked_turns USING gin (approval_ids);

-- Down Migration

DROP TABLE parked_turns;
ALTER TABLE responses DROP CONSTRAINT responses_status_check;
ALTER TABLE responses ADD CONSTRAINT responses_status_check
  CHECK (status IN ('completed', 'incomplete', 'failed', 'cancelled'));
ALTER TABLE responses DROP COLUMN updated_at;
ALTER TABLE responses DROP COLUMN events;
