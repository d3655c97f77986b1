import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { REPO_ROOT } from '../../services/devstack/dev-state.js';
import { createScriptedEngine } from '../../services/xim-agent/scripted-engine/server.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { bearer } from '../helpers/fixtures.js';
import {
  cleanEnv,
  LOOPBACK_ROUTER_ENV,
  nextMessage,
  routerSecretsEnv,
  spawnRouterProcess,
  spawnXemAgent,
  spawnXimAgent,
  waitFor,
  type Spawned,
  acmeBootstrapEnv,
} from '../helpers/processes.js';

const MODEL = 'scripted/traced';
const BUNDLE = {
  name: 'traced',
  version: '1',
  domain: 'test',
  tools: [
    {
      name: 'echo_text',
      description: 'Echo a text',
      risk: 'read',
      timeout_ms: 10_000,
      command: { argv: ['echo', '{{text}}'] },
      parameters: {
        type: 'object',
        properties: { text: { type: 'string', maxLength: 64 } },
        required: ['text'],
        additionalProperties: false,
      },
    },
  ],
};

interface ExportedSpan {
  service: string;
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
}

/** An OTLP/HTTP (JSON) collector: every span any process exports, with the service that sent it. */
async function startCollector(): Promise<{ url: string; spans: ExportedSpan[]; server: Server }> {
  const spans: ExportedSpan[] = [];
  const server = createServer((request, response) => {
    const parts: Buffer[] = [];
    request.on('data', (chunk: Buffer) => parts.push(chunk));
    request.on('end', () => {
      spans.push(...spansOf(JSON.parse(Buffer.concat(parts).toString('utf8'))));
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`, spans, server };
}

interface OtlpBody {
  resourceSpans?: {
    resource?: { attributes?: { key: string; value: { stringValue?: string } }[] };
    scopeSpans?: { spans?: { name: string; traceId: string; spanId: string; parentSpanId?: string }[] }[];
  }[];
}

function spansOf(body: OtlpBody): ExportedSpan[] {
  return (body.resourceSpans ?? []).flatMap((resource) => {
    const service =
      resource.resource?.attributes?.find((attribute) => attribute.key === 'service.name')?.value.stringValue ?? '';
    return (resource.scopeSpans ?? []).flatMap((scope) =>
      (scope.spans ?? []).map((span) => ({
        service,
        name: span.name,
        traceId: span.traceId,
        spanId: span.spanId,
        parentSpanId: span.parentSpanId ?? '',
      })),
    );
  });
}

describe('one trace per request across the router, the mesh and the agents (real processes, an OTLP collector)', () => {
  let db: TestDatabase;
  let collector: Awaited<ReturnType<typeof startCollector>>;
  let router: Awaited<ReturnType<typeof spawnRouterProcess>>;
  let engine: Server;
  const processes: Spawned[] = [];
  const dir = mkdtempSync(join(REPO_ROOT, '.xerotier', 'tracing-'));
  const secret = randomBytes(32).toString('base64url');
  const admin = `xero_acme_${secret}`;
  const api = async (path: string, body?: unknown) => {
    const response = await fetch(`${router.http_url}/acme/v1${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { ...bearer(admin), 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  // Spans leave each process in batches; a short delay keeps the wait for them short. Nothing
  // starts a trace of its own (rate 0): only the callers' sampled traceparents are continued.
  const tracingEnv = (serviceName?: string) => ({
    XEROTIER_OTEL_ENABLED: '1',
    XEROTIER_OTEL_ENDPOINT: collector.url,
    XEROTIER_OTEL_SAMPLE_RATE: '0',
    OTEL_BSP_SCHEDULE_DELAY: '100',
    ...(serviceName ? { XEROTIER_OTEL_SERVICE_NAME: serviceName } : {}),
  });
  const traced = new Set<string>();
  const spansOfTrace = (traceId: string) => collector.spans.filter((span) => span.traceId === traceId);
  const named = (traceId: string, name: string) =>
    waitFor(`span ${name}`, 15_000, () => spansOfTrace(traceId).find((span) => span.name === name));

  beforeAll(async () => {
    db = await createTestDatabase();
    collector = await startCollector();
    router = await spawnRouterProcess(
      cleanEnv({
        ...routerSecretsEnv(),
        ...LOOPBACK_ROUTER_ENV,
        ...tracingEnv(),
        XEROTIER_DATABASE_URL: db.url,
        ...acmeBootstrapEnv(secret),
        XEROTIER_ROUTER_LEASE_RENEWAL_INTERVAL_MS: '500',
      }),
    );
    processes.push(router.run);
    engine = createScriptedEngine({ model: MODEL, tokensPerSecond: 400 });
    await new Promise<void>((resolve) => engine.listen(join(dir, 'vllm.sock'), resolve));
  }, 60_000);
  afterAll(async () => {
    for (const run of processes)
      if (run.child.exitCode === null && run.child.signalCode === null) process.kill(-run.child.pid!, 'SIGKILL');
    await new Promise((resolve) => engine?.close(resolve));
    collector?.server.close();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("follows a tool call from the HTTP request through the dispatch, the XEM agent's run and the result, continuing the caller's traceparent", async () => {
    mkdirSync(join(dir, 'xem', 'tools', 'traced'), { recursive: true });
    writeFileSync(join(dir, 'xem', 'tools', 'traced', 'bundle.yaml'), stringify(BUNDLE));
    const workspaces = (await api('/management/workspaces')).body['data'] as { id: string; is_default: boolean }[];
    const workspace = workspaces.find((row) => row.is_default)!.id;
    mkdirSync(join(dir, 'xem', 'credentials', workspace), { recursive: true });
    const joinKey = (await api('/management/join-keys', { role: 'xem', name: 'xem-traced' })).body['key'] as string;
    const agent = spawnXemAgent({
      routerUrl: router.http_url,
      joinKey,
      name: 'xem-traced',
      dir: join(dir, 'xem'),
      env: tracingEnv('xem-on-db-host'),
    });
    processes.push(agent);
    const { agent_id: agentId } = await nextMessage<{ agent_id: string }>(agent.child);
    expect((await api(`/management/workspaces/${workspace}/bindings`, { agent_id: agentId })).status).toBe(201);
    await waitFor(
      'the tool served by an online agent',
      15_000,
      async () =>
        (((await api('/exec/tools/echo_text')).body['online_agents'] as number | undefined) ?? 0) > 0 || undefined,
    );

    const traceId = randomBytes(16).toString('hex');
    traced.add(traceId);
    const callerSpan = randomBytes(8).toString('hex');
    const created = await fetch(`${router.http_url}/acme/v1/exec/invocations`, {
      method: 'POST',
      headers: { ...bearer(admin), 'content-type': 'application/json', traceparent: `00-${traceId}-${callerSpan}-01` },
      body: JSON.stringify({ tool: 'echo_text', args: { text: 'traced' } }),
    });
    expect(created.status, await created.clone().text()).toBe(201);

    const result = await named(traceId, 'exec.result');
    const request = await named(traceId, 'POST /:project_id/v1/exec/invocations');
    expect(request).toMatchObject({ service: 'xerotier-router', parentSpanId: callerSpan });
    const dispatch = await named(traceId, 'exec.dispatch');
    expect(dispatch).toMatchObject({ service: 'xerotier-router', parentSpanId: request.spanId });
    const run = await named(traceId, 'xem.execute echo_text');
    expect(run).toMatchObject({ service: 'xem-on-db-host', parentSpanId: dispatch.spanId });
    expect(result).toMatchObject({ service: 'xerotier-router', parentSpanId: run.spanId });
    // The setup's requests carried no traceparent: at a sample rate of 0 none of them was traced.
    expect(collector.spans.filter((span) => !traced.has(span.traceId))).toEqual([]);
  });

  it("follows a Responses request through the scheduler's dispatch, the XIM agent's stream and its end", async () => {
    const joinKey = (await api('/management/join-keys', { role: 'xim', name: 'xim-traced' })).body['key'] as string;
    const agent = spawnXimAgent({
      routerUrl: router.http_url,
      joinKey,
      name: 'xim-traced',
      dir: join(dir, 'xim'),
      engineUrl: `unix://${join(dir, 'vllm.sock')}`,
      env: tracingEnv(),
    });
    processes.push(agent);
    await nextMessage(agent.child);
    expect(
      (await api('/management/endpoints', { slug: 'default', models: [MODEL], service_tier: 'self_hosted' })).status,
    ).toBe(201);
    const key = (await api('/management/api-keys', { name: 'sdk', scopes: ['inference'] })).body['key'] as string;
    const client = new OpenAI({ apiKey: key, baseURL: `${router.http_url}/acme/default/v1`, maxRetries: 0 });
    await waitFor(
      'the model available',
      15_000,
      async () =>
        (await client.models.list()).data.some((model) => (model as unknown as { available: boolean }).available) ||
        undefined,
    );

    const traceId = randomBytes(16).toString('hex');
    traced.add(traceId);
    const response = await client.responses.create(
      { model: MODEL, input: 'trace me' },
      { headers: { traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` } },
    );
    expect(response.status).toBe('completed');

    const done = await named(traceId, 'infer.done');
    // The request's span ends after the stream does, and may reach the collector in a later batch.
    const request = await named(traceId, 'POST /:project_id/:endpoint_slug/v1/responses');
    expect(request.service).toBe('xerotier-router');
    const dispatch = await named(traceId, 'infer.dispatch');
    expect(dispatch).toMatchObject({ service: 'xerotier-router', parentSpanId: request.spanId });
    const run = await named(traceId, 'xim.infer');
    expect(run).toMatchObject({ service: 'xerotier-xim-agent', parentSpanId: dispatch.spanId });
    expect(done).toMatchObject({ service: 'xerotier-router', parentSpanId: run.spanId });
    expect(collector.spans.filter((span) => !traced.has(span.traceId))).toEqual([]);
  });
});
