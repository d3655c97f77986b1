import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { makeWorkerUtils } from 'graphile-worker';
import { cleanEnv, nextMessage, spawnGroup } from '../../helpers/processes.js';
import { concurrently, stop } from '../harness.js';
import { percentile, round, type Figures } from '../report.js';

/**
 * The peer of issue 22, on the same Postgres in the same run: graphile-worker doing the closest
 * equivalent of one exec call — add a job, a worker process picks it up through LISTEN/NOTIFY,
 * runs a no-op task and completes it, and the caller hears it done — at concurrency 1 and 64.
 * It does less than our call (no HTTP, auth, audit chain, CURVE or signed result), which is the
 * point: the ratio says what all that costs.
 */
export async function runGraphilePeer(databaseUrl: string, c1Calls: number, c64Seconds: number): Promise<Figures> {
  const utils = await makeWorkerUtils({ connectionString: databaseUrl });
  await utils.migrate();
  const worker = spawnGroup(
    process.execPath,
    ['--import', 'tsx', 'test/bench/peer/graphile-worker-main.ts'],
    cleanEnv({ PEER_DATABASE_URL: databaseUrl }),
    true,
  );
  const listener = new pg.Client({ connectionString: databaseUrl });
  const waiting = new Map<string, () => void>();
  try {
    await nextMessage(worker.child);
    await listener.connect();
    listener.on('notification', (message) => waiting.get(message.payload ?? '')?.());
    await listener.query('LISTEN peer_done');
    const call = async () => {
      const id = randomBytes(8).toString('hex');
      const started = performance.now();
      const done = new Promise<void>((resolve) => waiting.set(id, resolve));
      await utils.addJob('noop', { id });
      await done;
      waiting.delete(id);
      return performance.now() - started;
    };
    for (let index = 0; index < 50; index += 1) await call();
    const c1: number[] = [];
    for (let index = 0; index < c1Calls; index += 1) c1.push(await call());
    const c64 = await concurrently(64, c64Seconds * 1_000, call);
    return {
      peer_c1_p50_ms: round(
        percentile(
          c1.sort((a, b) => a - b),
          50,
        ),
        2,
      ),
      peer_c64_per_s: round(c64.completed / (c64.elapsedMs / 1_000)),
    };
  } finally {
    await listener.end().catch(() => undefined);
    await stop(worker);
    await utils.release();
  }
}
