import pg from 'pg';

/** Runs fn with a short-lived client on url (administrative statements in test setup). */
export async function withPgClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** The same server URL pointing at another database. */
export function withDatabase(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

/**
 * Drops a test database. Clients a test just ended (node-pg-migrate's, pools) may still be
 * disconnecting: forcing at once kills them mid-close and their 57P01 surfaces as an uncaught
 * error in the test worker. So it waits up to ~2 s for them to go, and forces only after that.
 */
export async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  const target = pg.escapeIdentifier(name);
  await withPgClient(serverUrl, async (client) => {
    for (let attempt = 0; attempt < 20; attempt += 1) {
      try {
        await client.query(`DROP DATABASE IF EXISTS ${target}`);
        return;
      } catch (error) {
        if ((error as { code?: string }).code !== '55006') throw error;
        // Sessions still leaving the database: retried shortly, then forced below.
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    await client.query(`DROP DATABASE IF EXISTS ${target} WITH (FORCE)`);
  });
}
