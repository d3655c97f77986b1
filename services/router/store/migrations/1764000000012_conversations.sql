-- Up Migration

-- Conversations (workspace-scoped): chats, their branches and the messages of each turn.
CREATE TABLE chats (
  id           text PRIMARY KEY CHECK (id ~ '^chat_[0-9a-f]{24}$'),
  project_id   text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  workspace_id text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  owner_id     text NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
  title        text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
  archived_at  timestamptz,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX chats_recent ON chats (project_id, updated_at DESC, id DESC);

-- A branch shares its parent's messages up to fork_sequence, then has its own. A turn in
-- progress is marked on the branch (set and cleared under the chat's transaction lock), so a
-- second concurrent turn is refused instead of interleaved.
CREATE TABLE chat_branches (
  id               text PRIMARY KEY CHECK (id ~ '^branch_[A-Za-z0-9]{24}$'),
  chat_id          text NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
  display_name     text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
  parent_branch_id text REFERENCES chat_branches (id) ON DELETE CASCADE,
  fork_sequence    integer CHECK (fork_sequence >= 0),
  is_default       boolean NOT NULL DEFAULT false,
  turn_response_id text,
  turn_started_at  timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  CHECK ((parent_branch_id IS NULL) = (fork_sequence IS NULL)),
  CHECK ((turn_response_id IS NULL) = (turn_started_at IS NULL))
);
CREATE UNIQUE INDEX chat_branches_one_default ON chat_branches (chat_id) WHERE is_default;
CREATE INDEX chat_branches_chat ON chat_branches (chat_id, created_at);

-- One message per role per turn: the Responses items of that turn (input or output: text, tool
-- calls and results, approval requests and decisions) and its usage.
CREATE TABLE chat_messages (
  id          text PRIMARY KEY CHECK (id ~ '^msg_[0-9a-f]{24}$'),
  chat_id     text NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
  branch_id   text NOT NULL REFERENCES chat_branches (id) ON DELETE CASCADE,
  sequence    integer NOT NULL CHECK (sequence >= 1),
  parent_id   text REFERENCES chat_messages (id) ON DELETE CASCADE,
  role        text NOT NULL CHECK (role IN ('user', 'assistant', 'system')),
  items       jsonb NOT NULL CHECK (jsonb_typeof(items) = 'array'),
  response_id text,
  usage       jsonb,
  author_id   text REFERENCES principals (id) ON DELETE SET NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (branch_id, sequence)
);
CREATE INDEX chat_messages_chat ON chat_messages (chat_id, created_at);

-- Down Migration

DROP TABLE chat_messages;
DROP TABLE chat_branches;
DROP TABLE chats;
