import { connect, type AddressInfo, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../services/router/app.js';
import { ApiError } from '../../services/router/http/errors.js';
import { createPool, type Pool } from '../../services/router/store/pool.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { testEnrollment } from '../helpers/fixtures.js';
import { freePort } from '../helpers/embedded-server.js';
import { capturingLogger, silentLogger } from '../helpers/logger.js';

describe('router HTTP app', () => {
  let db: TestDatabase;
  let pool: Pool;

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = createPool({ connectionString: db.url, max: 2, logger: silentLogger() });
  });
  afterAll(async () => {
    await pool.end();
    await db.drop();
  });

  it('answers liveness and readiness when the database answers', async () => {
    const app = buildApp({ enrollment: testEnrollment(), logger: silentLogger(), pool });
    expect((await app.inject('/healthz')).json()).toEqual({
      status: 'ok',
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
    });
    const ready = await app.inject('/readyz');
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: 'ready' });
    await app.close();
  });

  it('is not ready while the database does not answer', async () => {
    const dead = createPool({
      connectionString: `postgres://x:y@127.0.0.1:${await freePort()}/none`,
      max: 1,
      logger: silentLogger(),
    });
    const app = buildApp({ enrollment: testEnrollment(), logger: silentLogger(), pool: dead });
    const response = await app.inject('/readyz');
    expect(response.statusCode).toBe(503);
    expect(response.json()).toEqual({
      error: { message: 'The database does not answer', type: 'service_error', code: 'not_ready', param: null },
    });
    expect((await app.inject('/healthz')).statusCode).toBe(200);
    await app.close();
    await dead.end();
  });

  it('puts an X-Request-ID on every response, keeping a sane caller-supplied one', async () => {
    const app = buildApp({ enrollment: testEnrollment(), logger: silentLogger(), pool });
    const minted = await app.inject('/healthz');
    expect(minted.headers['x-request-id']).toMatch(/^req_[0-9a-f]{24}$/);
    const kept = await app.inject({ url: '/healthz', headers: { 'x-request-id': 'trace-abc-12345' } });
    expect(kept.headers['x-request-id']).toBe('trace-abc-12345');
    const replaced = await app.inject({ url: '/healthz', headers: { 'x-request-id': 'bad id\r\nx' } });
    expect(replaced.headers['x-request-id']).toMatch(/^req_/);
    expect((await app.inject('/missing')).headers['x-request-id']).toMatch(/^req_/);
    await app.close();
  });

  it('answers unknown routes and every error with the documented envelope', async () => {
    const { logger, lines } = capturingLogger('info');
    const app = buildApp({ enrollment: testEnrollment(), logger, pool });
    app.post(
      '/t/schema',
      {
        schema: {
          body: {
            type: 'object',
            required: ['name'],
            additionalProperties: false,
            properties: { name: { type: 'string' } },
          },
        },
      },
      async () => ({}),
    );
    app.get('/t/api-error', async () => {
      throw new ApiError('invalid_parameter', 'limit must be positive', 'limit');
    });
    app.get('/t/crash', async () => {
      throw new Error('database password is hunter2');
    });

    const missing = await app.inject('/missing?x=1');
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toEqual({
      error: { message: 'No route for GET /missing', type: 'invalid_request_error', code: 'not_found', param: null },
    });

    const unknown = await app.inject({ method: 'POST', url: '/t/schema', payload: { name: 'x', role: 'admin' } });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().error.code).toBe('invalid_body');

    const badJson = await app.inject({
      method: 'POST',
      url: '/t/schema',
      headers: { 'content-type': 'application/json' },
      payload: '{"name":',
    });
    expect(badJson.statusCode).toBe(400);
    expect(badJson.json().error.code).toBe('invalid_body');

    const tooLarge = await app.inject({ method: 'POST', url: '/t/schema', payload: { name: 'x'.repeat(1_100_000) } });
    expect(tooLarge.statusCode).toBe(413);
    expect(tooLarge.json().error.code).toBe('payload_too_large');

    expect((await app.inject('/t/api-error')).json()).toEqual({
      error: {
        message: 'limit must be positive',
        type: 'invalid_request_error',
        code: 'invalid_parameter',
        param: 'limit',
      },
    });

    const crash = await app.inject('/t/crash');
    expect(crash.statusCode).toBe(500);
    expect(crash.json()).toEqual({
      error: { message: 'Internal error', type: 'server_error', code: 'internal_error', param: null },
    });
    expect(crash.body).not.toContain('hunter2');
    expect(lines().join('')).toContain('request failed');
    await app.close();
  });

  it('logs one completion line per request and keeps probes out of the info log', async () => {
    const { logger, lines } = capturingLogger('info');
    const app = buildApp({ enrollment: testEnrollment(), logger, pool });
    await app.inject('/readyz');
    await app.inject('/missing');
    const completed = lines().filter((line) => line.includes('request completed'));
    expect(completed).toHaveLength(1);
    expect(JSON.parse(completed[0]!)).toMatchObject({ level: 'info', method: 'GET', url: '/missing', status: 404 });
    await app.close();
  });
});

