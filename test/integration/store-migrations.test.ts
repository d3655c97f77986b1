import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { readdirSync } from 'node:fs';
import { MIGRATIONS_DIR, migrate } from '../../services/router/store/migrate.js';
import { createEmptyDatabase, createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { silentLogger } from '../helpers/logger.js';

const ALL = readdirSync(MIGRATIONS_DIR)
  .sort()
  .map((name) => name.replace(/\.sql$/, ''));

describe('store migrations', () => {
  let db: TestDatabase;
  let client: pg.Client;

  beforeAll(async () => {
    db = await createTestDatabase();
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
  });
  afterAll(async () => {
    await client.end();
    await db.drop();
  });

  it('gives every test file a migrated copy of the template', async () => {
    const tables = await client.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
    );
    expect(tables.rows.map((row) => row.table_name)).toEqual([
      'agent_auth_challenges',
      'agents',
      'api_keys',
      'approval_decisions',
      'approval_policies',
      'approvals',
      'artifact_versions',
      'artifacts',
      'audit_checkpoint_schedule',
      'chat_branches',
      'chat_messages',
      'chat_template_versions',
      'chat_templates',
      'chats',
      'endpoints',
      'exec_output_chunks',
      'exec_results',
      'execution_audit_log',
      'inference_usage',
      'invocations',
      'join_keys',
      'learnings',
      'memberships',
      'memories',
      'mockup_files',
      'mockups',
      'oidc_logins',
      'parked_turns',
      'principals',
      'projects',
      'responses',
      'schema_migrations',
      'sign_in_codes',
      'sign_in_failures',
      'tool_conflicts',
      'tool_risk_overrides',
      'webhook_cursor',
      'webhook_deliveries',
      'webhook_endpoints',
      'workspace_agent_bindings',
      'workspaces',
    ]);
  });

  it('enforces id formats, one default workspace per project and known scopes', async () => {
    await client.query("INSERT INTO projects (id, slug, name) VALUES ('proj_abc123', 'acme', 'Acme')");
    await expect(client.query("INSERT INTO projects (id, slug, name) VALUES ('p1', 'other', 'x')")).rejects.toThrow(
      /check constraint/,
    );
    await client.query(
      "INSERT INTO workspaces (id, project_id, name, is_default) VALUES ('ws_0123456789ab', 'proj_abc123', 'default', true)",
    );
    await expect(
      client.query(
        "INSERT INTO workspaces (id, project_id, name, is_default) VALUES ('ws_0123456789ac', 'proj_abc123', 'second', true)",
      ),
    ).rejects.toThrow(/workspaces_one_default/);
    await expect(
      client.query(
        "INSERT INTO api_keys (id, project_id, name, prefix, secret_hash, scopes, principal_id) VALUES ('key_0123456789ab', 'proj_abc123', 'k', 'abcd', decode(repeat('00', 32), 'hex'), ARRAY['root'], 'sa_0123456789ab')",
      ),
    ).rejects.toThrow(/check constraint/);
  });

  it('migrates an empty database up, down and up again', async () => {
    const empty = await createEmptyDatabase();
    try {
      expect(await migrate({ databaseUrl: empty.url, logger: silentLogger() })).toEqual(ALL);
      expect(await migrate({ databaseUrl: empty.url, logger: silentLogger() })).toEqual([]);
      expect(
        await migrate({ databaseUrl: empty.url, logger: silentLogger(), direction: 'down', count: ALL.length }),
      ).toEqual([...ALL].reverse());
      expect(await migrate({ databaseUrl: empty.url, logger: silentLogger() })).toEqual(ALL);
    } finally {
      await empty.drop();
    }
  });

  it('applies each migration once when several processes migrate at the same time', async () => {
    const empty = await createEmptyDatabase();
    try {
      const runs = await Promise.all(
        Array.from({ length: 4 }, () => migrate({ databaseUrl: empty.url, logger: silentLogger() })),
      );
      expect(runs.flat()).toEqual(ALL);
    } finally {
      await empty.drop();
    }
  });

  it('gives keys made before people existed to a service account of their project, with every role', async () => {
    const empty = await createEmptyDatabase();
    const before = new pg.Client({ connectionString: empty.url });
    try {
      await migrate({ databaseUrl: empty.url, logger: silentLogger(), count: ALL.indexOf('1764000000011_people') });
      await before.connect();
      await before.query("INSERT INTO projects (id, slug, name) VALUES ('proj_abc123', 'acme', 'Acme')");
      await before.query(
        "INSERT INTO api_keys (id, project_id, name, prefix, secret_hash, scopes) VALUES ('key_0123456789ab', 'proj_abc123', 'old', 'abcd', decode(repeat('00', 32), 'hex'), ARRAY['management'])",
      );
      expect(await migrate({ databaseUrl: empty.url, logger: silentLogger() })).toContain('1764000000011_people');
      const owner = await before.query(
        `SELECT p.kind, p.project_id, m.roles FROM api_keys k JOIN principals p ON p.id = k.principal_id
           JOIN memberships m ON m.principal_id = p.id AND m.project_id = k.project_id WHERE k.id = 'key_0123456789ab'`,
      );
      expect(owner.rows).toEqual([
        { kind: 'service_account', project_id: 'proj_abc123', roles: ['viewer', 'operator', 'approver', 'admin'] },
      ]);
    } finally {
      await before.end();
      await empty.drop();
    }
  });
});
