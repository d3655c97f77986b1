-- Up Migration

-- Inference endpoints: what `/:project_id/:endpoint_slug/v1/…` serves — which models, in which
-- service tier, with which request defaults. `v1` is reserved: it would shadow the project's
-- own API paths.
CREATE TABLE endpoints (
  id            text PRIMARY KEY CHECK (id ~ '^ep_[0-9a-f]{12,48}$'),
  project_id    text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  slug          text NOT NULL CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$' AND slug <> 'v1'),
  models        text[] NOT NULL CHECK (cardinality(models) BETWEEN 1 AND 16),
  service_tier  text NOT NULL CHECK (service_tier IN ('free', 'cpu_amd_optimized', 'cpu_intel_optimized', 'gpu_nvidia_shared', 'gpu_amd_shared', 'gpu_intel_shared', 'self_hosted')),
  defaults      jsonb NOT NULL DEFAULT '{}',
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  UNIQUE (project_id, slug)
);

-- Down Migration

DROP TABLE endpoints;
