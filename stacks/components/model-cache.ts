import { createHash } from 'node:crypto';
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import type { XimModel } from '../settings.js';
import { hardened, labels, podSecurity, serviceAccount } from './k8s-common.js';
import { MODELS_DIR, XIM_UID } from './xim-pod.js';

export interface ModelCacheArgs {
  readonly namespace: pulumi.Input<string>;
  readonly model: XimModel;
  /** The xim-agent image (it has Python and huggingface_hub, from vLLM's). */
  readonly image: string;
  /** A ReadWriteMany class (EFS on aws): one copy of the weights for every replica. */
  readonly sharedClassName: string;
  /** The model's HF_TOKEN Secret when it is gated. @default none */
  readonly hfTokenSecret?: pulumi.Input<string>;
}

/**
 * One copy of a model's weights for all its replicas: a ReadWriteMany claim sized by the
 * settings' check against the weights, filled once by a Job (named by model and revision, so a
 * change fetches again) that the fleet waits for. vLLM then loads from it offline: no replica
 * downloads through NAT, and a rollout does not pull 100+ GiB per pod.
 */
export class ModelCache extends pulumi.ComponentResource {
  readonly claimName: pulumi.Output<string>;
  readonly fill: k8s.batch.v1.Job;

  constructor(name: string, args: ModelCacheArgs, opts?: pulumi.ComponentResourceOptions) {
    super('xerotier:platform:ModelCache', name, {}, opts);
    const child = { parent: this };
    const selector = labels('xim-weights', args.model.name);
    const claim = new k8s.core.v1.PersistentVolumeClaim(
      name,
      {
        // Not awaited: a class that binds on first consumer would wait for the Job that waits for it.
        metadata: { namespace: args.namespace, labels: selector, annotations: { 'pulumi.com/skipAwait': 'true' } },
        spec: {
          accessModes: ['ReadWriteMany'],
          storageClassName: args.sharedClassName,
          resources: { requests: { storage: `${args.model.cacheSizeGi}Gi` } },
        },
      },
      child,
    );
    this.claimName = claim.metadata.name;
    const account = serviceAccount(this, name, args.namespace, selector);
    const revision = args.model.revision ?? 'main';
    const fetch =
      'import os;from huggingface_hub import snapshot_download;snapshot_download(os.environ["MODEL"],revision=os.environ["REVISION"])';
    this.fill = new k8s.batch.v1.Job(
      `${name}-${createHash('sha256').update(`${args.model.model}@${revision}`).digest('hex').slice(0, 8)}`,
      {
        metadata: { namespace: args.namespace, labels: selector },
        spec: {
          backoffLimit: 4,
          ttlSecondsAfterFinished: 86_400,
          template: {
            metadata: { labels: selector },
            spec: {
              restartPolicy: 'OnFailure',
              serviceAccountName: account.metadata.name,
              automountServiceAccountToken: false,
              securityContext: podSecurity(XIM_UID),
              containers: [
                hardened({
                  name: 'fetch',
                  image: args.image,
                  command: ['python3', '-c', fetch],
                  env: [
                    { name: 'MODEL', value: args.model.model },
                    { name: 'REVISION', value: revision },
                    { name: 'HF_HOME', value: MODELS_DIR },
                    { name: 'HOME', value: '/tmp' },
                    ...(args.hfTokenSecret
                      ? [
                          {
                            name: 'HF_TOKEN',
                            valueFrom: { secretKeyRef: { name: args.hfTokenSecret, key: 'HF_TOKEN' } },
                          },
                        ]
                      : []),
                  ],
                  resources: { requests: { cpu: '1', memory: '2Gi' }, limits: { memory: '4Gi' } },
                  volumeMounts: [
                    { name: 'models', mountPath: MODELS_DIR },
                    { name: 'tmp', mountPath: '/tmp' },
                  ],
                }),
              ],
              volumes: [
                { name: 'models', persistentVolumeClaim: { claimName: claim.metadata.name } },
                { name: 'tmp', emptyDir: {} },
              ],
            },
          },
        },
      },
      { ...child, dependsOn: [claim], customTimeouts: { create: '90m', update: '90m' } },
    );
    this.registerOutputs({ claimName: this.claimName });
  }
}
