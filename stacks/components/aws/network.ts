import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { vpcPlan, type VpcPlan } from '../../rules/vpc-plan.js';

export interface NetworkArgs {
  readonly cidr: string;
  readonly azCount: number;
  /** One NAT gateway per AZ (survives an AZ outage) or one for all (cheaper). */
  readonly natPerAz: boolean;
  readonly tags: Record<string, string>;
}

const PORTS = { database: 5432, cache: 6379, efs: 2049 } as const;

/**
 * The region's VPC as vpcPlan carves it: public subnets (load balancers, NAT), private subnets
 * (nodes and pods), data subnets with no route out (RDS, ElastiCache, EFS). And the node
 * security group: the launch templates put it on every node (beside the EKS cluster group), so
 * it is the group pods' traffic leaves with under the VPC CNI, and the only source Postgres,
 * Redis and EFS admit.
 */
export class Network extends pulumi.ComponentResource {
  readonly plan: VpcPlan;
  readonly vpcId: pulumi.Output<string>;
  readonly publicSubnetIds: pulumi.Output<string>[];
  readonly privateSubnetIds: pulumi.Output<string>[];
  readonly dataSubnetIds: pulumi.Output<string>[];
  readonly nodeSecurityGroupId: pulumi.Output<string>;
  readonly databaseSecurityGroupId: pulumi.Output<string>;
  readonly cacheSecurityGroupId: pulumi.Output<string>;
  readonly efsSecurityGroupId: pulumi.Output<string>;

  constructor(name: string, args: NetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    super('xerotier:aws:Network', name, {}, opts);
    const child = { parent: this };
    const tags = (extra: Record<string, string> = {}) => ({ ...args.tags, ...extra });
    this.plan = vpcPlan(args.cidr, args.azCount);
    const vpc = new aws.ec2.Vpc(
      name,
      { cidrBlock: this.plan.vpc, enableDnsHostnames: true, enableDnsSupport: true, tags: tags({ Name: name }) },
      child,
    );
    this.vpcId = vpc.id;
    const zones = aws.getAvailabilityZonesOutput({ state: 'available' }, child);
    const subnet = (kind: 'public' | 'private' | 'data', cidr: string, index: number) =>
      new aws.ec2.Subnet(
        `${name}-${kind}-${index}`,
        {
          vpcId: vpc.id,
          availabilityZone: zones.names.apply((names) => names[index % names.length]!),
          cidrBlock: cidr,
          mapPublicIpOnLaunch: kind === 'public',
          tags: tags({
            Name: `${name}-${kind}-${index}`,
            ...(kind === 'public'
              ? { 'kubernetes.io/role/elb': '1' }
              : kind === 'private'
                ? { 'kubernetes.io/role/internal-elb': '1' }
                : {}),
          }),
        },
        child,
      );
    const publics = this.plan.publicSubnets.map((cidr, index) => subnet('public', cidr, index));
    const privates = this.plan.privateSubnets.map((cidr, index) => subnet('private', cidr, index));
    const datas = this.plan.dataSubnets.map((cidr, index) => subnet('data', cidr, index));
    this.route(name, vpc, publics, privates, datas, args, tags());
    this.publicSubnetIds = publics.map((item) => item.id);
    this.privateSubnetIds = privates.map((item) => item.id);
    this.dataSubnetIds = datas.map((item) => item.id);
    const group = (id: string, description: string) =>
      new aws.ec2.SecurityGroup(
        `${name}-${id}`,
        {
          vpcId: vpc.id,
          description,
          egress: [{ protocol: '-1', fromPort: 0, toPort: 0, cidrBlocks: ['0.0.0.0/0'] }],
          tags: tags({ Name: `${name}-${id}` }),
        },
        child,
      );
    const nodes = group('nodes', 'Kubernetes nodes and their pods (launch templates)');
    new aws.ec2.SecurityGroupRule(
      `${name}-nodes-from-nodes`,
      {
        type: 'ingress',
        securityGroupId: nodes.id,
        sourceSecurityGroupId: nodes.id,
        protocol: '-1',
        fromPort: 0,
        toPort: 0,
      },
      child,
    );
    this.nodeSecurityGroupId = nodes.id;
    const admitNodes = (id: keyof typeof PORTS, description: string) => {
      const target = group(id, description);
      new aws.ec2.SecurityGroupRule(
        `${name}-${id}-from-nodes`,
        {
          type: 'ingress',
          securityGroupId: target.id,
          sourceSecurityGroupId: nodes.id,
          protocol: 'tcp',
          fromPort: PORTS[id],
          toPort: PORTS[id],
        },
        child,
      );
      return target.id;
    };
    this.databaseSecurityGroupId = admitNodes('database', 'Postgres: from the nodes only');
    this.cacheSecurityGroupId = admitNodes('cache', 'Redis: from the nodes only');
    this.efsSecurityGroupId = admitNodes('efs', 'EFS model caches: NFS from the nodes only');
    this.registerOutputs({ vpcId: this.vpcId });
  }

  private route(
    name: string,
    vpc: aws.ec2.Vpc,
    publics: aws.ec2.Subnet[],
    privates: aws.ec2.Subnet[],
    datas: aws.ec2.Subnet[],
    args: NetworkArgs,
    tags: Record<string, string>,
  ): void {
    const child = { parent: this };
    const gateway = new aws.ec2.InternetGateway(name, { vpcId: vpc.id, tags }, child);
    const publicRoutes = new aws.ec2.RouteTable(
      `${name}-public`,
      { vpcId: vpc.id, routes: [{ cidrBlock: '0.0.0.0/0', gatewayId: gateway.id }], tags },
      child,
    );
    publics.forEach(
      (subnet, index) =>
        new aws.ec2.RouteTableAssociation(
          `${name}-public-${index}`,
          { subnetId: subnet.id, routeTableId: publicRoutes.id },
          child,
        ),
    );
    const nats = (args.natPerAz ? publics : publics.slice(0, 1)).map((subnet, index) => {
      const address = new aws.ec2.Eip(`${name}-nat-${index}`, { domain: 'vpc', tags }, child);
      return new aws.ec2.NatGateway(
        `${name}-nat-${index}`,
        { subnetId: subnet.id, allocationId: address.id, tags },
        child,
      );
    });
    privates.forEach((subnet, index) => {
      const routes = new aws.ec2.RouteTable(
        `${name}-private-${index}`,
        { vpcId: vpc.id, routes: [{ cidrBlock: '0.0.0.0/0', natGatewayId: nats[index % nats.length]!.id }], tags },
        child,
      );
      new aws.ec2.RouteTableAssociation(
        `${name}-private-${index}`,
        { subnetId: subnet.id, routeTableId: routes.id },
        child,
      );
    });
    // Data subnets reach nothing outside the VPC.
    const dataRoutes = new aws.ec2.RouteTable(`${name}-data`, { vpcId: vpc.id, tags }, child);
    datas.forEach(
      (subnet, index) =>
        new aws.ec2.RouteTableAssociation(
          `${name}-data-${index}`,
          { subnetId: subnet.id, routeTableId: dataRoutes.id },
          child,
        ),
    );
  }
}
