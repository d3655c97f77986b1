import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDispatcher } from '../../services/router/exec/dispatcher.js';
import { createWatchdog } from '../../services/router/exec/watchdog.js';
import { insertFakeXemAgent, startAppHarness, type AppHarness } from '../helpers/app-harness.js';
import { execClient } from '../helpers/exec-client.js';
import { silentLogger } from '../helpers/logger.js';
import { ManualClock } from '../helpers/manual-clock.js';

const TTL_MS = 30_000;

/** What time alone decides, on a clock the test moves: an hour-long approval expires without an hour passing. */
describe('exec watchdog on a manual clock', () => {
  let harness: AppHarness;
  let agentId: string;
  // Each test starts its clock at the database's now: rows are stamped by it.
  let clock: ManualClock;
  const watchdog = () => createWatchdog({ pool: harness.pool, logger: silentLogger(), clock, dispatchTtlMs: TTL_MS });
  const startClock = async () =>
    (clock = new ManualClock((await harness.pool.query<{ now: Date }>('SELECT now()')).rows[0]!.now.getTime()));
  const stateOf = async (id: string) =>
    (
      await harness.pool.query<{ state: string; attempt: number }>(
        'SELECT state, attempt FROM invocations WHERE id = $1',
        [id],
      )
    ).rows[0]!;

  beforeAll(async () => {
    harness = await startAppHarness({
      prepare: async (db, project) =>
        void (agentId = await insertFakeXemAgent(db, project, 'xem-clock', [
          { name: 'drop_it', risk: 'destructive' },
          { name: 'look', risk: 'read' },
        ])),
    });
  });
  afterAll(() => harness.close());

  it('expires an approval when the clock passes its deadline, not before', async () => {
    await startClock();
    const api = execClient(harness.app, harness.acme.project.id);
    const call = await api.invoke(harness.acme.adminKey, 'drop_it', {});
    expect(call.body['state']).toBe('pending_approval');
    const { expires_at: deadline } = (
      await harness.pool.query<{ expires_at: Date }>('SELECT expires_at FROM approvals WHERE id = $1', [
        call.body['approval_id'],
      ])
    ).rows[0]!;
    const sweep = watchdog();
    await clock.advance(deadline.getTime() - clock.now() - 1_000);
    await sweep.tick();
    expect(await stateOf(call.body['id'] as string)).toMatchObject({ state: 'pending_approval' });
    await clock.advance(2_000);
    await sweep.tick();
    expect(await stateOf(call.body['id'] as string)).toMatchObject({ state: 'expired', attempt: 0 });
  });

  it('takes back a dispatch no agent accepted once its time to live (and the grace) passed, and queues a read call again', async () => {
    await startClock();
    const api = execClient(harness.app, harness.acme.project.id);
    const sent: string[] = [];
    const dispatcher = createDispatcher({
      pool: harness.pool,
      logger: silentLogger(),
      clock,
      dispatchTtlMs: TTL_MS,
      localAgents: () => [agentId],
      capacityOf: () => 4,
      send: async (_, frame) => (sent.push(frame.type), true),
    });
    const call = await api.invoke(harness.acme.adminKey, 'look', {});
    await dispatcher.settle();
    expect(sent).toEqual(['exec.dispatch']);
    expect(await stateOf(call.body['id'] as string)).toMatchObject({ state: 'dispatched', attempt: 1 });

    const sweep = watchdog();
    await clock.advance(TTL_MS);
    await sweep.tick();
    expect(await stateOf(call.body['id'] as string)).toMatchObject({ state: 'dispatched', attempt: 1 });
    // Well past it: the margin covers however long the dispatch took to be stamped on a busy machine.
    await clock.advance(60_000);
    await sweep.tick();
    expect(await stateOf(call.body['id'] as string)).toMatchObject({ state: 'queued', attempt: 1 });
    await dispatcher.close();
  });
});
