import pg from 'pg';
import { run } from 'graphile-worker';

/**
 * The peer's worker process for `npm run bench -- exec`: graphile-worker on the bench database,
 * 64 at once, a no-op task. Once a job is completed it tells the caller (NOTIFY peer_done with
 * the job's payload id), the closest equivalent of our caller seeing `succeeded` on its stream.
 */
const connectionString = process.env['PEER_DATABASE_URL']!;
const notifier = new pg.Pool({ connectionString, max: 4 });
const runner = await run({
  connectionString,
  concurrency: 64,
  noHandleSignals: true,
  pollInterval: 2_000,
  taskList: { noop: async () => undefined },
});
runner.events.on('job:complete', ({ job }) => {
  const id = (job.payload as { id?: string }).id;
  if (id) void notifier.query('SELECT pg_notify($1, $2)', ['peer_done', id]);
});
process.send?.({ type: 'ready' });
process.once('SIGTERM', () => {
  void runner
    .stop()
    .then(() => notifier.end())
    .then(() => process.exit(0));
});
