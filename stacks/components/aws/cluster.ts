import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import type { NodeGroupSize } from '../../settings.js';
import { serviceRole } from './iam.js';

export interface ClusterArgs {
  readonly version: string;
  readonly privateSubnetIds: pulumi.Input<string>[];
  readonly publicSubnetIds: pulumi.Input<string>[];
  readonly nodeSecurityGroupId: pulumi.Input<string>;
  readonly cpuNodes: NodeGroupSize;
  readonly gpuNodes: NodeGroupSize;
  readonly tags: Record<string, string>;
}

const NODE_POLICIES = ['AmazonEKSWorkerNodePolicy', 'AmazonEKS_CNI_Policy', 'AmazonEC2ContainerRegistryReadOnly', 'AmazonSSMManagedInstanceCore'];

/**
 * EKS with two managed node groups in the private subnets: CPU nodes for the router and XEM
 * agents, GPU nodes (NVIDIA AMI) tainted `nvidia.com/gpu=present:NoSchedule` so only pods that
 * tolerate it (the XIM fleet) land there. The kubeconfig (secret) authenticates with
 * `aws eks get-token`.
 */
export class Cluster extends pulumi.ComponentResource {
  readonly cluster: aws.eks.Cluster;
  readonly gpuNodeGroup: aws.eks.NodeGroup;
  readonly kubeconfig: pulumi.Output<string>;

  constructor(name: string, args: ClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super('xerotier:aws:Cluster', name, {}, opts);
    const child = { parent: this };
    const clusterRole = serviceRole(this, `${name}-cluster`, 'eks.amazonaws.com', ['AmazonEKSClusterPolicy'], args.tags);
    this.cluster = new aws.eks.Cluster(name, {
      version: args.version, roleArn: clusterRole.arn,
      vpcConfig: { subnetIds: [...args.privateSubnetIds, ...args.publicSubnetIds], securityGroupIds: [args.nodeSecurityGroupId], endpointPrivateAccess: true, endpointPublicAccess: true },
      accessConfig: { authenticationMode: 'API_AND_CONFIG_MAP', bootstrapClusterCreatorAdminPermissions: true },
      enabledClusterLogTypes: ['api', 'audit', 'authenticator'], tags: args.tags,
    }, child);
    const nodeRole = serviceRole(this, `${name}-nodes`, 'ec2.amazonaws.com', NODE_POLICIES, args.tags);
    const group = (pool: 'cpu' | 'gpu', size: NodeGroupSize) => new aws.eks.NodeGroup(`${name}-${pool}`, {
      clusterName: this.cluster.name, nodeRoleArn: nodeRole.arn, subnetIds: args.privateSubnetIds, instanceTypes: [size.instanceType],
      amiType: pool === 'gpu' ? 'AL2023_x86_64_NVIDIA' : 'AL2023_x86_64_STANDARD', diskSize: pool === 'gpu' ? 200 : 50,
      scalingConfig: { minSize: size.min, desiredSize: Math.max(size.min, pool === 'gpu' ? size.min : 1), maxSize: Math.max(1, size.max) },
      labels: { 'xerotier.io/pool': pool },
      taints: pool === 'gpu' ? [{ key: 'nvidia.com/gpu', value: 'present', effect: 'NO_SCHEDULE' }] : [],
      updateConfig: { maxUnavailable: 1 }, tags: args.tags,
    }, child);
    group('cpu', args.cpuNodes);
    this.gpuNodeGroup = group('gpu', args.gpuNodes);
    this.kubeconfig = pulumi.secret(pulumi.all([this.cluster.name, this.cluster.endpoint, this.cluster.certificateAuthority]).apply(([clusterName, endpoint, authority]) => kubeconfig(clusterName, endpoint, authority?.data ?? '')));
    this.registerOutputs({ name: this.cluster.name, endpoint: this.cluster.endpoint });
  }
}

function kubeconfig(clusterName: string, endpoint: string, authority: string): string {
  return JSON.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': clusterName,
    clusters: [{ name: clusterName, cluster: { server: endpoint, 'certificate-authority-data': authority } }],
    contexts: [{ name: clusterName, context: { cluster: clusterName, user: clusterName } }],
    users: [{ name: clusterName, user: { exec: { apiVersion: 'client.authentication.k8s.io/v1beta1', command: 'aws', args: ['eks', 'get-token', '--cluster-name', clusterName] } } }],
  });
}
