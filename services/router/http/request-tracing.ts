import { propagation, ROOT_CONTEXT, SpanKind, trace, type Context } from '@opentelemetry/api';
import type { FastifyInstance } from 'fastify';
import { traceCarrierFromContext, type TraceCarrier } from '../../runtime/tracing.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** This request's span, continuing the caller's W3C `traceparent` when it sent one. */
    traceContext?: Context;
  }
}

/**
 * A server span per request (no-op unless tracing is on), named by method and route pattern,
 * ended when the response is done — also for hijacked event streams. Work the request starts
 * later elsewhere (a dispatch, an inference) continues it through `requestTrace`.
 */
export function traceRequests(app: FastifyInstance): void {
  const tracer = trace.getTracer('xerotier-router');
  app.addHook('onRequest', async (request, reply) => {
    const parent = propagation.extract(ROOT_CONTEXT, request.headers);
    const route = request.routeOptions.url ?? request.url.split('?')[0]!;
    const span = tracer.startSpan(
      `${request.method} ${route}`,
      { kind: SpanKind.SERVER, attributes: { 'http.request.method': request.method, 'http.route': route } },
      parent,
    );
    request.traceContext = trace.setSpan(parent, span);
    reply.raw.once('close', () => {
      span.setAttribute('http.response.status_code', reply.raw.statusCode);
      span.end();
    });
  });
}

/** The carrier of a request's span, for frames and stored calls it leads to. */
export function requestTrace(request: { traceContext?: Context }): TraceCarrier | undefined {
  return request.traceContext ? traceCarrierFromContext(request.traceContext) : undefined;
}

/** `{ trace }` for an inference or invocation when the request is traced, else nothing. */
export function traced(request: { traceContext?: Context }): { trace?: TraceCarrier } {
  const trace = requestTrace(request);
  return trace ? { trace } : {};
}
