import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';

export interface ClusterPrerequisitesArgs {
  readonly ingressClassName: string;
  /** cert-manager ClusterIssuer for the Ingress certificate. */
  readonly tlsIssuer: string;
  readonly storageClassNames: readonly string[];
  /** Namespaces XEM hosts get Roles in (the team's; the stack does not create them). @default [] */
  readonly targetNamespaces?: readonly string[];
}

/**
 * What a bring-your-own cluster must already have, read (never created) before anything waits on
 * it: the IngressClass, cert-manager's ClusterIssuer (its CRD with it), the storage classes the
 * settings name, the XEM hosts' target namespaces. A missing one fails the first `up` at once,
 * naming it, instead of an Ingress or volume waiting ten minutes for a controller that is not
 * there.
 */
export class ClusterPrerequisites extends pulumi.ComponentResource {
  readonly checks: pulumi.Resource[] = [];

  constructor(name: string, args: ClusterPrerequisitesArgs, opts?: pulumi.ComponentResourceOptions) {
    super('xerotier:platform:ClusterPrerequisites', name, {}, opts);
    const child = { parent: this };
    this.checks.push(
      k8s.networking.v1.IngressClass.get(`${name}-ingress-class`, args.ingressClassName, child),
      k8s.apiextensions.CustomResource.get(`${name}-cluster-issuer`, {
        apiVersion: 'cert-manager.io/v1',
        kind: 'ClusterIssuer',
        id: args.tlsIssuer,
        ...child,
      }),
      ...args.storageClassNames.map((storageClass) =>
        k8s.storage.v1.StorageClass.get(`${name}-storage-${storageClass}`, storageClass, child),
      ),
      ...(args.targetNamespaces ?? []).map((namespace) =>
        k8s.core.v1.Namespace.get(`${name}-namespace-${namespace}`, namespace, child),
      ),
    );
    this.registerOutputs({});
  }
}
