import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { createDelivery, type Delivery } from '../../../services/xem-agent/execution/delivery.js';
import { openOutbox, type Outbox } from '../../../services/xem-agent/outbox.js';
import { silentLogger } from '../../helpers/logger.js';
import { ManualClock } from '../../helpers/manual-clock.js';

const dir = mkdtempSync(join(tmpdir(), 'xerotier-delivery-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Result delivery over a real outbox file, on a clock the test moves: resends without waiting for them. */
describe('XEM result delivery', () => {
  let clock: ManualClock;
  let outbox: Outbox;
  let delivery: Delivery;
  let bound: boolean;
  let sent: string[];
  let counter = 0;
  const finish = (invocation: string, ...frames: string[]) => {
    outbox.claim({ invocation_id: invocation, attempt: 1 }, clock.now());
    outbox.finish(
      { invocation_id: invocation, attempt: 1 },
      ...frames.map((frameId) => ({ frameId, type: 'exec.result', body: { invocation_id: invocation } })),
    );
  };
  const ack = (frameId: string, status: 'ok' | 'rejected' = 'ok') => delivery.acknowledged({ ack_id: frameId, status });

  beforeEach(() => {
    clock = new ManualClock();
    outbox = openOutbox(join(dir, `queue-${(counter += 1)}.sqlite`));
    bound = true;
    sent = [];
    delivery = createDelivery({
      outbox,
      clock,
      logger: silentLogger(),
      bound: () => bound,
      resendAfterMs: 5_000,
      send: (_, __, frameId) => sent.push(frameId),
    });
    return () => {
      delivery.close();
      outbox.close();
    };
  });

  it('sends a new result at once, and again only after the resend delay', async () => {
    finish('inv_a', 'f1');
    delivery.flush();
    expect(sent).toEqual(['f1']);
    await clock.advance(4_000);
    expect(sent).toEqual(['f1']);
    await clock.advance(3_500);
    expect(sent).toEqual(['f1', 'f1']);
  });

  it('never resends what the router acknowledged, and removes it from the outbox within a tick', async () => {
    finish('inv_a', 'f1', 'f2');
    delivery.flush();
    ack('f1');
    await clock.advance(100);
    expect(outbox.pending().map((frame) => frame.frameId)).toEqual(['f2']);
    await clock.advance(10_000);
    expect(sent.filter((id) => id === 'f1')).toEqual(['f1']);
    expect(sent.filter((id) => id === 'f2').length).toBeGreaterThan(1);
  });

  it('drops a result the router refused (a rejected ack is final too)', async () => {
    finish('inv_a', 'f1');
    delivery.flush();
    ack('f1', 'rejected');
    await clock.advance(10_000);
    expect(sent).toEqual(['f1']);
    expect(outbox.pendingCount()).toBe(0);
  });

  it('holds results while no connection is bound, then sends everything, in order, once bound', async () => {
    bound = false;
    finish('inv_a', 'f1');
    finish('inv_b', 'f2');
    delivery.flush();
    await clock.advance(20_000);
    expect(sent).toEqual([]);
    bound = true;
    delivery.rebound();
    expect(sent).toEqual(['f1', 'f2']);
    // A new connection: whatever is unacknowledged goes again at once, resend delay or not.
    delivery.rebound();
    expect(sent).toEqual(['f1', 'f2', 'f1', 'f2']);
  });

  it('drains: resolves once the outbox is empty, and stops waiting when told to', async () => {
    finish('inv_a', 'f1');
    delivery.flush();
    let drained = false;
    const draining = delivery.drained(new AbortController().signal).then(() => (drained = true));
    await clock.advance(300);
    expect(drained).toBe(false);
    ack('f1');
    await clock.advance(200);
    await draining;
    expect(outbox.pendingCount()).toBe(0);

    finish('inv_b', 'f2');
    const stop = new AbortController();
    const abandoned = delivery.drained(stop.signal);
    stop.abort();
    await abandoned;
    expect(outbox.pendingCount()).toBe(1);
  });

  it('leaves no timer behind once closed', () => {
    delivery.close();
    expect(clock.pending).toBe(0);
  });
});
