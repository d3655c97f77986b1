-- Up Migration

-- Outbound webhooks for exec events. The signing secret is needed to sign, so it is kept sealed
-- (AES-256-GCM under the router's at-rest key), never hashed, and shown once at creation.
CREATE TABLE webhook_endpoints (
  id            text PRIMARY KEY CHECK (id ~ '^wh_[0-9a-f]{12,48}$'),
  project_id    text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  url           text NOT NULL CHECK (length(url) <= 2048),
  events        text[] NOT NULL CHECK (cardinality(events) BETWEEN 1 AND 50),
  description   text CHECK (length(description) <= 500),
  secret_sealed bytea NOT NULL,
  active        boolean NOT NULL DEFAULT true,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_endpoints_project ON webhook_endpoints (project_id, created_at DESC, id DESC);

-- One row per event per endpoint: the delivery log and the retry queue at once.
CREATE TABLE webhook_deliveries (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  endpoint_id      text NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
  event_id         text NOT NULL,
  event_type       text NOT NULL,
  payload          jsonb NOT NULL,
  status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  last_status_code integer,
  last_error       text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  delivered_at     timestamptz,
  UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id DESC);

-- How far the audit log has been turned into deliveries. Events are read from the audit log
-- (its positions commit in order), so the hot paths pay nothing for webhooks.
CREATE TABLE webhook_cursor (
  id            integer PRIMARY KEY CHECK (id = 1),
  last_position bigint NOT NULL
);
INSERT INTO webhook_cursor (id, last_position) SELECT 1, coalesce(max(position), 0) FROM execution_audit_log;

-- Down Migration

DROP TABLE webhook_cursor;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
