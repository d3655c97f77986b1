import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

export interface NetworkArgs {
  readonly cidr: string;
  readonly azCount: number;
  /** One NAT gateway per AZ (survives an AZ outage) or one for all (cheaper). */
  readonly natPerAz: boolean;
  /** Where agents outside the VPC dial the mesh from. */
  readonly meshSourceCidrs: readonly string[];
  readonly tags: Record<string, string>;
}

/**
 * The region's VPC: public and private subnets across AZs (nodes, databases and caches only in
 * private ones), NAT for egress, and the security groups that say who reaches what — Postgres
 * and Redis only from the cluster's nodes, the mesh port only from where agents run.
 */
export class Network extends pulumi.ComponentResource {
  readonly vpcId: pulumi.Output<string>;
  readonly publicSubnetIds: pulumi.Output<string>[];
  readonly privateSubnetIds: pulumi.Output<string>[];
  readonly nodeSecurityGroupId: pulumi.Output<string>;
  readonly databaseSecurityGroupId: pulumi.Output<string>;
  readonly cacheSecurityGroupId: pulumi.Output<string>;
  readonly meshSecurityGroupId: pulumi.Output<string>;

  constructor(name: string, args: NetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    super('xerotier:aws:Network', name, {}, opts);
    const child = { parent: this };
    const tags = (extra: Record<string, string> = {}) => ({ ...args.tags, ...extra });
    const vpc = new aws.ec2.Vpc(name, { cidrBlock: args.cidr, enableDnsHostnames: true, enableDnsSupport: true, tags: tags({ Name: name }) }, child);
    this.vpcId = vpc.id;
    const zones = aws.getAvailabilityZonesOutput({ state: 'available' }, child);
    const gateway = new aws.ec2.InternetGateway(name, { vpcId: vpc.id, tags: tags() }, child);
    const publicRoutes = new aws.ec2.RouteTable(`${name}-public`, { vpcId: vpc.id, routes: [{ cidrBlock: '0.0.0.0/0', gatewayId: gateway.id }], tags: tags() }, child);
    const publics: aws.ec2.Subnet[] = [];
    const privates: aws.ec2.Subnet[] = [];
    for (let index = 0; index < args.azCount; index += 1) {
      const zone = zones.names.apply((names) => names[index % names.length]!);
      const subnet = (kind: 'public' | 'private', offset: number) => new aws.ec2.Subnet(`${name}-${kind}-${index}`, {
        vpcId: vpc.id, availabilityZone: zone, cidrBlock: subnetCidr(args.cidr, offset + index), mapPublicIpOnLaunch: kind === 'public',
        tags: tags(kind === 'public' ? { 'kubernetes.io/role/elb': '1' } : { 'kubernetes.io/role/internal-elb': '1' }),
      }, child);
      publics.push(subnet('public', 0));
      privates.push(subnet('private', 8));
      new aws.ec2.RouteTableAssociation(`${name}-public-${index}`, { subnetId: publics[index]!.id, routeTableId: publicRoutes.id }, child);
    }
    this.routePrivate(name, args, publics, privates, tags());
    this.publicSubnetIds = publics.map((subnet) => subnet.id);
    this.privateSubnetIds = privates.map((subnet) => subnet.id);
    const group = (id: string, description: string) => new aws.ec2.SecurityGroup(`${name}-${id}`, { vpcId: vpc.id, description, egress: [{ protocol: '-1', fromPort: 0, toPort: 0, cidrBlocks: ['0.0.0.0/0'] }], tags: tags() }, child);
    const nodes = group('nodes', 'Kubernetes nodes');
    const database = group('database', 'Postgres: from the nodes only');
    const cache = group('cache', 'Redis: from the nodes only');
    const mesh = group('mesh', 'The router mesh port, from where agents run');
    new aws.ec2.SecurityGroupRule(`${name}-database-from-nodes`, { type: 'ingress', securityGroupId: database.id, sourceSecurityGroupId: nodes.id, protocol: 'tcp', fromPort: 5432, toPort: 5432 }, child);
    new aws.ec2.SecurityGroupRule(`${name}-cache-from-nodes`, { type: 'ingress', securityGroupId: cache.id, sourceSecurityGroupId: nodes.id, protocol: 'tcp', fromPort: 6379, toPort: 6379 }, child);
    new aws.ec2.SecurityGroupRule(`${name}-mesh-from-agents`, { type: 'ingress', securityGroupId: mesh.id, cidrBlocks: [...args.meshSourceCidrs], protocol: 'tcp', fromPort: 5555, toPort: 5555 }, child);
    this.nodeSecurityGroupId = nodes.id;
    this.databaseSecurityGroupId = database.id;
    this.cacheSecurityGroupId = cache.id;
    this.meshSecurityGroupId = mesh.id;
    this.registerOutputs({ vpcId: this.vpcId });
  }

  private routePrivate(name: string, args: NetworkArgs, publics: aws.ec2.Subnet[], privates: aws.ec2.Subnet[], tags: Record<string, string>): void {
    const child = { parent: this };
    const nats = (args.natPerAz ? publics : publics.slice(0, 1)).map((subnet, index) => {
      const address = new aws.ec2.Eip(`${name}-nat-${index}`, { domain: 'vpc', tags }, child);
      return new aws.ec2.NatGateway(`${name}-nat-${index}`, { subnetId: subnet.id, allocationId: address.id, tags }, child);
    });
    privates.forEach((subnet, index) => {
      const nat = nats[index % nats.length]!;
      const routes = new aws.ec2.RouteTable(`${name}-private-${index}`, { vpcId: subnet.vpcId, routes: [{ cidrBlock: '0.0.0.0/0', natGatewayId: nat.id }], tags }, child);
      new aws.ec2.RouteTableAssociation(`${name}-private-${index}`, { subnetId: subnet.id, routeTableId: routes.id }, child);
    });
  }
}

/** The n-th /20 of a /16 (public subnets 0–7, private 8–15). */
export function subnetCidr(vpcCidr: string, n: number): string {
  const [a, b] = vpcCidr.split('.');
  return `${a}.${b}.${n * 16}.0/20`;
}
