-- Up Migration

-- Who acts: people (users, global: one person may belong to several projects) and service
-- accounts (automation, owned by one project). Every API key and session belongs to one.
CREATE TABLE principals (
  id                  text PRIMARY KEY CHECK (id ~ '^(usr|sa)_[0-9a-f]{12,48}$'),
  kind                text NOT NULL CHECK (kind IN ('user', 'service_account')),
  display_name        text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
  status              text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
  -- Users: a lower-case email, unique; a password hash when they sign in with one; the OIDC
  -- subject once they signed in through the identity provider.
  email               text UNIQUE CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 320),
  password_hash       text,
  password_changed_at timestamptz,
  oidc_issuer         text,
  oidc_subject        text,
  -- Service accounts: the project that owns them.
  project_id          text REFERENCES projects (id) ON DELETE CASCADE,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  disabled_at         timestamptz,
  CHECK ((kind = 'user') = (email IS NOT NULL)),
  CHECK ((kind = 'service_account') = (project_id IS NOT NULL)),
  CHECK (kind = 'user' OR (password_hash IS NULL AND oidc_subject IS NULL)),
  UNIQUE (oidc_issuer, oidc_subject)
);

-- A principal's roles in a project (people/roles.ts maps them to what keys may do).
CREATE TABLE memberships (
  project_id   text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  principal_id text NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
  roles        text[] NOT NULL CHECK (roles <@ ARRAY['viewer', 'operator', 'approver', 'admin']::text[] AND cardinality(roles) > 0),
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (project_id, principal_id)
);
CREATE INDEX memberships_principal ON memberships (principal_id);

-- Keys belong to principals; a session is a key too (short-lived, refreshable up to a limit).
ALTER TABLE api_keys
  ADD COLUMN principal_id text REFERENCES principals (id) ON DELETE CASCADE,
  ADD COLUMN kind text NOT NULL DEFAULT 'key' CHECK (kind IN ('key', 'session')),
  -- Sessions: how they were opened (password, oidc), for which client (ui, cli, api), until when
  -- they may be refreshed.
  ADD COLUMN session jsonb CHECK ((kind = 'session') = (session IS NOT NULL));
CREATE INDEX api_keys_principal ON api_keys (principal_id, created_at DESC);

-- Keys made before people existed keep working: each project's become a service account's,
-- with every role (what the keys could do before).
INSERT INTO principals (id, kind, display_name, project_id)
  SELECT 'sa_' || substr(md5('xerotier-migrated:' || p.id), 1, 24), 'service_account', 'keys made before people existed', p.id
    FROM projects p WHERE EXISTS (SELECT 1 FROM api_keys k WHERE k.project_id = p.id);
INSERT INTO memberships (project_id, principal_id, roles)
  SELECT project_id, id, ARRAY['viewer', 'operator', 'approver', 'admin'] FROM principals WHERE kind = 'service_account';
UPDATE api_keys k SET principal_id = 'sa_' || substr(md5('xerotier-migrated:' || k.project_id), 1, 24);
ALTER TABLE api_keys ALTER COLUMN principal_id SET NOT NULL;

-- Failed sign-ins per account (lower-case email, known or not: the answer must not tell which).
CREATE TABLE sign_in_failures (
  email           text PRIMARY KEY,
  failures        integer NOT NULL DEFAULT 0,
  first_failed_at timestamptz NOT NULL DEFAULT now(),
  locked_until    timestamptz
);

-- An OIDC sign-in between the redirect to the identity provider and its callback.
CREATE TABLE oidc_logins (
  state         text PRIMARY KEY CHECK (length(state) BETWEEN 32 AND 128),
  code_verifier text NOT NULL,
  nonce         text NOT NULL,
  project_id    text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  client        text NOT NULL CHECK (client IN ('ui', 'cli', 'api')),
  redirect_to   text,
  expires_at    timestamptz NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now()
);

