import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { withRole } from './rules/database-url.js';
import { ClusterPrerequisites } from './components/cluster-prerequisites.js';
import { ControlPlane } from './components/control-plane.js';
import { InClusterDataServices } from './components/data-services.js';
import { clusterExposure, type RouterExposure } from './components/exposure.js';
import { image } from './components/k8s-common.js';
import { Monitoring } from './components/monitoring.js';
import { collectorPort } from './components/tracing-env.js';
import { NetworkPolicies } from './components/network-policies.js';
import { APP_ROLE } from './components/router-env.js';
import { PlatformSecrets } from './components/secrets.js';
import { WebUi } from './components/web-ui.js';
import { XemHosts } from './components/xem-hosts.js';
import { XimFleet } from './components/xim-fleet.js';
import { SettingsError, type StackSettings, type XemEc2Hosts } from './settings.js';

/** The cluster the platform goes into, and what its target (aws, or an existing cluster) provides. */
export interface ClusterTarget {
  readonly provider: k8s.Provider;
  /** What the platform waits for: the cluster's add-ons, or the checked prerequisites. */
  readonly ready: readonly pulumi.Resource[];
  readonly exposure: RouterExposure;
  readonly storage: { readonly className?: string; readonly sharedClassName?: string };
  /** Managed Postgres (aws): the owner's and the app role's URLs, secrets. */
  readonly database?: { readonly ownerUrl: pulumi.Output<string>; readonly appUrl: pulumi.Output<string> };
  readonly redisUrl?: pulumi.Input<string>;
  /** A CA bundle in the router image to trust for Postgres (RDS). */
  readonly trustedCaPath?: string;
  /** Addresses agents may not reach (aws: the data subnets). */
  readonly protectedCidrs: readonly string[];
}

export interface ExistingClusterSecrets {
  readonly kubeconfig?: pulumi.Output<string>;
  readonly databaseUrl?: pulumi.Output<string>;
  readonly redisUrl?: pulumi.Output<string>;
}

export interface PlatformOutputs {
  readonly routerUrl: string;
  readonly meshEndpoint: string;
  readonly controlPlane: ControlPlane;
  /** The web UI, unless settings `frontend.enabled` is false. */
  readonly webUi?: WebUi;
  readonly namespace: pulumi.Output<string>;
}

/** The kubernetes target: a cluster that exists, with what it must already run checked first. */
export function existingCluster(
  settings: StackSettings,
  secrets: ExistingClusterSecrets,
  platform: PlatformSecrets,
): ClusterTarget {
  const provider = new k8s.Provider('cluster', {
    ...(secrets.kubeconfig ? { kubeconfig: secrets.kubeconfig } : {}),
    enableServerSideApply: true,
    enableSecretMutable: true,
  });
  const { className, sharedClassName } = settings.storage;
  const prerequisites = new ClusterPrerequisites(
    'prerequisites',
    {
      ingressClassName: settings.ingress.className,
      tlsIssuer: settings.ingress.tlsIssuer,
      storageClassNames: [className, sharedClassName].filter((name): name is string => Boolean(name)),
      targetNamespaces: [...new Set(settings.xemHosts.flatMap((host) => host.targetNamespaces))],
    },
    { provider },
  );
  return {
    provider,
    ready: prerequisites.checks,
    exposure: clusterExposure(settings.ingress, settings.mesh),
    storage: settings.storage,
    protectedCidrs: [],
    ...externalData(settings, secrets, platform),
  };
}

function externalData(
  settings: StackSettings,
  secrets: ExistingClusterSecrets,
  platform: PlatformSecrets,
): Pick<ClusterTarget, 'database' | 'redisUrl'> {
  if (settings.database.external && !secrets.databaseUrl)
    throw new SettingsError(
      'databaseUrl',
      "is required (as a secret: the schema owner's URL) when database.external is true",
    );
  if (settings.cache.external && !secrets.redisUrl)
    throw new SettingsError('redisUrl', 'is required (as a secret) when cache.external is true');
  const ownerUrl = settings.database.external ? pulumi.secret(secrets.databaseUrl!) : undefined;
  return {
    ...(ownerUrl
      ? {
          database: {
            ownerUrl,
            appUrl: pulumi.secret(
              pulumi
                .all([ownerUrl, platform.databaseAppPassword])
                .apply(([url, password]) => withRole(url, APP_ROLE, password)),
            ),
          },
        }
      : {}),
    ...(settings.cache.external ? { redisUrl: pulumi.secret(secrets.redisUrl!) } : {}),
  };
}

/**
 * The platform into the cluster: namespace, NetworkPolicies, Postgres and Redis (in the cluster
 * unless the target brings them), the control plane, the XIM fleet and the XEM hosts — all of it
 * after the target is ready (add-ons installed, prerequisites found), the agents after the router.
 */
