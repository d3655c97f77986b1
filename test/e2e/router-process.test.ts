import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmptyDatabase, createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { cleanEnv, httpStatus, LOOPBACK_ROUTER_ENV, nextMessage, routerSecretsEnv, spawnGroup, waitFor } from '../helpers/processes.js';

const ROUTER = ['--import', 'tsx', 'services/router/main.ts'];

describe('router process', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db.drop();
  });

  it('refuses to start without its required settings, listing them, with exit code 78', async () => {
    const run = spawnGroup(process.execPath, ROUTER, cleanEnv());
    const { code } = await run.exited;
    expect(code).toBe(78);
    expect(run.stderr()).toContain('missing required router settings: database_url, completion_encryption_key, token_signing_key, curve_secret_key, audit_signing_key');
    expect(run.stderr()).toContain('database_url: set env XEROTIER_DATABASE_URL, flag --database-url');
  });

  it('serves until SIGTERM, then drains and exits 0 without logging its secrets', async () => {
    const secrets = routerSecretsEnv();
    const env = cleanEnv({ ...secrets, ...LOOPBACK_ROUTER_ENV, XEROTIER_DATABASE_URL: db.url, XEROTIER_LOG_LEVEL: 'debug' });
    const run = spawnGroup(process.execPath, ROUTER, env, true);
    const listening = await nextMessage<Record<string, string>>(run.child);
    expect(await waitFor('readyz', 10_000, async () => ((await httpStatus(`${listening['http_url']}/readyz`)) === 200 ? 200 : undefined))).toBe(200);
    expect(await httpStatus(listening['metrics_url']!)).toBe(200);
    run.child.kill('SIGTERM');
    expect((await run.exited).code).toBe(0);
    const logs = run.stdout();
    expect(logs).toContain('"msg":"shutting down"');
    expect(logs).toContain('"resource":"database pool"');
    const password = new URL(db.url).password;
    if (password) expect(logs).not.toContain(password);
    for (const secret of Object.values(secrets)) expect(logs).not.toContain(secret);
  });

  it('applies migrations with the migrate command and needs only the database URL for it', async () => {
    const empty = await createEmptyDatabase();
    try {
      const run = spawnGroup(process.execPath, [...ROUTER, 'migrate'], cleanEnv({ XEROTIER_DATABASE_URL: empty.url }));
      expect((await run.exited).code).toBe(0);
      expect(run.stdout()).toContain('migrations applied');
      const client = new pg.Client({ connectionString: empty.url });
      await client.connect();
      const count = await client.query("SELECT count(*)::int AS n FROM information_schema.tables WHERE table_name = 'api_keys'");
      await client.end();
      expect(count.rows[0]).toEqual({ n: 1 });
    } finally {
      await empty.drop();
    }
  });
});
