import type * as k8s from '@pulumi/kubernetes';
import { telemetryConfigSchema } from '../../services/runtime/telemetry-config.js';
import type { TracingSettings } from '../settings/types.js';

/**
 * XEROTIER_OTEL_* for a container, the same for the router and every agent: spans carry the
 * trace across the mesh, so a trace is whole only when all of them export to one collector.
 * Each keeps its own service name. Nothing when the stack does not set `monitoring.tracing`.
 */
export function tracingEnv(tracing: TracingSettings | undefined): k8s.types.input.core.v1.EnvVar[] {
  return tracingVariables(tracing).map(([name, value]) => ({ name, value }));
}

/** The same as name and value pairs, for environments that are not a pod's (a host's boot script). */
export function tracingVariables(tracing: TracingSettings | undefined): [string, string][] {
  if (!tracing) return [];
  const keys = telemetryConfigSchema.keys;
  return [
    [keys.otel_enabled.env, 'true'],
    [keys.otel_endpoint.env, tracing.endpoint],
    [keys.otel_sample_rate.env, String(tracing.sampleRate)],
  ];
}

/**
 * Tracing for a host outside the cluster (XEM on EC2): `outsideEndpoint` if set, else `endpoint`
 * unless only cluster DNS resolves it (a Service name), in which case such hosts do not trace.
 */
export function outsideTracing(tracing: TracingSettings | undefined): TracingSettings | undefined {
  if (!tracing) return undefined;
  if (tracing.outsideEndpoint) return { endpoint: tracing.outsideEndpoint, sampleRate: tracing.sampleRate };
  const host = new URL(tracing.endpoint).hostname;
  return !host.includes('.') || /\.svc(\.cluster\.local)?$/.test(host) ? undefined : tracing;
}

/** The collector's TCP port, which the XIM agents' fenced egress must also allow. */
export function collectorPort(tracing: TracingSettings): number {
  const url = new URL(tracing.endpoint);
  return url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
}
