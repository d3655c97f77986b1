import { defineConfigSchema, type ConfigOf } from './config/spec.js';

/** XEROTIER_OTEL_*: tracing settings every service reads from the environment. */
export const telemetryConfigSchema = defineConfigSchema({
  service: 'telemetry',
  keys: {
    otel_enabled: {
      kind: 'boolean',
      env: 'XEROTIER_OTEL_ENABLED',
      default: false,
      description: 'Enables distributed tracing emission (true or 1)',
    },
    otel_endpoint: {
      kind: 'url',
      protocols: ['http', 'https'],
      env: 'XEROTIER_OTEL_ENDPOINT',
      description: 'OTLP/HTTP collector endpoint for traces (for example http://collector:4318/v1/traces)',
    },
    otel_service_name: {
      kind: 'string',
      env: 'XEROTIER_OTEL_SERVICE_NAME',
      maxLength: 128,
      description: "Service name attribute on emitted spans (default: the service's own name)",
    },
    otel_sample_rate: {
      kind: 'number',
      env: 'XEROTIER_OTEL_SAMPLE_RATE',
      default: 1,
      min: 0,
      max: 1,
      description: 'Fraction of root traces sampled, 0.0 to 1.0',
    },
  },
  check(config) {
    return config.otel_enabled && config.otel_endpoint === undefined
      ? [{ key: 'otel_endpoint', expected: 'an OTLP endpoint because XEROTIER_OTEL_ENABLED is on' }]
      : [];
  },
});

export type TelemetryConfig = ConfigOf<typeof telemetryConfigSchema.keys>;
