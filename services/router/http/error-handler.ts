import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, errorCatalog, errorEnvelope, type ErrorCode } from './errors.js';

// Fastify's own errors (body parsing, limits, validation) mapped onto our codes.
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid_body',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_body',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_body',
  FST_ERR_VALIDATION: 'invalid_body',
};

/**
 * One place turns every thrown thing into the documented envelope. 5xx are logged at error with
 * the cause; 4xx at info. Messages of unexpected errors never reach the client.
 */
export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | ApiError, request, reply) => {
    const { status, body } = toResponse(error);
    if (error instanceof ApiError && error.retryAfterSeconds !== undefined) {
      void reply.header('retry-after', String(error.retryAfterSeconds));
      body.error.retry_after = error.retryAfterSeconds;
      body.error.retry_strategy = {
        type: 'exponential_backoff',
        initial_delay_ms: error.retryAfterSeconds * 1_000,
        max_delay_ms: 60_000,
        multiplier: 2,
        jitter: 'full',
      };
    }
    if (status >= 500) request.log.error({ err: error }, 'request failed');
    else request.log.info({ code: body.error.code }, 'request rejected');
    return reply.status(status).send(body);
  });
  app.setNotFoundHandler((request: FastifyRequest, reply: FastifyReply) =>
    reply.status(404).send(errorEnvelope('not_found', `No route for ${request.method} ${request.url.split('?')[0]}`)),
  );
}

function toResponse(error: FastifyError | ApiError) {
  if (error instanceof ApiError)
    return { status: error.statusCode, body: errorEnvelope(error.code, error.message, error.param) };
  const mapped = FASTIFY_CODES[error.code];
  if (mapped) {
    const validation = error.validation?.[0];
    const param = validation ? validation.instancePath.replace(/^\//, '').replaceAll('/', '.') || null : null;
    // A bad path or query parameter is not a bad body.
    const code =
      mapped === 'invalid_body' && (error.validationContext === 'params' || error.validationContext === 'querystring')
        ? 'invalid_parameter'
        : mapped;
    const status = code === 'invalid_body' || code === 'invalid_parameter' ? 400 : (error.statusCode ?? 400);
    return { status, body: errorEnvelope(code, error.message, param) };
  }
  if (error.statusCode === 408) return { status: 408, body: errorEnvelope('request_timeout') };
  return { status: 500, body: errorEnvelope('internal_error') };
}

/**
 * Errors fastify raises before routing (a URL it cannot decode, a path parameter past its
 * length limit): by default they skip the error handler, the envelope and X-Request-ID, and
 * echo the whole path back. Passed to fastify as `frameworkErrors`.
 */
export function frameworkErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const code: ErrorCode =
    error.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? 'uri_too_long'
      : error.code === 'FST_ERR_BAD_URL'
        ? 'invalid_parameter'
        : 'internal_error';
  request.log.info({ code }, 'request rejected before routing');
  void reply.header('x-request-id', request.id).status(errorCatalog[code].status).send(errorEnvelope(code));
}
