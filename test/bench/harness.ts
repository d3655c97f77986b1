import { randomBytes } from 'node:crypto';
import { migrate } from '../../services/router/store/migrate.js';
import { startEmbeddedServer } from '../helpers/embedded-server.js';
import { silentLogger } from '../helpers/logger.js';
import { withDatabase, withPgClient } from '../helpers/pg-admin.js';
import type { Spawned } from '../helpers/processes.js';

/**
 * A migrated database of its own for one benchmark, on XEROTIER_TEST_DATABASE_URL's server or an
 * embedded one, dropped afterwards whatever happens.
 */
export async function withBenchDatabase<T>(run: (databaseUrl: string) => Promise<T>): Promise<T> {
  const server = process.env['XEROTIER_TEST_DATABASE_URL'] ? undefined : await startEmbeddedServer();
  const serverUrl = process.env['XEROTIER_TEST_DATABASE_URL'] ?? server!.url;
  const database = `xbench_${randomBytes(4).toString('hex')}`;
  await withPgClient(serverUrl, (client) => client.query(`CREATE DATABASE ${database}`));
  const databaseUrl = withDatabase(serverUrl, database);
  try {
    await migrate({ databaseUrl, logger: silentLogger() });
    return await run(databaseUrl);
  } finally {
    await withPgClient(serverUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)).catch(
      () => undefined,
    );
    await server?.stop();
  }
}

/** `workers` loops calling `call` until the time is up; each call resolves with its latency. */
export async function concurrently(workers: number, durationMs: number, call: () => Promise<number>) {
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  const deadline = started + durationMs;
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (performance.now() < deadline) {
        try {
          latencies.push(await call());
        } catch {
          errors += 1;
        }
      }
    }),
  );
  return { completed: latencies.length, elapsedMs: performance.now() - started, latencies, errors };
}

/** SIGTERM, then SIGKILL after 5 s: a clean exit lets `--cpu-prof` write its profile. */
export async function stop(run: Spawned): Promise<void> {
  if (run.child.exitCode !== null || run.child.signalCode !== null) return;
  process.kill(-run.child.pid!, 'SIGTERM');
  const timer = setTimeout(() => process.kill(-run.child.pid!, 'SIGKILL'), 5_000);
  await run.exited;
  clearTimeout(timer);
}
