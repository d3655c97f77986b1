import pg from 'pg';
import type { Logger } from '../../runtime/logger.js';
import type { Queryable } from './db.js';

export interface Listener {
  close(): Promise<void>;
}

/** Sends a notification; inside a transaction it is delivered only if that transaction commits. */
export async function notify(db: Queryable, channel: string, payload: string): Promise<void> {
  await db.query('SELECT pg_notify($1, $2)', [channel, payload]);
}

/** Several notifications on one channel in one round trip, in order. */
export async function notifyAll(db: Queryable, channel: string, payloads: readonly string[]): Promise<void> {
  if (payloads.length === 0) return;
  await db.query({
    name: 'notify_all',
    text: 'SELECT pg_notify($1, payload) FROM unnest($2::text[]) WITH ORDINALITY AS p(payload, n) ORDER BY n',
    values: [channel, payloads],
  });
}

/**
 * A dedicated connection LISTENing on some channels. Reconnects with capped backoff; after a
 * reconnect onResync runs, since notifications sent meanwhile are lost — callers keep a polling
 * safety net and use this for speed, never for correctness.
 */
export function listen(
  connectionString: string,
  logger: Logger,
  channels: Readonly<Record<string, (payload: string) => void>>,
  onResync: () => void = () => undefined,
): Listener {
  let client: pg.Client | undefined;
  let closed = false;
  let attempt = 0;
  const connect = async (): Promise<void> => {
    if (closed) return;
    const next = new pg.Client({ connectionString, application_name: 'xerotier-router-listen' });
    next.on('notification', (message) => channels[message.channel]?.(message.payload ?? ''));
    next.on('error', (error) => {
      logger.warning({ err: error, channels: Object.keys(channels) }, 'listener lost its connection; reconnecting');
      void next.end().catch(() => undefined);
      schedule();
    });
    try {
      await next.connect();
      for (const channel of Object.keys(channels)) await next.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
      if (closed) return void (await next.end().catch(() => undefined));
      client = next;
      if (attempt > 0) onResync();
      attempt = 0;
    } catch (error) {
      logger.warning({ err: error, channels: Object.keys(channels) }, 'listener could not connect; retrying');
      void next.end().catch(() => undefined);
      schedule();
    }
  };
  const schedule = () => {
    if (closed) return;
    attempt += 1;
    setTimeout(() => void connect(), Math.min(30_000, 250 * 2 ** attempt)).unref();
  };
  void connect();
  return {
    async close() {
      closed = true;
      await client?.end().catch(() => undefined);
    },
  };
}
