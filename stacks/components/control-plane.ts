import { createHash } from 'node:crypto';
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { routerConfigSchema } from '../../services/router/config.js';
import { serviceEnv } from '../env.js';
import { hardened, image, labels, podSecurity } from './k8s-common.js';
import type { PlatformSecrets } from './secrets.js';

export interface ControlPlaneArgs {
  readonly namespace: pulumi.Input<string>;
  readonly images: { readonly registry: string; readonly tag: string };
  readonly hostname: string;
  readonly tlsIssuer: string;
  readonly bootstrapProject: string;
  readonly replicas: number;
  readonly maxReplicas: number;
  readonly resources: { readonly cpu: string; readonly memory: string };
  readonly secrets: PlatformSecrets;
  readonly databaseUrl: pulumi.Input<string>;
  /** Redis for shared rate limits; memory when absent. */
  readonly redisUrl?: pulumi.Input<string>;
  /** Annotations for the mesh's TCP load balancer (e.g. an AWS NLB). */
  readonly meshServiceAnnotations?: Record<string, string>;
}

const HTTP = 8080;
const MESH = 5555;
const METRICS = 9092;

/**
 * The router: its Secret, a migration Job that must finish before the Deployment rolls, the
 * Deployment (readiness on /readyz, non-root, read-only root), a PodDisruptionBudget and an
 * autoscaler, the HTTP Service behind a TLS Ingress, and the mesh port behind a TCP load
 * balancer. Agents are told `tcp://mesh.<hostname>:5555` (point that name at the balancer).
 */
export class ControlPlane extends pulumi.ComponentResource {
  readonly routerUrl: string;
  readonly meshEndpoint: string;
  readonly deployment: k8s.apps.v1.Deployment;
  readonly routerSecret: k8s.core.v1.Secret;

