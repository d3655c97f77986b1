import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { withRole } from '../rules/database-url.js';
import { checksum, hardened, labels, podSecurity, serviceAccount } from './k8s-common.js';
import { APP_ROLE } from './router-env.js';

export interface DataServicesArgs {
  readonly namespace: pulumi.Input<string>;
  /** The superuser's password: the schema owner, used by migrations only. */
  readonly databasePassword: pulumi.Input<string>;
  /** The app role's password (`migrate` creates the role with it). */
  readonly databaseAppPassword: pulumi.Input<string>;
  readonly cachePassword: pulumi.Input<string>;
  readonly storageGi: number;
  /** StorageClass of the volumes. @default the cluster's default class */
  readonly storageClassName?: string;
}

/** Pinned to a full version: a floating `16-alpine` changes under a running stack. */
export const POSTGRES_IMAGE = 'postgres:16.10-alpine';
export const REDIS_IMAGE = 'redis:7.4.2-alpine';

/**
 * Postgres and Redis inside the cluster (the `kubernetes` target without external URLs): one
 * StatefulSet each with a persistent volume, reachable only through their ClusterIP Services
 * (and, by NetworkPolicy, only from the router and the migration), passwords from Secrets.
 * Redis requires its password. Connection URLs are secret outputs: the superuser's for
 * migrations, the app role's for the router.
 */
export class InClusterDataServices extends pulumi.ComponentResource {
  readonly ownerDatabaseUrl: pulumi.Output<string>;
  readonly appDatabaseUrl: pulumi.Output<string>;
  readonly redisUrl: pulumi.Output<string>;

  constructor(name: string, args: DataServicesArgs, opts?: pulumi.ComponentResourceOptions) {
    super('xerotier:platform:InClusterDataServices', name, {}, opts);
    const child = { parent: this };
    const secret = new k8s.core.v1.Secret(
      `${name}-passwords`,
      {
        metadata: { namespace: args.namespace, labels: labels('data') },
        stringData: { POSTGRES_PASSWORD: args.databasePassword, REDIS_PASSWORD: args.cachePassword },
      },
      child,
    );
    // Secrets change in place: the checksum restarts Redis on a new password (Postgres reads its own only at initdb).
    const restartOn = checksum({ cache: args.cachePassword });
    const volumes = {
      storageGi: args.storageGi,
      ...(args.storageClassName ? { storageClassName: args.storageClassName } : {}),
    };
    const postgres = statefulService(this, `${name}-postgres`, args.namespace, 5432, {
      image: POSTGRES_IMAGE,
      uid: 70,
      ...volumes,
      dataPath: '/var/lib/postgresql/data',
      env: [
        { name: 'POSTGRES_DB', value: 'xerotier' },
        { name: 'PGDATA', value: '/var/lib/postgresql/data/pgdata' },
        {
          name: 'POSTGRES_PASSWORD',
          valueFrom: { secretKeyRef: { name: secret.metadata.name, key: 'POSTGRES_PASSWORD' } },
        },
      ],
      probe: { exec: { command: ['pg_isready', '-U', 'postgres'] } },
    });
    const redis = statefulService(this, `${name}-redis`, args.namespace, 6379, {
      image: REDIS_IMAGE,
      uid: 999,
      ...volumes,
      storageGi: 5,
      dataPath: '/data',
      annotations: { 'xerotier.io/secret-checksum': restartOn },
      args: ['sh', '-c', 'exec redis-server --requirepass "$REDIS_PASSWORD" --appendonly yes'],
      env: [
        { name: 'REDIS_PASSWORD', valueFrom: { secretKeyRef: { name: secret.metadata.name, key: 'REDIS_PASSWORD' } } },
      ],
      probe: { tcpSocket: { port: 6379 } },
    });
    this.ownerDatabaseUrl = pulumi.secret(
      pulumi.interpolate`postgres://postgres:${args.databasePassword}@${postgres.metadata.name}.${args.namespace}.svc:5432/xerotier`,
    );
    this.appDatabaseUrl = pulumi.secret(
      pulumi
        .all([this.ownerDatabaseUrl, args.databaseAppPassword])
        .apply(([url, password]) => withRole(url, APP_ROLE, password)),
    );
    this.redisUrl = pulumi.secret(
      pulumi.interpolate`redis://:${args.cachePassword}@${redis.metadata.name}.${args.namespace}.svc:6379`,
    );
    this.registerOutputs({});
  }
}

interface StatefulSpec {
  readonly image: string;
  readonly uid: number;
  readonly storageGi: number;
  readonly storageClassName?: string;
  readonly dataPath: string;
  readonly env: k8s.types.input.core.v1.EnvVar[];
  readonly args?: string[];
  readonly probe: k8s.types.input.core.v1.Probe;
  readonly annotations?: Record<string, pulumi.Input<string>>;
}

function statefulService(
  parent: pulumi.Resource,
  name: string,
  namespace: pulumi.Input<string>,
  port: number,
  spec: StatefulSpec,
): k8s.core.v1.Service {
  const selector = labels('data', name);
  const service = new k8s.core.v1.Service(
    name,
    {
      metadata: { namespace, labels: selector },
      spec: { type: 'ClusterIP', selector, ports: [{ port, targetPort: port }] },
    },
    { parent },
  );
  new k8s.apps.v1.StatefulSet(
    name,
    {
      metadata: { namespace, labels: selector },
      spec: {
        serviceName: service.metadata.name,
        replicas: 1,
        selector: { matchLabels: selector },
        template: {
          metadata: { labels: selector, ...(spec.annotations ? { annotations: spec.annotations } : {}) },
          spec: {
            serviceAccountName: serviceAccount(parent, name, namespace, selector).metadata.name,
            automountServiceAccountToken: false,
            securityContext: podSecurity(spec.uid),
            containers: [
              hardened({
                name: 'main',
                image: spec.image,
                ports: [{ containerPort: port }],
                env: spec.env,
                ...(spec.args ? { command: spec.args } : {}),
                volumeMounts: [
                  { name: 'data', mountPath: spec.dataPath },
                  { name: 'run', mountPath: '/var/run/postgresql' },
                  { name: 'tmp', mountPath: '/tmp' },
                ],
                readinessProbe: { ...spec.probe, periodSeconds: 5 },
                livenessProbe: { ...spec.probe, periodSeconds: 20, failureThreshold: 6 },
                resources: { requests: { cpu: '250m', memory: '512Mi' }, limits: { memory: '1Gi' } },
              }),
            ],
            volumes: [
              { name: 'run', emptyDir: {} },
              { name: 'tmp', emptyDir: {} },
            ],
          },
        },
        volumeClaimTemplates: [
          {
            metadata: { name: 'data' },
            spec: {
              accessModes: ['ReadWriteOnce'],
              ...(spec.storageClassName ? { storageClassName: spec.storageClassName } : {}),
              resources: { requests: { storage: `${spec.storageGi}Gi` } },
            },
          },
        ],
      },
    },
    { parent },
  );
  return service;
}
