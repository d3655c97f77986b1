import type * as k8s from '@pulumi/kubernetes';
import type * as pulumi from '@pulumi/pulumi';
import { routerConfigSchema } from '../../services/router/config.js';
import { serviceEnv } from '../env.js';

export const HTTP_PORT = 8080;
/** Two mesh ports, one per CURVE key generation's parity: a rotation serves the next key on the other. */
export const MESH_PORTS = [5555, 5556] as const;
export const MESH_PORT = MESH_PORTS[0];
export const meshPort = (generation: number): number => MESH_PORTS[generation % 2]!;
export const METRICS_PORT = 9092;
/** XEROTIER_SHUTDOWN_GRACE_SECONDS: the router drains in-flight requests this long on SIGTERM. */
export const ROUTER_DRAIN_SECONDS = 30;
/** The role `migrate` creates and the router connects as (XEROTIER_DATABASE_APP_ROLE). */
export const APP_ROLE = 'xerotier_app';

type EnvVar = k8s.types.input.core.v1.EnvVar;

export interface RouterEnvArgs {
  readonly secretName: pulumi.Input<string>;
  readonly hasRedis: boolean;
  /** A token-signing key rotation is under way: the previous key is in the Secret too. */
  readonly tokenKeyOverlap?: boolean;
  readonly bootstrapProject: string;
  readonly meshEndpoint: string;
  /** The current CURVE key generation's port (meshPort). */
  readonly meshPort: number;
  /** A CURVE rotation: the next key (in the Secret) on the other port, at this endpoint. */
  readonly nextMesh?: { readonly port: number; readonly endpoint: string };
  readonly webhooksAllowedTargets: readonly string[];
  /** A CA bundle in the image that Node must also trust (RDS), for NODE_EXTRA_CA_CERTS. */
  readonly trustedCaPath?: string;
}

/** The router's environment, by its own setting names; every secret from the router's Secret. */
export function routerEnv(args: RouterEnvArgs): EnvVar[] {
  const fromSecret = (key: string) => ({ secretName: args.secretName, key });
  return [
    // Replicas hand each other inference for the agents each holds, pod to pod (docs/fleet.md);
    // Kubernetes expands $(POD_IP) below because it is defined first.
    { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
    ...serviceEnv(routerConfigSchema, {
      internal_url: `http://$(POD_IP):${HTTP_PORT}`,
      database_url: fromSecret('database_url'),
      ...(args.hasRedis ? { redis_url: fromSecret('redis_url'), cache_backend: 'redis' } : { cache_backend: 'memory' }),
      completion_encryption_key: fromSecret('completion_encryption_key'),
      token_signing_key: fromSecret('token_signing_key'),
      ...(args.tokenKeyOverlap ? { token_signing_key_previous: fromSecret('token_signing_key_previous') } : {}),
      audit_signing_key: fromSecret('audit_signing_key'),
      curve_secret_key: fromSecret('curve_secret_key'),
      bootstrap_admin_key_sha256: fromSecret('bootstrap_admin_key_sha256'),
      bootstrap_join_keys: fromSecret('bootstrap_join_keys'),
      bootstrap_project: args.bootstrapProject,
      http_host: '0.0.0.0',
      http_port: String(HTTP_PORT),
      mesh_bind: `tcp://0.0.0.0:${args.meshPort}`,
      mesh_public_endpoint: args.meshEndpoint,
      ...(args.nextMesh
        ? {
            curve_secret_key_next: fromSecret('curve_secret_key_next'),
            mesh_next_bind: `tcp://0.0.0.0:${args.nextMesh.port}`,
            mesh_next_public_endpoint: args.nextMesh.endpoint,
          }
        : {}),
      metrics_host: '0.0.0.0',
      metrics_port: String(METRICS_PORT),
      log_level: 'info',
      shutdown_grace_seconds: String(ROUTER_DRAIN_SECONDS),
      ...(args.webhooksAllowedTargets.length > 0
        ? { webhooks_allowed_targets: args.webhooksAllowedTargets.join(' ') }
        : {}),
    }),
    ...trustEnv(args.trustedCaPath),
  ];
}

/**
 * `migrate`: as the schema owner, then it creates (or re-passwords) the app role and grants it
 * read/write on the schema and only INSERT and SELECT on the audit log.
 */
export function migrateEnv(secretName: pulumi.Input<string>, trustedCaPath?: string): EnvVar[] {
  return [
    ...serviceEnv(routerConfigSchema, {
      database_url: { secretName, key: 'owner_database_url' },
      database_app_role: APP_ROLE,
      database_app_password: { secretName, key: 'app_password' },
      log_level: 'info',
    }),
    ...trustEnv(trustedCaPath),
  ];
}

function trustEnv(path: string | undefined): EnvVar[] {
  return path ? [{ name: 'NODE_EXTRA_CA_CERTS', value: path }] : [];
}
