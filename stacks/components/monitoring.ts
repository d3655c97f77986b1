import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { labels } from './k8s-common.js';

export interface MonitoringArgs {
  readonly namespace: pulumi.Input<string>;
}

/** Scrape targets: the router, the XIM agents (with the engine's health, queue and KV-cache gauges) and the XEM agents. */
export const SCRAPE_TARGETS = [
  { component: 'router', port: 'metrics' },
  { component: 'xim', port: 'metrics' },
  { component: 'xem', port: 'metrics' },
] as const;

/**
 * PodMonitors for the Prometheus Operator (settings `monitoring.podMonitors`, which needs its
 * CRDs in the cluster). Without it, the pods carry `prometheus.io/scrape` and `prometheus.io/port`
 * annotations for an annotation-driven scrape config (docs/deploy.md).
 */
export class Monitoring extends pulumi.ComponentResource {
  constructor(name: string, args: MonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
    super('xerotier:platform:Monitoring', name, {}, opts);
    for (const target of SCRAPE_TARGETS) {
      new k8s.apiextensions.CustomResource(
        `${name}-${target.component}`,
        {
          apiVersion: 'monitoring.coreos.com/v1',
          kind: 'PodMonitor',
          metadata: { namespace: args.namespace, labels: labels('monitoring') },
          spec: {
            selector: {
              matchLabels: { 'app.kubernetes.io/name': 'xerotier', 'app.kubernetes.io/component': target.component },
            },
            podMetricsEndpoints: [{ port: target.port, path: '/metrics', interval: '30s' }],
          },
        },
        { parent: this },
      );
    }
    this.registerOutputs({});
  }
}
