/**
 * What the AWS Load Balancer Controller may do: read the VPC and load balancers, make load
 * balancers, target groups and their security groups, and change or delete only those it made
 * (they carry the `elbv2.k8s.aws/cluster` tag); listeners, rules and targets of its own load
 * balancers; authorizing ingress on the nodes' group so the balancer reaches pods. Written for
 * this stack, not copied from the controller's reference policy: it omits the WAF, Shield and
 * Cognito features the platform does not use. Review it when the chart version moves.
 */
type Statement = {
  Effect: 'Allow';
  Action: string[];
  Resource: string | string[];
  Condition?: Record<string, Record<string, string | string[]>>;
};

const OWNED = { Null: { 'aws:ResourceTag/elbv2.k8s.aws/cluster': 'false' } };

export function loadBalancerControllerPolicy(): { Version: string; Statement: Statement[] } {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: ['iam:CreateServiceLinkedRole'],
        Resource: '*',
        Condition: { StringEquals: { 'iam:AWSServiceName': 'elasticloadbalancing.amazonaws.com' } },
      },
      {
        Effect: 'Allow',
        Resource: '*',
        Action: [
          'ec2:DescribeAccountAttributes',
          'ec2:DescribeAddresses',
          'ec2:DescribeAvailabilityZones',
          'ec2:DescribeInternetGateways',
          'ec2:DescribeVpcs',
          'ec2:DescribeVpcPeeringConnections',
          'ec2:DescribeSubnets',
          'ec2:DescribeSecurityGroups',
          'ec2:DescribeInstances',
          'ec2:DescribeNetworkInterfaces',
          'ec2:DescribeTags',
          'ec2:DescribeCoipPools',
          'ec2:GetCoipPoolUsage',
          'ec2:GetSecurityGroupsForVpc',
          'ec2:DescribeIpamPools',
          'ec2:DescribeRouteTables',
          'elasticloadbalancing:Describe*',
          'acm:ListCertificates',
          'acm:DescribeCertificate',
          'iam:ListServerCertificates',
          'iam:GetServerCertificate',
        ],
      },
      {
        Effect: 'Allow',
        Action: ['ec2:AuthorizeSecurityGroupIngress', 'ec2:RevokeSecurityGroupIngress'],
        Resource: '*',
      },
      { Effect: 'Allow', Action: ['ec2:CreateSecurityGroup'], Resource: '*' },
      {
        Effect: 'Allow',
        Action: ['ec2:CreateTags'],
        Resource: 'arn:aws:ec2:*:*:security-group/*',
        Condition: { StringEquals: { 'ec2:CreateAction': 'CreateSecurityGroup' } },
      },
      {
        Effect: 'Allow',
        Action: ['ec2:CreateTags', 'ec2:DeleteTags', 'ec2:DeleteSecurityGroup'],
        Resource: 'arn:aws:ec2:*:*:security-group/*',
        Condition: OWNED,
      },
      {
        Effect: 'Allow',
        Action: [
          'elasticloadbalancing:CreateLoadBalancer',
          'elasticloadbalancing:CreateTargetGroup',
          'elasticloadbalancing:AddTags',
        ],
        Resource: '*',
      },
      {
        Effect: 'Allow',
        Resource: '*',
        Action: [
          'elasticloadbalancing:CreateListener',
          'elasticloadbalancing:DeleteListener',
          'elasticloadbalancing:ModifyListener',
          'elasticloadbalancing:ModifyListenerAttributes',
          'elasticloadbalancing:CreateRule',
          'elasticloadbalancing:DeleteRule',
          'elasticloadbalancing:ModifyRule',
          'elasticloadbalancing:SetRulePriorities',
          'elasticloadbalancing:AddListenerCertificates',
          'elasticloadbalancing:RemoveListenerCertificates',
          'elasticloadbalancing:RegisterTargets',
          'elasticloadbalancing:DeregisterTargets',
        ],
      },
      {
        Effect: 'Allow',
        Resource: '*',
        Condition: OWNED,
        Action: [
          'elasticloadbalancing:ModifyLoadBalancerAttributes',
          'elasticloadbalancing:SetIpAddressType',
          'elasticloadbalancing:SetSecurityGroups',
          'elasticloadbalancing:SetSubnets',
          'elasticloadbalancing:DeleteLoadBalancer',
          'elasticloadbalancing:ModifyTargetGroup',
          'elasticloadbalancing:ModifyTargetGroupAttributes',
          'elasticloadbalancing:DeleteTargetGroup',
          'elasticloadbalancing:RemoveTags',
        ],
      },
    ],
  };
}
