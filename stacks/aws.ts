import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { Cluster } from './components/aws/cluster.js';
import { Cache, Database } from './components/aws/data.js';
import { Network } from './components/aws/network.js';
import type { PlatformSecrets } from './components/secrets.js';
import { ec2Agents, type ClusterAccess } from './kubernetes.js';
import { XemEc2Host } from './components/aws/xem-ec2.js';
import type { StackSettings } from './settings.js';

const EKS_VERSION = '1.31';

/**
 * The `aws` target's foundations in one region: the VPC, RDS Postgres, ElastiCache Redis and
 * EKS; the platform then goes into that cluster with those data services. The admin key and
 * every join key are also kept in Secrets Manager, for operators and hosts outside the cluster.
 */
export function awsFoundations(settings: StackSettings, secrets: PlatformSecrets, stack: string): ClusterAccess {
  const prod = settings.environment === 'prod';
  const tags = { 'xerotier:stack': stack, 'xerotier:environment': settings.environment };
  const network = new Network('network', { cidr: settings.aws.vpcCidr, azCount: settings.aws.azCount, natPerAz: prod, meshSourceCidrs: settings.aws.meshSourceCidrs, tags });
  const database = new Database('database', {
    subnetIds: network.privateSubnetIds, securityGroupId: network.databaseSecurityGroupId, instanceClass: settings.database.instanceClass,
    storageGi: settings.database.storageGi, multiAz: settings.database.multiAz, deletionProtection: settings.database.deletionProtection, password: secrets.databasePassword, tags,
  }, { protect: settings.database.deletionProtection });
  const cache = new Cache('cache', { subnetIds: network.privateSubnetIds, securityGroupId: network.cacheSecurityGroupId, nodeType: settings.cache.nodeType, replicas: prod ? 2 : 1, authToken: secrets.cachePassword, tags });
  const cluster = new Cluster('cluster', {
    version: EKS_VERSION, privateSubnetIds: network.privateSubnetIds, publicSubnetIds: network.publicSubnetIds, nodeSecurityGroupId: network.nodeSecurityGroupId,
    cpuNodes: settings.aws.cpuNodes, gpuNodes: settings.aws.gpuNodes, tags,
  });
  ec2Agents(settings).forEach(({ name: registrationName, host }, index) => new XemEc2Host(registrationName, {
    registrationName, instanceType: host.instanceType,
    subnetId: network.privateSubnetIds[index % network.privateSubnetIds.length]!, image: `${settings.images.registry}/xem-agent:${settings.images.tag}`,
    routerUrl: `https://${settings.hostname}`, joinKey: secrets.joinKey('xem', registrationName), region: aws.getRegionOutput().name, tags,
  }));
  const vault = new aws.secretsmanager.Secret('platform-secrets', { name: `xerotier/${stack}/platform`, description: 'Xerotier admin API key and agent join keys', recoveryWindowInDays: prod ? 30 : 0, tags });
  new aws.secretsmanager.SecretVersion('platform-secrets', {
    secretId: vault.id,
    secretString: pulumi.secret(pulumi.all([secrets.adminApiKey, pulumi.all([...secrets.joinKeys].map(([agent, joinKey]) => joinKey.key.apply((key) => [agent, key] as const)))])
      .apply(([admin, joinKeys]) => JSON.stringify({ admin_api_key: admin, join_keys: Object.fromEntries(joinKeys) }))),
  });
  return {
    kubeconfig: cluster.kubeconfig, databaseUrl: database.url, redisUrl: cache.url, nvidiaDevicePlugin: true,
    meshServiceAnnotations: {
      'service.beta.kubernetes.io/aws-load-balancer-type': 'nlb', 'service.beta.kubernetes.io/aws-load-balancer-scheme': 'internet-facing',
      'service.beta.kubernetes.io/aws-load-balancer-source-ranges': settings.aws.meshSourceCidrs.join(','),
    },
  };
}
