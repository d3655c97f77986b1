import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { ControlPlane } from './components/control-plane.js';
import { InClusterDataServices } from './components/data-services.js';
import { PlatformSecrets } from './components/secrets.js';
import { XemHosts } from './components/xem-hosts.js';
import { XimFleet } from './components/xim-fleet.js';
import { SettingsError, type StackSettings, type XemEc2Hosts } from './settings.js';

export interface ClusterAccess {
  /** Where to deploy: a kubeconfig (secret); the ambient one when absent. */
  readonly kubeconfig?: pulumi.Input<string>;
  /** External Postgres and Redis (secrets); in-cluster StatefulSets when the settings say so. */
  readonly databaseUrl?: pulumi.Input<string>;
  readonly redisUrl?: pulumi.Input<string>;
  /** Install NVIDIA's device plugin (GPU nodes that do not bring it). */
  readonly nvidiaDevicePlugin?: boolean;
  /** Annotations for the mesh's load balancer Service. */
  readonly meshServiceAnnotations?: Record<string, string>;
}

export interface PlatformOutputs {
  readonly routerUrl: string;
  readonly meshEndpoint: string;
  readonly routerCurvePublicKey: pulumi.Output<string>;
  readonly adminApiKey: pulumi.Output<string>;
  readonly namespace: pulumi.Output<string>;
}

/**
 * The platform into a Kubernetes cluster: namespace, secrets, Postgres and Redis (in the cluster
 * or external), the control plane, the XIM fleet and the XEM hosts. The `aws` target builds the
 * cluster and managed data services first, then calls this with them.
 */
export function deployToCluster(settings: StackSettings, access: ClusterAccess, secrets: PlatformSecrets): PlatformOutputs {
  const provider = new k8s.Provider('cluster', { ...(access.kubeconfig ? { kubeconfig: access.kubeconfig } : {}), enableServerSideApply: true });
  const opts = { provider };
  const namespace = new k8s.core.v1.Namespace('xerotier', { metadata: { name: settings.namespace, labels: { 'app.kubernetes.io/name': 'xerotier' } } }, opts);
  if (access.nvidiaDevicePlugin) nvidiaDevicePlugin(opts);
  const data = dataServices(settings, access, secrets, namespace.metadata.name, opts);
  const controlPlane = new ControlPlane('control-plane', {
    namespace: namespace.metadata.name, images: settings.images, hostname: settings.hostname, tlsIssuer: settings.tlsIssuer, bootstrapProject: settings.bootstrapProject,
    replicas: settings.router.replicas, maxReplicas: settings.router.maxReplicas, resources: settings.router, secrets, databaseUrl: data.databaseUrl,
    ...(data.redisUrl ? { redisUrl: data.redisUrl } : {}),
    ...(access.meshServiceAnnotations ? { meshServiceAnnotations: access.meshServiceAnnotations } : {}),
  }, opts);
  // Agents enroll over HTTPS even inside the cluster (they refuse plain HTTP, rightly: join keys
  // and tokens cross that link), through the Ingress and its certificate.
  const routerUrl = controlPlane.routerUrl;
  if (settings.ximFleet.length > 0) new XimFleet('xim', { namespace: namespace.metadata.name, images: settings.images, routerUrl, models: settings.ximFleet, secrets }, { ...opts, dependsOn: [controlPlane] });
  if (settings.xemHosts.length > 0) new XemHosts('xem', { namespace: namespace.metadata.name, images: settings.images, routerUrl, hosts: settings.xemHosts, secrets }, { ...opts, dependsOn: [controlPlane] });
  return { routerUrl: controlPlane.routerUrl, meshEndpoint: controlPlane.meshEndpoint, routerCurvePublicKey: secrets.routerCurvePublicKey, adminApiKey: secrets.adminApiKey, namespace: namespace.metadata.name };
}

/** Every agent the settings run, by registration name: each needs its own join key. */
export function platformSecrets(settings: StackSettings): PlatformSecrets {
  const agents = [
    ...XimFleet.agentNames(settings.ximFleet).map((name) => ({ role: 'xim' as const, name })),
    ...XemHosts.agentNames(settings.xemHosts).map((name) => ({ role: 'xem' as const, name })),
    ...ec2Agents(settings).map(({ name }) => ({ role: 'xem' as const, name })),
  ];
  return new PlatformSecrets('platform', { bootstrapProject: settings.bootstrapProject, agents });
}

/** The XEM agents on EC2 (aws target), each with its registration name `xem-ec2-<name>-<n>`. */
export function ec2Agents(settings: StackSettings): { readonly name: string; readonly host: XemEc2Hosts }[] {
  if (settings.target !== 'aws') return [];
  return settings.xemEc2Hosts.flatMap((host) => Array.from({ length: host.count }, (_, index) => ({ name: `xem-ec2-${host.name}-${index}`, host })));
}

/** NVIDIA's device plugin on the GPU nodes: it advertises nvidia.com/gpu to the scheduler. */
function nvidiaDevicePlugin(opts: pulumi.CustomResourceOptions): void {
  const selector = { 'app.kubernetes.io/name': 'nvidia-device-plugin' };
  new k8s.apps.v1.DaemonSet('nvidia-device-plugin', {
    metadata: { namespace: 'kube-system', labels: selector },
    spec: {
      selector: { matchLabels: selector }, updateStrategy: { type: 'RollingUpdate' },
      template: {
        metadata: { labels: selector },
        spec: {
          priorityClassName: 'system-node-critical', nodeSelector: { 'xerotier.io/pool': 'gpu' },
          tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
          containers: [{
            name: 'nvidia-device-plugin', image: 'nvcr.io/nvidia/k8s-device-plugin:v0.17.0', env: [{ name: 'FAIL_ON_INIT_ERROR', value: 'false' }],
            securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
            volumeMounts: [{ name: 'device-plugin', mountPath: '/var/lib/kubelet/device-plugins' }],
          }],
          volumes: [{ name: 'device-plugin', hostPath: { path: '/var/lib/kubelet/device-plugins' } }],
        },
      },
    },
  }, opts);
}

function dataServices(settings: StackSettings, access: ClusterAccess, secrets: PlatformSecrets, namespace: pulumi.Input<string>, opts: pulumi.ComponentResourceOptions) {
  if (settings.database.external || access.databaseUrl) {
    if (!access.databaseUrl) throw new SettingsError('databaseUrl', 'is required (as a secret) when database.external is true');
    return { databaseUrl: pulumi.secret(access.databaseUrl), redisUrl: access.redisUrl ? pulumi.secret(access.redisUrl) : undefined };
  }
  const inCluster = new InClusterDataServices('data', { namespace, databasePassword: secrets.databasePassword, cachePassword: secrets.cachePassword, storageGi: settings.database.storageGi }, opts);
  return { databaseUrl: inCluster.databaseUrl, redisUrl: settings.cache.external ? (access.redisUrl ? pulumi.secret(access.redisUrl) : undefined) : inCluster.redisUrl };
}
