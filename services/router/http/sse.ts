import type { FastifyReply, FastifyRequest } from 'fastify';

declare module 'fastify' {
  interface FastifyInstance {
    /** Every open event stream of this app, ended on shutdown (app.ts's preClose). */
    sseStreams: OpenStreams;
  }
}

/**
 * The app's open streams. Fastify's close() waits for every connection to finish, and an event
 * stream never finishes by itself: without this, one watching page would hold a shutdown for its
 * whole grace period (fastify's preClose hook exists for exactly this).
 */
export class OpenStreams {
  private readonly open = new Map<SseStream, () => void>();

  add(stream: SseStream, goodbye: () => void): void {
    this.open.set(stream, goodbye);
  }

  delete(stream: SseStream): void {
    this.open.delete(stream);
  }

  /** Tells every open stream the server is going away; each goodbye ends its stream (now, or once its protocol's last event is out). */
  endAll(): void {
    for (const goodbye of [...this.open.values()]) goodbye();
  }

  get size(): number {
    return this.open.size;
  }
}

/** What an exec event stream gets last when the router stops: reconnect elsewhere or later. */
export const SHUTDOWN_EVENT = {
  reason: 'server_shutting_down',
  message: 'The router is shutting down; reconnect (another replica answers, or this one shortly)',
} as const;

export interface SseStream {
  send(event: string, data: unknown): void;
  /** A `data:` line with no event name (the chat-completions stream; a string goes as it is). */
  data(data: unknown): void;
  /** Everything sent inside `write` leaves in one socket write. */
  together(write: () => void): void;
  /** Bytes written but not yet taken by the client's socket. */
  readonly backlog: number;
  end(): void;
  readonly closed: boolean;
}

const KEEPALIVE_MS = 15_000;

/**
 * Takes the response over for Server-Sent Events: headers now, comment lines as keep-alives so
 * proxies do not cut an idle stream, `onClose` once when either side ends it. On shutdown the
 * stream gets `goodbye` (by default an `event: shutdown`) and ends; streams whose protocol has
 * its own ending (an inference stream's failure event) pass a goodbye that writes it, or none.
 */
export function openSse(
  request: FastifyRequest,
  reply: FastifyReply,
  onClose: () => void,
  headers: Record<string, string> = {},
  goodbye?: (stream: SseStream) => void,
): SseStream {
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
    'x-request-id': request.id,
    ...headers,
  });
  raw.write(': stream open\n\n');
  let closed = false;
  const keepalive = setInterval(() => raw.write(': keep-alive\n\n'), KEEPALIVE_MS);
  const registry = request.server.sseStreams;
  const close = () => {
    if (closed) return;
    closed = true;
    clearInterval(keepalive);
    registry.delete(stream);
    onClose();
  };
  request.raw.on('close', close);
  raw.on('close', close);
  const stream: SseStream = {
    send(event, data) {
      if (!closed) raw.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    together(write) {
      raw.cork();
      try {
        write();
      } finally {
        raw.uncork();
      }
    },
    data(data) {
      if (!closed) raw.write(`data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);
    },
    end() {
      close();
      raw.end();
    },
    get closed() {
      return closed;
    },
    get backlog() {
      return raw.writableLength;
    },
  };
  registry.add(stream, () => {
    if (goodbye) return goodbye(stream);
    stream.send('shutdown', SHUTDOWN_EVENT);
    stream.end();
  });
  return stream;
}
