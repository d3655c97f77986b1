import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { verifiedTls, withRole } from '../../rules/database-url.js';
import { APP_ROLE } from '../router-env.js';

export interface DatabaseArgs {
  /** The data subnets (no route out). */
  readonly subnetIds: pulumi.Input<string>[];
  readonly securityGroupId: pulumi.Input<string>;
  readonly instanceClass: string;
  readonly storageGi: number;
  readonly multiAz: boolean;
  readonly deletionProtection: boolean;
  /** The master user's (schema owner's) password. */
  readonly password: pulumi.Input<string>;
  /** The app role's password: `migrate` creates the role with it. */
  readonly appPassword: pulumi.Input<string>;
  /** Where the router image keeps the RDS CA bundle (sslrootcert). */
  readonly caBundlePath: string;
  /** Unique in the account and region: the final snapshot's name carries it. */
  readonly stack: string;
  readonly tags: Record<string, string>;
}

/**
 * RDS Postgres: encrypted, never public, TLS required (`rds.force_ssl`) and verified by clients
 * (`verify-full` against the RDS CA bundle the router image ships), backups kept, Multi-AZ and
 * protected in prod. Two URLs: the master user's for migrations (it owns the schema), and the
 * app role's for the router, which `migrate` grants read/write but only append on the audit log.
 */
export class Database extends pulumi.ComponentResource {
  readonly instance: aws.rds.Instance;
  readonly ownerUrl: pulumi.Output<string>;
  readonly appUrl: pulumi.Output<string>;

  constructor(name: string, args: DatabaseArgs, opts?: pulumi.ComponentResourceOptions) {
    super('xerotier:aws:Database', name, {}, opts);
    const child = { parent: this };
    const subnets = new aws.rds.SubnetGroup(name, { subnetIds: args.subnetIds, tags: args.tags }, child);
    const parameters = new aws.rds.ParameterGroup(
      name,
      { family: 'postgres16', parameters: [{ name: 'rds.force_ssl', value: '1' }], tags: args.tags },
      child,
    );
    this.instance = new aws.rds.Instance(
      name,
      {
        engine: 'postgres',
        engineVersion: '16',
        instanceClass: args.instanceClass,
        allocatedStorage: args.storageGi,
        maxAllocatedStorage: args.storageGi * 4,
        storageType: 'gp3',
        storageEncrypted: true,
        publiclyAccessible: false,
        multiAz: args.multiAz,
        deletionProtection: args.deletionProtection,
        dbName: 'xerotier',
        username: 'xerotier',
        password: pulumi.secret(args.password),
        dbSubnetGroupName: subnets.name,
        vpcSecurityGroupIds: [args.securityGroupId],
        parameterGroupName: parameters.name,
        backupRetentionPeriod: args.deletionProtection ? 14 : 7,
        copyTagsToSnapshot: true,
        autoMinorVersionUpgrade: true,
        skipFinalSnapshot: !args.deletionProtection,
        ...(args.deletionProtection ? { finalSnapshotIdentifier: finalSnapshotName(args.stack) } : {}),
        performanceInsightsEnabled: true,
        tags: args.tags,
      },
      child,
    );
    this.ownerUrl = pulumi.secret(
      pulumi.interpolate`postgres://xerotier:${args.password}@${this.instance.address}:5432/xerotier`.apply((url) =>
        verifiedTls(url, args.caBundlePath),
      ),
    );
    this.appUrl = pulumi.secret(
      pulumi.all([this.ownerUrl, args.appPassword]).apply(([url, password]) => withRole(url, APP_ROLE, password)),
    );
    this.registerOutputs({ address: this.instance.address });
  }
}

/** RDS snapshot names are per account and region: `xerotier-<stack>-final`, letters, digits and single hyphens. */
export function finalSnapshotName(stack: string): string {
  return `xerotier-${stack}-final`
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .replace(/-+/g, '-')
    .slice(0, 255);
}

export interface CacheArgs {
  readonly subnetIds: pulumi.Input<string>[];
  readonly securityGroupId: pulumi.Input<string>;
  readonly nodeType: string;
  readonly replicas: number;
  readonly authToken: pulumi.Input<string>;
  readonly tags: Record<string, string>;
}

/** ElastiCache Redis: TLS in transit (publicly trusted certificates, so ioredis verifies them), encrypted at rest, an auth token; a replica and failover in prod. */
export class Cache extends pulumi.ComponentResource {
  readonly group: aws.elasticache.ReplicationGroup;
  readonly url: pulumi.Output<string>;

  constructor(name: string, args: CacheArgs, opts?: pulumi.ComponentResourceOptions) {
    super('xerotier:aws:Cache', name, {}, opts);
    const child = { parent: this };
    const subnets = new aws.elasticache.SubnetGroup(name, { subnetIds: args.subnetIds, tags: args.tags }, child);
    this.group = new aws.elasticache.ReplicationGroup(
      name,
      {
        description: 'Xerotier rate limits and cache',
        engine: 'redis',
        engineVersion: '7.1',
        nodeType: args.nodeType,
        numCacheClusters: args.replicas,
        automaticFailoverEnabled: args.replicas > 1,
        multiAzEnabled: args.replicas > 1,
        transitEncryptionEnabled: true,
        atRestEncryptionEnabled: true,
        authToken: pulumi.secret(args.authToken),
        authTokenUpdateStrategy: 'ROTATE',
        subnetGroupName: subnets.name,
        securityGroupIds: [args.securityGroupId],
        port: 6379,
        snapshotRetentionLimit: 3,
        tags: args.tags,
      },
      child,
    );
    this.url = pulumi.secret(pulumi.interpolate`rediss://:${args.authToken}@${this.group.primaryEndpointAddress}:6379`);
    this.registerOutputs({ address: this.group.primaryEndpointAddress });
  }
}
