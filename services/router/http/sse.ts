import type { FastifyReply, FastifyRequest } from 'fastify';

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
 * proxies do not cut an idle stream, `onClose` once when either side ends it.
 */
export function openSse(request: FastifyRequest, reply: FastifyReply, onClose: () => void, headers: Record<string, string> = {}): SseStream {
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive',
    'x-accel-buffering': 'no', 'x-request-id': request.id, ...headers,
  });
  raw.write(': stream open\n\n');
  let closed = false;
  const keepalive = setInterval(() => raw.write(': keep-alive\n\n'), KEEPALIVE_MS);
  const close = () => {
    if (closed) return;
    closed = true;
    clearInterval(keepalive);
    onClose();
  };
  request.raw.on('close', close);
  raw.on('close', close);
  return {
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
}
