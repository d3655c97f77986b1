import type { FastifyInstance } from 'fastify';
import Type, { type Static } from 'typebox';
import type { OidcSignIn } from '../../people/oidc.js';
import { ApiError } from '../errors.js';
import { strict } from '../schemas.js';

const StartQuery = Type.Object(
  {
    client: Type.Optional(Type.Union([Type.Literal('ui'), Type.Literal('cli'), Type.Literal('api')])),
    redirect_to: Type.Optional(Type.String({ minLength: 1, maxLength: 2000 })),
  },
  strict,
);
// The provider adds what it likes (session_state, iss, scope…): only state is ours to check.
const CallbackQuery = Type.Object({ state: Type.Optional(Type.String({ maxLength: 200 })) });

/**
 * `/v1/auth/oidc`: `GET start` redirects to the identity provider; `GET callback` is where it
 * sends the browser back. The callback hands a one-time code (never the session key) to
 * `redirect_to` (`?code=…`), or shows it as JSON when the sign-in named no redirect; the code is
 * traded with `POST /v1/auth/sessions {"method":"code"}`.
 */
export function oidcRoutes(deps: { readonly oidc: OidcSignIn | undefined; readonly now?: () => Date }) {
  const now = deps.now ?? (() => new Date());
  const configured = () => {
    if (!deps.oidc) throw new ApiError('oidc_not_configured');
    return deps.oidc;
  };
  return async function register(app: FastifyInstance): Promise<void> {
    app.get('/providers', async () => ({
      object: 'sign_in_providers' as const,
      password: true,
      oidc: deps.oidc ? { start_url: '/v1/auth/oidc/start' } : null,
    }));

    app.get<{ Querystring: Static<typeof StartQuery> }>(
      '/oidc/start',
      { schema: { querystring: StartQuery } },
      async (request, reply) => {
        const { client = 'ui', redirect_to } = request.query;
        const url = await configured().start({ client, ...(redirect_to ? { redirectTo: redirect_to } : {}) }, now());
        return reply.header('cache-control', 'no-store').redirect(url.href, 302);
      },
    );

    app.get('/oidc/callback', { schema: { querystring: CallbackQuery } }, async (request, reply) => {
      const query = request.url.slice(request.url.indexOf('?') + 1);
      const done = await configured().callback(request.url.includes('?') ? query : '', now());
      void reply.header('cache-control', 'no-store').header('referrer-policy', 'no-referrer');
      if (!done.redirectTo) return { object: 'sign_in_code', code: done.code, expires_in: 60 };
      const target = new URL(done.redirectTo);
      target.searchParams.set('code', done.code);
      return reply.redirect(target.href, 302);
    });
  };
}
