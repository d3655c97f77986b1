import type { FastifyReply, FastifyRequest } from 'fastify';
import Type, { type Static } from 'typebox';
import type { ResponseEvent } from '../inference/responses-stream.js';
import type { LiveResponses } from '../loop/live-responses.js';
import { MAX_LOOP_MS } from '../loop/run-loop.js';
import { findResponse } from '../store/responses.js';
import type { Pool } from '../store/pool.js';
import { ApiError } from './errors.js';
import { openSse } from './sse.js';

/** `?stream=true&starting_after=N`, as the openai package's `responses.retrieve` sends them. */
export const ReplayQuery = Type.Object({
  stream: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')])),
  starting_after: Type.Optional(Type.String({ pattern: '^-?[0-9]{1,9}$' })),
});
export type ReplayQuery = Static<typeof ReplayQuery>;

/** How often a replay of a response another router is running looks for its new events. */
const POLL_MS = 1_000;

/**
 * Streams a stored response again from the event after `starting_after` (all of it without):
 * the stored events, then — while it runs here (a turn resumed in the background) — each new
 * one as it happens, until its terminal event. A response running on another router is read
 * back from the database until it ends.
 */
export async function replayResponse(
  request: FastifyRequest,
  reply: FastifyReply,
  deps: { readonly pool: Pool; readonly live?: LiveResponses },
  target: { projectId: string; responseId: string; after: number },
): Promise<FastifyReply> {
  const stored = await findResponse(deps.pool, target.projectId, target.responseId);
  if (!stored) throw new ApiError('response_not_found', undefined, 'response_id');
  const live = deps.live?.find(target.projectId, target.responseId);
  if (!live && !stored.events)
    throw new ApiError(
      'invalid_parameter',
      'This response was stored without its events: it cannot be replayed',
      'stream',
    );
  let stop: () => void = () => undefined;
  const sse = openSse(
    request,
    reply,
    () => stop(),
    {},
    (stream) => stream.end(),
  );
  const send = (event: ResponseEvent) => sse.send(event.type, event);
  if (live) {
    await new Promise<void>((resolve) => {
      const unfollow = live.follow(target.after, send, resolve);
      stop = () => {
        unfollow();
        resolve();
      };
    });
  } else await fromStore(deps.pool, target, stored, send, () => sse.closed);
  sse.end();
  return reply;
}

async function fromStore(
  pool: Pool,
  target: { projectId: string; responseId: string; after: number },
  first: NonNullable<Awaited<ReturnType<typeof findResponse>>>,
  send: (event: ResponseEvent) => void,
  closed: () => boolean,
): Promise<void> {
  let last = target.after;
  const until = performance.now() + MAX_LOOP_MS;
  for (let current = first; ;) {
    for (const event of (current.events ?? []) as ResponseEvent[])
      if (event.sequence_number > last) {
        send(event);
        last = event.sequence_number;
      }
    if (current.status !== 'in_progress' || closed() || performance.now() > until) return;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    const next = await findResponse(pool, target.projectId, target.responseId);
    if (!next) return;
    current = next;
  }
}
