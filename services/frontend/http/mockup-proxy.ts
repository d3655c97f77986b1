import type { FastifyInstance } from 'fastify';
import type { RouterClient } from '../router-client.js';
import { relay, RELAYED_HEADERS } from './relay.js';

const PREVIEW_PASSED = [
  ...RELAYED_HEADERS,
  'content-security-policy',
  'cache-control',
  'x-content-type-options',
  'cross-origin-resource-policy',
];

/**
 * `/mockup-preview/*`: a mockup's files, served under the router's own preview CSP. The path's
 * token is the capability (no session: the sandboxed iframe has no cookies to send), and the
 * router decides; the UI only puts it on its own origin so its CSP can frame it.
 */
export function mockupProxyRoutes(deps: { readonly router: RouterClient }) {
  return async function register(app: FastifyInstance): Promise<void> {
    app.get<{ Params: { '*': string } }>('/*', async (request, reply) => {
      const stop = new AbortController();
      const answer = await deps.router
        .raw('GET', `/mockup-preview/${request.params['*']}`, { signal: stop.signal })
        .catch(() => undefined);
      if (!answer) return reply.status(502).send('The router did not answer');
      return relay(request, reply, answer, stop, undefined, PREVIEW_PASSED);
    });
  };
}
