-- Up Migration

-- A shared GPU fleet: a XIM agent enrolled with a platform-scope join key (minted in the
-- platform project by its admins) serves every project whose endpoints name its models. It
-- still belongs to the platform project (managed, paused and revoked there); tenants are kept
-- apart by the per-project cache_salt and per-project usage. Only inference agents can be
-- shared: an execution agent runs tools with one project's credentials.
ALTER TABLE join_keys ADD COLUMN scope text NOT NULL DEFAULT 'project'
  CONSTRAINT join_keys_scope_check CHECK (scope IN ('project', 'platform')),
  ADD CONSTRAINT join_keys_platform_is_xim CHECK (scope = 'project' OR role = 'xim');
ALTER TABLE agents ADD COLUMN scope text NOT NULL DEFAULT 'project'
  CONSTRAINT agents_scope_check CHECK (scope IN ('project', 'platform')),
  ADD CONSTRAINT agents_platform_is_xim CHECK (scope = 'project' OR role = 'xim');
CREATE INDEX agents_platform_fleet ON agents (role) WHERE scope = 'platform';

-- Down Migration

DROP INDEX agents_platform_fleet;
ALTER TABLE agents DROP CONSTRAINT agents_platform_is_xim, DROP COLUMN scope;
ALTER TABLE join_keys DROP CONSTRAINT join_keys_platform_is_xim, DROP COLUMN scope;
