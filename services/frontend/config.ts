import { LOG_LEVELS } from '../runtime/config/common-keys.js';
import { defineConfigSchema, type ConfigOf, type CrossKeyProblem } from '../runtime/config/spec.js';

/**
 * The web UI's settings (XEROTIER_FRONTEND_*): where the router is, where to listen, TLS, where
 * sessions live. It holds no database and no API key of its own: every call it makes is a
 * signed-in person's, under their session key, which never reaches the browser.
 */
export const frontendConfigSchema = defineConfigSchema({
  service: 'frontend',
  file: { defaultPath: '/etc/xerotier/frontend.yaml' },
  keys: {
    router_url: {
      kind: 'url',
      protocols: ['http', 'https'],
      env: 'XEROTIER_FRONTEND_ROUTER_URL',
      required: true,
      description: "The router's HTTP(S) API, as this process reaches it",
    },
    public_router_url: {
      kind: 'url',
      protocols: ['http', 'https'],
      env: 'XEROTIER_FRONTEND_PUBLIC_ROUTER_URL',
      description: "The router's URL as agents and people reach it, shown in install commands; router_url when unset",
    },
    project: {
      kind: 'string',
      env: 'XEROTIER_FRONTEND_PROJECT',
      description: 'The project people sign in to (its id or slug); unset, the sign-in form asks for it',
    },
    chat_endpoint: {
      kind: 'string',
      env: 'XEROTIER_FRONTEND_CHAT_ENDPOINT',
      default: 'default',
      description: 'The endpoint (its slug) chats run on',
    },
    http_host: {
      kind: 'string',
      env: 'XEROTIER_FRONTEND_HTTP_HOST',
      default: '0.0.0.0',
      description: 'Address the web UI listens on',
    },
    http_port: {
      kind: 'port',
      env: 'XEROTIER_FRONTEND_HTTP_PORT',
      default: 8090,
      description: 'Port the web UI listens on (0 picks a free one)',
    },
    tls_cert_path: {
      kind: 'path',
      env: 'XEROTIER_FRONTEND_TLS_CERT_PATH',
      description: 'PEM certificate chain; with tls_key_path the UI serves HTTPS and its cookie is Secure',
    },
    tls_key_path: {
      kind: 'path',
      env: 'XEROTIER_FRONTEND_TLS_KEY_PATH',
      description: 'PEM private key for tls_cert_path',
    },
    secure_cookies: {
      kind: 'boolean',
      env: 'XEROTIER_FRONTEND_SECURE_COOKIES',
      default: false,
      description:
        'Mark the session cookie Secure although this process serves plain HTTP (TLS ends at a proxy in front)',
    },
    redis_url: {
      kind: 'url',
      protocols: ['redis', 'rediss'],
      env: 'XEROTIER_FRONTEND_REDIS_URL',
      secret: true,
      envOnly: true,
      description:
        'Redis for browser sessions, shared by every UI replica and kept across restarts; unset, sessions live in this process',
    },
    session_secret: {
      kind: 'string',
      env: 'XEROTIER_FRONTEND_SESSION_SECRET',
      secret: true,
      envOnly: true,
      pattern: /^(?:[0-9a-fA-F]{64}|[A-Za-z0-9+/]{43}=)$/,
      patternHint: 'a 32-byte key as 64 hex characters or 44 base64 characters',
      description:
        'The key sessions in Redis are indexed and sealed under (required with redis_url); rotating it signs everyone out',
    },
    session_idle_seconds: {
      kind: 'integer',
      env: 'XEROTIER_FRONTEND_SESSION_IDLE_SECONDS',
      default: 3_600,
      min: 60,
      max: 604_800,
      description: 'A browser session unused this long is forgotten (and its router session revoked)',
    },
    log_level: {
      kind: 'enum',
      values: LOG_LEVELS,
      env: 'XEROTIER_FRONTEND_LOG_LEVEL',
      default: 'info',
      description: 'Log verbosity: trace, debug, info, notice, warning, error',
    },
    shutdown_grace_seconds: {
      kind: 'integer',
      env: 'XEROTIER_FRONTEND_SHUTDOWN_GRACE_SECONDS',
      default: 15,
      min: 0,
      max: 3_600,
      description: 'Time to let open streams and requests finish on SIGTERM before forcing exit',
    },
  },
  check(config): CrossKeyProblem[] {
    const problems: CrossKeyProblem[] = [];
    if ((config.tls_cert_path === undefined) !== (config.tls_key_path === undefined))
      problems.push({ key: 'tls_cert_path', expected: 'tls_cert_path and tls_key_path to be set together' });
    if (config.redis_url !== undefined && config.session_secret === undefined)
      problems.push({ key: 'session_secret', expected: 'a value because redis_url is set' });
    return problems;
  },
});

export type FrontendConfig = ConfigOf<typeof frontendConfigSchema.keys>;
