import { createHash } from 'node:crypto';
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { routerScaling } from '../rules/router-scaling.js';
import type { RouterExposure } from './exposure.js';
import {
  checksum,
  disruptionBudget,
  hardened,
  labels,
  podSecurity,
  preStopSleep,
  serviceAccount,
  spread,
} from './k8s-common.js';
import type { TracingSettings } from '../settings/types.js';
import { tracingEnv } from './tracing-env.js';
import {
  HTTP_PORT,
  MESH_PORTS,
  meshPort,
  METRICS_PORT,
  migrateEnv,
  ROUTER_DRAIN_SECONDS,
  routerEnv,
} from './router-env.js';
import { RouterServices } from './router-services.js';
import type { PlatformSecrets } from './secrets.js';

export interface ControlPlaneArgs {
  readonly namespace: pulumi.Input<string>;
  /** The router image, by commit SHA or digest. */
  readonly image: string;
  readonly hostname: string;
  readonly bootstrapProject: string;
  readonly router: {
    readonly replicas: number;
    readonly maxReplicas: number;
    readonly cpu: string;
    readonly memory: string;
    readonly webhooksAllowedTargets: readonly string[];
  };
  readonly secrets: PlatformSecrets;
  /** The schema owner's URL (migrations) and the app role's (the router): secrets. */
  readonly database: { readonly ownerUrl: pulumi.Input<string>; readonly appUrl: pulumi.Input<string> };
  /** Redis for shared rate limits; memory when absent. @default memory */
  readonly redisUrl?: pulumi.Input<string>;
  readonly exposure: RouterExposure;
  /**
   * The app password's rotation generation (settings `rotation.databaseApp`): part of the
   * migration Job's name, so a new password is set on the role before the router rolls onto it.
   * @default 0
   */
  readonly appPasswordGeneration?: number;
  /** Routers that may serve at once (a parameter so tests can change it). @default ROUTER_REPLICA_LIMIT */
  readonly replicaLimit?: number;
  /** A CA bundle in the router image Node must trust (RDS), for the router and `migrate`. @default none */
  readonly trustedCaPath?: string;
  /** OTLP export for this component's processes (settings `monitoring.tracing`). @default none */
  readonly tracing?: TracingSettings;
}

/**
 * The router: its Secrets (the router's holds the app role's URL, the migration's the owner's),
 * a migration Job per image that must finish before the Deployment rolls, the Deployment (one
 * active router until issue 21; readiness on /readyz, a drain on SIGTERM behind a preStop
 * pause), a PodDisruptionBudget, and the Services and Ingress of RouterServices. Agents outside
 * the cluster dial `tcp://mesh.<hostname>:5555`; agents inside dial the internal mesh Service
 * under that same name (meshAlias).
 */
export class ControlPlane extends pulumi.ComponentResource {
  readonly routerUrl: string;
  readonly meshEndpoint: string;
  /** For in-cluster agents' hostAliases: the mesh name resolves to the internal Service. */
  readonly meshAlias: pulumi.Output<k8s.types.input.core.v1.HostAlias>;
  readonly deployment: k8s.apps.v1.Deployment;
  readonly migration: k8s.batch.v1.Job;
  readonly services: RouterServices;

  constructor(name: string, args: ControlPlaneArgs, opts?: pulumi.ComponentResourceOptions) {
    super('xerotier:platform:ControlPlane', name, {}, opts);
    const child = { parent: this };
    this.routerUrl = `https://${args.hostname}`;
    this.meshEndpoint = `tcp://mesh.${args.hostname}:${meshPort(args.secrets.curveGeneration)}`;
    const routerData = {
      database_url: args.database.appUrl,
      ...(args.redisUrl ? { redis_url: args.redisUrl } : {}),
      completion_encryption_key: args.secrets.completionEncryptionKey,
      token_signing_key: args.secrets.tokenSigningKey,
      ...(args.secrets.tokenSigningKeyPrevious
        ? { token_signing_key_previous: args.secrets.tokenSigningKeyPrevious }
        : {}),
      audit_signing_key: args.secrets.auditSigningKey,
      curve_secret_key: args.secrets.routerCurveSecretKey,
      ...(args.secrets.routerCurveSecretKeyNext
        ? { curve_secret_key_next: args.secrets.routerCurveSecretKeyNext }
        : {}),
      bootstrap_admin_key_sha256: args.secrets.adminApiKeySha256,
      bootstrap_join_keys: args.secrets.routerJoinKeyEntries,
    };
    const routerSecret = new k8s.core.v1.Secret(
      `${name}-router`,
      { metadata: { namespace: args.namespace, labels: labels('router') }, stringData: routerData },
      child,
    );
    this.migration = this.migrationJob(name, args);
    this.deployment = this.routerDeployment(name, args, routerSecret, checksum(routerData));
    this.services = new RouterServices(
      name,
      { namespace: args.namespace, hostname: args.hostname, selector: labels('router'), exposure: args.exposure },
      child,
    );
    this.meshAlias = this.services.internalMesh.spec.clusterIP.apply((ip) => ({
      ip,
      hostnames: [`mesh.${args.hostname}`],
    }));
    disruptionBudget(this, `${name}-router`, args.namespace, labels('router'));
    this.autoscaler(name, args);
    this.registerOutputs({ routerUrl: this.routerUrl, meshEndpoint: this.meshEndpoint });
  }

