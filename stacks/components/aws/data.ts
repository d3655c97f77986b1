import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

export interface DatabaseArgs {
  readonly subnetIds: pulumi.Input<string>[];
  readonly securityGroupId: pulumi.Input<string>;
  readonly instanceClass: string;
  readonly storageGi: number;
  readonly multiAz: boolean;
  readonly deletionProtection: boolean;
  readonly password: pulumi.Input<string>;
  readonly tags: Record<string, string>;
}

/** RDS Postgres: encrypted, never public, TLS required, backups kept, Multi-AZ and protected in prod. */
export class Database extends pulumi.ComponentResource {
  readonly instance: aws.rds.Instance;
  readonly url: pulumi.Output<string>;

  constructor(name: string, args: DatabaseArgs, opts?: pulumi.ComponentResourceOptions) {
    super('xerotier:aws:Database', name, {}, opts);
    const child = { parent: this };
    const subnets = new aws.rds.SubnetGroup(name, { subnetIds: args.subnetIds, tags: args.tags }, child);
    const parameters = new aws.rds.ParameterGroup(name, { family: 'postgres16', parameters: [{ name: 'rds.force_ssl', value: '1' }], tags: args.tags }, child);
    this.instance = new aws.rds.Instance(name, {
      engine: 'postgres', engineVersion: '16', instanceClass: args.instanceClass, allocatedStorage: args.storageGi, maxAllocatedStorage: args.storageGi * 4,
      storageType: 'gp3', storageEncrypted: true, publiclyAccessible: false, multiAz: args.multiAz, deletionProtection: args.deletionProtection,
      dbName: 'xerotier', username: 'xerotier', password: pulumi.secret(args.password),
      dbSubnetGroupName: subnets.name, vpcSecurityGroupIds: [args.securityGroupId], parameterGroupName: parameters.name,
      backupRetentionPeriod: args.deletionProtection ? 14 : 7, copyTagsToSnapshot: true, autoMinorVersionUpgrade: true,
      skipFinalSnapshot: !args.deletionProtection, ...(args.deletionProtection ? { finalSnapshotIdentifier: `${name}-final` } : {}),
      performanceInsightsEnabled: true, tags: args.tags,
    }, child);
    this.url = pulumi.secret(pulumi.interpolate`postgres://xerotier:${args.password}@${this.instance.address}:5432/xerotier?sslmode=require`);
    this.registerOutputs({ address: this.instance.address });
  }
}

export interface CacheArgs {
  readonly subnetIds: pulumi.Input<string>[];
  readonly securityGroupId: pulumi.Input<string>;
  readonly nodeType: string;
  readonly replicas: number;
  readonly authToken: pulumi.Input<string>;
  readonly tags: Record<string, string>;
}

/** ElastiCache Redis: TLS in transit, encrypted at rest, an auth token; a replica and failover in prod. */
export class Cache extends pulumi.ComponentResource {
  readonly group: aws.elasticache.ReplicationGroup;
  readonly url: pulumi.Output<string>;

  constructor(name: string, args: CacheArgs, opts?: pulumi.ComponentResourceOptions) {
    super('xerotier:aws:Cache', name, {}, opts);
    const child = { parent: this };
    const subnets = new aws.elasticache.SubnetGroup(name, { subnetIds: args.subnetIds, tags: args.tags }, child);
    this.group = new aws.elasticache.ReplicationGroup(name, {
      description: 'Xerotier rate limits and cache', engine: 'redis', engineVersion: '7.1', nodeType: args.nodeType,
      numCacheClusters: args.replicas, automaticFailoverEnabled: args.replicas > 1, multiAzEnabled: args.replicas > 1,
      transitEncryptionEnabled: true, atRestEncryptionEnabled: true, authToken: pulumi.secret(args.authToken),
      subnetGroupName: subnets.name, securityGroupIds: [args.securityGroupId], port: 6379, snapshotRetentionLimit: 3, tags: args.tags,
    }, child);
    this.url = pulumi.secret(pulumi.interpolate`rediss://:${args.authToken}@${this.group.primaryEndpointAddress}:6379`);
    this.registerOutputs({ address: this.group.primaryEndpointAddress });
  }
}
