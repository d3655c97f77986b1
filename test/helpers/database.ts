import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { dropDatabase, withDatabase, withPgClient } from './pg-admin.js';

export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  drop(): Promise<void>;
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run tests through vitest so test/helpers/global-setup.ts runs`);
  return value;
}

export function testServerUrl(): string {
  return required('XEROTIER_TEST_PG_SERVER_URL');
}

/**
 * A fresh database cloned from the migrated template, private to the calling test file.
 * CREATE DATABASE … TEMPLATE fails while another session copies the same template, so
 * concurrent files retry briefly.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const serverUrl = testServerUrl();
  const template = required('XEROTIER_TEST_PG_TEMPLATE');
  const name = `xt_${required('XEROTIER_TEST_RUN_ID')}_${randomBytes(6).toString('hex')}`;
  await withPgClient(serverUrl, async (client) => {
    for (let attempt = 0; ; attempt++) {
      try {
        await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)} TEMPLATE ${pg.escapeIdentifier(template)}`);
        return;
      } catch (error) {
        if ((error as { code?: string }).code !== '55006' || attempt >= 50) throw error;
        await new Promise((resolve) => setTimeout(resolve, 50 + Math.random() * 100));
      }
    }
  });
  return {
    name,
    url: withDatabase(serverUrl, name),
    drop: () => dropDatabase(serverUrl, name),
  };
}

/** An empty database (no migrations), for migration tests. */
export async function createEmptyDatabase(): Promise<TestDatabase> {
  const serverUrl = testServerUrl();
  const name = `xt_${required('XEROTIER_TEST_RUN_ID')}_${randomBytes(6).toString('hex')}`;
  await withPgClient(serverUrl, (client) => client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`));
  return {
    name,
    url: withDatabase(serverUrl, name),
    drop: () => dropDatabase(serverUrl, name),
  };
}
