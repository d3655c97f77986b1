import * as aws from '@pulumi/aws';
import type * as pulumi from '@pulumi/pulumi';

/** A role a service (`eks.amazonaws.com`, `ec2.amazonaws.com`, …) assumes, with AWS-managed policies attached. */
export function serviceRole(
  parent: pulumi.Resource,
  name: string,
  service: string,
  managedPolicies: readonly string[],
  tags: Record<string, string>,
): aws.iam.Role {
  return roleWith(parent, name, { Service: service }, ['sts:AssumeRole'], managedPolicies, tags);
}

/** A role a Kubernetes service account assumes through EKS Pod Identity (no OIDC provider to manage). */
export function podIdentityRole(
  parent: pulumi.Resource,
  name: string,
  managedPolicies: readonly string[],
  tags: Record<string, string>,
): aws.iam.Role {
  return roleWith(
    parent,
    name,
    { Service: 'pods.eks.amazonaws.com' },
    ['sts:AssumeRole', 'sts:TagSession'],
    managedPolicies,
    tags,
  );
}

function roleWith(
  parent: pulumi.Resource,
  name: string,
  principal: Record<string, string>,
  actions: string[],
  managedPolicies: readonly string[],
  tags: Record<string, string>,
): aws.iam.Role {
  const role = new aws.iam.Role(
    name,
    {
      assumeRolePolicy: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: principal, Action: actions.length === 1 ? actions[0] : actions }],
      }),
      tags,
    },
    { parent },
  );
  for (const policy of managedPolicies)
    new aws.iam.RolePolicyAttachment(
      `${name}-${policy.split('/').pop()}`,
      { role: role.name, policyArn: `arn:aws:iam::aws:policy/${policy}` },
      { parent },
    );
  return role;
}
