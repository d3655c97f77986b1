import type { FastifyInstance } from 'fastify';

/**
 * The UI's Content Security Policy: scripts and styles only from this origin (no inline code at
 * all, so no nonce is needed), calls only back to this origin, mockups framed only from this
 * origin's preview path (sandboxed by the iframe too), nothing may frame the UI.
 */
export const UI_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

/** Headers every UI answer carries; the mockup preview keeps the router's own (its own CSP). */
export function securityHeaders(app: FastifyInstance): void {
  app.addHook('onSend', async (request, reply) => {
    if (request.url.startsWith('/mockup-preview/')) return;
    void reply.header('content-security-policy', UI_CSP);
    void reply.header('x-content-type-options', 'nosniff');
    void reply.header('referrer-policy', 'same-origin');
    void reply.header('cross-origin-opener-policy', 'same-origin');
    if (!reply.hasHeader('cache-control')) void reply.header('cache-control', 'no-store');
  });
}

/**
 * Whether a mutation comes from a page of this UI: browsers send Origin on every cross-site POST,
 * and Sec-Fetch-Site on every request. Either, when present, must say same-origin.
 */
export function sameOrigin(headers: Record<string, string | string[] | undefined>, host: string | undefined): boolean {
  const site = headers['sec-fetch-site'];
  if (typeof site === 'string' && site !== 'same-origin' && site !== 'none') return false;
  const origin = headers['origin'];
  if (typeof origin !== 'string') return true;
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}
