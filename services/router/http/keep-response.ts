import type { FastifyRequest } from 'fastify';
import type { OpenTurn } from '../conversations/turns.js';
import type { ResponseItem } from '../inference/responses-request.js';
import type { Pool } from '../store/pool.js';
import { insertResponse } from '../store/responses.js';
import { parkTurn, type ParkedTurn } from '../store/parked-turns.js';
import { withTransaction } from '../store/db.js';

/**
 * Keeps a finished Responses turn, before the client hears it ended (a client that reads it back,
 * or continues it, at once must find it): the stored response unless `store: false` or cancelled,
 * and the turn in its chat — a cancelled or failed turn's partial output included. A failure to
 * keep either is logged; the answer was still delivered.
 */
export async function keepResponse(
  pool: Pool,
  request: FastifyRequest,
  kept: {
    projectId: string;
    endpointId: string;
    store: boolean;
    previousResponseId: string | null;
    outcome: string;
    history: readonly ResponseItem[];
    final: Record<string, unknown> & { id: string };
    /** Every event of the response, for replaying its stream. */
    events: readonly unknown[];
    conversation: OpenTurn | undefined;
    /** The turn waits for people: parked with the response, in its transaction, so no later turn races the park. */
    parked?: ParkedTurn | undefined;
  },
): Promise<void> {
  const { final } = kept;
  const logged = (what: string) => (error: unknown) =>
    request.log.error({ err: error, response_id: final.id }, `${what}; it was still delivered`);
  if (kept.store && kept.outcome !== 'cancelled')
    await withTransaction(pool, async (client) => {
      await insertResponse(client, {
        projectId: kept.projectId,
        endpointId: kept.endpointId,
        previousResponseId: kept.previousResponseId,
        status: kept.outcome,
        history: [...kept.history],
        response: final,
        events: kept.events,
      });
      if (kept.parked) await parkTurn(client, kept.parked);
    }).catch(logged('the response could not be stored'));
  await kept.conversation
    ?.finish(final['output'] as unknown[], (final['usage'] as Record<string, unknown> | null) ?? null)
    .catch(logged('the turn could not be kept in its chat'));
}
