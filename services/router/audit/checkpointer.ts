import { open as openFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SigningKeyPair } from '../../protocol/signing.js';
import { systemClock, type Clock } from '../../runtime/clock.js';
import type { Logger } from '../../runtime/logger.js';
import { createPeriodic } from '../../runtime/periodic.js';
import { claimCheckpointTurn, checkpointSubscribers } from '../store/audit-checkpoints.js';
import type { Queryable } from '../store/db.js';
import { enqueueDelivery } from '../store/webhooks.js';
import { signCheckpoint, type Checkpoint } from './checkpoint.js';

/** Somewhere a checkpoint goes that the database cannot rewrite. */
export interface CheckpointSink {
  readonly name: string;
  write(checkpoint: Checkpoint): Promise<void>;
}

/** One JSON line per checkpoint, appended and fsynced: a file a verifier can replay. */
export function fileSink(dir: string): CheckpointSink {
  return {
    name: 'file',
    async write(checkpoint) {
      const file = await openFile(join(dir, 'checkpoints.jsonl'), 'a', 0o640);
      try {
        await file.write(`${JSON.stringify(checkpoint)}\n`);
        await file.sync();
      } finally {
        await file.close();
      }
    },
  };
}

/** The structured log: shipped off the host by whatever collects logs. */
export function logSink(logger: Logger): CheckpointSink {
  return { name: 'log', write: async (checkpoint) => logger.notice({ checkpoint }, 'audit checkpoint signed') };
}

/** Every webhook endpoint subscribed to `audit.checkpoint`, through the usual delivery queue. */
export function webhookSink(db: Queryable): CheckpointSink {
  return {
    name: 'webhooks',
    async write(checkpoint) {
      const event = {
        id: `evt_ckpt_${checkpoint.position.toString(16).padStart(16, '0')}`,
        object: 'event',
        type: 'audit.checkpoint',
        created_at: checkpoint.at,
        data: checkpoint,
      };
      for (const endpoint of await checkpointSubscribers(db))
        await enqueueDelivery(db, endpoint, { id: event.id, type: event.type, payload: event });
    },
  };
}

export interface CheckpointerOptions {
  readonly db: Queryable;
  readonly signer: SigningKeyPair;
  readonly sinks: readonly CheckpointSink[];
  readonly logger: Logger;
  readonly intervalMs: number;
  readonly clock?: Clock;
}

export interface Checkpointer {
  start(): void;
  /** Signs and emits a checkpoint of the head, if the chain grew since the last one (any router's); `now` skips the interval. */
  tick(now?: boolean): Promise<Checkpoint | undefined>;
  close(): Promise<void>;
}

/**
 * Every interval, one router (whichever claims the turn) signs the chain's head and sends it to
 * every sink. A sink that fails is logged and the others still get it: one broken disk must not
 * silence the webhook stream.
 */
export function createCheckpointer(options: CheckpointerOptions): Checkpointer {
  const clock = options.clock ?? systemClock;
  let running: Promise<Checkpoint | undefined> | undefined;
  const emit = async (now: boolean): Promise<Checkpoint | undefined> => {
    const head = await claimCheckpointTurn(options.db, now ? 0 : options.intervalMs * 0.9);
    if (!head) return undefined;
    const checkpoint = signCheckpoint(
      { chain: 'global', position: head.position, hash: head.hash, at: new Date(clock.now()).toISOString() },
      options.signer,
    );
    for (const sink of options.sinks) {
      await sink
        .write(checkpoint)
        .catch((error: unknown) =>
          options.logger.error({ err: error, sink: sink.name }, 'an audit checkpoint sink failed'),
        );
    }
    return checkpoint;
  };
  const tick = (now = false) => (running ??= emit(now).finally(() => (running = undefined)));
  const periodic = createPeriodic({
    name: 'audit checkpoint',
    intervalMs: options.intervalMs,
    logger: options.logger,
    clock,
    run: () => tick(),
  });
  return {
    start: () => periodic.start(),
    tick,
    async close() {
      await periodic.close();
      await running?.catch(() => undefined);
    },
  };
}
