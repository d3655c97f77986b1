import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { hostIngressSpec, type RouterExposure } from './exposure.js';
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

/** The port the UI listens on in its pod (XEROTIER_FRONTEND_HTTP_PORT). */
export const UI_PORT = 8090;
const UI_UID = 5154;
const UI_DRAIN_SECONDS = 15;

export interface WebUiArgs {
  readonly namespace: pulumi.Input<string>;
  readonly image: string;
  /** The router's hostname: the UI is served at `ui.<hostname>`. */
  readonly hostname: string;
  /** The router's HTTP Service, which the UI calls in the cluster. */
  readonly routerService: pulumi.Input<string>;
  /** The project people sign in to (the bootstrap project). */
  readonly project: string;
  readonly replicas: number;
  readonly cpu: string;
  readonly memory: string;
  /** Redis for sessions shared by the replicas (the platform's own). */
  readonly redisUrl: pulumi.Input<string>;
  readonly sessionSecret: pulumi.Input<string>;
  readonly exposure: RouterExposure;
}

/**
 * The web UI beside the router: its Secret (Redis URL, session secret), a Deployment of
 * stateless replicas (sessions live in Redis, so any replica serves any browser and a rollout
 * signs no one out), probes on /healthz, a drain on SIGTERM behind a preStop pause, a
 * PodDisruptionBudget, a ClusterIP Service, and an Ingress for `ui.<hostname>` on the same
 * ingress class (and, on aws, the same ALB) as the router. TLS ends at the ingress, so the
 * session cookie is marked Secure by setting; the UI reaches the router over its in-cluster Service.
 */
export class WebUi extends pulumi.ComponentResource {
  readonly url: string;
  readonly hostname: string;
  readonly deployment: k8s.apps.v1.Deployment;
  readonly service: k8s.core.v1.Service;
  readonly ingress: k8s.networking.v1.Ingress;

  constructor(name: string, args: WebUiArgs, opts?: pulumi.ComponentResourceOptions) {
    super('xerotier:platform:WebUi', name, {}, opts);
    const child = { parent: this };
    const selector = labels('frontend');
    this.hostname = `ui.${args.hostname}`;
    this.url = `https://${this.hostname}`;
    const data = { redis_url: args.redisUrl, session_secret: args.sessionSecret };
    const secret = new k8s.core.v1.Secret(
      `${name}-frontend`,
      { metadata: { namespace: args.namespace, labels: selector }, stringData: data },
      child,
    );
    this.deployment = this.uiDeployment(name, args, secret, checksum(data));
    this.service = new k8s.core.v1.Service(
      `${name}-frontend`,
      {
        metadata: { namespace: args.namespace, labels: selector },
        spec: { type: 'ClusterIP', selector, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
      },
      child,
    );
    this.ingress = this.uiIngress(name, args);
    disruptionBudget(this, `${name}-frontend`, args.namespace, selector);
    this.registerOutputs({ url: this.url });
  }

  private uiDeployment(
    name: string,
    args: WebUiArgs,
    secret: k8s.core.v1.Secret,
    secretChecksum: pulumi.Output<string>,
  ): k8s.apps.v1.Deployment {
    const selector = labels('frontend');
    const account = serviceAccount(this, `${name}-frontend`, args.namespace, selector);
    const fromSecret = (env: string, key: string) => ({
      name: env,
      valueFrom: { secretKeyRef: { name: secret.metadata.name, key } },
    });
    return new k8s.apps.v1.Deployment(
      `${name}-frontend`,
      {
        metadata: { namespace: args.namespace, labels: selector },
        spec: {
          replicas: args.replicas,
          selector: { matchLabels: selector },
          strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
          template: {
            metadata: { labels: selector, annotations: { 'xerotier.io/secret-checksum': secretChecksum } },
            spec: {
              serviceAccountName: account.metadata.name,
              automountServiceAccountToken: false,
              securityContext: podSecurity(UI_UID),
              terminationGracePeriodSeconds: UI_DRAIN_SECONDS + 10,
              topologySpreadConstraints: spread(selector),
              containers: [
                hardened({
                  name: 'frontend',
                  image: args.image,
                  env: [
                    { name: 'XEROTIER_FRONTEND_ROUTER_URL', value: pulumi.interpolate`http://${args.routerService}` },
                    { name: 'XEROTIER_FRONTEND_PUBLIC_ROUTER_URL', value: `https://${args.hostname}` },
                    { name: 'XEROTIER_FRONTEND_PROJECT', value: args.project },
                    { name: 'XEROTIER_FRONTEND_HTTP_PORT', value: String(UI_PORT) },
                    { name: 'XEROTIER_FRONTEND_SECURE_COOKIES', value: 'true' },
                    { name: 'XEROTIER_FRONTEND_SHUTDOWN_GRACE_SECONDS', value: String(UI_DRAIN_SECONDS) },
                    fromSecret('XEROTIER_FRONTEND_REDIS_URL', 'redis_url'),
                    fromSecret('XEROTIER_FRONTEND_SESSION_SECRET', 'session_secret'),
                  ],
                  lifecycle: preStopSleep(5),
                  ports: [{ name: 'http', containerPort: UI_PORT }],
                  readinessProbe: {
                    httpGet: { path: '/healthz', port: 'http' },
                    periodSeconds: 5,
                    failureThreshold: 3,
                  },
                  livenessProbe: {
                    httpGet: { path: '/healthz', port: 'http' },
                    periodSeconds: 10,
                    failureThreshold: 6,
                  },
                  resources: {
                    requests: { cpu: args.cpu, memory: args.memory },
                    limits: { memory: args.memory },
                  },
                }),
              ],
            },
          },
        },
      },
      { parent: this },
    );
  }

  private uiIngress(name: string, args: WebUiArgs): k8s.networking.v1.Ingress {
    const { ingress } = args.exposure;
    return new k8s.networking.v1.Ingress(
      `${name}-frontend`,
      {
        metadata: {
          namespace: args.namespace,
          labels: labels('frontend'),
          annotations: pulumi.output(ingress.annotations).apply((annotations) => ({
            ...annotations,
            // The ALB checks the UI's own health path, not the router's.
            ...('alb.ingress.kubernetes.io/healthcheck-path' in annotations
              ? { 'alb.ingress.kubernetes.io/healthcheck-path': '/healthz' }
              : {}),
          })),
        },
        spec: hostIngressSpec(args.exposure, this.hostname, this.service.metadata.name, `${name}-frontend-tls`),
      },
      { parent: this },
    );
  }
}
