import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

export interface ModelStorageArgs {
  /** One mount target per AZ (the data subnets). */
  readonly subnetIds: pulumi.Input<string>[];
  /** Admits NFS from the nodes only. */
  readonly securityGroupId: pulumi.Input<string>;
  readonly tags: Record<string, string>;
}

/**
 * EFS for the shared model caches (ReadWriteMany through the EFS CSI driver's `efs` class): one
 * copy of each model's weights for every replica in the region, encrypted, elastic throughput
 * (reads scale with the load a rollout puts on it), reachable from the nodes only.
 */
export class ModelStorage extends pulumi.ComponentResource {
  readonly fileSystemId: pulumi.Output<string>;
  readonly mountTargets: aws.efs.MountTarget[];

  constructor(name: string, args: ModelStorageArgs, opts?: pulumi.ComponentResourceOptions) {
    super('xerotier:aws:ModelStorage', name, {}, opts);
    const fileSystem = new aws.efs.FileSystem(
      name,
      {
        encrypted: true,
        throughputMode: 'elastic',
        performanceMode: 'generalPurpose',
        tags: { ...args.tags, Name: name },
      },
      { parent: this },
    );
    this.fileSystemId = fileSystem.id;
    this.mountTargets = args.subnetIds.map(
      (subnetId, index) =>
        new aws.efs.MountTarget(
          `${name}-${index}`,
          { fileSystemId: fileSystem.id, subnetId, securityGroups: [args.securityGroupId] },
          { parent: this },
        ),
    );
    this.registerOutputs({ fileSystemId: this.fileSystemId });
  }
}
