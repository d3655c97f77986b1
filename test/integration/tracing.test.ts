import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { context, trace } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { checkFrame } from '../../services/protocol/codec.js';
import { makeFrame } from '../../services/protocol/frame.js';
import { loadConfig } from '../../services/runtime/config/load.js';
import { telemetryConfigSchema } from '../../services/runtime/telemetry-config.js';
import { contextFromTraceCarrier, startTracing, traceCarrierFromContext } from '../../services/runtime/tracing.js';

async function collector() {
  const bodies: string[] = [];
  const server = createServer((request: IncomingMessage, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      bodies.push(`${request.url} ${body}`);
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`,
    bodies,
    close: () => server.close(),
  };
}

describe('tracing', () => {
  it('stays off unless XEROTIER_OTEL_ENABLED, and then frames carry no context', async () => {
    const tracing = startTracing(loadConfig(telemetryConfigSchema, { env: {} }), 'router');
    expect(tracing.enabled).toBe(false);
    tracing.tracer.startActiveSpan('noop', (span) => {
      expect(traceCarrierFromContext()).toBeUndefined();
      span.end();
    });
    await tracing.shutdown();
  });

  it('exports spans over OTLP and carries W3C context through a mesh frame', async () => {
    const otlp = await collector();
    const env = {
      XEROTIER_OTEL_ENABLED: '1',
      XEROTIER_OTEL_ENDPOINT: otlp.url,
      XEROTIER_OTEL_SERVICE_NAME: 'router-under-test',
    };
    const tracing = startTracing(loadConfig(telemetryConfigSchema, { env }), 'router');
    try {
      expect(tracing.enabled).toBe(true);
      let sentTraceId = '';
      const frame = tracing.tracer.startActiveSpan('dispatch', (span) => {
        sentTraceId = span.spanContext().traceId;
        const carrier = traceCarrierFromContext();
        span.end();
        return makeFrame('exec.cancel', { invocation_id: 'inv_1', attempt: 1 }, carrier ? { trace: carrier } : {});
      });
      expect(() => checkFrame(frame)).not.toThrow();
      expect(frame.trace?.traceparent).toContain(sentTraceId);

      const received = contextFromTraceCarrier(frame.trace, context.active());
      const child = tracing.tracer.startSpan('handle', {}, received);
      expect(child.spanContext().traceId).toBe(sentTraceId);
      expect(trace.getSpanContext(received)?.spanId).not.toBe(child.spanContext().spanId);
      child.end();
    } finally {
      await tracing.shutdown();
      otlp.close();
    }
    const exported = otlp.bodies.join('\n');
    expect(exported).toContain('/v1/traces');
    expect(exported).toContain('dispatch');
    expect(exported).toContain('handle');
    expect(exported).toContain('router-under-test');
  });
});
