import pg from 'pg';
import type { Logger } from '../../runtime/logger.js';
import type { Queryable } from '../store/db.js';

/** Postgres channel on which every router hears about enrollments and revocations at once. */
export const AGENT_CHANGES_CHANNEL = 'xerotier_agent_changes';

export interface AgentChange {
  readonly agent_id: string;
  readonly change: 'enrolled' | 'revoked';
}

/** Announces a change; inside a transaction, it is delivered only if that transaction commits. */
export async function announceAgentChange(db: Queryable, change: AgentChange): Promise<void> {
  await db.query('SELECT pg_notify($1, $2)', [AGENT_CHANGES_CHANNEL, JSON.stringify(change)]);
}

export interface AgentChangeListener {
  close(): Promise<void>;
}

/**
 * A dedicated connection LISTENing for agent changes, so a revocation made through any router
 * reaches the router holding the agent's connection within moments. Reconnects with capped
 * backoff; after a reconnect onResync runs, since notifications sent meanwhile are lost.
 */
export function listenForAgentChanges(
  connectionString: string,
  logger: Logger,
  handlers: { onChange: (change: AgentChange) => void; onResync: () => void },
): AgentChangeListener {
  let client: pg.Client | undefined;
  let closed = false;
  let attempt = 0;
  const connect = async (): Promise<void> => {
    if (closed) return;
    const next = new pg.Client({ connectionString, application_name: 'xerotier-router-listen' });
    next.on('notification', (message) => {
      const change = parse(message.payload);
      if (change) handlers.onChange(change);
    });
    next.on('error', (error) => {
      logger.warning({ err: error }, 'agent change listener lost its connection; reconnecting');
      void next.end().catch(() => undefined);
      schedule();
    });
    try {
      await next.connect();
      await next.query(`LISTEN ${AGENT_CHANGES_CHANNEL}`);
      client = next;
      if (attempt > 0) handlers.onResync();
      attempt = 0;
    } catch (error) {
      logger.warning({ err: error }, 'agent change listener could not connect; retrying');
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

function parse(payload: string | undefined): AgentChange | undefined {
  try {
    const value = JSON.parse(payload ?? '') as Partial<AgentChange>;
    if (typeof value.agent_id === 'string' && (value.change === 'enrolled' || value.change === 'revoked')) return value as AgentChange;
  } catch {
    // not ours
  }
  return undefined;
}
