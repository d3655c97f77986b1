import { readTlsFiles } from '../runtime/tls-files.js';
import type { BootstrapJoinKey } from './store/bootstrap.js';
import { parseBootstrapJoinKeys } from './store/bootstrap.js';
import type { HandshakeBudgetOptions } from './mesh/handshake-budget.js';
import type { RouterConfig } from './config.js';
import type { IdentitySettings } from './people/settings.js';
import type { OidcSettings } from './people/oidc.js';
import { parseRoleMap } from './people/oidc-rules.js';
import type { Role } from './people/roles.js';
import type { LearningsExtraction } from './loop/learning.js';

/**
 * Everything the router runs on, compiled once from its config (milliseconds, keys, TLS files
 * read, bootstrap entries parsed) and frozen: the composition root (router.ts) reads only this.
 * `tuning` holds what the config does not expose (poll and sweep cadences), which tests set.
 */
export interface RouterSettings {
  readonly databaseUrl: string;
  readonly databasePoolMax: number;
  readonly http: {
    readonly host: string;
    readonly port: number;
    readonly tls: { readonly cert: Buffer; readonly key: Buffer } | undefined;
  };
  readonly metrics: { readonly host: string; readonly port: number };
  /** Where other replicas hand this one inference for its agents; the listening address when unset. */
  readonly internalUrl: string | undefined;
  readonly mesh: {
    readonly bind: string;
    readonly publicEndpoint: string | undefined;
    readonly curveSecretKey: string;
    readonly leaseRenewalIntervalMs: number;
    readonly heartbeatTimeoutMs: number;
    readonly refreshIntervalMs: number;
    readonly handshakeBudget: HandshakeBudgetOptions | undefined;
    readonly scrambleAutoIds: boolean;
    /** A CURVE rotation in progress: the next key, served on its own endpoint beside the current one. */
    readonly next:
      | { readonly curveSecretKey: string; readonly bind: string; readonly publicEndpoint: string | undefined }
      | undefined;
  };
  readonly agentTokens: {
    readonly signingKey: string;
    /** The key before a rotation: verifies, never signs (XEROTIER_TOKEN_SIGNING_KEY_PREVIOUS). */
    readonly previousSigningKey: string | undefined;
    readonly ttlSeconds: number;
  };
  readonly exec: {
    readonly dispatchTtlMs: number;
    readonly pollIntervalMs: number;
    readonly watchdogIntervalMs: number;
  };
  readonly limits: {
    readonly backend: 'memory' | 'redis';
    readonly redisUrl: string | undefined;
    readonly apiKeyRpm: number;
    readonly exec: {
      readonly global: number;
      readonly project: number;
      readonly workspace: number;
      readonly agent: number;
    };
  };
  readonly encryptionKey: string;
  readonly webhooks: {
    readonly allowHttp: boolean;
    readonly allowedTargets: readonly string[];
    readonly intervalMs: number;
  };
  readonly audit: {
    readonly signingKey: string;
    readonly checkpointDir: string | undefined;
    readonly checkpointIntervalMs: number;
  };
  /** The project whose admins may enroll shared (platform-scope) XIM agents; none: no shared fleet. */
  readonly platformProject: string | undefined;
  readonly bootstrap:
    | {
        readonly projectSlug: string;
        readonly adminKeySha256: string | undefined;
        readonly adminEmail: string;
        readonly joinKeys: readonly BootstrapJoinKey[];
      }
    | undefined;
  /** Sign-in and sessions (people/settings.ts). */
  readonly identity: IdentitySettings;
  /** Single sign-on; undefined when no issuer is set. */
  readonly oidc: OidcSettings | undefined;
  /** How finished chat turns teach their workspace (loop/learning.ts). */
  readonly learnings: LearningsExtraction;
  readonly shutdownGraceMs: number;
  /** Values to scrub from every log line and error. */
  readonly secrets: readonly string[];
}

export interface RouterTuning {
  readonly exec?: Partial<RouterSettings['exec']>;
  readonly mesh?: Partial<Pick<RouterSettings['mesh'], 'refreshIntervalMs' | 'handshakeBudget' | 'scrambleAutoIds'>>;
  readonly webhooks?: Partial<Pick<RouterSettings['webhooks'], 'intervalMs'>>;
}

