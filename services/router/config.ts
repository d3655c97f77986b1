import { LOG_LEVELS } from '../runtime/config/common-keys.js';
import { defineConfigSchema, type ConfigOf, type CrossKeyProblem } from '../runtime/config/spec.js';
import { parseRoleMap } from './people/oidc-rules.js';
import { isRole } from './people/roles.js';

/**
 * RouterConfig: the router's own settings (XEROTIER_*). Layering as for the agents: defaults <
 * /etc/xerotier/router.yaml (or --config) < env < flags. Secrets are env-or-flag only.
 */
export const routerConfigSchema = defineConfigSchema({
  service: 'router',
  file: { defaultPath: '/etc/xerotier/router.yaml' },
  keys: {
    database_url: {
      kind: 'url',
      protocols: ['postgres', 'postgresql'],
      env: 'XEROTIER_DATABASE_URL',
      required: true,
      secret: true,
      envOnly: true,
      description: 'PostgreSQL connection URL (holds all durable state)',
    },
    database_pool_max: {
      kind: 'integer',
      env: 'XEROTIER_DATABASE_POOL_MAX',
      default: 20,
      min: 1,
      max: 1_000,
      description: 'Largest number of pooled Postgres connections',
    },
    redis_url: {
      kind: 'url',
      protocols: ['redis', 'rediss'],
      env: 'XEROTIER_REDIS_URL',
      secret: true,
      envOnly: true,
      description: 'Redis URL; required when cache_backend is redis',
    },
    cache_backend: {
      kind: 'enum',
      values: ['memory', 'redis'],
      env: 'XEROTIER_CACHE_BACKEND',
      default: 'memory',
      description: 'Where rate-limit windows and caches live: memory (one process) or redis (shared by replicas)',
    },
    api_rate_limit_rpm: {
      kind: 'integer',
      env: 'XEROTIER_API_RATE_LIMIT_RPM',
      default: 600,
      min: 0,
      max: 1_000_000,
      description: 'Requests per minute allowed per API key (0 disables the per-key limit)',
    },
    exec_rate_limit_global_rpm: {
      kind: 'integer',
      env: 'XEROTIER_EXEC_RATE_LIMIT_GLOBAL_RPM',
      default: 120_000,
      min: 0,
      max: 100_000_000,
      description: 'Invocations per minute across every project (0: no limit)',
    },
    exec_rate_limit_project_rpm: {
      kind: 'integer',
      env: 'XEROTIER_EXEC_RATE_LIMIT_PROJECT_RPM',
      default: 12_000,
      min: 0,
      max: 100_000_000,
      description: 'Invocations per minute per project (0: no limit)',
    },
    exec_rate_limit_workspace_rpm: {
      kind: 'integer',
      env: 'XEROTIER_EXEC_RATE_LIMIT_WORKSPACE_RPM',
      default: 6_000,
      min: 0,
      max: 100_000_000,
      description: 'Invocations per minute per workspace (0: no limit)',
    },
    exec_rate_limit_agent_rpm: {
      kind: 'integer',
      env: 'XEROTIER_EXEC_RATE_LIMIT_AGENT_RPM',
      default: 6_000,
      min: 0,
      max: 100_000_000,
      description: 'Dispatches per minute to one XEM agent; past it, calls wait queued (0: no limit)',
    },
    heartbeat_timeout_ms: {
      kind: 'integer',
      env: 'XEROTIER_ROUTER_HEARTBEAT_TIMEOUT_MS',
      default: 30_000,
      min: 100,
      max: 3_600_000,
      description: 'Time without a lease renewal after which an agent is stale',
    },
    lease_renewal_interval_ms: {
      kind: 'integer',
      env: 'XEROTIER_ROUTER_LEASE_RENEWAL_INTERVAL_MS',
      default: 10_000,
      min: 100,
      max: 600_000,
      description: 'Lease renewal interval handed to agents at enrollment',
    },
    completion_encryption_key: {
      kind: 'string',
      env: 'XEROTIER_COMPLETION_ENCRYPTION_KEY',
      required: true,
      secret: true,
      envOnly: true,
      pattern: /^(?:[0-9a-fA-F]{64}|[A-Za-z0-9+/]{43}=)$/,
      patternHint: 'a 32-byte key as 64 hex characters or 44 base64 characters',
      description: 'At-rest encryption key for stored completions and credentials',
    },
    token_signing_key: {
      kind: 'string',
      env: 'XEROTIER_TOKEN_SIGNING_KEY',
      required: true,
      secret: true,
      envOnly: true,
      pattern: /^[0-9a-fA-F]{64}$/,
      patternHint: 'an Ed25519 seed as 64 hex characters',
      description:
        'Signs agent bearer tokens (EdDSA). Rotate with an overlap: the old key goes to token_signing_key_previous',
    },
    token_signing_key_previous: {
      kind: 'string',
      env: 'XEROTIER_TOKEN_SIGNING_KEY_PREVIOUS',
      secret: true,
      envOnly: true,
      pattern: /^[0-9a-fA-F]{64}$/,
      patternHint: 'an Ed25519 seed as 64 hex characters',
      description:
        'During a rotation, the key tokens were signed with before: still accepted (never used to sign) until removed; agents move to the new key at their next refresh',
    },
    curve_secret_key: {
      kind: 'string',
      env: 'XEROTIER_ROUTER_CURVE_SECRET_KEY',
      required: true,
      secret: true,
      envOnly: true,
      pattern: /^[0-9a-zA-Z.\-:+=^!/*?&<>()[\]{}@%$#]{40}$/,
      patternHint: 'a CURVE secret key as 40 Z85 characters',
      description: "The mesh server's CURVE secret key; its public half is derived and handed to agents at enrollment",
    },
    curve_secret_key_next: {
      kind: 'string',
      env: 'XEROTIER_ROUTER_CURVE_SECRET_KEY_NEXT',
      secret: true,
      envOnly: true,
      pattern: /^[0-9a-zA-Z.\-:+=^!/*?&<>()[\]{}@%$#]{40}$/,
      patternHint: 'a CURVE secret key as 40 Z85 characters',
      description:
        'During a CURVE key rotation: the next key, served on mesh_next_bind beside the current one and announced to agents (docs/fleet.md)',
    },
    mesh_next_bind: {
      kind: 'string',
      env: 'XEROTIER_MESH_NEXT_BIND',
      pattern: /^tcp:\/\/[^/\s]+:(\d{1,5}|\*)$/,
      patternHint: 'a ZeroMQ TCP endpoint such as tcp://0.0.0.0:5556',
      description: 'Where the mesh serves curve_secret_key_next during a rotation (after it, this becomes mesh_bind)',
    },
    mesh_next_public_endpoint: {
      kind: 'url',
      protocols: ['tcp'],
      env: 'XEROTIER_MESH_NEXT_PUBLIC_ENDPOINT',
      description: 'Endpoint agents are told to dial for the next key (default: mesh_next_bind)',
    },
    audit_signing_key: {
      kind: 'string',
      env: 'XEROTIER_AUDIT_SIGNING_KEY',
      required: true,
      secret: true,
      envOnly: true,
      pattern: /^[0-9a-fA-F]{64}$/,
      patternHint: 'an Ed25519 seed as 64 hex characters',
      description: 'Signs audit-chain checkpoints (Ed25519); `audit verify` checks them with its public half',
    },
    audit_checkpoint_dir: {
      kind: 'path',
      env: 'XEROTIER_AUDIT_CHECKPOINT_DIR',
      description:
        "Directory the router appends signed audit checkpoints to (checkpoints.jsonl); put it where the database's operators cannot rewrite it",
    },
    audit_checkpoint_interval_seconds: {
      kind: 'integer',
      env: 'XEROTIER_AUDIT_CHECKPOINT_INTERVAL_SECONDS',
      default: 60,
      min: 1,
      max: 86_400,
      description: 'How often the router signs a checkpoint of the audit chain head (when the chain grew)',
    },
    database_app_role: {
      kind: 'string',
      env: 'XEROTIER_DATABASE_APP_ROLE',
      default: 'xerotier_app',
      pattern: /^[a-z_][a-z0-9_]{0,62}$/,
      patternHint: 'a lower-case Postgres role name',
      description:
        'migrate: the role the router connects as; granted what it needs, and only INSERT and SELECT on the audit log',
    },
    database_app_password: {
      kind: 'string',
      env: 'XEROTIER_DATABASE_APP_PASSWORD',
      secret: true,
      envOnly: true,
      maxLength: 256,
      description:
        'migrate: creates the app role with this password (LOGIN) or sets it; unset, the role must already exist',
    },
    webhooks_allowed_targets: {
      kind: 'list',
      env: 'XEROTIER_WEBHOOKS_ALLOWED_TARGETS',
      default: [],
      description:
        'Host names or CIDR ranges webhooks may reach although they are loopback, private, link-local or metadata addresses (internal receivers)',
    },
    agent_token_ttl_seconds: {
      kind: 'integer',
      env: 'XEROTIER_AGENT_TOKEN_TTL_SECONDS',
      default: 3_600,
      min: 5,
      max: 86_400,
      description:
        'Lifetime of agent bearer tokens; agents refresh them before expiry, and after an outage past it prove their enrolled key for a new one',
    },
    webhooks_allow_http: {
      kind: 'boolean',
      env: 'XEROTIER_WEBHOOKS_ALLOW_HTTP',
      default: false,
      description: 'Development and tests only: accept plain-http webhook endpoint URLs (https is required otherwise)',
    },
    http_host: {
      kind: 'string',
      env: 'XEROTIER_HTTP_HOST',
      default: '0.0.0.0',
      description: 'Address the HTTP(S) API listens on',
    },
    http_port: {
      kind: 'port',
      env: 'XEROTIER_HTTP_PORT',
      default: 8080,
      description: 'Port the HTTP(S) API listens on (0 picks a free port)',
    },
    tls_cert_path: {
      kind: 'path',
      env: 'XEROTIER_TLS_CERT_PATH',
      description: 'PEM certificate chain; with tls_key_path the API serves HTTPS',
    },
    tls_key_path: {
      kind: 'path',
      env: 'XEROTIER_TLS_KEY_PATH',
      description: 'PEM private key for tls_cert_path',
    },
    mesh_bind: {
      kind: 'string',
      env: 'XEROTIER_MESH_BIND',
      default: 'tcp://0.0.0.0:5555',
      pattern: /^tcp:\/\/[^/\s]+:(\d{1,5}|\*)$/,
      patternHint: 'a ZeroMQ TCP endpoint such as tcp://0.0.0.0:5555 (port * picks a free one)',
      description: 'ZeroMQ endpoint the CURVE mesh binds',
    },
    mesh_public_endpoint: {
      kind: 'url',
      protocols: ['tcp'],
      env: 'XEROTIER_MESH_PUBLIC_ENDPOINT',
      description: 'Mesh endpoint agents are told to dial (default: mesh_bind)',
    },
    internal_url: {
      kind: 'url',
      protocols: ['http', 'https'],
      env: 'XEROTIER_ROUTER_INTERNAL_URL',
      description:
        "Where the other router replicas reach this one's HTTP server to hand it inference for the agents it holds (default: the address it listens on; in Kubernetes the pod's IP)",
    },
    metrics_host: {
      kind: 'string',
      env: 'XEROTIER_ROUTER_METRICS_HOST',
      default: '0.0.0.0',
      description: 'Address the Prometheus metrics server listens on',
    },
    metrics_port: {
      kind: 'port',
      env: 'XEROTIER_ROUTER_METRICS_PORT',
      default: 9092,
      description: 'Prometheus metrics port (0 picks a free port)',
    },
    bootstrap_project: {
      kind: 'string',
      env: 'XEROTIER_BOOTSTRAP_PROJECT',
      pattern: /^[a-z0-9][a-z0-9-]{0,62}$/,
      patternHint: 'a project slug (lower-case letters, digits and dashes)',
      description: 'Project created at start-up if missing, with its default workspace',
    },
    platform_project: {
      kind: 'string',
      env: 'XEROTIER_PLATFORM_PROJECT',
      pattern: /^[a-z0-9][a-z0-9_-]{0,62}$/,
      patternHint: 'a project slug or id',
      description:
        "The platform's own project (slug or id): its admins may mint platform-scope XIM join keys, whose agents serve every project; defaults to bootstrap_project",
    },
    bootstrap_admin_key_sha256: {
      kind: 'string',
      env: 'XEROTIER_BOOTSTRAP_ADMIN_KEY_SHA256',
      secret: true,
      pattern: /^[0-9a-f]{64}$/,
      patternHint: "64 hex characters: SHA-256 of the admin key's secret part",
      description:
        'Admin API key (all scopes) of the bootstrap project, given as a hash; the router never sees the key',
    },
    bootstrap_admin_email: {
      kind: 'string',
      env: 'XEROTIER_BOOTSTRAP_ADMIN_EMAIL',
      default: 'admin@localhost',
      pattern: /^[^@\s]+@[^@\s]+$/,
      patternHint: 'an email address',
      description: 'The bootstrap admin user who owns the bootstrap admin key (every role in the bootstrap project)',
    },
    auth_session_ttl_seconds: {
      kind: 'integer',
      env: 'XEROTIER_AUTH_SESSION_TTL_SECONDS',
      default: 43_200,
      min: 60,
      max: 604_800,
      description: 'How long a sign-in session key lives unless refreshed',
    },
    auth_session_max_seconds: {
      kind: 'integer',
      env: 'XEROTIER_AUTH_SESSION_MAX_SECONDS',
      default: 604_800,
      min: 60,
      max: 2_592_000,
      description: 'Refreshes never carry a session past this long after sign-in',
    },
    auth_lockout_failures: {
      kind: 'integer',
      env: 'XEROTIER_AUTH_LOCKOUT_FAILURES',
      default: 5,
      min: 1,
      max: 1_000,
      description: 'Failed password sign-ins on one account, within the lockout window, that lock it',
    },
    auth_lockout_seconds: {
      kind: 'integer',
      env: 'XEROTIER_AUTH_LOCKOUT_SECONDS',
      default: 900,
      min: 1,
      max: 86_400,
      description: 'How long a locked account stays locked (and the window its failures are counted in)',
    },
    auth_sign_in_per_minute: {
      kind: 'integer',
      env: 'XEROTIER_AUTH_SIGN_IN_PER_MINUTE',
      default: 20,
      min: 1,
      max: 100_000,
      description: 'Failed sign-ins allowed per source address per minute (per router process), whatever the account',
    },
    auth_oidc_issuer: {
      kind: 'url',
      protocols: ['https', 'http'],
      env: 'XEROTIER_AUTH_OIDC_ISSUER',
      description:
        'OpenID Connect issuer for single sign-on (discovered at first use); http only for a loopback issuer. Unset: password sign-in only',
    },
    auth_oidc_client_id: {
      kind: 'string',
      env: 'XEROTIER_AUTH_OIDC_CLIENT_ID',
      description: "The router's client id at the OIDC provider",
    },
    auth_oidc_client_secret: {
      kind: 'string',
      env: 'XEROTIER_AUTH_OIDC_CLIENT_SECRET',
      secret: true,
      envOnly: true,
      description: "The router's client secret at the OIDC provider",
    },
    auth_oidc_redirect_url: {
      kind: 'url',
      protocols: ['https', 'http'],
      env: 'XEROTIER_AUTH_OIDC_REDIRECT_URL',
      description: "This router's callback as registered with the provider: <public URL>/v1/auth/oidc/callback",
    },
    auth_oidc_project: {
      kind: 'string',
      env: 'XEROTIER_AUTH_OIDC_PROJECT',
      description: 'The project (slug or id) people signing in through OIDC join; defaults to bootstrap_project',
    },
    auth_oidc_allowed_domains: {
      kind: 'list',
      env: 'XEROTIER_AUTH_OIDC_ALLOWED_DOMAINS',
      default: [],
      description: 'Email domains allowed to sign in through OIDC (space-separated); empty: any verified email',
    },
    auth_oidc_scopes: {
      kind: 'list',
      env: 'XEROTIER_AUTH_OIDC_SCOPES',
      default: ['openid', 'email', 'profile'],
      description:
        'Scopes asked of the provider (space-separated); add the one that releases the roles claim, e.g. groups',
    },
    auth_oidc_roles_claim: {
      kind: 'string',
      env: 'XEROTIER_AUTH_OIDC_ROLES_CLAIM',
      default: 'groups',
      description: 'The ID token or userinfo claim holding group or role names',
    },
    auth_oidc_role_map: {
      kind: 'list',
      env: 'XEROTIER_AUTH_OIDC_ROLE_MAP',
      default: [],
      description:
        'Claim value to roles, as value=role+role entries (space-separated), e.g. platform-admins=admin+approver sre=operator+approver',
    },
    auth_oidc_default_roles: {
      kind: 'list',
      env: 'XEROTIER_AUTH_OIDC_DEFAULT_ROLES',
      default: [],
      description:
        'Roles of a newcomer whose claims map to none (space-separated); empty: they are refused until an admin adds them',
    },
    auth_redirect_allowed_origins: {
      kind: 'list',
      env: 'XEROTIER_AUTH_REDIRECT_ALLOWED_ORIGINS',
      default: [],
      description:
        "Origins (the web UI's) a finished OIDC sign-in may redirect to with its one-time code; loopback is always allowed",
    },
    bootstrap_join_keys: {
      kind: 'list',
      env: 'XEROTIER_BOOTSTRAP_JOIN_KEYS',
      secret: true,
      default: [],
      description:
        'Pre-provisioned join keys of the bootstrap project, as role:name:sha256hex entries (space-separated)',
    },
    log_level: {
      kind: 'enum',
      values: LOG_LEVELS,
      env: 'XEROTIER_LOG_LEVEL',
      default: 'info',
      description: 'Log verbosity: trace, debug, info, notice, warning, error',
    },
    learnings_extractor: {
      kind: 'enum',
      values: ['rule', 'model', 'off'],
      env: 'XEROTIER_LEARNINGS_EXTRACTOR',
      default: 'rule',
      description:
        "How finished chat turns teach their workspace: rule (each tool call's outcome, people's standing instructions), model (the turn's own model reads it, a second inference per turn), off",
    },
    shutdown_grace_seconds: {
      kind: 'integer',
      env: 'XEROTIER_SHUTDOWN_GRACE_SECONDS',
      default: 30,
      min: 0,
      max: 3_600,
      description: 'Time to drain in-flight requests on SIGTERM before forcing exit',
    },
  },
  check(config) {
    const problems: CrossKeyProblem[] = [];
    if (config.cache_backend === 'redis' && config.redis_url === undefined) {
      problems.push({
        key: 'redis_url',
        expected: 'a Redis URL because cache_backend is redis (set XEROTIER_REDIS_URL)',
      });
    }
    if (config.auth_oidc_issuer !== undefined) {
      for (const key of ['auth_oidc_client_id', 'auth_oidc_client_secret', 'auth_oidc_redirect_url'] as const)
        if (config[key] === undefined) problems.push({ key, expected: 'a value because auth_oidc_issuer is set' });
      if (config.auth_oidc_project === undefined && config.bootstrap_project === undefined)
        problems.push({
          key: 'auth_oidc_project',
          expected: 'a project because auth_oidc_issuer is set and bootstrap_project is not',
        });
      if (!config.auth_oidc_scopes.includes('openid'))
        problems.push({ key: 'auth_oidc_scopes', expected: 'a list that includes openid' });
      const issuer = new URL(config.auth_oidc_issuer);
      if (issuer.protocol === 'http:' && !['127.0.0.1', 'localhost', '[::1]'].includes(issuer.hostname))
        problems.push({ key: 'auth_oidc_issuer', expected: 'an https URL (http only for a loopback issuer)' });
      try {
        parseRoleMap(config.auth_oidc_role_map);
      } catch (error) {
        problems.push({ key: 'auth_oidc_role_map', expected: (error as Error).message });
      }
      const unknown = config.auth_oidc_default_roles.filter((role) => !isRole(role));
      if (unknown.length > 0)
        problems.push({
          key: 'auth_oidc_default_roles',
          expected: `roles among viewer, operator, approver, admin (not ${unknown.join(', ')})`,
        });
    }
    for (const origin of config.auth_redirect_allowed_origins) {
      if (!URL.canParse(origin) || !/^https?:$/.test(new URL(origin).protocol))
        problems.push({
          key: 'auth_redirect_allowed_origins',
          expected: `http(s) origins (not ${origin.slice(0, 80)})`,
        });
    }
    if (config.auth_session_ttl_seconds > config.auth_session_max_seconds) {
      problems.push({ key: 'auth_session_ttl_seconds', expected: 'at most auth_session_max_seconds' });
    }
    if ((config.tls_cert_path === undefined) !== (config.tls_key_path === undefined)) {
      problems.push({ key: 'tls_cert_path', expected: 'tls_cert_path and tls_key_path to be set together' });
    }
    if ((config.curve_secret_key_next === undefined) !== (config.mesh_next_bind === undefined)) {
      problems.push({
        key: config.curve_secret_key_next === undefined ? 'curve_secret_key_next' : 'mesh_next_bind',
        expected: 'set together with the other: a rotation serves the next CURVE key on its own endpoint',
      });
    }
    if (config.mesh_next_bind !== undefined && config.mesh_next_bind === config.mesh_bind) {
      problems.push({ key: 'mesh_next_bind', expected: 'an endpoint other than mesh_bind' });
    }
    if (config.heartbeat_timeout_ms <= config.lease_renewal_interval_ms) {
      problems.push({ key: 'heartbeat_timeout_ms', expected: 'a timeout longer than lease_renewal_interval_ms' });
    }
    if (
      (config.bootstrap_admin_key_sha256 !== undefined || config.bootstrap_join_keys.length > 0) &&
      config.bootstrap_project === undefined
    ) {
      problems.push({
        key: 'bootstrap_project',
        expected: 'a project slug because a bootstrap admin key or join keys are set',
      });
    }
    const badJoinKey = config.bootstrap_join_keys.find(
      (entry) => !/^(xem|xim):[A-Za-z0-9][A-Za-z0-9_.-]{0,99}:[0-9a-f]{64}$/.test(entry),
    );
    if (badJoinKey !== undefined)
      problems.push({
        key: 'bootstrap_join_keys',
        expected: 'entries of the form role:name:sha256hex (role xem or xim)',
      });
    return problems;
  },
});

export type RouterConfig = ConfigOf<typeof routerConfigSchema.keys>;
