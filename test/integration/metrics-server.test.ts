import { Counter } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createMetricsRegistry, startMetricsServer } from '../../services/runtime/metrics.js';

describe('metrics server', () => {
  it('serves process metrics and registered metrics in Prometheus format', async () => {
    const registry = createMetricsRegistry('xem-agent');
    new Counter({ name: 'xerotier_test_frames_total', help: 'frames', registers: [registry] }).inc(3);
    const server = await startMetricsServer(registry, { port: 0, host: '127.0.0.1' });
    try {
      const response = await fetch(server.url);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toContain('text/plain');
      const body = await response.text();
      expect(body).toContain('process_cpu_user_seconds_total{service="xem-agent"}');
      expect(body).toContain('nodejs_eventloop_lag_seconds');
      expect(body).toContain('xerotier_test_frames_total{service="xem-agent"} 3');
      expect((await fetch(server.url.replace('/metrics', '/'))).status).toBe(404);
    } finally {
      await server.close();
    }
  });
});
