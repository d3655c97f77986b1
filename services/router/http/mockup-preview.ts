import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import Type, { type Static } from 'typebox';
import { findMockupById, mockupFile } from '../store/mockups.js';
import type { Pool } from '../store/pool.js';
import { strict } from './schemas.js';

const Params = Type.Object(
  {
    mockup_id: Type.String({ pattern: '^mock_[0-9a-f]{24}$' }),
    token: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    '*': Type.String({ maxLength: 900 }),
  },
  strict,
);

/**
 * The policy a preview runs under: the page is sandboxed into an opaque origin (no cookies, no
 * storage, no access to this router's origin even if opened directly), loads only its own
 * bundle, talks to nothing, submits nothing and may be framed only by the UI that embeds it.
 */
export const PREVIEW_CSP = [
  "default-src 'none'",
  "script-src 'self' 'unsafe-inline'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'none'",
  "form-action 'none'",
  "base-uri 'none'",
  "frame-ancestors 'self'",
  'sandbox allow-scripts',
].join('; ');

/**
 * `GET /mockup-preview/:mockup_id/:token/<path>`: a mockup bundle's files for the web UI's
 * sandboxed iframe. The path is a capability (the token is the mockup's own, handed only to
 * readers of its chat), so it carries no key and no cookie, and sets none; a wrong token or
 * file is a plain 404 that says nothing about which part was wrong.
 */
export function mockupPreviewRoutes(deps: { readonly pool: Pool }) {
  return async function register(app: FastifyInstance): Promise<void> {
    app.get<{ Params: Static<typeof Params> }>(
      '/:mockup_id/:token/*',
      { schema: { params: Params } },
      async (request, reply) => {
        const mockup = await findMockupById(deps.pool, request.params.mockup_id);
        const path = request.params['*'] || mockup?.entry || 'index.html';
        const file =
          mockup && sameToken(mockup.preview_token, request.params.token)
            ? await mockupFile(deps.pool, mockup.id, path)
            : undefined;
        reply
          .header('content-security-policy', PREVIEW_CSP)
          .header('x-content-type-options', 'nosniff')
          .header('referrer-policy', 'no-referrer')
          .header('cross-origin-resource-policy', 'same-origin')
          .header('cache-control', 'no-store');
        if (!file) return reply.status(404).type('text/plain; charset=utf-8').send('not found');
        return reply.type(file.content_type).send(file.content);
      },
    );
  };
}

function sameToken(expected: string, given: string): boolean {
  return expected.length === given.length && timingSafeEqual(Buffer.from(expected), Buffer.from(given));
}
