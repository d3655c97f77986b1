import { startEmbeddedPostgres } from './embedded-postgres.js';

/**
 * Hosts one embedded Postgres cluster as a child of a supervisor (devstack, the test harness),
 * talking over IPC: reads its options from XEROTIER_EMBEDDED_PG (JSON), reports
 * `{type: 'ready', port}` and stops the cluster on SIGTERM/SIGINT or when the parent goes away.
 */
interface Options {
  dataDir: string;
  port: number;
  user: string;
  password: string;
}

// Postgres's own output, kept so a failed start can say why (embedded-postgres rejects with
// no reason when the server exits early).
const recentLog: string[] = [];

async function main(): Promise<void> {
  const options = JSON.parse(process.env['XEROTIER_EMBEDDED_PG'] ?? '{}') as Options;
  const cluster = await startEmbeddedPostgres({
    ...options,
    onLog: remember,
    onNotice: (message) => process.send?.({ type: 'notice', message }),
  });
  let stopping: Promise<void> | undefined;
  const stop = (): void => {
    stopping ??= cluster.stop().finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('disconnect', stop);
  process.send?.({ type: 'ready', port: cluster.port, dataDir: cluster.dataDir });
}

function remember(line: string): void {
  recentLog.push(line.trimEnd());
  if (recentLog.length > 40) recentLog.shift();
}

main().catch((error: unknown) => {
  const reason = error instanceof Error ? error.message : 'the server exited during start-up';
  process.stderr.write(`embedded postgres failed: ${reason}\n${recentLog.join('\n')}\n`);
  process.exit(1);
});
