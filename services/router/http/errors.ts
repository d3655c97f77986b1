/**
 * The router's error vocabulary: one class, stable codes, one table mapping code to HTTP status
 * and OpenAI-style `type`. docs/errors.md documents every code here (a test keeps them in step).
 */
export const errorCatalog = {
  invalid_body: { status: 400, type: 'invalid_request_error', message: 'The request body is invalid' },
  invalid_parameter: { status: 400, type: 'invalid_request_error', message: 'A request parameter is invalid' },
  not_found: { status: 404, type: 'invalid_request_error', message: 'No such route' },
  payload_too_large: { status: 413, type: 'invalid_request_error', message: 'The request body is too large' },
  unsupported_media_type: { status: 415, type: 'invalid_request_error', message: 'Unsupported content type' },
  request_timeout: { status: 408, type: 'invalid_request_error', message: 'The request took too long to arrive' },
  headers_too_large: { status: 431, type: 'invalid_request_error', message: 'The request headers are too large' },
  malformed_request: { status: 400, type: 'invalid_request_error', message: 'The request is not valid HTTP' },
  not_ready: { status: 503, type: 'service_error', message: 'The router is not ready' },
  shutting_down: { status: 503, type: 'service_error', message: 'The router is shutting down' },
  internal_error: { status: 500, type: 'server_error', message: 'Internal error' },
} as const satisfies Record<string, { status: number; type: string; message: string }>;

export type ErrorCode = keyof typeof errorCatalog;

export interface ErrorEnvelope {
  error: { message: string; type: string; code: string; param: string | null; retry_after?: number };
}

export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly statusCode: number;

  constructor(
    readonly code: ErrorCode,
    message?: string,
    readonly param: string | null = null,
  ) {
    super(message ?? errorCatalog[code].message);
    this.statusCode = errorCatalog[code].status;
  }
}

export function errorEnvelope(code: ErrorCode, message?: string, param: string | null = null): ErrorEnvelope {
  const entry = errorCatalog[code];
  return { error: { message: message ?? entry.message, type: entry.type, code, param } };
}