export function compileRouterSettings(config: RouterConfig, tuning: RouterTuning = {}): RouterSettings {
  const tls = readTlsFiles(config.tls_cert_path, config.tls_key_path);
  return deepFreeze({
    databaseUrl: config.database_url,
    databasePoolMax: config.database_pool_max,
    http: { host: config.http_host, port: config.http_port, tls },
    metrics: { host: config.metrics_host, port: config.metrics_port },
    internalUrl: config.internal_url,
    mesh: {
      bind: config.mesh_bind,
      publicEndpoint: config.mesh_public_endpoint,
      curveSecretKey: config.curve_secret_key,
      leaseRenewalIntervalMs: config.lease_renewal_interval_ms,
      heartbeatTimeoutMs: config.heartbeat_timeout_ms,
      refreshIntervalMs: tuning.mesh?.refreshIntervalMs ?? 5_000,
      handshakeBudget: tuning.mesh?.handshakeBudget,
      scrambleAutoIds: tuning.mesh?.scrambleAutoIds ?? true,
      next:
        config.curve_secret_key_next === undefined || config.mesh_next_bind === undefined
          ? undefined
          : {
              curveSecretKey: config.curve_secret_key_next,
              bind: config.mesh_next_bind,
              publicEndpoint: config.mesh_next_public_endpoint,
            },
    },
    agentTokens: {
      signingKey: config.token_signing_key,
      previousSigningKey: config.token_signing_key_previous,
      ttlSeconds: config.agent_token_ttl_seconds,
    },
    exec: { dispatchTtlMs: 30_000, pollIntervalMs: 500, watchdogIntervalMs: 1_000, ...tuning.exec },
    limits: {
      backend: config.cache_backend as 'memory' | 'redis',
      redisUrl: config.redis_url,
      apiKeyRpm: config.api_rate_limit_rpm,
      exec: {
        global: config.exec_rate_limit_global_rpm,
        project: config.exec_rate_limit_project_rpm,
        workspace: config.exec_rate_limit_workspace_rpm,
        agent: config.exec_rate_limit_agent_rpm,
      },
    },
    encryptionKey: config.completion_encryption_key,
    webhooks: {
      allowHttp: config.webhooks_allow_http,
      allowedTargets: config.webhooks_allowed_targets,
      intervalMs: tuning.webhooks?.intervalMs ?? 1_000,
    },
    audit: {
      signingKey: config.audit_signing_key,
      checkpointDir: config.audit_checkpoint_dir,
      checkpointIntervalMs: config.audit_checkpoint_interval_seconds * 1_000,
    },
    platformProject: config.platform_project ?? config.bootstrap_project,
    bootstrap:
      config.bootstrap_project === undefined
        ? undefined
        : {
            projectSlug: config.bootstrap_project,
            adminKeySha256: config.bootstrap_admin_key_sha256,
            adminEmail: config.bootstrap_admin_email,
            joinKeys: parseBootstrapJoinKeys(config.bootstrap_join_keys),
          },
    identity: {
      sessionTtlSeconds: config.auth_session_ttl_seconds,
      sessionMaxSeconds: config.auth_session_max_seconds,
      lockoutFailures: config.auth_lockout_failures,
      lockoutSeconds: config.auth_lockout_seconds,
      signInPerMinute: config.auth_sign_in_per_minute,
    },
    oidc:
      config.auth_oidc_issuer === undefined
        ? undefined
        : {
            issuer: config.auth_oidc_issuer,
            clientId: config.auth_oidc_client_id!,
            clientSecret: config.auth_oidc_client_secret!,
            redirectUrl: config.auth_oidc_redirect_url!,
            project: (config.auth_oidc_project ?? config.bootstrap_project)!,
            allowedDomains: config.auth_oidc_allowed_domains.map((domain) => domain.toLowerCase()),
            scopes: config.auth_oidc_scopes,
            rolesClaim: config.auth_oidc_roles_claim,
            roleMap: parseRoleMap(config.auth_oidc_role_map),
            defaultRoles: config.auth_oidc_default_roles as Role[],
            redirectAllowedOrigins: config.auth_redirect_allowed_origins,
          },
    learnings: config.learnings_extractor as LearningsExtraction,
    shutdownGraceMs: config.shutdown_grace_seconds * 1_000,
    secrets: [
      config.auth_oidc_client_secret,
      config.database_url,
      config.redis_url,
      config.completion_encryption_key,
      config.token_signing_key,
      config.token_signing_key_previous,
      config.curve_secret_key,
      config.curve_secret_key_next,
      config.audit_signing_key,
      config.database_app_password,
    ].filter((value): value is string => value !== undefined),
  });
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Buffer.isBuffer(value) && !Object.isFrozen(value)) {
    for (const member of Object.values(value)) deepFreeze(member);
    Object.freeze(value);
  }
  return value;
}
