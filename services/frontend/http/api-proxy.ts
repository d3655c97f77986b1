import type { FastifyInstance } from 'fastify';
import type { RouterClient } from '../router-client.js';
import { csrfMatches, type BrowserSession, type SessionStore } from '../sessions/session.js';
import { sessionOf } from './pages.js';
import { relay } from './relay.js';
import { sameOrigin } from './security.js';

/**
 * What the browser may reach of the router, below the signed-in project: its v1 API and an
 * endpoint's Responses and models. Anything else (other projects, enrollment, sign-in) is not proxied.
 */
const PROXIED = /^(v1\/[A-Za-z0-9_.\-/]*|[a-z0-9][a-z0-9-]{0,62}\/v1\/(responses|models)[A-Za-z0-9_.\-/]*)$/;
const REQUEST_HEADERS = ['accept', 'x-xerotier-events'];
const REFRESH_BEFORE_MS = 30 * 60_000;

export interface ApiProxyDeps {
  readonly router: RouterClient;
  readonly sessions: SessionStore;
  readonly now: () => number;
  /** Turn streams read on after their browser left; aborted when the UI shuts down. */
  readonly drains: Set<AbortController>;
}

const envelope = (code: string, message: string) => ({ error: { code, message } });

/**
 * `/api/*`: the browser's calls, forwarded to the router under the person's session key with
 * the project filled in. The proxy checks only who is calling (the session, its CSRF token on
 * every mutation); what they may do is the router's decision, its answer relayed as it is.
 */
export function apiProxyRoutes(deps: ApiProxyDeps) {
  return async function register(app: FastifyInstance): Promise<void> {
    // Bodies pass through as the browser wrote them: the router validates them.
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => done(null, body));
    app.all<{ Params: { '*': string } }>('/*', async (request, reply) => {
      const session = await sessionOf(request, deps.sessions);
      if (!session) return reply.status(401).send(envelope('not_signed_in', 'Sign in again'));
      const path = request.params['*'];
      if (!PROXIED.test(path) || path.includes('..'))
        return reply.status(404).send(envelope('not_found', 'Not something this UI reaches'));
      const mutation = request.method !== 'GET' && request.method !== 'HEAD';
      if (
        mutation &&
        (!csrfMatches(session, request.headers['x-csrf-token']) || !sameOrigin(request.headers, request.headers.host))
      )
        return reply.status(403).send(envelope('csrf_failed', 'This page is out of date: reload it and try again'));
      await refreshIfDue(deps, session);
      const stop = new AbortController();
      const headers = forwarded(request.headers, request.url);
      const answer = await deps.router
        .raw(request.method, `/${session.projectId}/${path}${queryOf(request.url, request.headers['last-event-id'])}`, {
          key: session.key,
          headers,
          ...(typeof request.body === 'string' ? { body: request.body } : {}),
          signal: stop.signal,
        })
        .catch(() => undefined);
      if (!answer)
        return reply.status(502).send(envelope('router_unreachable', 'The router did not answer; try again'));
      if (answer.status === 401) await deps.sessions.close(session.id);
      // Only a turn being created is kept alive without its browser; replays and the rest stop.
      const turn = request.method === 'POST' && /\/v1\/responses$/.test(path);
      return relay(request, reply, answer, stop, turn ? deps.drains : undefined);
    });
  };
}

/** The headers passed on; `x_events` in the query stands for the opt-in header EventSource cannot send. */
function forwarded(headers: Record<string, string | string[] | undefined>, url: string): Record<string, string> {
  const passed: Record<string, string> = {};
  for (const name of REQUEST_HEADERS) {
    const value = headers[name];
    if (typeof value === 'string') passed[name] = value;
  }
  const events = new URLSearchParams(url.slice(url.indexOf('?') + 1 || url.length)).get('x_events');
  if (events && /^[a-z,]{1,40}$/.test(events)) passed['x-xerotier-events'] = events;
  return passed;
}

/** The query as the browser sent it; a reconnecting stream's Last-Event-ID becomes `starting_after`. */
function queryOf(url: string, lastEventId: string | string[] | undefined): string {
  const at = url.indexOf('?');
  const query = new URLSearchParams(at < 0 ? '' : url.slice(at + 1));
  query.delete('x_events');
  if (typeof lastEventId === 'string' && /^\d{1,12}$/.test(lastEventId)) query.set('starting_after', lastEventId);
  const text = query.toString();
  return text ? `?${text}` : '';
}

/** A router session close to lapsing is refreshed while its person is active. */
async function refreshIfDue(deps: ApiProxyDeps, session: BrowserSession): Promise<void> {
  if (session.expiresAtMs - deps.now() > REFRESH_BEFORE_MS) return;
  const refreshed = await deps.router
    .json('POST', `/${session.projectId}/v1/auth/sessions/current/refresh`, { key: session.key })
    .catch(() => undefined);
  if (refreshed?.status === 200 && typeof refreshed.body['expires_at'] === 'string') {
    session.expiresAtMs = Date.parse(refreshed.body['expires_at']);
    await deps.sessions.save(session);
  }
}
