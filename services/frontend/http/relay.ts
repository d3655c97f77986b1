import { PassThrough, Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** Response headers worth passing from the router to the browser; the rest stay between them. */
export const RELAYED_HEADERS = [
  'content-type',
  'content-disposition',
  'x-request-id',
  'retry-after',
  'x-xerotier-agent-id',
];

/**
 * Relays a router answer as it arrives. Event streams gain an `id:` per event that carries a
 * sequence number (Responses events do), so a browser that loses the stream reconnects with
 * `Last-Event-ID` and the router replays from there; nothing else is read or changed. With
 * `drains`, a stream whose browser left is read on to its end (and kept there until it ends or
 * the UI shuts down), so the turn behind it is not cancelled.
 */
export function relay(
  request: FastifyRequest,
  reply: FastifyReply,
  answer: Response,
  stop: AbortController,
  drains?: Set<AbortController>,
  passed: readonly string[] = RELAYED_HEADERS,
) {
  for (const name of passed) {
    const value = answer.headers.get(name);
    if (value !== null) void reply.header(name, value);
  }
  void reply.status(answer.status);
  if (!answer.body) return reply.send();
  const streaming = (answer.headers.get('content-type') ?? '').startsWith('text/event-stream');
  const body = Readable.fromWeb(
    (streaming ? answer.body.pipeThrough(withEventIds()) : answer.body) as WebReadableStream,
  );
  const toBrowser = new PassThrough();
  let gone = false;
  body.on('data', (chunk: Buffer) => {
    if (!gone) toBrowser.write(chunk);
  });
  body.once('end', () => {
    drains?.delete(stop);
    toBrowser.end();
  });
  body.once('error', () => {
    drains?.delete(stop);
    toBrowser.destroy();
  });
  request.raw.once('close', () => {
    if (reply.raw.writableFinished) return;
    gone = true;
    // A turn's stream is read to its end although its browser left (a reload, a dropped
    // connection): the turn goes on and is stored, and the browser replays it. Anything else stops.
    if (drains && streaming) drains.add(stop);
    else stop.abort();
  });
  if (streaming) void reply.header('cache-control', 'no-cache, no-transform').header('x-accel-buffering', 'no');
  return reply.send(toBrowser);
}

/** Adds `id: <sequence_number>` to each SSE event whose data has one. */
export function withEventIds(): TransformStream<Uint8Array, Uint8Array> {
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  let pending = '';
  return new TransformStream({
    transform(chunk, controller) {
      pending += decoder.decode(chunk, { stream: true });
      const blocks = pending.split('\n\n');
      pending = blocks.pop()!;
      if (blocks.length > 0) controller.enqueue(encoder.encode(blocks.map(identified).join('')));
    },
    flush(controller) {
      if (pending) controller.enqueue(encoder.encode(identified(pending)));
    },
  });
}

function identified(block: string): string {
  const data = /^data: (.*)$/m.exec(block)?.[1];
  const sequence = data ? /"sequence_number":(\d+)/.exec(data)?.[1] : undefined;
  return `${sequence !== undefined && !/^id:/m.test(block) ? `id: ${sequence}\n` : ''}${block}\n\n`;
}
