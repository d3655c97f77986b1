import type { Logger } from '../../runtime/logger.js';
import { open } from '../auth/sealed.js';
import { withTransaction } from '../store/db.js';
import type { Pool } from '../store/pool.js';
import { advanceCursor, enqueueDelivery, lockAuditTail, skipAuditTailWhenUnwatched, lockDueDeliveries, recordAttempt, subscribers, type DueDelivery } from '../store/webhooks.js';
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
}

/**
 * Turns audit entries into webhook deliveries and sends what is due, every second, on every
 * router: the cursor and the due rows are locked with SKIP LOCKED, so replicas share the work
 * and no delivery is attempted twice at once. Delivery is at least once; receivers dedupe on
 * the event id.
 */
export function startWebhookWorker(options: WebhookWorkerOptions): { close(): Promise<void> } {
  let running: Promise<void> | undefined;
  const tick = async () => {
    await scan(options.pool);
    await deliverDue(options);
  };
  const timer = setInterval(() => {
    running ??= tick().catch((error: unknown) => options.logger.warning({ err: error }, 'webhook worker round failed')).finally(() => (running = undefined));
  }, options.intervalMs ?? 1_000);
  timer.unref();
  return {
    async close() {
      clearInterval(timer);
      await running;
    },
  };
}

async function scan(pool: Pool): Promise<void> {
  await withTransaction(pool, async (client) => {
    if (await skipAuditTailWhenUnwatched(client)) return;
    const { facts } = await lockAuditTail(client, 500);
    for (const fact of facts) {
      const event = fact.project_id ? webhookEventFor(fact) : undefined;
      if (!event) continue;
      for (const endpointId of await subscribers(client, fact.project_id, event.type)) await enqueueDelivery(client, endpointId, { id: event.id, type: event.type, payload: event });
    }
    if (facts.length > 0) await advanceCursor(client, facts[facts.length - 1]!.position);
  });
}

async function deliverDue(options: WebhookWorkerOptions): Promise<void> {
  await withTransaction(options.pool, async (client) => {
    const due = await lockDueDeliveries(client, 20);
    const outcomes = await Promise.all(due.map((delivery) => post(options, delivery)));
    for (const [index, delivery] of due.entries()) {
      const outcome = outcomes[index]!;
      await recordAttempt(client, delivery.id, { ...outcome, retryInSeconds: outcome.delivered ? undefined : retryDelaySeconds(delivery.attempts + 1) });
      if (!outcome.delivered) options.logger.info({ endpoint_id: delivery.endpoint_id, event_id: delivery.event_id, attempt: delivery.attempts + 1, status: outcome.statusCode, error: outcome.error }, 'webhook delivery failed');
    }
  });
}

async function post(options: WebhookWorkerOptions, delivery: DueDelivery): Promise<{ delivered: boolean; statusCode: number | null; error: string | null }> {
  const body = JSON.stringify(delivery.payload);
  try {
    const secret = open(options.secretKey, delivery.secret_sealed);
    const response = await fetch(delivery.url, {
      method: 'POST', redirect: 'manual', signal: AbortSignal.timeout(options.timeoutMs ?? 10_000), body,
      headers: {
        'content-type': 'application/json', 'user-agent': 'xerotier-webhooks/1', 'x-xerotier-event-id': delivery.event_id,
        'x-xerotier-event-type': delivery.event_type, 'x-xerotier-signature': signatureHeader(secret, Math.floor(Date.now() / 1_000), body),
      },
    });
    await response.body?.cancel().catch(() => undefined);
    return { delivered: response.status >= 200 && response.status < 300, statusCode: response.status, error: null };
  } catch (error) {
    return { delivered: false, statusCode: null, error: (error as Error).message.slice(0, 300) };
  }
}