describe('router HTTP server limits', () => {
  async function rawExchange(port: number, send: (socket: Socket) => void): Promise<string> {
    return new Promise((resolve) => {
      const socket = connect(port, '127.0.0.1');
      let received = '';
      socket.on('data', (chunk) => (received += chunk.toString()));
      socket.on('close', () => resolve(received));
      socket.on('error', () => resolve(received));
      send(socket);
    });
  }

  it('answers a slow-header client with 408 and the envelope near the headers timeout', async () => {
    const app = buildApp({
      enrollment: testEnrollment(),
      logger: silentLogger(),
      pool: null as never,
      timeouts: { headersTimeoutMs: 1_000, requestTimeoutMs: 2_000, keepAliveTimeoutMs: 5_000 },
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const port = (app.server.address() as AddressInfo).port;
    // Bounded by the headers timeout: Node's default (60 s) would outlast this test's timeout.
    let trickle: NodeJS.Timeout | undefined;
    const answer = await rawExchange(port, (socket) => {
      socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
      trickle = setInterval(() => socket.writable && socket.write('X-Slow: 1\r\n'), 300);
    });
    clearInterval(trickle);
    await app.close();
    expect(answer).toMatch(/^HTTP\/1\.1 408 Request Timeout/);
    expect(answer).toMatch(/X-Request-ID: req_[0-9a-f]{24}/);
    expect(answer).toContain('"code":"request_timeout"');
  });

  it('answers a request that is not HTTP with 400 malformed_request', async () => {
    const app = buildApp({ enrollment: testEnrollment(), logger: silentLogger(), pool: null as never });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const port = (app.server.address() as AddressInfo).port;
    const answer = await rawExchange(port, (socket) => socket.write('HELLO THERE\r\n\r\n'));
    await app.close();
    expect(answer).toMatch(/^HTTP\/1\.1 400 Bad Request/);
    expect(answer).toContain('"code":"malformed_request"');
  });

  it('answers requests arriving while it drains with 503 shutting_down', async () => {
    const app = buildApp({ enrollment: testEnrollment(), logger: silentLogger(), pool: null as never });
    let release: () => void = () => undefined;
    let arrived: () => void = () => undefined;
    const slowArrived = new Promise<void>((resolve) => (arrived = resolve));
    app.get(
      '/t/slow',
      () =>
        new Promise((resolve) => {
          release = () => resolve({ done: true });
          arrived();
        }),
    );
    await app.listen({ port: 0, host: '127.0.0.1' });
    const port = (app.server.address() as AddressInfo).port;
    const answer = await rawExchange(
      port,
      (socket) =>
        void (async () => {
          socket.write('GET /t/slow HTTP/1.1\r\nHost: x\r\n\r\n');
          await slowArrived;
          void app.close();
          // A second request pipelined on the open connection, while the first is still held.
          const second = new Promise((resolve) => app.server.once('request', resolve));
          socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
          await second;
          release();
        })(),
    );
    expect(answer).toContain('{"done":true}');
    expect(answer).toContain('"code":"shutting_down"');
  });
});
