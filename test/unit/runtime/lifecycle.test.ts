import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import { createLifecycle, handleShutdownSignals, type SignalTarget } from '../../../services/runtime/lifecycle.js';
import { createLogger } from '../../../services/runtime/logger.js';

const logger = createLogger({
  service: 'test',
  level: 'error',
  destination: new Writable({ write: (_c, _e, done) => done() }),
});

class FakeProcess extends EventEmitter implements SignalTarget {
  exits: number[] = [];
  exit(code: number): void {
    this.exits.push(code);
  }
}

describe('lifecycle closers', () => {
  it('run once, in reverse order of registration', async () => {
    const order: string[] = [];
    const lifecycle = createLifecycle({ logger, graceMs: 1_000 });
    lifecycle.defer('pool', () => void order.push('pool'));
    lifecycle.defer('server', async () => void order.push('server'));
    await Promise.all([lifecycle.close('test'), lifecycle.close('again')]);
    await lifecycle.close('third');
    expect(order).toEqual(['server', 'pool']);
    expect(lifecycle.closing).toBe(true);
    expect(lifecycle.stopping.aborted).toBe(true);
  });

  it('keep closing after one fails, then report the failures', async () => {
    const closed: string[] = [];
    const lifecycle = createLifecycle({ logger, graceMs: 1_000 });
    lifecycle.defer('a', () => void closed.push('a'));
    lifecycle.defer('b', () => {
      throw new Error('b broke');
    });
    await expect(lifecycle.close('test')).rejects.toThrow(AggregateError);
    expect(closed).toEqual(['a']);
  });

  it('hand closers a signal that aborts at the grace deadline', async () => {
    const lifecycle = createLifecycle({ logger, graceMs: 50 });
    let aborted = false;
    lifecycle.defer(
      'slow',
      (signal) => new Promise<void>((resolve) => signal.addEventListener('abort', () => ((aborted = true), resolve()))),
    );
    await lifecycle.close('test');
    expect(aborted).toBe(true);
  });

  it('refuse new closers once closing', async () => {
    const lifecycle = createLifecycle({ logger, graceMs: 1_000 });
    await lifecycle.close('test');
    expect(() => lifecycle.defer('late', () => undefined)).toThrow(/after shutdown started/);
  });
});

describe('shutdown signals', () => {
  it('drain on the first signal, then exit 0', async () => {
    const target = new FakeProcess();
    const lifecycle = createLifecycle({ logger, graceMs: 1_000 });
    const closer = vi.fn();
    lifecycle.defer('x', closer);
    handleShutdownSignals({ lifecycle, logger, graceMs: 1_000, target });
    target.emit('SIGTERM');
    await vi.waitFor(() => expect(target.exits).toEqual([0]));
    expect(closer).toHaveBeenCalledOnce();
  });

  it('force exit 1 on a second signal while draining', async () => {
    const target = new FakeProcess();
    const lifecycle = createLifecycle({ logger, graceMs: 5_000 });
    lifecycle.defer('stuck', () => new Promise<void>(() => undefined));
    handleShutdownSignals({ lifecycle, logger, graceMs: 5_000, target });
    target.emit('SIGINT');
    target.emit('SIGINT');
    expect(target.exits).toEqual([1]);
  });

  it('force exit 1 when draining outlives the grace period', async () => {
    vi.useFakeTimers();
    try {
      const target = new FakeProcess();
      const lifecycle = createLifecycle({ logger, graceMs: 100 });
      lifecycle.defer('stuck', () => new Promise<void>(() => undefined));
      handleShutdownSignals({ lifecycle, logger, graceMs: 100, target });
      target.emit('SIGTERM');
      await vi.advanceTimersByTimeAsync(1_200);
      expect(target.exits).toEqual([1]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('exit 1 when a closer failed', async () => {
    const target = new FakeProcess();
    const lifecycle = createLifecycle({ logger, graceMs: 1_000 });
    lifecycle.defer('bad', () => Promise.reject(new Error('nope')));
    handleShutdownSignals({ lifecycle, logger, graceMs: 1_000, target });
    target.emit('SIGTERM');
    await vi.waitFor(() => expect(target.exits).toEqual([1]));
  });

  it('can be removed', () => {
    const target = new FakeProcess();
    const remove = handleShutdownSignals({
      lifecycle: createLifecycle({ logger, graceMs: 10 }),
      logger,
      graceMs: 10,
      target,
    });
    remove();
    expect(target.listenerCount('SIGTERM')).toBe(0);
  });
});
