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
import { SessionStore } from './sessions.js';

const HERE = dirname(fileURLToPath(import.meta.url));
/** Views and browser scripts live beside the sources (copied beside the build's output). */
const SOURCES = HERE.includes(`${join('dist', 'services')}`)
  ? HERE.replace(`${join('dist', 'services')}`, 'services')
  : HERE;

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
  deps: { logger: Logger; now?: () => number; router?: RouterClient },
): Frontend {
  const now = deps.now ?? Date.now;
  const router = deps.router ?? createRouterClient(settings.routerUrl);
  const sessions = new SessionStore(settings.sessionIdleMs, now);
  const drains = new Set<AbortController>();
  const app = Fastify({
    ...(settings.tls ? { https: { cert: settings.tls.cert, key: settings.tls.key } } : {}),
    logger: false,
    bodyLimit: 1024 * 1024,
  }) as unknown as FastifyInstance;
  securityHeaders(app);
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
    for (const idle of sessions.sweep())
      void router
        .json('DELETE', `/${idle.projectId}/v1/auth/sessions/current`, { key: idle.key })
        .catch(() => undefined);
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
    },
  };
}
