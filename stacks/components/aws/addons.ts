import * as aws from '@pulumi/aws';
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { podIdentityRole } from './iam.js';
import { loadBalancerControllerPolicy } from './lbc-policy.js';

export interface ClusterAddonsArgs {
  readonly clusterName: pulumi.Input<string>;
  readonly vpcId: pulumi.Input<string>;
  readonly region: pulumi.Input<string>;
  /** The node groups: the add-ons' controllers need nodes to become ready. */
  readonly nodeGroups: readonly pulumi.Resource[];
  /** EFS for shared model caches; no EFS driver or class without it. @default none */
  readonly modelFileSystemId?: pulumi.Input<string>;
  /** The EFS mount targets the class's volumes need. @default [] */
  readonly modelMountTargets?: readonly pulumi.Resource[];
  readonly provider: k8s.Provider;
  readonly tags: Record<string, string>;
}

/** Pinned versions, verified against EKS 1.35: bump deliberately (docs/deploy.md, Upgrading). */
export const ADDON_VERSIONS = { loadBalancerControllerChart: '1.14.0', nvidiaDevicePlugin: 'v0.17.0' } as const;

/**
 * What the platform needs from the cluster before anything waits on it, each after the node
 * groups (their controllers run there): EKS Pod Identity (the agent, then a role per
 * controller's service account), the EBS CSI driver and a `gp3` StorageClass (state volumes),
 * the EFS CSI driver and an `efs` class (shared model caches), metrics-server (HPA, `kubectl
 * top`), the AWS Load Balancer Controller (the ALB for the Ingress, the NLB for the mesh) and
 * NVIDIA's device plugin. `ready` is what the platform's resources wait for.
 */
export class ClusterAddons extends pulumi.ComponentResource {
  readonly ready: pulumi.Resource[];
  readonly storageClasses: { readonly className: string; readonly sharedClassName?: string };

