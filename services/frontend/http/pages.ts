import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RouterClient } from '../router-client.js';
import { cookiesOf } from '../router-client.js';
import { csrfMatches, type BrowserSession, type SessionStore } from '../sessions/session.js';
import { sameOrigin } from './security.js';

export const SESSION_COOKIE = 'xerotier_session';

export interface PageDeps {
  readonly router: RouterClient;
  readonly sessions: SessionStore;
  /** The project people sign in to, when this UI serves one. */
  readonly project: string | undefined;
  /** The endpoint chats run on. */
  readonly endpoint: string;
  /** The router's URL as agents reach it (shown in install commands). */
  readonly routerUrl: string;
  readonly secureCookies: boolean;
  readonly now: () => number;
}

/**
 * The router's service tiers, for the endpoint forms (the frontend imports no router values; a
 * test keeps this list equal to the router's SERVICE_TIERS).
 */
export const SERVICE_TIERS = [
  'self_hosted',
  'free',
  'cpu_amd_optimized',
  'cpu_intel_optimized',
  'gpu_nvidia_shared',
  'gpu_amd_shared',
  'gpu_intel_shared',
] as const;

const PAGES = {
  chat: { title: 'Chat', script: 'chat.js' },
  ops: { title: 'Operations', script: 'ops.js' },
  admin: { title: 'Administration', script: 'admin.js' },
} as const;

/** The browser session a request's cookie names, if it is live. */
export function sessionOf(request: FastifyRequest, sessions: SessionStore): Promise<BrowserSession | undefined> {
  return sessions.find(cookiesOf(request.headers.cookie).get(SESSION_COOKIE));
}

/**
 * The pages (server-rendered, each with its one script) and the sign-in around them: password
 * sign-in and, when the router offers it, single sign-on; sign-out ends the router session too.
 */
export function pageRoutes(deps: PageDeps) {
  const cookie = (value: string, maxAge: number) =>
    `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${maxAge}${deps.secureCookies ? '; Secure' : ''}`;
  const signInPage = async (reply: FastifyReply, data: { error?: string; email?: string; project?: string }) => {
    const providers = await deps.router
      .json('GET', '/v1/auth/providers')
      .catch(() => ({ status: 502, body: {} as Record<string, unknown> }));
    return reply.view('sign-in.mustache', {
      title: 'Sign in',
      page: 'sign-in',
      fixedProject: deps.project !== undefined,
      oidc: Boolean(providers.body['oidc']),
      ...data,
    });
  };
  const opened = async (reply: FastifyReply, body: Record<string, unknown>) => {
    const project = body['project'] as { id: string; slug: string };
    const principal = body['principal'] as { id: string; display_name: string; email: string | null };
    const session = await deps.sessions.open({
      key: String(body['key']),
      sessionId: String(body['id']),
      projectId: project.id,
      projectSlug: project.slug,
      person: { id: principal.id, displayName: principal.display_name, email: principal.email },
      expiresAtMs: typeof body['expires_at'] === 'string' ? Date.parse(body['expires_at']) : Number.MAX_SAFE_INTEGER,
    });
    return reply.header('set-cookie', cookie(session.id, 7 * 86_400)).redirect('/chat', 303);
  };
  return async function register(app: FastifyInstance): Promise<void> {
    app.get('/', async (request, reply) =>
      reply.redirect((await sessionOf(request, deps.sessions)) ? '/chat' : '/sign-in'),
    );
    app.get('/sign-in', async (request, reply) =>
      (await sessionOf(request, deps.sessions)) ? reply.redirect('/chat') : signInPage(reply, {}),
    );
    app.post<{ Body: Record<string, string | undefined> }>('/sign-in', async (request, reply) => {
      const { email = '', password = '', project = deps.project ?? '' } = request.body ?? {};
      if (!sameOrigin(request.headers, request.headers.host))
        return reply.status(403).send({ error: { code: 'cross_site', message: 'Sign in from this site only' } });
      const answer = await deps.router.json('POST', '/v1/auth/sessions', {
        body: { method: 'password', email, password, project, client: 'ui' },
      });
      if (answer.status === 201) return opened(reply, answer.body);
      const error = answer.body['error'] as { message?: string } | undefined;
      return signInPage(reply.status(answer.status === 429 ? 429 : 401), {
        error: error?.message ?? 'Sign-in failed',
        email,
        project,
      });
    });
    app.get('/sign-in/oidc', async (request, reply) => {
      const back = `${request.protocol}://${request.headers.host}/sign-in/oidc/done`;
      const started = await deps.router.raw(
        'GET',
        `/v1/auth/oidc/start?client=ui&redirect_to=${encodeURIComponent(back)}`,
        {},
      );
      const location = started.headers.get('location');
      if (started.status !== 302 || !location)
        return signInPage(reply.status(502), { error: 'Single sign-on is not available' });
      return reply.redirect(location, 302);
    });
    app.get<{ Querystring: { code?: string } }>('/sign-in/oidc/done', async (request, reply) => {
      const answer = await deps.router.json('POST', '/v1/auth/sessions', {
        body: { method: 'code', code: String(request.query.code ?? '') },
      });
      if (answer.status === 201) return opened(reply, answer.body);
      return signInPage(reply.status(401), { error: 'Single sign-on did not complete; try again' });
    });
    app.post<{ Body: { csrf?: string } }>('/sign-out', async (request, reply) => {
      const session = await sessionOf(request, deps.sessions);
      if (session) {
        if (!csrfMatches(session, request.body?.csrf))
          return reply.status(403).send({ error: { code: 'csrf_failed', message: 'Reload the page and try again' } });
        await deps.sessions.close(session.id);
        await deps.router
          .json('DELETE', `/${session.projectId}/v1/auth/sessions/current`, { key: session.key })
          .catch(() => undefined);
      }
      return reply.header('set-cookie', cookie('', 0)).redirect('/sign-in', 303);
    });
    for (const [page, meta] of Object.entries(PAGES))
      app.get(`/${page}`, async (request, reply) => {
        const session = await sessionOf(request, deps.sessions);
        if (!session) return reply.redirect('/sign-in');
        return reply.view(`${page}.mustache`, {
          ...meta,
          page,
          csrf: session.csrf,
          person: session.person.displayName,
          projectSlug: session.projectSlug,
          endpoint: deps.endpoint,
          routerUrl: deps.routerUrl,
          tiers: SERVICE_TIERS,
          [`is${page[0]!.toUpperCase()}${page.slice(1)}`]: true,
        });
      });
  };
}
