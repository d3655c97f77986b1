import { formatCidr, parseCidr, subBlock, type Cidr } from './cidr.js';

/**
 * How a region's VPC is carved, for any prefix from /16 to /20 and up to three AZs:
 * - three quarters for private subnets, one per AZ (nodes and pods: the VPC CNI gives every pod
 *   a VPC address, so these are the big ones);
 * - the last quarter in eighths: public subnets (load balancers, NAT) in the first three,
 *   data subnets (RDS, ElastiCache, EFS; no route out) in eighths four to six.
 * Every subnet is inside the VPC by construction, and data subnets are their own CIDRs so
 * NetworkPolicies can keep agents away from them.
 */
export interface VpcPlan {
  readonly vpc: string;
  readonly privateSubnets: readonly string[];
  readonly publicSubnets: readonly string[];
  readonly dataSubnets: readonly string[];
}

export const VPC_PREFIX = { min: 16, max: 20 } as const;
export const MAX_AZS = 3;

export function vpcPlan(vpcCidr: string, azCount: number): VpcPlan {
  const vpc = parseCidr(vpcCidr);
  if (vpc.prefix < VPC_PREFIX.min || vpc.prefix > VPC_PREFIX.max)
    throw new Error(`a VPC from /${VPC_PREFIX.min} to /${VPC_PREFIX.max}, not /${vpc.prefix}`);
  if (azCount < 1 || azCount > MAX_AZS) throw new Error(`1 to ${MAX_AZS} AZs, not ${azCount}`);
  const lastQuarter = subBlock(vpc, vpc.prefix + 2, 3);
  const zones = Array.from({ length: azCount }, (_, index) => index);
  const eighth = (index: number): Cidr => subBlock(lastQuarter, lastQuarter.prefix + 3, index);
  return {
    vpc: formatCidr(vpc),
    privateSubnets: zones.map((index) => formatCidr(subBlock(vpc, vpc.prefix + 2, index))),
    publicSubnets: zones.map((index) => formatCidr(eighth(index))),
    dataSubnets: zones.map((index) => formatCidr(eighth(4 + index))),
  };
}

/**
 * Regions in a fixed order (append only: an index is part of every default VPC CIDR already
 * deployed). The default VPC is 10.<environment base + region index>.0.0/16, so no two
 * region/environment pairs overlap unless a stack file says so, and any pair can be peered.
 */
export const REGIONS = [
  'us-east-1',
  'us-east-2',
  'us-west-1',
  'us-west-2',
  'ca-central-1',
  'ca-west-1',
  'sa-east-1',
  'mx-central-1',
  'eu-west-1',
  'eu-west-2',
  'eu-west-3',
  'eu-central-1',
  'eu-central-2',
  'eu-north-1',
  'eu-south-1',
  'eu-south-2',
  'ap-south-1',
  'ap-south-2',
  'ap-southeast-1',
  'ap-southeast-2',
  'ap-southeast-3',
  'ap-southeast-4',
  'ap-southeast-5',
  'ap-southeast-7',
  'ap-northeast-1',
  'ap-northeast-2',
  'ap-northeast-3',
  'ap-east-1',
  'me-south-1',
  'me-central-1',
  'il-central-1',
  'af-south-1',
] as const;

const ENVIRONMENT_BASE = { prod: 64, staging: 112, dev: 160, preview: 208 } as const;

/** The default VPC for a region and environment, or undefined for a region not in the table. */
export function defaultVpcCidr(
  region: string | undefined,
  environment: keyof typeof ENVIRONMENT_BASE,
): string | undefined {
  const index = REGIONS.indexOf(region as (typeof REGIONS)[number]);
  return index < 0 ? undefined : `10.${ENVIRONMENT_BASE[environment] + index}.0.0/16`;
}