  constructor(name: string, args: ControlPlaneArgs, opts?: pulumi.ComponentResourceOptions) {
    super('xerotier:platform:ControlPlane', name, {}, opts);
    const child = { parent: this };
    const selector = labels('router');
    this.routerUrl = `https://${args.hostname}`;
    this.meshEndpoint = `tcp://mesh.${args.hostname}:${MESH}`;
    this.routerSecret = new k8s.core.v1.Secret(`${name}-router`, {
      metadata: { namespace: args.namespace, labels: selector },
      stringData: {
        database_url: args.databaseUrl, ...(args.redisUrl ? { redis_url: args.redisUrl } : {}),
        completion_encryption_key: args.secrets.completionEncryptionKey, token_signing_key: args.secrets.tokenSigningKey,
        audit_signing_key: args.secrets.auditSigningKey,
        curve_secret_key: args.secrets.routerCurveSecretKey, bootstrap_admin_key_sha256: args.secrets.adminApiKeySha256,
        bootstrap_join_keys: args.secrets.routerJoinKeyEntries,
      },
    }, child);
    const fromSecret = (key: string) => ({ secretName: this.routerSecret.metadata.name, key });
    const env = serviceEnv(routerConfigSchema, {
      database_url: fromSecret('database_url'), ...(args.redisUrl ? { redis_url: fromSecret('redis_url'), cache_backend: 'redis' } : { cache_backend: 'memory' }),
      completion_encryption_key: fromSecret('completion_encryption_key'), token_signing_key: fromSecret('token_signing_key'),
      audit_signing_key: fromSecret('audit_signing_key'),
      curve_secret_key: fromSecret('curve_secret_key'), bootstrap_admin_key_sha256: fromSecret('bootstrap_admin_key_sha256'),
      bootstrap_join_keys: fromSecret('bootstrap_join_keys'), bootstrap_project: args.bootstrapProject,
      http_host: '0.0.0.0', http_port: String(HTTP), mesh_bind: `tcp://0.0.0.0:${MESH}`, mesh_public_endpoint: this.meshEndpoint,
      metrics_host: '0.0.0.0', metrics_port: String(METRICS), log_level: 'info',
    });
    const routerImage = image(args.images, 'router');
    // A new image means a new Job (its name carries the image), run to completion before the rollout.
    const migrate = new k8s.batch.v1.Job(`${name}-migrate-${createHash('sha256').update(routerImage).digest('hex').slice(0, 8)}`, {
      metadata: { namespace: args.namespace, labels: labels('migrate') },
      spec: {
        backoffLimit: 3, ttlSecondsAfterFinished: 86_400,
        template: { spec: { restartPolicy: 'Never', securityContext: podSecurity(5150), containers: [hardened({ name: 'migrate', image: routerImage, args: ['migrate'], env: env.filter((variable) => variable.name === 'XEROTIER_DATABASE_URL' || variable.name === 'XEROTIER_LOG_LEVEL') })] } },
      },
    }, child);
    this.deployment = new k8s.apps.v1.Deployment(`${name}-router`, {
      metadata: { namespace: args.namespace, labels: selector },
      spec: {
        replicas: args.replicas, selector: { matchLabels: selector },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
        template: {
          metadata: { labels: selector, annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(METRICS) } },
          spec: {
            securityContext: podSecurity(5150), terminationGracePeriodSeconds: 45,
            containers: [hardened({
              name: 'router', image: routerImage, env, args: ['serve'],
              ports: [{ name: 'http', containerPort: HTTP }, { name: 'mesh', containerPort: MESH }, { name: 'metrics', containerPort: METRICS }],
              readinessProbe: { httpGet: { path: '/readyz', port: 'http' }, periodSeconds: 5, failureThreshold: 3 },
              livenessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 10, failureThreshold: 6 },
              resources: { requests: { cpu: args.resources.cpu, memory: args.resources.memory }, limits: { memory: args.resources.memory } },
              volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
            })],
            volumes: [{ name: 'tmp', emptyDir: {} }],
          },
        },
      },
    }, { ...child, dependsOn: [migrate] });
    this.services(name, args, selector);
    this.registerOutputs({ routerUrl: this.routerUrl, meshEndpoint: this.meshEndpoint });
  }

  private services(name: string, args: ControlPlaneArgs, selector: Record<string, string>): void {
    const child = { parent: this };
    const http = new k8s.core.v1.Service(`${name}-router`, {
      metadata: { namespace: args.namespace, labels: selector },
      spec: { type: 'ClusterIP', selector, ports: [{ name: 'http', port: 80, targetPort: 'http' }, { name: 'metrics', port: METRICS, targetPort: 'metrics' }] },
    }, child);
    new k8s.core.v1.Service(`${name}-mesh`, {
      metadata: { namespace: args.namespace, labels: selector, annotations: args.meshServiceAnnotations ?? {} },
      spec: { type: 'LoadBalancer', selector, externalTrafficPolicy: 'Local', ports: [{ name: 'mesh', port: MESH, targetPort: 'mesh', protocol: 'TCP' }] },
    }, child);
    new k8s.networking.v1.Ingress(`${name}-router`, {
      metadata: { namespace: args.namespace, labels: selector, annotations: { 'cert-manager.io/cluster-issuer': args.tlsIssuer, 'nginx.ingress.kubernetes.io/proxy-buffering': 'off', 'nginx.ingress.kubernetes.io/proxy-read-timeout': '3600' } },
      spec: {
        tls: [{ hosts: [args.hostname], secretName: `${name}-router-tls` }],
        rules: [{ host: args.hostname, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: http.metadata.name, port: { name: 'http' } } } }] } }],
      },
    }, child);
    new k8s.policy.v1.PodDisruptionBudget(`${name}-router`, {
      metadata: { namespace: args.namespace, labels: selector },
      spec: { selector: { matchLabels: selector }, ...(args.replicas > 1 ? { minAvailable: 1 } : { maxUnavailable: 1 }) },
    }, child);
    new k8s.autoscaling.v2.HorizontalPodAutoscaler(`${name}-router`, {
      metadata: { namespace: args.namespace, labels: selector },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: this.deployment.metadata.name },
        minReplicas: args.replicas, maxReplicas: Math.max(args.replicas, args.maxReplicas),
        metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }],
      },
    }, child);
  }
}