export function deployToCluster(
  settings: StackSettings,
  target: ClusterTarget,
  secrets: PlatformSecrets,
  huggingFaceToken?: pulumi.Output<string>,
): PlatformOutputs {
  const opts = { provider: target.provider, dependsOn: [...target.ready] };
  const namespace = new k8s.core.v1.Namespace(
    'xerotier',
    { metadata: { name: settings.namespace, labels: { 'app.kubernetes.io/name': 'xerotier' } } },
    opts,
  );
  const inNamespace = { ...opts, dependsOn: [...target.ready, namespace] };
  const tracing = settings.monitoring.tracing;
  new NetworkPolicies(
    'network',
    {
      namespace: namespace.metadata.name,
      protectedCidrs: target.protectedCidrs,
      ...(tracing ? { collectorPort: collectorPort(tracing) } : {}),
    },
    inNamespace,
  );
  const data = dataServices(settings, target, secrets, namespace.metadata.name, inNamespace);
  const controlPlane = new ControlPlane(
    'control-plane',
    {
      namespace: namespace.metadata.name,
      image: image(settings.images, 'router'),
      hostname: settings.hostname,
      bootstrapProject: settings.bootstrapProject,
      router: settings.router,
      secrets,
      database: data.database,
      exposure: target.exposure,
      appPasswordGeneration: settings.rotation.databaseApp,
      ...(data.redisUrl ? { redisUrl: data.redisUrl } : {}),
      ...(target.trustedCaPath ? { trustedCaPath: target.trustedCaPath } : {}),
      ...(tracing ? { tracing } : {}),
    },
    inNamespace,
  );
  // Agents enroll over HTTPS (they refuse plain HTTP: join keys and tokens cross that link), and
  // reach the mesh on the internal Service under its public name.
  const agents = {
    namespace: namespace.metadata.name,
    routerUrl: controlPlane.routerUrl,
    meshAlias: controlPlane.meshAlias,
    secrets,
    ...(target.storage.className ? { storageClassName: target.storage.className } : {}),
    ...(tracing ? { tracing } : {}),
  };
  const afterRouter = { ...inNamespace, dependsOn: [...inNamespace.dependsOn, controlPlane.deployment] };
  if (settings.ximFleet.length > 0) {
    new XimFleet(
      'xim',
      {
        ...agents,
        image: image(settings.images, 'xim-agent'),
        models: settings.ximFleet,
        ...(target.storage.sharedClassName ? { sharedClassName: target.storage.sharedClassName } : {}),
        ...(huggingFaceToken ? { huggingFaceToken } : {}),
      },
      afterRouter,
    );
  }
  if (settings.xemHosts.length > 0)
    new XemHosts(
      'xem',
      { ...agents, image: image(settings.images, 'xem-agent'), hosts: settings.xemHosts },
      afterRouter,
    );
  if (settings.monitoring.podMonitors)
    new Monitoring('monitoring', { namespace: namespace.metadata.name }, inNamespace);
  const webUi = settings.frontend.enabled
    ? webUiOf(settings, target, secrets, controlPlane, data.redisUrl, namespace.metadata.name, afterRouter)
    : undefined;
  return {
    routerUrl: controlPlane.routerUrl,
    meshEndpoint: controlPlane.meshEndpoint,
    controlPlane,
    ...(webUi ? { webUi } : {}),
    namespace: namespace.metadata.name,
  };
}

/** The UI beside the router, its sessions in the platform's Redis (every target has one). */
function webUiOf(
  settings: StackSettings,
  target: ClusterTarget,
  secrets: PlatformSecrets,
  controlPlane: ControlPlane,
  redisUrl: pulumi.Input<string> | undefined,
  namespace: pulumi.Input<string>,
  opts: pulumi.ComponentResourceOptions,
): WebUi {
  if (redisUrl === undefined) throw new SettingsError('frontend.enabled', 'needs the platform Redis for sessions');
  return new WebUi(
    'ui',
    {
      namespace,
      image: image(settings.images, 'frontend'),
      hostname: settings.hostname,
      routerService: controlPlane.services.http.metadata.name,
      project: settings.bootstrapProject,
      replicas: settings.frontend.replicas,
      cpu: settings.frontend.cpu,
      memory: settings.frontend.memory,
      redisUrl,
      sessionSecret: secrets.uiSessionSecret,
      exposure: target.exposure,
    },
    opts,
  );
}

/** Every agent the settings run, by registration name: each needs its own join key. */
export function platformSecrets(settings: StackSettings): PlatformSecrets {
  const agents = [
    ...XimFleet.agentNames(settings.ximFleet).map((name) => ({ role: 'xim' as const, name })),
    ...XemHosts.agentNames(settings.xemHosts).map((name) => ({ role: 'xem' as const, name })),
    ...ec2Agents(settings).map(({ name }) => ({
      role: 'xem' as const,
      name,
      keeper: image(settings.images, 'xem-agent'),
    })),
  ];
  return new PlatformSecrets('platform', {
    bootstrapProject: settings.bootstrapProject,
    agents,
    rotation: settings.rotation,
  });
}

/** The XEM agents on EC2 (aws target), each with its registration name `xem-ec2-<name>-<n>`. */
export function ec2Agents(settings: StackSettings): { readonly name: string; readonly host: XemEc2Hosts }[] {
  return settings.xemEc2Hosts.flatMap((host) =>
    Array.from({ length: host.count }, (_, index) => ({ name: `xem-ec2-${host.name}-${index}`, host })),
  );
}

function dataServices(
  settings: StackSettings,
  target: ClusterTarget,
  secrets: PlatformSecrets,
  namespace: pulumi.Input<string>,
  opts: pulumi.ComponentResourceOptions,
) {
  const inCluster =
    target.database && target.redisUrl !== undefined
      ? undefined
      : new InClusterDataServices(
          'data',
          {
            namespace,
            databasePassword: secrets.databasePassword,
            databaseAppPassword: secrets.databaseAppPassword,
            cachePassword: secrets.cachePassword,
            storageGi: settings.database.storageGi,
            ...(target.storage.className ? { storageClassName: target.storage.className } : {}),
          },
          opts,
        );
  return {
    database: target.database ?? { ownerUrl: inCluster!.ownerDatabaseUrl, appUrl: inCluster!.appDatabaseUrl },
    redisUrl: target.redisUrl ?? inCluster?.redisUrl,
  };
}
