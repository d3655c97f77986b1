import type { Clock } from '../../runtime/clock.js';
import type { Logger } from '../../runtime/logger.js';
import { createPeriodic, type Periodic } from '../../runtime/periodic.js';
import { open } from '../../runtime/sealed.js';
import { withTransaction } from '../store/db.js';
import type { Pool } from '../store/pool.js';
import {
  advanceCursor,
  enqueueDelivery,
  lockAuditTail,
  skipAuditTailWhenUnwatched,
  takeDueDeliveries,
  recordAttempt,
  subscribers,
  type DueDelivery,
} from '../store/webhooks.js';
import { postWebhook, type PostOptions, type PostOutcome } from './post.js';
import type { TargetAllowlist } from './target-policy.js';
import { retryDelaySeconds, signatureHeader, webhookEventFor } from './events.js';

export interface WebhookWorkerOptions {
  readonly pool: Pool;
  readonly logger: Logger;
  /** The at-rest key that unseals endpoint secrets. */
  readonly secretKey: Buffer;
  /** @default 1000 */
  readonly intervalMs?: number;
  /** @default 10000 */
  readonly timeoutMs?: number;
  /** Internal receivers webhooks may reach (XEROTIER_WEBHOOKS_ALLOWED_TARGETS). */
  readonly allow: TargetAllowlist;
  /** Name resolution; tests point names at chosen addresses. */
  readonly resolve?: PostOptions['resolve'];
  readonly clock?: Clock;
}

/**
 * Turns audit entries into webhook deliveries and sends what is due, every second, on every
 * router: the cursor and the due rows are locked with SKIP LOCKED, so replicas share the work
 * and no delivery is attempted twice at once. Delivery is at least once; receivers dedupe on
 * the event id.
 */
export function createWebhookWorker(options: WebhookWorkerOptions): Periodic {
  return createPeriodic({
    name: 'webhook worker',
    intervalMs: options.intervalMs ?? 1_000,
    logger: options.logger,
    ...(options.clock ? { clock: options.clock } : {}),
    run: async () => {
      await scan(options.pool);
      await deliverDue(options);
    },
  });
}

async function scan(pool: Pool): Promise<void> {
  await withTransaction(pool, async (client) => {
    if (await skipAuditTailWhenUnwatched(client)) return;
    const { facts } = await lockAuditTail(client, 500);
    for (const fact of facts) {
      const event = fact.project_id ? webhookEventFor(fact) : undefined;
      if (!event) continue;
      for (const endpointId of await subscribers(client, fact.project_id, event.type))
        await enqueueDelivery(client, endpointId, { id: event.id, type: event.type, payload: event });
    }
    if (facts.length > 0) await advanceCursor(client, facts[facts.length - 1]!.position);
  });
}

async function deliverDue(options: WebhookWorkerOptions): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const due = await takeDueDeliveries(options.pool, 20, Math.ceil(timeoutMs / 1_000) + 30);
  await Promise.all(
    due.map(async (delivery) => {
      const outcome = await post(options, delivery, timeoutMs);
      // A refused (internal) target stays refused: no retry schedule for it.
      const retryInSeconds =
        outcome.delivered || outcome.refused ? undefined : retryDelaySeconds(delivery.attempts + 1);
      await recordAttempt(options.pool, delivery.id, { ...outcome, retryInSeconds });
      if (!outcome.delivered)
        options.logger.info(
          {
            endpoint_id: delivery.endpoint_id,
            event_id: delivery.event_id,
            attempt: delivery.attempts + 1,
            status: outcome.statusCode,
            error: outcome.error,
          },
          'webhook delivery failed',
        );
    }),
  );
}

async function post(options: WebhookWorkerOptions, delivery: DueDelivery, timeoutMs: number): Promise<PostOutcome> {
  const body = JSON.stringify(delivery.payload);
  let secret: string;
  try {
    secret = open(options.secretKey, delivery.secret_sealed);
  } catch {
    return {
      delivered: false,
      statusCode: null,
      error: "the endpoint secret cannot be unsealed with this router's key",
      durationMs: 0,
      refused: false,
    };
  }
  const headers = {
    'content-type': 'application/json',
    'user-agent': 'xerotier-webhooks/1',
    'x-xerotier-event-id': delivery.event_id,
    'x-xerotier-event-type': delivery.event_type,
    'x-xerotier-signature': signatureHeader(secret, Math.floor(Date.now() / 1_000), body),
  };
  return postWebhook(delivery.url, body, headers, {
    allow: options.allow,
    timeoutMs,
    ...(options.resolve ? { resolve: options.resolve } : {}),
  });
}
