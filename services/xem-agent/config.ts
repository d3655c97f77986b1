import { LOG_LEVELS, REGISTRATION_NAME_HINT, REGISTRATION_NAME_PATTERN } from '../runtime/config/common-keys.js';
import { defineConfigSchema, type ConfigOf } from '../runtime/config/spec.js';

/**
 * XEMAgentConfig: every setting of the execution agent. Precedence: built-in defaults <
 * /etc/xerotier/xem.yaml (or --config) < XEM_* environment < CLI flags. The metrics port is the
 * one exception: XEROTIER_XEM_METRICS_PORT, read before config (see xemMetricsPortSchema).
 */
export const xemAgentConfigSchema = defineConfigSchema({
  service: 'xem-agent',
  file: { defaultPath: '/etc/xerotier/xem.yaml' },
  keys: {
    router_url: {
      kind: 'url',
      protocols: ['https', 'http'],
      env: 'XEM_ROUTER_URL',
      required: true,
      description: 'HTTPS endpoint of the router used for enrollment and the data plane',
    },
    join_key: {
      kind: 'string',
      env: 'XEM_JOIN_KEY',
      required: true,
      secret: true,
      description: 'One-shot enrollment token issued by the router; consumed on first boot',
    },
    registration_name: {
      kind: 'string',
      env: 'XEM_REGISTRATION_NAME',
      required: true,
      maxLength: 48,
      pattern: REGISTRATION_NAME_PATTERN,
      patternHint: REGISTRATION_NAME_HINT,
      description: 'Stable display name the router uses to track this agent across restarts',
    },
    lease_renewal_interval_ms: {
      kind: 'integer',
      env: 'XEM_LEASE_RENEWAL_INTERVAL_MS',
      default: 10_000,
      min: 100,
      max: 600_000,
      description: 'Cadence (milliseconds) for lease renewal messages to the router',
    },
    shutdown_grace_seconds: {
      kind: 'integer',
      env: 'XEM_SHUTDOWN_GRACE_SECONDS',
      default: 30,
      min: 0,
      max: 3_600,
      description: 'Time to wait for in-flight executions on SIGTERM before forcing exit',
    },
    max_concurrent_executions: {
      kind: 'integer',
      env: 'XEM_MAX_CONCURRENT_EXECUTIONS',
      default: 20,
      min: 1,
      max: 10_000,
      description: 'Ceiling on simultaneous tool executions handled by the agent',
    },
    log_level: {
      kind: 'enum',
      values: LOG_LEVELS,
      env: 'XEM_LOG_LEVEL',
      default: 'info',
      description: 'Log verbosity: trace, debug, info, notice, warning, error',
    },
    tools_dir: {
      kind: 'path',
      env: 'XEM_TOOLS_DIR',
      default: '/var/lib/xerotier/tools',
      description: 'Directory of tool bundles the agent loads at startup',
    },
    credentials_dir: {
      kind: 'path',
      env: 'XEM_CREDENTIALS_DIR',
      default: '/var/lib/xerotier/credentials',
      description: 'Directory of per-workspace credential files referenced by credentials_ref',
    },
    signing_key_path: {
      kind: 'path',
      env: 'XEM_SIGNING_KEY_PATH',
      default: '/var/lib/xerotier/agent-signing-key.hex',
      description: 'Persisted Ed25519 signing-key file used to sign messages to the router',
    },
    curve_key_path: {
      kind: 'path',
      env: 'XEM_CURVE_KEY_PATH',
      default: '/var/lib/xerotier/agent-curve-key.hex',
      description: 'Persisted CURVE key-agreement private-key file',
    },
    queue_db_path: {
      kind: 'path',
      env: 'XEM_QUEUE_DB_PATH',
      default: '/var/lib/xerotier/state/queue.sqlite',
      description: 'SQLite file backing the outbound dispatch queue (outbox)',
    },
    router_auth_token: {
      kind: 'string',
      env: 'XEM_ROUTER_AUTH_TOKEN',
      secret: true,
      description: 'Bearer token for router-callback tools; unset leaves them unavailable (router_callback_missing)',
    },
    project_external_id: {
      kind: 'string',
      env: 'XEM_PROJECT_EXTERNAL_ID',
      maxLength: 128,
      pattern: /^[A-Za-z0-9_-]+$/,
      patternHint: 'an external project id such as proj_abc123 (letters, digits, _ and -)',
      description: 'External project id attached to router callbacks for project-scoped routing',
    },
  },
});

export type XEMAgentConfig = ConfigOf<typeof xemAgentConfigSchema.keys>;

/**
 * Settings the XEM CLI reads from the environment before config is materialised:
 * XEROTIER_XEM_METRICS_PORT (the only XEROTIER_XEM_* name the agent honours) and the agents'
 * shared development switch XEROTIER_AGENT_ALLOW_INSECURE.
 */
export const xemMetricsPortSchema = defineConfigSchema({
  service: 'xem-agent',
  keys: {
    metrics_port: {
      kind: 'port',
      env: 'XEROTIER_XEM_METRICS_PORT',
      default: 9095,
      description: 'TCP port for the Prometheus metrics HTTP server (0 picks a free port)',
    },
    allow_insecure: {
      kind: 'boolean',
      env: 'XEROTIER_AGENT_ALLOW_INSECURE',
      default: false,
      description: 'Allow a non-HTTPS router URL (development only)',
    },
  },
});
