import type { TraceCarrier } from '../../protocol/frame.js';
import type { FrameBody, FrameType } from '../../protocol/frame-bodies.js';
import { sleep, systemClock, type Clock } from '../../runtime/clock.js';
import type { Logger } from '../../runtime/logger.js';
import type { Outbox } from '../outbox.js';

export interface DeliveryOptions {
  readonly outbox: Outbox;
  /** Signs and sends a frame under a fixed id (the id is the router's idempotency key), in its trace. */
  readonly send: (
    type: FrameType,
    body: Record<string, unknown>,
    frameId: string,
    trace: TraceCarrier | undefined,
  ) => void;
  readonly bound: () => boolean;
  readonly logger: Logger;
  /** An unacknowledged frame is sent again after this long. @default 5000 */
  readonly resendAfterMs?: number;
  readonly clock?: Clock;
}

export interface Delivery {
  /** Sends what is due: new frames, and old ones past the resend delay. */
  flush(): void;
  /** A new connection is bound: everything unacknowledged goes again, in order. */
  rebound(): void;
  acknowledged(ack: FrameBody<'ack'>): void;
  /** Resolves once the outbox is empty, or when the signal aborts. */
  drained(signal: AbortSignal): Promise<void>;
  close(): void;
}

/** Moves outbox frames to the router until each is acknowledged; ordered, at least once. */
export function createDelivery(options: DeliveryOptions): Delivery {
  const resendAfterMs = options.resendAfterMs ?? 5_000;
  const clock = options.clock ?? systemClock;
  const sentAt = new Map<string, number>();
  // Frames up to this seq were sent at least once; a flush reads only what came after.
  let sentThrough = 0;
  let acked: string[] = [];
  const send = (force: boolean, newOnly = false) => {
    if (!options.bound()) return;
    const now = clock.now();
    for (const frame of options.outbox.pending(newOnly ? sentThrough : 0)) {
      sentThrough = Math.max(sentThrough, frame.seq);
      const last = sentAt.get(frame.frameId);
      if (!force && last !== undefined && now - last < resendAfterMs) continue;
      sentAt.set(frame.frameId, now);
      options.send(frame.type as FrameType, frame.body, frame.frameId, frame.trace);
    }
  };
  const forget = () => {
    if (acked.length === 0) return;
    options.outbox.acknowledged(...acked);
    acked = [];
  };
  // Resends are checked at half the delay; acks are written in batches, at most 100 ms late.
  const timer = clock.setInterval(() => send(false), Math.max(250, resendAfterMs / 2));
  const ackTimer = clock.setInterval(forget, 100);
  timer.unref();
  ackTimer.unref();
  return {
    flush: () => send(false, true),
    rebound: () => send(true),
    acknowledged(ack) {
      if (!sentAt.delete(ack.ack_id)) return;
      if (ack.status === 'rejected')
        options.logger.warning(
          { frame_id: ack.ack_id, reason: ack.reason },
          'the router refused a result; dropping it',
        );
      acked.push(ack.ack_id);
      if (acked.length >= 256) forget();
    },
    async drained(signal) {
      forget();
      while (options.outbox.pendingCount() > 0 && !signal.aborted) {
        forget();
        send(false);
        // Acks arrive as frames, not as an event of the outbox: looked at again shortly.
        await sleep(100, signal, clock);
      }
    },
    close() {
      clock.clearInterval(timer);
      clock.clearInterval(ackTimer);
      forget();
    },
  };
}
