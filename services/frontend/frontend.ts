import { readTlsFiles } from '../runtime/tls-files.js';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import formBody from '@fastify/formbody';
import view from '@fastify/view';
import Fastify, { type FastifyInstance } from 'fastify';
import mustache from 'mustache';
import type { Logger } from '../runtime/logger.js';
import type { FrontendConfig } from './config.js';
import { apiProxyRoutes } from './http/api-proxy.js';
import { assetRoutes } from './http/assets.js';
import { mockupProxyRoutes } from './http/mockup-proxy.js';
import { pageRoutes } from './http/pages.js';
import { securityHeaders } from './http/security.js';
import { createRouterClient, type RouterClient } from './router-client.js';
import { atRestKey } from '../runtime/sealed.js';
import { createMemorySessionStore } from './sessions/memory-store.js';
import { createRedisSessionStore } from './sessions/redis-store.js';
import { SessionStoreUnavailable, type SessionStore } from './sessions/session.js';

const HERE = dirname(fileURLToPath(import.meta.url));
/** Views and browser scripts live beside this module (the build copies them beside its output). */
const SOURCES = HERE;

export interface FrontendSettings {
  readonly routerUrl: string;
  readonly publicRouterUrl: string;
  readonly project: string | undefined;
  readonly endpoint: string;
  readonly host: string;
  readonly port: number;
  readonly tls: { readonly cert: Buffer; readonly key: Buffer } | undefined;
  readonly secureCookies: boolean;
  readonly sessionIdleMs: number;
  /** Redis and the session secret, when sessions are shared between replicas. */
  readonly sessionRedis: { readonly url: string; readonly secret: Buffer } | undefined;
  /** Values the logger redacts wherever they appear. */
  readonly secrets: readonly string[];
  readonly shutdownGraceMs: number;
}

export function compileFrontendSettings(config: FrontendConfig): FrontendSettings {
  const tls = readTlsFiles(config.tls_cert_path, config.tls_key_path);
  return Object.freeze({
    routerUrl: config.router_url,
    publicRouterUrl: config.public_router_url ?? config.router_url,
    project: config.project,
    endpoint: config.chat_endpoint,
    host: config.http_host,
    port: config.http_port,
    tls,
    secureCookies: config.secure_cookies || tls !== undefined,
    sessionIdleMs: config.session_idle_seconds * 1_000,
    sessionRedis:
      config.redis_url !== undefined && config.session_secret !== undefined
        ? { url: config.redis_url, secret: atRestKey(config.session_secret) }
        : undefined,
    secrets: [config.redis_url, config.session_secret].filter((value): value is string => value !== undefined),
    shutdownGraceMs: config.shutdown_grace_seconds * 1_000,
  });
}

export interface Frontend {
  readonly app: FastifyInstance;
  start(): Promise<string>;
  close(): Promise<void>;
}

/** Builds the web UI without starting it. */
export function createFrontend(
  settings: FrontendSettings,
  deps: {
    logger: Logger;
    now?: () => number;
    router?: RouterClient;
    /** Keeps UIs sharing one Redis apart (tests). @default 'xerotier:ui:session:' */
    sessionPrefix?: string;
  },
): Frontend {
  const now = deps.now ?? Date.now;
  const router = deps.router ?? createRouterClient(settings.routerUrl);
  const sessions: SessionStore = settings.sessionRedis
    ? createRedisSessionStore({
        ...settings.sessionRedis,
        idleMs: settings.sessionIdleMs,
        now,
        logger: deps.logger,
        ...(deps.sessionPrefix ? { prefix: deps.sessionPrefix } : {}),
      })
    : createMemorySessionStore(settings.sessionIdleMs, now);
  const drains = new Set<AbortController>();
  const app = Fastify({
    ...(settings.tls ? { https: { cert: settings.tls.cert, key: settings.tls.key } } : {}),
    logger: false,
    bodyLimit: 1024 * 1024,
  }) as unknown as FastifyInstance;
  securityHeaders(app);
  answerErrors(app, deps.logger);
  void app.register(formBody);
  void app.register(view, {
    engine: { mustache },
    root: join(SOURCES, 'views'),
    options: {
      partials: { head: 'partials/head.mustache', nav: 'partials/nav.mustache', foot: 'partials/foot.mustache' },
    },
    production: true,
  });
  app.get('/healthz', async () => ({ status: 'ok' }));
  void app.register(assetRoutes(join(SOURCES, 'public')));
  void app.register(
    pageRoutes({
      router,
      sessions,
      project: settings.project,
      endpoint: settings.endpoint,
      routerUrl: settings.publicRouterUrl,
      secureCookies: settings.secureCookies,
      now,
    }),
  );
  void app.register(apiProxyRoutes({ router, sessions, now, drains }), { prefix: '/api' });
  void app.register(mockupProxyRoutes({ router }), { prefix: '/mockup-preview' });
  const sweeper = setInterval(() => {
    void sessions.sweep().then(
      (idle) => {
        for (const session of idle)
          void router
            .json('DELETE', `/${session.projectId}/v1/auth/sessions/current`, { key: session.key })
            .catch(() => undefined);
      },
      () => undefined,
    );
  }, 60_000);
  sweeper.unref();
  return {
    app,
    async start() {
      const address = await app.listen({ host: settings.host, port: settings.port });
      deps.logger.info({ url: address }, 'web UI listening');
      return address.replace('0.0.0.0', '127.0.0.1');
    },
    async close() {
      clearInterval(sweeper);
      // Open streams end when the server closes their connections; turns read on for a browser
      // that left are let go (each goes on in the router, or ends with its own shutdown).
      for (const drain of drains) drain.abort();
      await app.close();
      await sessions.quit();
    },
  };
}

/** Every failure in the documented envelope: a session store that does not answer is 503, never a 500. */
function answerErrors(app: FastifyInstance, logger: Logger): void {
  app.setNotFoundHandler(async (_request, reply) =>
    reply.status(404).send({ error: { code: 'not_found', message: 'No such page' } }),
  );
  app.setErrorHandler(async (error, _request, reply) => {
    if (error instanceof SessionStoreUnavailable) {
      logger.warning({ err: { message: error.message } }, 'session store unavailable');
      return reply
        .status(503)
        .header('retry-after', '5')
        .send({ error: { code: 'sessions_unavailable', message: 'Sign-in is unavailable for a moment; try again' } });
    }
    const status = (error as { statusCode?: number }).statusCode;
    if (status !== undefined && status >= 400 && status < 500)
      return reply.status(status).send({ error: { code: 'bad_request', message: (error as Error).message } });
    logger.error({ err: { message: (error as Error).message } }, 'web UI request failed');
    return reply.status(502).send({ error: { code: 'ui_failed', message: 'Something went wrong; try again' } });
  });
}
