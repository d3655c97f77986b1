import type { FastifyReply, FastifyRequest } from 'fastify';
import Type, { type Static } from 'typebox';
import type { ResponseEvent } from '../inference/responses-stream.js';
import type { LiveResponses } from '../loop/live-responses.js';
import { MAX_LOOP_MS } from '../loop/run-loop.js';
import { isParked } from '../store/parked-turns.js';
import { findResponse, type StoredResponse } from '../store/responses.js';
import type { Pool } from '../store/pool.js';
import { ApiError } from './errors.js';
import { openSse } from './sse.js';

/** `?stream=true&starting_after=N`, as the openai package's `responses.retrieve` sends them. */
export const ReplayQuery = Type.Object({
  stream: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')])),
  starting_after: Type.Optional(Type.String({ pattern: '^-?[0-9]{1,9}$' })),
});
export type ReplayQuery = Static<typeof ReplayQuery>;

/** How often a replay looks again at a response that runs elsewhere or waits for people. */
const POLL_MS = 500;

interface Replay {
  readonly projectId: string;
  readonly responseId: string;
  readonly after: number;
  /** The replaying client sends `X-Xerotier-Events: exec`. */
  readonly vendorEvents: boolean;
}

/**
 * Streams a stored response again from the event after `starting_after` (all of it without):
 * its stored events, and — while it runs (a turn resumed in the background, here or on another
 * router) or waits parked for people to decide its approvals — each new one until it ends
 * (docs/conversations.md, "Approved elsewhere"); keep-alives hold the stream open meanwhile.
 */
export async function replayResponse(
  request: FastifyRequest,
  reply: FastifyReply,
  deps: { readonly pool: Pool; readonly live?: LiveResponses },
  target: Replay,
): Promise<FastifyReply> {
  const stored = await findResponse(deps.pool, target.projectId, target.responseId);
  // A turn still running here is not stored yet (it is, whole, when it ends): it is followed live.
  const running = deps.live?.find(target.projectId, target.responseId);
  if (!stored && !running) throw new ApiError('response_not_found', undefined, 'response_id');
  if (stored && !stored.events && !running)
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
  let last = target.after;
  // Vendor events went to a client that opted in; a replay gets them only if it opts in too.
  const vendor = target.vendorEvents;
  const send = (event: ResponseEvent) => {
    if (event.sequence_number <= last) return;
    last = event.sequence_number;
    if (vendor || !event.type.startsWith('x_')) sse.send(event.type, event);
  };
  const until = performance.now() + MAX_LOOP_MS;
  for (let current: StoredResponse | undefined = stored; !sse.closed;) {
    const live = deps.live?.find(target.projectId, target.responseId);
    if (live) {
      await new Promise<void>((resolve) => {
        let unfollow = () => undefined as unknown;
        const timer = setTimeout(() => stop(), Math.max(0, until - performance.now()));
        stop = () => {
          clearTimeout(timer);
          unfollow();
          resolve();
        };
        // May end at once (the response ended meanwhile): stop is in place before.
        unfollow = live.follow(last, send, () => stop());
      });
      break;
    }
    // It ended between the two looks: what it stored says the rest.
    current ??= await findResponse(deps.pool, target.projectId, target.responseId);
    if (!current) break;
    for (const event of (current.events ?? []) as ResponseEvent[]) send(event);
    if (performance.now() > until) break;
    if (current.status !== 'in_progress' && !(await isParked(deps.pool, target.projectId, target.responseId))) {
      // Not parked now, but `current` may predate a claim (which marks it in_progress as it
      // unparks it): read it once more before ending.
      const again = await findResponse(deps.pool, target.projectId, target.responseId);
      if (!again || (again.status !== 'in_progress' && !hasAfter(again, last))) break;
      current = again;
      continue;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    current = await findResponse(deps.pool, target.projectId, target.responseId);
  }
  sse.end();
  return reply;
}

/** `X-Xerotier-Events: exec`: the client takes vendor events about its calls' runs (docs/conversations.md). */
export function wantsExecEvents(request: FastifyRequest): boolean {
  const header = request.headers['x-xerotier-events'];
  return String(header ?? '')
    .split(',')
    .some((value) => value.trim().toLowerCase() === 'exec');
}

const hasAfter = (response: StoredResponse, last: number) =>
  ((response.events ?? []) as ResponseEvent[]).some((event) => event.sequence_number > last);
