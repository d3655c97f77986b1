import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

export interface ClusterAccessArgs {
  readonly cluster: aws.eks.Cluster;
  /** IAM role ARNs that get AmazonEKSClusterAdminPolicy. */
  readonly admins: readonly string[];
}

/**
 * Who may use the cluster: an access entry with cluster-admin scope per listed role (CI's
 * deploy role, the administrators' SSO role), and nobody implicitly — so it does not matter
 * whether a human or CI created the cluster. The kubeconfig the stack deploys with is made only
 * after those entries exist, and refuses, naming it, a caller whose role is not listed (its
 * Kubernetes calls would be refused later, less clearly).
 */
export class ClusterAccess extends pulumi.ComponentResource {
  readonly associations: aws.eks.AccessPolicyAssociation[];
  readonly kubeconfig: pulumi.Output<string>;

  constructor(name: string, args: ClusterAccessArgs, opts?: pulumi.ComponentResourceOptions) {
    super('xerotier:aws:ClusterAccess', name, {}, opts);
    this.associations = args.admins.map((principalArn, index) => {
      const entry = new aws.eks.AccessEntry(
        `${name}-admin-${index}`,
        { clusterName: args.cluster.name, principalArn, type: 'STANDARD' },
        { parent: this },
      );
      return new aws.eks.AccessPolicyAssociation(
        `${name}-admin-${index}`,
        {
          clusterName: args.cluster.name,
          principalArn,
          policyArn: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy',
          accessScope: { type: 'cluster' },
        },
        { parent: this, dependsOn: [entry] },
      );
    });
    const caller = aws.getCallerIdentityOutput({}, { parent: this });
    const issuer = aws.iam.getSessionContextOutput({ arn: caller.arn }, { parent: this }).issuerArn;
    const region = aws.getRegionOutput({}, { parent: this }).region;
    const ready = pulumi.all(this.associations.map((association) => association.id));
    this.kubeconfig = pulumi.secret(
      pulumi
        .all([args.cluster.name, args.cluster.endpoint, args.cluster.certificateAuthority, region, issuer, ready])
        .apply(([clusterName, endpoint, authority, regionName, caller]) => {
          refuseUnlisted(caller, args.admins);
          return kubeconfig(clusterName, endpoint, authority?.data ?? '', regionName);
        }),
    );
    this.registerOutputs({});
  }
}

/** The role running `pulumi up` must be one the cluster admits. */
export function refuseUnlisted(caller: string | undefined, admins: readonly string[]): void {
  if (caller && caller.startsWith('arn:') && !admins.includes(caller)) {
    throw new Error(
      `xerotier:aws.clusterAdmins: ${caller} (the role running this update) is not listed, so the cluster would refuse it; add it, or deploy as a listed role`,
    );
  }
}

function kubeconfig(clusterName: string, endpoint: string, authority: string, region: string): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    'current-context': clusterName,
    clusters: [{ name: clusterName, cluster: { server: endpoint, 'certificate-authority-data': authority } }],
    contexts: [{ name: clusterName, context: { cluster: clusterName, user: clusterName } }],
    users: [
      {
        name: clusterName,
        user: {
          exec: {
            apiVersion: 'client.authentication.k8s.io/v1beta1',
            command: 'aws',
            args: ['eks', 'get-token', '--cluster-name', clusterName, ...(region ? ['--region', region] : [])],
          },
        },
      },
    ],
  });
}
