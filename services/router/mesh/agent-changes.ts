import type { Logger } from '../../runtime/logger.js';
import type { Queryable } from '../store/db.js';
import { listen, notify, type Listener } from '../store/listener.js';

/** Postgres channel on which every router hears about enrollments and revocations at once. */
export const AGENT_CHANGES_CHANNEL = 'xerotier_agent_changes';

export interface AgentChange {
  readonly agent_id: string;
  readonly change: 'enrolled' | 'revoked' | 'superseded';
}

/** An operator asked a project's agents to move to the router's next CURVE key (every replica tells its own). */
export interface CurveRotation {
  readonly change: 'curve_rotate';
  readonly project_id: string;
  readonly rotation_id: string;
}

/** What a revoked or replaced agent is told (it logs it and stays retired). */
export const RETIRED_BECAUSE = {
  revoked: 'credentials revoked by an operator',
  superseded: 'superseded by a new enrollment under its name or key',
} as const;

/** Announces a change; inside a transaction, it is delivered only if that transaction commits. */
export async function announceAgentChange(db: Queryable, change: AgentChange): Promise<void> {
  await notify(db, AGENT_CHANGES_CHANNEL, JSON.stringify(change));
}

export async function announceCurveRotation(db: Queryable, rotation: Omit<CurveRotation, 'change'>): Promise<void> {
  await notify(db, AGENT_CHANGES_CHANNEL, JSON.stringify({ change: 'curve_rotate', ...rotation }));
}

/**
 * Agent changes on a dedicated LISTEN connection, so a revocation made through any router
 * reaches the router holding the agent's connection within moments.
 */
export function listenForAgentChanges(
  connectionString: string,
  logger: Logger,
  handlers: {
    onChange: (change: AgentChange) => void;
    onRotate?: (rotation: CurveRotation) => void;
    onResync: () => void;
  },
): Listener {
  return listen(
    connectionString,
    logger,
    {
      [AGENT_CHANGES_CHANNEL]: (payload) => {
        const change = parse(payload);
        if (change?.change === 'curve_rotate') handlers.onRotate?.(change);
        else if (change) handlers.onChange(change);
      },
    },
    handlers.onResync,
  );
}

function parse(payload: string): AgentChange | CurveRotation | undefined {
  try {
    const value = JSON.parse(payload) as Partial<AgentChange> & Partial<CurveRotation>;
    if (value.change === 'curve_rotate')
      return typeof value.project_id === 'string' && typeof value.rotation_id === 'string'
        ? (value as CurveRotation)
        : undefined;
    if (
      typeof value.agent_id === 'string' &&
      (value.change === 'enrolled' || value.change === 'revoked' || value.change === 'superseded')
    )
      return value as AgentChange;
  } catch {
    // not ours
  }
  return undefined;
}
