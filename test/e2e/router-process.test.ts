import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmptyDatabase, createTestDatabase, TEST_APP_ROLE, type TestDatabase } from '../helpers/database.js';
import {
  cleanEnv,
  httpStatus,
  LOOPBACK_ROUTER_ENV,
  nextMessage,
  routerSecretsEnv,
  spawnGroup,
  waitFor,
} from '../helpers/processes.js';

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
    expect(run.stderr()).toContain(
      'missing required router settings: database_url, completion_encryption_key, token_signing_key, curve_secret_key, audit_signing_key',
    );
    expect(run.stderr()).toContain('database_url: set env XEROTIER_DATABASE_URL, flag --database-url');
  });

  it('serves until SIGTERM, then drains and exits 0 without logging its secrets', async () => {
    const secrets = routerSecretsEnv();
    const env = cleanEnv({
      ...secrets,
      ...LOOPBACK_ROUTER_ENV,
      XEROTIER_DATABASE_URL: db.url,
      XEROTIER_LOG_LEVEL: 'debug',
    });
    const run = spawnGroup(process.execPath, ROUTER, env, true);
    const listening = await nextMessage<Record<string, string>>(run.child);
    expect(
      await waitFor('readyz', 10_000, async () =>
        (await httpStatus(`${listening['http_url']}/readyz`)) === 200 ? 200 : undefined,
      ),
    ).toBe(200);
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

  it('applies migrations with the migrate command as the owner, and grants the app role append-only audit rights', async () => {
    const empty = await createEmptyDatabase();
    try {
      const env = cleanEnv({
        XEROTIER_DATABASE_URL: empty.url,
        XEROTIER_DATABASE_APP_ROLE: TEST_APP_ROLE.name,
        XEROTIER_DATABASE_APP_PASSWORD: TEST_APP_ROLE.password,
      });
      const run = spawnGroup(process.execPath, [...ROUTER, 'migrate'], env);
      expect((await run.exited).code).toBe(0);
      expect(run.stdout()).toContain('migrations applied');
      expect(run.stdout()).not.toContain(TEST_APP_ROLE.password);
      const client = new pg.Client({ connectionString: empty.url });
      await client.connect();
      const count = await client.query(
        "SELECT count(*)::int AS n FROM information_schema.tables WHERE table_name = 'api_keys'",
      );
      const rights = await client.query<{ privilege: string; granted: boolean }>(
        `SELECT p AS privilege, has_table_privilege($1, 'execution_audit_log', p) AS granted FROM unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) AS p`,
        [TEST_APP_ROLE.name],
      );
      await client.end();
      expect(count.rows[0]).toEqual({ n: 1 });
      expect(Object.fromEntries(rights.rows.map((row) => [row.privilege, row.granted]))).toEqual({
        SELECT: true,
        INSERT: true,
        UPDATE: false,
        DELETE: false,
        TRUNCATE: false,
      });
    } finally {
      await empty.drop();
    }
  });

  it('with TLS configured, serves HTTPS and announces https:// URLs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'router-tls-'));
    try {
      const made = spawnSync('openssl', [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ]);
      expect(made.status, made.stderr?.toString()).toBe(0);
      const env = cleanEnv({
        ...routerSecretsEnv(),
        ...LOOPBACK_ROUTER_ENV,
        XEROTIER_DATABASE_URL: db.url,
        XEROTIER_TLS_CERT_PATH: join(dir, 'cert.pem'),
        XEROTIER_TLS_KEY_PATH: join(dir, 'key.pem'),
      });
      const run = spawnGroup(process.execPath, ROUTER, env, true);
      const listening = await nextMessage<Record<string, string>>(run.child);
      expect(listening['http_url']).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const status = await new Promise<number | undefined>((resolve, reject) => {
        get(`${listening['http_url']}/healthz`, { ca: readFileSync(join(dir, 'cert.pem')) }, (response) => {
          response.resume();
          resolve(response.statusCode);
        }).once('error', reject);
      });
      expect(status).toBe(200);
      run.child.kill('SIGTERM');
      expect((await run.exited).code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
