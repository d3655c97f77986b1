import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../../services/devstack/dev-state.js';
import { loadBundles } from '../../../services/xem-agent/bundles/loader.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/database.js';
import { waitFor } from '../../helpers/processes.js';
import { engineHarness, type EngineHarness } from '../../helpers/xem-engine.js';

const WORKSPACE = 'ws_pgtest';
// The bundle drives the PostgreSQL client programs; a machine without them cannot run it.
const clients = ['psql', 'createdb', 'dropdb'].filter((program) => spawnSync(program, ['--version']).status !== 0);
if (clients.length > 0)
  process.stdout.write(
    `postgres bundle tests skipped: ${clients.join(', ')} not on PATH (install postgresql-client)\n`,
  );

describe.skipIf(clients.length > 0)('the postgres sample bundle, for real, against the test database', () => {
  let db: TestDatabase;
  let local: EngineHarness;
  const dir = mkdtempSync(join(tmpdir(), 'xerotier-pg-bundle-'));

  beforeAll(async () => {
    db = await createTestDatabase();
    const url = new URL(db.ownerUrl);
    mkdirSync(join(dir, WORKSPACE), { recursive: true });
    writeFileSync(
      join(dir, WORKSPACE, 'postgres.env'),
      [
        `PGHOST=${url.hostname}`,
        `PGPORT=${url.port || '5432'}`,
        `PGUSER=${decodeURIComponent(url.username)}`,
        `PGPASSWORD=${decodeURIComponent(url.password) || 'unused-canary-password'}`,
        `PGDATABASE=${db.name}`,
      ].join('\n'),
    );
    const { tools, problems } = loadBundles(join(REPO_ROOT, 'config', 'tools'));
    expect(problems).toEqual([]);
    local = engineHarness({ tools: () => tools, workspace: WORKSPACE, credentialsDir: dir });
  });
  afterAll(async () => {
    local.close();
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  const run = (tool: string, args: Record<string, unknown>) => local.run(tool, args);
  const exists = async (name: string) => {
    const client = new pg.Client({ connectionString: db.ownerUrl });
    await client.connect();
    try {
      return (await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1;
    } finally {
      await client.end();
    }
  };

  it('read: lists databases, table sizes and active queries', async () => {
    expect((await run('pg_list_databases', {})).output).toContain(db.name);
    const sizes = await run('pg_table_sizes', { database: db.name });
    expect(sizes).toMatchObject({ status: 'succeeded', exit_code: 0 });
    expect(sizes.output).toContain('public.agents');
    const sleeper = new pg.Client({ connectionString: db.ownerUrl });
    await sleeper.connect();
    const sleeping = sleeper.query('SELECT pg_sleep(1.5)');
    try {
      await waitFor('the sleeper listed', 5_000, async () =>
        (await run('pg_active_queries', {})).output.includes('pg_sleep') ? true : undefined,
      );
    } finally {
      await sleeping;
      await sleeper.end();
    }
  });

  it('write and irreversible: creates a database, then drops it', async () => {
    const name = `${db.name}_made`;
    expect(await run('pg_create_database', { name })).toMatchObject({ status: 'succeeded' });
    expect(await exists(name)).toBe(true);
    expect(await run('pg_drop_database', { name })).toMatchObject({ status: 'succeeded' });
    expect(await exists(name)).toBe(false);
  });

  it('destructive: terminates exactly the backend it is given', async () => {
    const victim = new pg.Client({ connectionString: db.ownerUrl });
    const lost = new Promise<string>((resolve) =>
      victim.on('error', (error: Error & { code?: string }) => resolve(error.code ?? 'error')),
    );
    await victim.connect();
    const pid = (await victim.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    const result = await run('pg_terminate_backend', { pid });
    expect(result).toMatchObject({ status: 'succeeded' });
    expect(result.output).toContain('t');
    expect(await lost).toBe('57P01');
    await victim.end().catch(() => undefined);
  });

  it('hostile names never reach SQL: the schema refuses them before anything runs', async () => {
    for (const name of ['x; DROP DATABASE postgres', '--help', '../../etc/passwd', 'host=evil.example.com']) {
      expect(await run('pg_create_database', { name }), name).toMatchObject({
        status: 'rejected',
        error: { code: 'invalid_args' },
      });
    }
    expect(await run('pg_terminate_backend', { pid: '1; SELECT 1' })).toMatchObject({
      status: 'rejected',
      error: { code: 'invalid_args' },
    });
  });
});
