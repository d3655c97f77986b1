import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Registry } from 'prom-client';

export interface MetricsServer {
  readonly registry: Registry;
  /** The bound port (differs from the requested one when that was 0). */
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

/** A registry with process metrics (CPU, memory, event-loop lag, handles) under a service label. */
export function createMetricsRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return registry;
}

/**
 * Serves `GET /metrics` (Prometheus text format) and nothing else. Its own tiny HTTP server, so
 * scraping never competes with the API's routes, auth or rate limits.
 */
export async function startMetricsServer(
  registry: Registry,
  options: { port: number; host?: string },
): Promise<MetricsServer> {
  const server = createServer((request, response) => {
    if (request.method !== 'GET' || request.url?.split('?')[0] !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    registry.metrics().then(
      (body) => response.writeHead(200, { 'content-type': registry.contentType }).end(body),
      () => response.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n'),
    );
  });
  const host = options.host ?? '0.0.0.0';
  await listen(server, options.port, host);
  const port = (server.address() as AddressInfo).port;
  return {
    registry,
    port,
    url: `http://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host}:${port}/metrics`,
    close: () => closeServer(server),
  };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