-- A one-time code the callback hands to the UI or CLI, traded once for a session key (the key
-- itself never travels in a URL).
CREATE TABLE sign_in_codes (
  code_hash    bytea PRIMARY KEY CHECK (length(code_hash) = 32),
  principal_id text NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
  project_id   text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  client       text NOT NULL CHECK (client IN ('ui', 'cli', 'api')),
  method       text NOT NULL CHECK (method IN ('oidc')),
  expires_at   timestamptz NOT NULL,
  used_at      timestamptz
);

-- Calls record the person who asked (directly, or the chat's user when the model proposed it).
ALTER TABLE invocations
  ADD COLUMN requested_by_principal text REFERENCES principals (id) ON DELETE SET NULL,
  ADD COLUMN origin text NOT NULL DEFAULT 'direct' CHECK (origin IN ('direct', 'chat'));
UPDATE invocations i SET requested_by_principal = k.principal_id FROM api_keys k WHERE k.id = i.requested_by;

-- Approvals: who asked and how; how many different people must approve; each decision kept.
ALTER TABLE approvals
  ADD COLUMN requested_by_principal text REFERENCES principals (id) ON DELETE SET NULL,
  ADD COLUMN origin text NOT NULL DEFAULT 'direct' CHECK (origin IN ('direct', 'chat')),
  ADD COLUMN min_approvers integer NOT NULL DEFAULT 1 CHECK (min_approvers BETWEEN 1 AND 2),
  DROP CONSTRAINT approvals_risk_check,
  ADD CONSTRAINT approvals_risk_check CHECK (risk IN ('read', 'write', 'destructive', 'irreversible'));
UPDATE approvals a SET requested_by_principal = k.principal_id FROM api_keys k WHERE k.id = a.requested_by;

CREATE TABLE approval_decisions (
  approval_id  text NOT NULL REFERENCES approvals (id) ON DELETE CASCADE,
  principal_id text NOT NULL REFERENCES principals (id),
  key_id       text NOT NULL,
  channel      text NOT NULL CHECK (channel IN ('api', 'ui', 'cli', 'chat')),
  verdict      text NOT NULL CHECK (verdict IN ('approve', 'reject')),
  note         text CHECK (length(note) <= 2000),
  at           timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (approval_id, principal_id)
);

-- Policy by person: how many approvers, who may approve, the two self-approval rules, and
-- whether read or write calls need approval too. Escalation reviewers are principals now.
ALTER TABLE approval_policies
  ADD COLUMN min_approvers_destructive integer NOT NULL DEFAULT 1 CHECK (min_approvers_destructive BETWEEN 1 AND 2),
  ADD COLUMN min_approvers_irreversible integer NOT NULL DEFAULT 1 CHECK (min_approvers_irreversible BETWEEN 1 AND 2),
  ADD COLUMN approvers text[] NOT NULL DEFAULT '{}' CHECK (cardinality(approvers) <= 50),
  ADD COLUMN chat_user_may_approve boolean NOT NULL DEFAULT true,
  ADD COLUMN approval_required_read boolean NOT NULL DEFAULT false,
  ADD COLUMN approval_required_write boolean NOT NULL DEFAULT false;
UPDATE approval_policies p SET escalation_reviewers = coalesce(
  (SELECT array_agg(DISTINCT k.principal_id) FROM api_keys k WHERE k.id = ANY (p.escalation_reviewers)), '{}');

-- Down Migration

ALTER TABLE approval_policies DROP COLUMN min_approvers_destructive, DROP COLUMN min_approvers_irreversible, DROP COLUMN approvers,
  DROP COLUMN chat_user_may_approve, DROP COLUMN approval_required_read, DROP COLUMN approval_required_write;
DROP TABLE approval_decisions;
ALTER TABLE approvals DROP COLUMN requested_by_principal, DROP COLUMN origin, DROP COLUMN min_approvers;
ALTER TABLE invocations DROP COLUMN requested_by_principal, DROP COLUMN origin;
DROP TABLE sign_in_codes;
DROP TABLE oidc_logins;
DROP TABLE sign_in_failures;
ALTER TABLE api_keys DROP COLUMN principal_id, DROP COLUMN kind, DROP COLUMN session;
DROP TABLE memberships;
DROP TABLE principals;
