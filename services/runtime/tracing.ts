import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanStatusCode,
  trace,
  type Context,
  type Tracer,
} from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { ParentBasedSampler, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace-base';
import type { TelemetryConfig } from './telemetry-config.js';

/** Same shape as the mesh frame's `trace` member (protocol's TraceCarrier). */
export interface TraceCarrier {
  traceparent: string;
  tracestate?: string;
}

export interface Tracing {
  readonly enabled: boolean;
  readonly tracer: Tracer;
  /** Flushes pending spans and unregisters the global provider. */
  shutdown(): Promise<void>;
}

/**
 * Starts the OpenTelemetry SDK only when XEROTIER_OTEL_ENABLED is on; otherwise every span is
 * the API's no-op and frames carry no trace context. Sampling is parent-based, so a sampled
 * caller's trace continues across the mesh whatever the local rate.
 */
export function startTracing(config: TelemetryConfig, defaultServiceName: string): Tracing {
  const serviceName = config.otel_service_name ?? defaultServiceName;
  if (!config.otel_enabled || config.otel_endpoint === undefined) {
    return { enabled: false, tracer: trace.getTracer(serviceName), shutdown: async () => undefined };
  }
  const sdk = new NodeSDK({
    resource: resourceFromAttributes({ 'service.name': serviceName }),
    traceExporter: new OTLPTraceExporter({ url: config.otel_endpoint }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(config.otel_sample_rate) }),
    instrumentations: [],
  });
  sdk.start();
  return {
    enabled: true,
    tracer: trace.getTracer(serviceName),
    async shutdown() {
      await sdk.shutdown();
      trace.disable();
      propagation.disable();
      context.disable();
    },
  };
}

/** W3C trace context of `ctx` (default: the active one) for a frame's `trace` member. */
export function traceCarrierFromContext(ctx: Context = context.active()): TraceCarrier | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  const traceparent = carrier['traceparent'];
  if (traceparent === undefined) return undefined;
  const tracestate = carrier['tracestate'];
  return tracestate ? { traceparent, tracestate } : { traceparent };
}

/** The context a received frame's `trace` member continues; the active one when absent. */
export function contextFromTraceCarrier(carrier: TraceCarrier | undefined, base: Context = context.active()): Context {
  if (carrier === undefined) return base;
  return propagation.extract(base, carrier);
}

/**
 * Runs `fn` in a span that continues `parent` (a frame's or a stored call's trace context) and
 * hands it the carrier its outgoing frames should take. Spans are no-ops unless tracing is on.
 */
export async function inSpan<T>(
  name: string,
  parent: TraceCarrier | undefined,
  fn: (carrier: TraceCarrier | undefined) => Promise<T>,
  attributes: Record<string, string | number> = {},
): Promise<T> {
  const tracer = trace.getTracer('xerotier');
  const span = tracer.startSpan(name, { attributes }, contextFromTraceCarrier(parent, ROOT_CONTEXT));
  const active = trace.setSpan(ROOT_CONTEXT, span);
  try {
    return await context.with(active, () => fn(traceCarrierFromContext(active)));
  } catch (error) {
    span.recordException(error as Error);
    span.setStatus({ code: SpanStatusCode.ERROR });
    throw error;
  } finally {
    span.end();
  }
}