  constructor(name: string, args: ClusterAddonsArgs, opts?: pulumi.ComponentResourceOptions) {
    super('xerotier:aws:ClusterAddons', name, {}, opts);
    const afterNodes = { parent: this, dependsOn: [...args.nodeGroups] };
    const addon = (id: string, extra: Partial<aws.eks.AddonArgs> = {}, dependsOn: pulumi.Resource[] = []) =>
      new aws.eks.Addon(
        `${name}-${id}`,
        {
          clusterName: args.clusterName,
          addonName: id,
          resolveConflictsOnCreate: 'OVERWRITE',
          resolveConflictsOnUpdate: 'OVERWRITE',
          tags: args.tags,
          ...extra,
        },
        { ...afterNodes, dependsOn: [...args.nodeGroups, ...dependsOn] },
      );
    const identity = addon('eks-pod-identity-agent');
    const role = (id: string, policies: readonly string[]) =>
      podIdentityRole(this, `${name}-${id}`, policies, args.tags);
    const ebs = addon(
      'aws-ebs-csi-driver',
      {
        podIdentityAssociations: [
          {
            serviceAccount: 'ebs-csi-controller-sa',
            roleArn: role('ebs-csi', ['service-role/AmazonEBSCSIDriverPolicy']).arn,
          },
        ],
      },
      [identity],
    );
    const metrics = addon('metrics-server');
    const k8sOpts = (dependsOn: pulumi.Resource[]) => ({
      parent: this,
      provider: args.provider,
      dependsOn: [...args.nodeGroups, ...dependsOn],
    });
    const gp3 = new k8s.storage.v1.StorageClass(
      `${name}-gp3`,
      {
        metadata: { name: 'gp3', annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } },
        provisioner: 'ebs.csi.aws.com',
        volumeBindingMode: 'WaitForFirstConsumer',
        allowVolumeExpansion: true,
        reclaimPolicy: 'Delete',
        parameters: { type: 'gp3', encrypted: 'true' },
      },
      k8sOpts([ebs]),
    );
    const shared = args.modelFileSystemId ? this.efs(name, args, addon, role, k8sOpts, identity) : undefined;
    const balancers = this.loadBalancerController(name, args, k8sOpts([identity]));
    const devicePlugin = nvidiaDevicePlugin(`${name}-nvidia-device-plugin`, k8sOpts([]));
    this.ready = [gp3, metrics, balancers, devicePlugin, ...(shared ? [shared] : [])];
    this.storageClasses = { className: 'gp3', ...(shared ? { sharedClassName: 'efs' } : {}) };
    this.registerOutputs({});
  }

  private efs(
    name: string,
    args: ClusterAddonsArgs,
    addon: (id: string, extra?: Partial<aws.eks.AddonArgs>, dependsOn?: pulumi.Resource[]) => aws.eks.Addon,
    role: (id: string, policies: readonly string[]) => aws.iam.Role,
    k8sOpts: (dependsOn: pulumi.Resource[]) => pulumi.CustomResourceOptions,
    identity: aws.eks.Addon,
  ): k8s.storage.v1.StorageClass {
    const driver = addon(
      'aws-efs-csi-driver',
      {
        podIdentityAssociations: [
          {
            serviceAccount: 'efs-csi-controller-sa',
            roleArn: role('efs-csi', ['service-role/AmazonEFSCSIDriverPolicy']).arn,
          },
        ],
      },
      [identity],
    );
    return new k8s.storage.v1.StorageClass(
      `${name}-efs`,
      {
        metadata: { name: 'efs' },
        provisioner: 'efs.csi.aws.com',
        reclaimPolicy: 'Delete',
        volumeBindingMode: 'Immediate',
        // An access point per volume, owned by the xim user the weights are fetched and read as.
        parameters: {
          provisioningMode: 'efs-ap',
          fileSystemId: args.modelFileSystemId!,
          directoryPerms: '750',
          uid: '5152',
          gid: '5152',
          basePath: '/models',
        },
      },
      k8sOpts([driver, ...(args.modelMountTargets ?? [])]),
    );
  }

  private loadBalancerController(
    name: string,
    args: ClusterAddonsArgs,
    opts: pulumi.CustomResourceOptions,
  ): k8s.helm.v3.Release {
    const role = podIdentityRole(this, `${name}-lbc`, [], args.tags);
    new aws.iam.RolePolicy(
      `${name}-lbc`,
      { role: role.name, policy: JSON.stringify(loadBalancerControllerPolicy()) },
      { parent: this },
    );
    const association = new aws.eks.PodIdentityAssociation(
      `${name}-lbc`,
      {
        clusterName: args.clusterName,
        namespace: 'kube-system',
        serviceAccount: 'aws-load-balancer-controller',
        roleArn: role.arn,
        tags: args.tags,
      },
      { parent: this, dependsOn: opts.dependsOn as pulumi.Resource[] },
    );
    return new k8s.helm.v3.Release(
      `${name}-aws-load-balancer-controller`,
      {
        chart: 'aws-load-balancer-controller',
        version: ADDON_VERSIONS.loadBalancerControllerChart,
        namespace: 'kube-system',
        repositoryOpts: { repo: 'https://aws.github.io/eks-charts' },
        values: {
          clusterName: args.clusterName,
          region: args.region,
          vpcId: args.vpcId,
          replicaCount: 2,
          serviceAccount: { create: true, name: 'aws-load-balancer-controller' },
        },
        waitForJobs: true,
        atomic: true,
        timeout: 600,
      },
      { ...opts, dependsOn: [...(opts.dependsOn as pulumi.Resource[]), association] },
    );
  }
}

/** NVIDIA's device plugin on the GPU nodes (the AL2023 NVIDIA AMI has the driver, not the plugin): it advertises nvidia.com/gpu. */
function nvidiaDevicePlugin(name: string, opts: pulumi.CustomResourceOptions): k8s.apps.v1.DaemonSet {
  const selector = { 'app.kubernetes.io/name': 'nvidia-device-plugin' };
  return new k8s.apps.v1.DaemonSet(
    name,
    {
      metadata: { namespace: 'kube-system', labels: selector },
      spec: {
        selector: { matchLabels: selector },
        updateStrategy: { type: 'RollingUpdate' },
        template: {
          metadata: { labels: selector },
          spec: {
            priorityClassName: 'system-node-critical',
            nodeSelector: { 'xerotier.io/gpu': 'true' },
            automountServiceAccountToken: false,
            tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
            containers: [
              {
                name: 'nvidia-device-plugin',
                image: `nvcr.io/nvidia/k8s-device-plugin:${ADDON_VERSIONS.nvidiaDevicePlugin}`,
                env: [{ name: 'FAIL_ON_INIT_ERROR', value: 'false' }],
                securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
                volumeMounts: [{ name: 'device-plugin', mountPath: '/var/lib/kubelet/device-plugins' }],
              },
            ],
            volumes: [{ name: 'device-plugin', hostPath: { path: '/var/lib/kubelet/device-plugins' } }],
          },
        },
      },
    },
    opts,
  );
}
