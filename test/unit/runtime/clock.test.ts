import { describe, expect, it } from 'vitest';
import { sleep } from '../../../services/runtime/clock.js';
import { createPeriodic } from '../../../services/runtime/periodic.js';
import { capturingLogger, silentLogger } from '../../helpers/logger.js';
import { ManualClock } from '../../helpers/manual-clock.js';

describe('sleep on a clock', () => {
  it('resolves true when its time has come, not before', async () => {
    const clock = new ManualClock();
    let woke: boolean | undefined;
    void sleep(1_000, undefined, clock).then((value) => (woke = value));
    await clock.advance(999);
    expect(woke).toBeUndefined();
    await clock.advance(1);
    expect(woke).toBe(true);
  });

  it('resolves false at once when aborted (a shutdown cuts a backoff short), and leaves no timer', async () => {
    const clock = new ManualClock();
    const stop = new AbortController();
    const waiting = sleep(60_000, stop.signal, clock);
    stop.abort();
    expect(await waiting).toBe(false);
    expect(clock.pending).toBe(0);
    expect(await sleep(10, stop.signal, clock)).toBe(false);
  });
});

describe('periodic job', () => {
  it('runs every interval, never two rounds at once, and close waits for the round in progress', async () => {
    const clock = new ManualClock();
    let rounds = 0;
    let release: () => void = () => undefined;
    const job = createPeriodic({
      name: 'test',
      intervalMs: 1_000,
      logger: silentLogger(),
      clock,
      run: () => new Promise<void>((resolve) => ((rounds += 1), (release = resolve))),
    });
    job.start();
    await clock.advance(1_000);
    expect(rounds).toBe(1);
    // Still running when the next two are due: not started again.
    await clock.advance(2_000);
    expect(rounds).toBe(1);
    release();
    await clock.advance(1_000);
    expect(rounds).toBe(2);
    let closed = false;
    const closing = job.close().then(() => (closed = true));
    await clock.advance(0);
    expect(closed).toBe(false);
    release();
    await closing;
    expect(clock.pending).toBe(0);
  });

  it('logs a failing round and runs the next one anyway', async () => {
    const clock = new ManualClock();
    const { logger, lines } = capturingLogger();
    let rounds = 0;
    const job = createPeriodic({
      name: 'flaky',
      intervalMs: 100,
      logger,
      clock,
      run: async () => {
        rounds += 1;
        if (rounds === 1) throw new Error('database went away');
      },
    });
    job.start();
    await clock.advance(200);
    expect(rounds).toBe(2);
    expect(lines().join('\n')).toContain('flaky round failed');
    await job.close();
  });
});