  /** A new image (or app password) means a new Job (its name carries both), run to completion before the rollout. */
  private migrationJob(name: string, args: ControlPlaneArgs): k8s.batch.v1.Job {
    const child = { parent: this };
    const secret = new k8s.core.v1.Secret(
      `${name}-migrate`,
      {
        metadata: { namespace: args.namespace, labels: labels('migrate') },
        stringData: { owner_database_url: args.database.ownerUrl, app_password: args.secrets.databaseAppPassword },
      },
      child,
    );
    const account = serviceAccount(this, `${name}-migrate`, args.namespace, labels('migrate'));
    const run = createHash('sha256')
      .update(`${args.image}#${args.appPasswordGeneration ?? 0}`)
      .digest('hex')
      .slice(0, 8);
    return new k8s.batch.v1.Job(
      `${name}-migrate-${run}`,
      {
        metadata: { namespace: args.namespace, labels: labels('migrate') },
        spec: {
          backoffLimit: 3,
          ttlSecondsAfterFinished: 86_400,
          template: {
            metadata: { labels: labels('migrate') },
            spec: {
              restartPolicy: 'Never',
              serviceAccountName: account.metadata.name,
              automountServiceAccountToken: false,
              securityContext: podSecurity(5150),
              containers: [
                hardened({
                  name: 'migrate',
                  image: args.image,
                  args: ['migrate'],
                  env: migrateEnv(secret.metadata.name, args.trustedCaPath),
                  resources: { requests: { cpu: '100m', memory: '256Mi' }, limits: { memory: '256Mi' } },
                }),
              ],
            },
          },
        },
      },
      { ...child, customTimeouts: { create: '15m', update: '15m' } },
    );
  }

  private routerDeployment(
    name: string,
    args: ControlPlaneArgs,
    secret: k8s.core.v1.Secret,
    secretChecksum: pulumi.Output<string>,
  ): k8s.apps.v1.Deployment {
    const selector = labels('router');
    const scaling = routerScaling(args.router, args.replicaLimit);
    const account = serviceAccount(this, `${name}-router`, args.namespace, selector);
    const env = routerEnv({
      secretName: secret.metadata.name,
      hasRedis: Boolean(args.redisUrl),
      tokenKeyOverlap: args.secrets.tokenSigningKeyPrevious !== undefined,
      bootstrapProject: args.bootstrapProject,
      meshEndpoint: this.meshEndpoint,
      meshPort: meshPort(args.secrets.curveGeneration),
      ...(args.secrets.routerCurveSecretKeyNext
        ? {
            nextMesh: {
              port: meshPort(args.secrets.curveGeneration + 1),
              endpoint: `tcp://mesh.${args.hostname}:${meshPort(args.secrets.curveGeneration + 1)}`,
            },
          }
        : {}),
      webhooksAllowedTargets: args.router.webhooksAllowedTargets,
      ...(args.trustedCaPath ? { trustedCaPath: args.trustedCaPath } : {}),
    }).concat(tracingEnv(args.tracing));
    return new k8s.apps.v1.Deployment(
      `${name}-router`,
      {
        metadata: { namespace: args.namespace, labels: selector },
        spec: {
          // With an HPA the count is the HPA's: Pulumi neither sets nor resets it.
          ...(scaling.autoscale ? {} : { replicas: scaling.replicas }),
          selector: { matchLabels: selector },
          strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
          template: {
            // Secrets are updated in place (the provider's enableSecretMutable): the checksum rolls the router when its own changes.
            metadata: {
              labels: selector,
              annotations: {
                'prometheus.io/scrape': 'true',
                'prometheus.io/port': String(METRICS_PORT),
                'xerotier.io/secret-checksum': secretChecksum,
              },
            },
            spec: {
              serviceAccountName: account.metadata.name,
              automountServiceAccountToken: false,
              securityContext: podSecurity(5150),
              terminationGracePeriodSeconds: ROUTER_DRAIN_SECONDS + 15,
              topologySpreadConstraints: spread(selector),
              containers: [
                hardened({
                  name: 'router',
                  image: args.image,
                  env,
                  args: ['serve'],
                  lifecycle: preStopSleep(5),
                  ports: [
                    { name: 'http', containerPort: HTTP_PORT },
                    { name: 'mesh', containerPort: MESH_PORTS[0] },
                    { name: 'mesh-alt', containerPort: MESH_PORTS[1] },
                    { name: 'metrics', containerPort: METRICS_PORT },
                  ],
                  readinessProbe: { httpGet: { path: '/readyz', port: 'http' }, periodSeconds: 5, failureThreshold: 3 },
                  livenessProbe: {
                    httpGet: { path: '/healthz', port: 'http' },
                    periodSeconds: 10,
                    failureThreshold: 6,
                  },
                  resources: {
                    requests: { cpu: args.router.cpu, memory: args.router.memory },
                    limits: { memory: args.router.memory },
                  },
                  volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
                }),
              ],
              volumes: [{ name: 'tmp', emptyDir: {} }],
            },
          },
        },
      },
      { parent: this, dependsOn: [this.migration], ...(scaling.autoscale ? { ignoreChanges: ['spec.replicas'] } : {}) },
    );
  }

  /** Only when more than one router may serve (issue 21): until then the limit keeps this off. */
  private autoscaler(name: string, args: ControlPlaneArgs): void {
    const scaling = routerScaling(args.router, args.replicaLimit);
    if (!scaling.autoscale) return;
    new k8s.autoscaling.v2.HorizontalPodAutoscaler(
      `${name}-router`,
      {
        metadata: { namespace: args.namespace, labels: labels('router') },
        spec: {
          scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: this.deployment.metadata.name },
          minReplicas: scaling.replicas,
          maxReplicas: scaling.maxReplicas,
          metrics: [
            { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } },
          ],
        },
      },
      { parent: this },
    );
  }
}
