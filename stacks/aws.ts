import * as aws from '@pulumi/aws';
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { RDS_CA_BUNDLE } from './rules/database-url.js';
import { ClusterAddons } from './components/aws/addons.js';
import { Cluster } from './components/aws/cluster.js';
import { Cache, Database } from './components/aws/data.js';
import { Dns } from './components/aws/dns.js';
import { ModelStorage } from './components/aws/model-storage.js';
import { Network } from './components/aws/network.js';
import { XemEc2Host } from './components/aws/xem-ec2.js';
import { awsExposure } from './components/exposure.js';
import { image } from './components/k8s-common.js';
import { RouterServices } from './components/router-services.js';
import type { PlatformSecrets } from './components/secrets.js';
import { outsideTracing } from './components/tracing-env.js';
import { ec2Agents, type ClusterTarget, type PlatformOutputs } from './kubernetes.js';
import type { AwsSettings, StackSettings } from './settings.js';

export interface AwsFoundations {
  readonly target: ClusterTarget;
  /** Points the router's names at its load balancers once the platform has made them. */
  readonly afterPlatform: (platform: PlatformOutputs) => void;
}

/**
 * The `aws` target's foundations in one region: the VPC, RDS Postgres and ElastiCache Redis in
 * data subnets, EFS for model caches, EKS with its access entries, node groups and add-ons, the
 * certificate and DNS names; the platform then goes into that cluster with those data services,
 * after the add-ons. The admin key and every join key are also kept in Secrets Manager, for
 * operators and hosts outside the cluster.
 */
export function awsFoundations(settings: StackSettings, secrets: PlatformSecrets, stack: string): AwsFoundations {
  const cloud = settings.aws!;
  const prod = settings.environment === 'prod';
  const tags = { 'xerotier:stack': stack, 'xerotier:environment': settings.environment };
  const network = new Network('network', { cidr: cloud.vpcCidr, azCount: cloud.azCount, natPerAz: prod, tags });
  const database = new Database(
    'database',
    {
      subnetIds: network.dataSubnetIds,
      securityGroupId: network.databaseSecurityGroupId,
      instanceClass: settings.database.instanceClass,
      storageGi: settings.database.storageGi,
      multiAz: settings.database.multiAz,
      deletionProtection: settings.database.deletionProtection,
      password: secrets.databasePassword,
      appPassword: secrets.databaseAppPassword,
      caBundlePath: RDS_CA_BUNDLE,
      stack,
      tags,
    },
    { protect: settings.database.deletionProtection },
  );
  const cache = new Cache('cache', {
    subnetIds: network.dataSubnetIds,
    securityGroupId: network.cacheSecurityGroupId,
    nodeType: settings.cache.nodeType,
    replicas: prod ? 2 : 1,
    authToken: secrets.cachePassword,
    tags,
  });
  const models =
    settings.ximFleet.length > 0
      ? new ModelStorage('models', {
          subnetIds: network.dataSubnetIds,
          securityGroupId: network.efsSecurityGroupId,
          tags,
        })
      : undefined;
  const cluster = new Cluster('cluster', {
    version: cloud.eksVersion,
    privateSubnetIds: network.privateSubnetIds,
    nodeSecurityGroupId: network.nodeSecurityGroupId,
    cpuNodes: cloud.cpuNodes,
    gpuNodePools: cloud.gpuNodePools,
    clusterAdmins: cloud.clusterAdmins,
    endpointPublicAccessCidrs: cloud.endpointPublicAccessCidrs,
    tags,
  });
  const nodeGroups = [...cluster.nodeGroups.values()];
  // The Kubernetes provider exists only once someone may use the cluster and there are nodes.
  const provider = new k8s.Provider(
    'cluster',
    { kubeconfig: cluster.access.kubeconfig, enableServerSideApply: true, enableSecretMutable: true },
    { dependsOn: [...cluster.access.associations, ...nodeGroups] },
  );
  const addons = new ClusterAddons('addons', {
    clusterName: cluster.cluster.name,
    vpcId: network.vpcId,
    region: aws.getRegionOutput().region,
    nodeGroups,
    provider,
    tags,
    ...(models ? { modelFileSystemId: models.fileSystemId, modelMountTargets: models.mountTargets } : {}),
  });
  const dns = new Dns('dns', { hostname: settings.hostname, ...cloud.dns, tags });
  ec2Hosts(settings, secrets, network, stack, tags);
  platformVault(secrets, stack, prod, tags);
  return {
    target: {
      provider,
      ready: addons.ready,
      exposure: awsExposure(dns.certificateArn, settings.mesh, settings.namespace),
      storage: addons.storageClasses,
      database: { ownerUrl: database.ownerUrl, appUrl: database.appUrl },
      redisUrl: cache.url,
      trustedCaPath: RDS_CA_BUNDLE,
      protectedCidrs: network.plan.dataSubnets,
    },
    afterPlatform: (platform) =>
      dns.pointAt({
        api: RouterServices.hostnameOf(platform.controlPlane.services.ingress.status),
        ...(platform.webUi ? { ui: RouterServices.hostnameOf(platform.webUi.ingress.status) } : {}),
        ...(platform.controlPlane.services.meshBalancer
          ? { mesh: RouterServices.hostnameOf(platform.controlPlane.services.meshBalancer.status) }
          : {}),
      }),
  };
}

function ec2Hosts(
  settings: StackSettings,
  secrets: PlatformSecrets,
  network: Network,
  stack: string,
  tags: Record<string, string>,
): void {
  const agents = ec2Agents(settings);
  if (agents.length === 0) return;
  const tracing = outsideTracing(settings.monitoring.tracing);
  const group = new aws.ec2.SecurityGroup('xem-hosts', {
    vpcId: network.vpcId,
    description: 'XEM agents on EC2: outbound only',
    egress: [{ protocol: '-1', fromPort: 0, toPort: 0, cidrBlocks: ['0.0.0.0/0'] }],
    tags,
  });
  agents.forEach(
    ({ name: registrationName, host }, index) =>
      new XemEc2Host(registrationName, {
        registrationName,
        instanceType: host.instanceType,
        subnetId: network.privateSubnetIds[index % network.privateSubnetIds.length]!,
        image: image(settings.images, 'xem-agent'),
        routerUrl: `https://${settings.hostname}`,
        joinKey: secrets.joinKey('xem', registrationName),
        region: aws.getRegionOutput().region,
        stack,
        securityGroupId: group.id,
        tags,
        ...(tracing ? { tracing } : {}),
      }),
  );
}

/** The admin key and every join key, for operators and hosts outside the cluster: `xerotier/<stack>/platform`. */
function platformVault(secrets: PlatformSecrets, stack: string, prod: boolean, tags: Record<string, string>): void {
  const vault = new aws.secretsmanager.Secret('platform-secrets', {
    name: `xerotier/${stack}/platform`,
    description: 'Xerotier admin API key and agent join keys',
    recoveryWindowInDays: prod ? 30 : 0,
    tags,
  });
  new aws.secretsmanager.SecretVersion('platform-secrets', {
    secretId: vault.id,
    secretString: pulumi.secret(
      pulumi
        .all([
          secrets.adminApiKey,
          pulumi.all(
            [...secrets.joinKeys].map(([agent, joinKey]) => joinKey.key.apply((key) => [agent, key] as const)),
          ),
        ])
        .apply(([admin, joinKeys]) =>
          JSON.stringify({ admin_api_key: admin, join_keys: Object.fromEntries(joinKeys) }),
        ),
    ),
  });
}

export type { AwsSettings };
