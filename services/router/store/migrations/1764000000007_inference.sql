-- Up Migration

-- Stored responses (`store: true`, the default): what `previous_response_id` continues from.
-- `history` is every item the model saw before this turn's output (earlier turns' input and
-- output, then this turn's input), so a continuation reads one row, never a chain.
CREATE TABLE responses (
  id                    text PRIMARY KEY CHECK (id ~ '^resp_[0-9a-f]{24,48}$'),
  project_id            text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  endpoint_id           text NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
  previous_response_id  text,
  status                text NOT NULL CHECK (status IN ('completed', 'incomplete', 'failed', 'cancelled')),
  history               jsonb NOT NULL,
  response              jsonb NOT NULL,
  created_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX responses_project ON responses (project_id, created_at DESC);

-- One row per inference request, however it ended: what each project, endpoint and model used.
CREATE TABLE inference_usage (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  project_id      text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  endpoint_id     text NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
  api             text NOT NULL CHECK (api IN ('responses', 'chat.completions')),
  model           text NOT NULL,
  agent_id        text,
  request_id      text NOT NULL,
  outcome         text NOT NULL CHECK (outcome IN ('completed', 'incomplete', 'failed', 'cancelled')),
  input_tokens    integer NOT NULL DEFAULT 0 CHECK (input_tokens >= 0),
  cached_tokens   integer NOT NULL DEFAULT 0 CHECK (cached_tokens >= 0),
  output_tokens   integer NOT NULL DEFAULT 0 CHECK (output_tokens >= 0),
  first_token_ms  integer,
  duration_ms     integer NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX inference_usage_project ON inference_usage (project_id, created_at DESC);

-- Down Migration

DROP TABLE inference_usage;
DROP TABLE responses;
