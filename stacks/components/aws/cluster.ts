import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import type { GpuNodePool, NodeGroupSize } from '../../settings.js';
import { ClusterAccess } from './cluster-access.js';
import { serviceRole } from './iam.js';

export interface ClusterArgs {
  /** A version in EKS standard support (settings `aws.eksVersion`). */
  readonly version: string;
  readonly privateSubnetIds: pulumi.Input<string>[];
  /** The group Postgres, Redis and EFS admit; every node carries it (launch template). */
  readonly nodeSecurityGroupId: pulumi.Input<string>;
  readonly cpuNodes: NodeGroupSize;
  readonly gpuNodePools: readonly GpuNodePool[];
  /** IAM roles given cluster-admin access entries: CI's deploy role and the administrators'. */
  readonly clusterAdmins: readonly string[];
  /** Where the public API endpoint answers from. @default ['0.0.0.0/0'] */
  readonly endpointPublicAccessCidrs?: readonly string[];
  readonly tags: Record<string, string>;
}

const NODE_POLICIES = [
  'AmazonEKSWorkerNodePolicy',
  'AmazonEKS_CNI_Policy',
  'AmazonEC2ContainerRegistryReadOnly',
  'AmazonSSMManagedInstanceCore',
];

/**
 * EKS in the private subnets, with access entries (API mode, no implicit creator admin) for the
 * roles that deploy and administer it, the VPC CNI as a managed add-on with its network policy
 * agent on (before any node joins), and managed node groups on launch templates: the cluster
 * security group plus the node group Postgres and Redis admit, IMDSv2 with a hop limit of one
 * (pods cannot borrow the node's role), encrypted gp3 roots. CPU nodes for the router and XEM
 * agents; one GPU node group per pool (NVIDIA AMI, tainted `nvidia.com/gpu`), labelled with the
 * pool so each model's pods go to its GPU type. No autoscaler: a pool's minimum is its capacity.
 */
export class Cluster extends pulumi.ComponentResource {
  readonly cluster: aws.eks.Cluster;
  readonly clusterSecurityGroupId: pulumi.Output<string>;
  readonly launchTemplates: ReadonlyMap<string, aws.ec2.LaunchTemplate>;
  readonly nodeGroups: ReadonlyMap<string, aws.eks.NodeGroup>;
  readonly access: ClusterAccess;

  constructor(name: string, args: ClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super('xerotier:aws:Cluster', name, {}, opts);
    const child = { parent: this };
    const clusterRole = serviceRole(
      this,
      `${name}-cluster`,
      'eks.amazonaws.com',
      ['AmazonEKSClusterPolicy'],
      args.tags,
    );
    this.cluster = new aws.eks.Cluster(
      name,
      {
        version: args.version,
        roleArn: clusterRole.arn,
        vpcConfig: {
          subnetIds: args.privateSubnetIds,
          endpointPrivateAccess: true,
          endpointPublicAccess: true,
          publicAccessCidrs: [...(args.endpointPublicAccessCidrs ?? ['0.0.0.0/0'])],
        },
        accessConfig: { authenticationMode: 'API', bootstrapClusterCreatorAdminPermissions: false },
        // At the end of standard support EKS upgrades the cluster rather than bill extended support; upgrade first (docs/deploy.md).
        upgradePolicy: { supportType: 'STANDARD' },
        enabledClusterLogTypes: ['api', 'audit', 'authenticator'],
        tags: args.tags,
      },
      child,
    );
    this.clusterSecurityGroupId = this.cluster.vpcConfig.clusterSecurityGroupId;
    this.access = new ClusterAccess(`${name}-access`, { cluster: this.cluster, admins: args.clusterAdmins }, child);
    const cni = new aws.eks.Addon(
      `${name}-vpc-cni`,
      {
        clusterName: this.cluster.name,
        addonName: 'vpc-cni',
        resolveConflictsOnCreate: 'OVERWRITE',
        resolveConflictsOnUpdate: 'OVERWRITE',
        configurationValues: JSON.stringify({ enableNetworkPolicy: 'true' }),
        tags: args.tags,
      },
      child,
    );
    const nodeRole = serviceRole(this, `${name}-nodes`, 'ec2.amazonaws.com', NODE_POLICIES, args.tags);
    const pools = [
      { pool: 'cpu', size: args.cpuNodes, gpu: false },
      ...args.gpuNodePools.map((size) => ({ pool: `gpu-${size.name}`, size, gpu: true })),
    ];
    const templates = new Map<string, aws.ec2.LaunchTemplate>();
    const groups = new Map<string, aws.eks.NodeGroup>();
    for (const { pool, size, gpu } of pools) {
      const template = this.launchTemplate(`${name}-${pool}`, args, gpu ? 200 : 50);
      templates.set(pool, template);
      groups.set(
        pool,
        new aws.eks.NodeGroup(
          `${name}-${pool}`,
          {
            clusterName: this.cluster.name,
            nodeRoleArn: nodeRole.arn,
            subnetIds: args.privateSubnetIds,
            instanceTypes: [size.instanceType],
            amiType: gpu ? 'AL2023_x86_64_NVIDIA' : 'AL2023_x86_64_STANDARD',
            launchTemplate: { id: template.id, version: template.latestVersion.apply(String) },
            scalingConfig: { minSize: size.min, desiredSize: size.min, maxSize: Math.max(1, size.max, size.min) },
            labels: gpu
              ? { 'xerotier.io/pool': pool.slice('gpu-'.length), 'xerotier.io/gpu': 'true' }
              : { 'xerotier.io/pool': 'cpu' },
            taints: gpu ? [{ key: 'nvidia.com/gpu', value: 'present', effect: 'NO_SCHEDULE' }] : [],
            updateConfig: { maxUnavailable: 1 },
            tags: args.tags,
          },
          { ...child, dependsOn: [cni] },
        ),
      );
    }
    this.launchTemplates = templates;
    this.nodeGroups = groups;
    this.registerOutputs({ name: this.cluster.name, endpoint: this.cluster.endpoint });
  }

  private launchTemplate(name: string, args: ClusterArgs, diskGi: number): aws.ec2.LaunchTemplate {
    return new aws.ec2.LaunchTemplate(
      name,
      {
        // With security groups in the template EKS adds none: the cluster group is listed for the control plane's traffic.
        vpcSecurityGroupIds: [this.clusterSecurityGroupId, args.nodeSecurityGroupId],
        metadataOptions: { httpEndpoint: 'enabled', httpTokens: 'required', httpPutResponseHopLimit: 1 },
        blockDeviceMappings: [
          {
            deviceName: '/dev/xvda',
            ebs: { volumeSize: diskGi, volumeType: 'gp3', encrypted: 'true', deleteOnTermination: 'true' },
          },
        ],
        tagSpecifications: [{ resourceType: 'instance', tags: { ...args.tags, Name: name } }],
        updateDefaultVersion: true,
        tags: args.tags,
      },
      { parent: this },
    );
  }
}
