-- Up Migration

-- The loop's own data (docs/conversations.md, "Primitives"): artifacts, memories, mockup
-- bundles, learnings, chat templates. All workspace-scoped; searched with Postgres full-text
-- search (the stored tsvector columns below, ranked with ts_rank_cd, snippets by ts_headline).

-- What a workspace is for (kubernetes, postgres, host, …): chat templates name the types they apply to.
ALTER TABLE workspaces ADD COLUMN type text CHECK (type ~ '^[a-z0-9][a-z0-9-]{0,62}$');

-- The deployment's first project is the platform's: its admins promote templates to platform scope.
ALTER TABLE projects ADD COLUMN is_platform boolean NOT NULL DEFAULT false;
CREATE UNIQUE INDEX projects_one_platform ON projects (is_platform) WHERE is_platform;

-- Artifacts (cart_<hex>): large tool results and what the model writes; every change a new version.
CREATE TABLE artifacts (
  id             text PRIMARY KEY CHECK (id ~ '^cart_[0-9a-f]{24}$'),
  project_id     text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  workspace_id   text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  chat_id        text REFERENCES chats (id) ON DELETE SET NULL,
  name           text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  content_type   text NOT NULL CHECK (content_type ~ '^[a-z]+/[a-z0-9.+-]+(; ?charset=utf-8)?$'),
  source         text NOT NULL CHECK (source IN ('tool_output', 'model', 'api')),
  invocation_id  text,
  latest_version integer NOT NULL DEFAULT 1 CHECK (latest_version >= 1),
  created_by     text REFERENCES principals (id) ON DELETE SET NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX artifacts_chat ON artifacts (chat_id, created_at);
CREATE INDEX artifacts_workspace ON artifacts (workspace_id, updated_at DESC);

-- A version is never changed: the next one is a new row.
CREATE TABLE artifact_versions (
  artifact_id  text NOT NULL REFERENCES artifacts (id) ON DELETE CASCADE,
  version      integer NOT NULL CHECK (version >= 1),
  content      text NOT NULL CHECK (octet_length(content) <= 8388608),
  bytes        integer NOT NULL,
  lines        integer NOT NULL,
  sha256       text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  created_by   text REFERENCES principals (id) ON DELETE SET NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  -- tsvector holds at most 1 MB: the first 256 KB of a version are searchable.
  search       tsvector GENERATED ALWAYS AS (to_tsvector('english', left(content, 262144))) STORED,
  PRIMARY KEY (artifact_id, version)
);
CREATE INDEX artifact_versions_search ON artifact_versions USING gin (search);

-- Memories (mem_<hex>): what the model or a person asked to be remembered in a workspace.
CREATE TABLE memories (
  id            text PRIMARY KEY CHECK (id ~ '^mem_[0-9a-f]{24}$'),
  project_id    text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  workspace_id  text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  content       text NOT NULL CHECK (length(content) BETWEEN 1 AND 8000),
  tags          text[] NOT NULL DEFAULT '{}',
  chat_id       text REFERENCES chats (id) ON DELETE SET NULL,
  created_by    text REFERENCES principals (id) ON DELETE SET NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  search        tsvector GENERATED ALWAYS AS (to_tsvector('english', content)) STORED
);
CREATE INDEX memories_workspace ON memories (workspace_id, created_at DESC);
CREATE INDEX memories_search ON memories USING gin (search);

-- Messages are searchable by their text (message text and tool output, extracted on insert).
ALTER TABLE chat_messages ADD COLUMN search_text text NOT NULL DEFAULT '';
ALTER TABLE chat_messages ADD COLUMN search tsvector
  GENERATED ALWAYS AS (to_tsvector('english', left(search_text, 262144))) STORED;
CREATE INDEX chat_messages_search ON chat_messages USING gin (search);

-- Mockup bundles: files written one at a time into a bundle of a chat, keyed by an identifier,
-- served for a sandboxed preview under a capability path (preview_token).
CREATE TABLE mockups (
  id             text PRIMARY KEY CHECK (id ~ '^mock_[0-9a-f]{24}$'),
  project_id     text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  chat_id        text NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
  identifier     text NOT NULL CHECK (identifier ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
  title          text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
  entry          text NOT NULL DEFAULT 'index.html',
  version        integer NOT NULL DEFAULT 1,
  preview_token  text NOT NULL CHECK (preview_token ~ '^[0-9a-f]{64}$'),
  created_by     text REFERENCES principals (id) ON DELETE SET NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  UNIQUE (chat_id, identifier)
);
CREATE TABLE mockup_files (
  mockup_id     text NOT NULL REFERENCES mockups (id) ON DELETE CASCADE,
  path          text NOT NULL CHECK (path ~ '^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}(/[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}){0,7}$'),
  content       text NOT NULL CHECK (octet_length(content) <= 1048576),
  content_type  text NOT NULL,
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (mockup_id, path)
);

-- Learnings (lrn_<hex>): extracted after tool executions and chats, or added by operators;
-- retrieved (ranked) before each model turn. The same content in a workspace is one learning.
CREATE TABLE learnings (
  id            text PRIMARY KEY CHECK (id ~ '^lrn_[0-9a-f]{24}$'),
  project_id    text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  workspace_id  text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  content       text NOT NULL CHECK (length(content) BETWEEN 1 AND 2000),
  score         real NOT NULL DEFAULT 0.5 CHECK (score >= 0 AND score <= 1),
  source        text NOT NULL CHECK (source IN ('tool', 'chat', 'operator')),
  source_ref    text,
  created_by    text REFERENCES principals (id) ON DELETE SET NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  search        tsvector GENERATED ALWAYS AS (to_tsvector('english', content)) STORED
);
CREATE UNIQUE INDEX learnings_once ON learnings (workspace_id, md5(content));
CREATE INDEX learnings_search ON learnings USING gin (search);

-- Chat templates: platform (no project), project or workspace scope; every edit a new version.
CREATE TABLE chat_templates (
  id             text PRIMARY KEY CHECK (id ~ '^tpl_[0-9a-f]{24}$'),
  scope          text NOT NULL CHECK (scope IN ('platform', 'project', 'workspace')),
  project_id     text REFERENCES projects (id) ON DELETE CASCADE,
  workspace_id   text REFERENCES workspaces (id) ON DELETE CASCADE,
  name           text NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
  latest_version integer NOT NULL DEFAULT 1,
  promoted_from  text REFERENCES chat_templates (id) ON DELETE SET NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  CHECK ((scope = 'platform') = (project_id IS NULL)),
  CHECK ((scope = 'workspace') = (workspace_id IS NOT NULL))
);
CREATE UNIQUE INDEX chat_templates_name ON chat_templates (scope, coalesce(project_id, ''), coalesce(workspace_id, ''), name);

CREATE TABLE chat_template_versions (
  template_id                text NOT NULL REFERENCES chat_templates (id) ON DELETE CASCADE,
  version                    integer NOT NULL CHECK (version >= 1),
  description                text NOT NULL DEFAULT '' CHECK (length(description) <= 2000),
  system_prompt              text NOT NULL CHECK (length(system_prompt) BETWEEN 1 AND 32000),
  allowed_tools              text[] NOT NULL DEFAULT '{}',
  approval_policy            text NOT NULL DEFAULT 'standard' CHECK (approval_policy IN ('standard', 'elevated', 'restricted')),
  applicable_workspace_types text[] NOT NULL DEFAULT '{}',
  tags                       text[] NOT NULL DEFAULT '{}',
  created_by                 text REFERENCES principals (id) ON DELETE SET NULL,
  created_at                 timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (template_id, version)
);

-- Versions are immutable: a chat pins one, and what it pinned must stay what it read.
CREATE FUNCTION chat_template_versions_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'chat template versions are immutable; write a new version' USING ERRCODE = 'P0001';
END $$;
CREATE TRIGGER chat_template_versions_immutable BEFORE UPDATE ON chat_template_versions
  FOR EACH ROW EXECUTE FUNCTION chat_template_versions_immutable();

ALTER TABLE chats ADD COLUMN template_id text REFERENCES chat_templates (id) ON DELETE SET NULL;
ALTER TABLE chats ADD COLUMN template_version integer;

-- Baseline templates every deployment ships (platform scope).
INSERT INTO chat_templates (id, scope, name) VALUES
  ('tpl_000000000000000000000001', 'platform', 'drain-node'),
  ('tpl_000000000000000000000002', 'platform', 'postgres-maintenance');
INSERT INTO chat_template_versions
  (template_id, version, description, system_prompt, allowed_tools, approval_policy, applicable_workspace_types, tags)
VALUES
  ('tpl_000000000000000000000001', 1,
   'Cordon and drain a Kubernetes node, watching the workloads move, with a person approving the drain.',
   'You help an operator drain a Kubernetes node safely. First read the node and what runs on it; say what a drain would evict and whether PodDisruptionBudgets allow it. Cordon before draining. Never drain more than one node at a time. After the drain, check that the evicted workloads are running elsewhere. Say plainly what you did and what you did not.',
   '{kubectl_get,kubectl_node_cordon,kubectl_node_drain,x_invocation_status,x_save_memory,x_recall_memory,x_workspace_search,x_read_artifact,x_ask_user}',
   'elevated', '{kubernetes}', '{kubernetes,maintenance}'),
  ('tpl_000000000000000000000002', 1,
   'Routine PostgreSQL maintenance: bloat, vacuum, long transactions, replication lag, with approval for anything that writes.',
   'You help an operator maintain a PostgreSQL database. Start by reading its health: long-running transactions, replication lag, table and index bloat, autovacuum activity. Propose maintenance one step at a time and explain its cost (locks, I/O). Anything that writes or terminates sessions waits for a person.',
   '{pg_list_databases,pg_table_sizes,pg_active_queries,pg_terminate_backend,x_invocation_status,x_save_memory,x_recall_memory,x_workspace_search,x_read_artifact,x_ask_user}',
   'elevated', '{postgres}', '{postgres,maintenance}');

-- Down Migration

ALTER TABLE chats DROP COLUMN template_version;
ALTER TABLE chats DROP COLUMN template_id;
DROP TABLE chat_template_versions;
DROP FUNCTION chat_template_versions_immutable();
DROP TABLE chat_templates;
DROP TABLE learnings;
DROP TABLE mockup_files;
DROP TABLE mockups;
ALTER TABLE chat_messages DROP COLUMN search;
ALTER TABLE chat_messages DROP COLUMN search_text;
DROP TABLE memories;
DROP TABLE artifact_versions;
DROP TABLE artifacts;
DROP INDEX projects_one_platform;
ALTER TABLE projects DROP COLUMN is_platform;
ALTER TABLE workspaces DROP COLUMN type;
