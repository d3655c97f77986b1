import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { errorEnvelope, type ErrorCode } from './errors.js';

export interface ServerTimeouts {
  /** Whole request (headers and body) must arrive within this. */
  readonly requestTimeoutMs: number;
  /** Headers must arrive within this. */
  readonly headersTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
}

export const DEFAULT_TIMEOUTS: ServerTimeouts = {
  requestTimeoutMs: 30_000,
  headersTimeoutMs: 10_000,
  keepAliveTimeoutMs: 72_000,
};

type Handler = (request: IncomingMessage, response: ServerResponse) => void;

/**
 * The HTTP(S) server under fastify, built here because fastify 5 leaves Node's request timeout
 * off and Node checks timeouts only every 30 s by default: slow-header and slow-body clients
 * (slowloris) would hold connections for minutes. Checking every second bounds them near the
 * configured timeouts.
 */
export function serverFactory(timeouts: ServerTimeouts, tls?: { cert: Buffer; key: Buffer }) {
  return (handler: Handler): Server => {
    const options = {
      requestTimeout: timeouts.requestTimeoutMs,
      headersTimeout: timeouts.headersTimeoutMs,
      keepAliveTimeout: timeouts.keepAliveTimeoutMs,
      connectionsCheckingInterval: 1_000,
    };
    const server = tls
      ? createHttpsServer({ ...options, cert: tls.cert, key: tls.key }, handler)
      : createHttpServer(options, handler);
    return server as Server;
  };
}

const CLIENT_ERRORS: Record<string, { status: number; reason: string; code: ErrorCode }> = {
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, reason: 'Request Timeout', code: 'request_timeout' },
  HPE_HEADER_OVERFLOW: { status: 431, reason: 'Request Header Fields Too Large', code: 'headers_too_large' },
};

/**
 * Errors Node raises before a request reaches fastify (timeouts, unparseable HTTP) answered with
 * the documented envelope and an X-Request-ID, like every other error.
 */
export function clientErrorHandler(error: Error & { code?: string }, socket: Socket): void {
  if (!socket.writable || error.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  const known = CLIENT_ERRORS[error.code ?? ''] ?? {
    status: 400,
    reason: 'Bad Request',
    code: 'malformed_request' as const,
  };
  const body = JSON.stringify(errorEnvelope(known.code));
  const requestId = `req_${randomBytes(12).toString('hex')}`;
  socket.end(
    `HTTP/1.1 ${known.status} ${known.reason}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nX-Request-ID: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
  );
}
