import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engineRequest, readAll } from '../../services/xim-agent/engine/http.js';
import { parseVllmMetrics } from '../../services/xim-agent/engine/probe.js';
import { createPool } from '../../services/router/store/pool.js';
import { createTestDatabase } from '../helpers/database.js';
import { silentLogger } from '../helpers/logger.js';
import {
  cleanEnv,
  LOOPBACK_ROUTER_ENV,
  nextMessage,
  routerSecretsEnv,
  spawnGroup,
  spawnRouterProcess,
  spawnXimAgent,
  waitFor,
  type Spawned,
  acmeBootstrapEnv,
} from '../helpers/processes.js';

const ALPHA = 'scripted/alpha';
const BETA = 'scripted/beta';
const GAMMA = 'scripted/gamma';
const WEATHER_TOOL = {
  type: 'function' as const,
  name: 'get_weather',
  description: 'Weather for a city',
  strict: false,
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};
// Every type the Responses stream may carry here (research/inference-anchors.md §1.4).
const STANDARD = new Set([
  'response.created',
  'response.in_progress',
  'response.output_item.added',
  'response.output_item.done',
  'response.content_part.added',
  'response.content_part.done',
  'response.output_text.delta',
  'response.output_text.done',
  'response.function_call_arguments.delta',
  'response.function_call_arguments.done',
  'response.completed',
  'response.failed',
  'response.incomplete',
]);

/**
 * A router process on a database of its own, with scripted engines and XIM agent processes
 * started on demand: each describe below has its own, so no case depends on another's leftovers.
 */
async function startInferenceStack(dir: string) {
  const db = await createTestDatabase();
  const pool = createPool({ connectionString: db.url, max: 2, logger: silentLogger() });
  const processes: Spawned[] = [];
  const agents = new Map<string, Spawned>();
  const secret = randomBytes(32).toString('base64url');
  const admin = `xero_acme_${secret}`;
  const router = await spawnRouterProcess(
    cleanEnv({
      ...routerSecretsEnv(),
      ...LOOPBACK_ROUTER_ENV,
      XEROTIER_DATABASE_URL: db.url,
      ...acmeBootstrapEnv(secret),
      XEROTIER_API_RATE_LIMIT_RPM: '300',
      XEROTIER_ROUTER_LEASE_RENEWAL_INTERVAL_MS: '250',
      XEROTIER_ROUTER_HEARTBEAT_TIMEOUT_MS: '1500',
      XEROTIER_LOG_LEVEL: 'debug',
      XEROTIER_SHUTDOWN_GRACE_SECONDS: '20',
    }),
  );
  const api = async (path: string, init: { method?: string; body?: unknown; key?: string } = {}) => {
    const response = await fetch(`${router.http_url}/acme/v1${path}`, {
      method: init.method ?? 'GET',
      headers: { authorization: `Bearer ${init.key ?? admin}`, 'content-type': 'application/json' },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const engineRunning = async (socket: string) =>
    parseVllmMetrics(await readAll(await engineRequest({ socketPath: socket }, '/metrics', { timeoutMs: 2_000 })))
      .running;
  const stack = {
    db,
    pool,
    router,
    admin,
    api,
    agents,
    engineRunning,
    clientFor: (key: string, endpoint = 'default') =>
      new OpenAI({ apiKey: key, baseURL: `${router.http_url}/acme/${endpoint}/v1`, maxRetries: 0 }),
    async startEngine(model: string, socket: string, rate: number) {
      processes.push(
        spawnGroup(
          process.execPath,
          [
            '--import',
            'tsx',
            'services/xim-agent/scripted-engine/main.ts',
            'serve',
            model,
            '--uds',
            socket,
            '--tokens-per-second',
            String(rate),
          ],
          cleanEnv(),
        ),
      );
      await waitFor(`the ${model} engine listening`, 20_000, async () =>
        (await engineRunning(socket).catch(() => undefined)) === 0 ? true : undefined,
      );
    },
    async startAgent(name: string, socket: string) {
      const joinKey = (await api('/management/join-keys', { method: 'POST', body: { role: 'xim', name } })).body[
        'key'
      ] as string;
      const run = spawnXimAgent({
        routerUrl: router.http_url,
        joinKey,
        name,
        dir: mkdtempSync(join(dir, `${name}-`)),
        engineUrl: `unix://${socket}`,
        env: {
          XEROTIER_AGENT_LEASE_RENEWAL_INTERVAL_MS: '250',
          XEROTIER_AGENT_MAX_CONCURRENT: '4',
          XEROTIER_AGENT_VLLM_SALT_SECRET: 'e2e-salt',
        },
      });
      processes.push(run);
      const { agent_id: agentId } = await nextMessage<{ agent_id: string }>(run.child);
      agents.set(agentId, run);
      return agentId;
    },
    /** Waits until the endpoint's models list shows `count` of its models served. */
    async available(client: OpenAI, count: number) {
      await waitFor(`${count} models available`, 20_000, async () => {
        const models = await client.models.list();
        return (
          models.data.filter((model) => (model as unknown as { available: boolean }).available).length >= count ||
          undefined
        );
      });
    },
    async close() {
      for (const run of [...processes, router.run])
        if (run.child.exitCode === null && run.child.signalCode === null) process.kill(-run.child.pid!, 'SIGKILL');
      await Promise.all([...processes, router.run].map((run) => run.exited));
      await pool.end();
      await db.drop();
    },
  };
  return stack;
}

describe('inference through a router process, XIM agent processes and scripted engines, with the official openai SDK', () => {
  const dir = mkdtempSync(join(tmpdir(), 'inference-e2e-'));
  let stack: Awaited<ReturnType<typeof startInferenceStack>>;
  let router: Awaited<ReturnType<typeof startInferenceStack>>['router'];
  let api: Awaited<ReturnType<typeof startInferenceStack>>['api'];
  let clientFor: Awaited<ReturnType<typeof startInferenceStack>>['clientFor'];
  let inferenceKey: string;
  let client: OpenAI;
  let alphaAgents: string[];
  let betaAgent: string;
  const usageOf = async (requestId: string) =>
    (
      await stack.pool.query<{ agent_id: string; outcome: string; output_tokens: number; input_tokens: number }>(
        'SELECT agent_id, outcome, output_tokens, input_tokens FROM inference_usage WHERE request_id = $1',
        [requestId],
      )
    ).rows[0];

  beforeAll(async () => {
    stack = await startInferenceStack(dir);
    ({ router, api, clientFor } = stack);
    await Promise.all([
      stack.startEngine(ALPHA, join(dir, 'alpha.sock'), 40),
      stack.startEngine(BETA, join(dir, 'beta.sock'), 400),
    ]);
    inferenceKey = (await api('/management/api-keys', { method: 'POST', body: { name: 'sdk', scopes: ['inference'] } }))
      .body['key'] as string;
    expect(
      (
        await api('/management/endpoints', {
          method: 'POST',
          body: { slug: 'default', models: [ALPHA, BETA], service_tier: 'self_hosted' },
        })
      ).status,
    ).toBe(201);
    expect(
      (
        await api('/management/endpoints', {
          method: 'POST',
          body: { slug: 'nobody', models: ['scripted/nobody'], service_tier: 'self_hosted' },
        })
      ).status,
    ).toBe(201);
    alphaAgents = [
      await stack.startAgent('xim-alpha-1', join(dir, 'alpha.sock')),
      await stack.startAgent('xim-alpha-2', join(dir, 'alpha.sock')),
    ];
    betaAgent = await stack.startAgent('xim-beta', join(dir, 'beta.sock'));
    client = clientFor(inferenceKey);
    await stack.available(client, 2);
  }, 120_000);
  afterAll(async () => {
    await stack?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('streams a Responses answer the SDK accepts: created first, numbered, standard events, the whole response at the end', async () => {
    const stream = await client.responses.create({ model: BETA, input: 'What is a lease?', stream: true });
    const events = [];
    for await (const event of stream) events.push(event);
    expect(events[0]!.type).toBe('response.created');
    expect(events.map((event) => event.sequence_number)).toEqual(events.map((_, index) => index));
    expect(events.filter((event) => !STANDARD.has(event.type))).toEqual([]);
    const completed = events.at(-1)!;
    expect(completed.type).toBe('response.completed');
    const response = (completed as Extract<typeof completed, { type: 'response.completed' }>).response;
    expect(response.status).toBe('completed');
    expect(response.output).toHaveLength(1);
    expect(response.output[0]).toMatchObject({
      type: 'message',
      role: 'assistant',
      status: 'completed',
      content: [{ type: 'output_text', text: 'This is a scripted answer to: "What is a lease?".' }],
    });
    expect(response.usage).toMatchObject({ output_tokens: 10, total_tokens: expect.any(Number) });
    const deltas = events
      .filter((event) => event.type === 'response.output_text.delta')
      .map((event) => (event as { delta: string }).delta)
      .join('');
    expect(deltas).toBe('This is a scripted answer to: "What is a lease?".');
    // Stored by default: readable again, and counted.
    const stored = await fetch(`${router.http_url}/acme/default/v1/responses/${response.id}`, {
      headers: { authorization: `Bearer ${inferenceKey}` },
    });
    expect(await stored.json()).toMatchObject({ id: response.id, status: 'completed' });
  });

  it('works with responses.stream() and finalResponse(), and non-streamed create()', async () => {
    const deltas: string[] = [];
    const stream = client.responses.stream({
      model: BETA,
      input: [{ role: 'user', content: 'Name three colours' }],
      instructions: 'Be brief.',
      metadata: { ticket: 'T-1' },
    });
    stream.on('response.output_text.delta', (event) => deltas.push(event.delta));
    const final = await stream.finalResponse();
    expect(final.output_text).toBe('This is a scripted answer to: "Name three colours".');
    expect(deltas.join('')).toBe(final.output_text);
    expect(final.metadata).toEqual({ ticket: 'T-1' });
    expect(final.instructions).toBe('Be brief.');
    const plain = await client.responses.create({
      model: BETA,
      input: 'Plain?',
      max_output_tokens: 64,
      temperature: 0.2,
    });
    expect(plain.output_text).toBe('This is a scripted answer to: "Plain?".');
    expect(plain.temperature).toBe(0.2);
  });

  it('runs a function-tool round trip through previous_response_id and function_call_output', async () => {
    const first = await client.responses.create({
      model: BETA,
      input: 'Use get_weather for {"city":"Oslo"} please',
      tools: [WEATHER_TOOL],
    });
    const call = first.output.find((item) => item.type === 'function_call');
    expect(call).toMatchObject({
      type: 'function_call',
      name: 'get_weather',
      arguments: '{"city":"Oslo"}',
      status: 'completed',
    });
    expect(call!.call_id).toMatch(/\S/);
    const second = client.responses.stream({
      model: BETA,
      previous_response_id: first.id,
      tools: [WEATHER_TOOL],
      input: [{ type: 'function_call_output', call_id: call!.call_id, output: '{"temp_c":3}' }],
    });
    const answer = await second.finalResponse();
    expect(answer.previous_response_id).toBe(first.id);
    expect(answer.output_text).toContain('returned {"temp_c":3}');
    const unknown = client.responses.create({
      model: BETA,
      previous_response_id: `resp_${'0'.repeat(32)}`,
      input: 'again',
    });
    await expect(unknown).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('keeps every turn in a chat named by conversation, continues it, and refuses a concurrent turn on one branch', async () => {
    const chats = async (path: string, init: { method?: string; body?: unknown } = {}) =>
      api(`/chats${path}`, { ...init, key: inferenceKey });
    const created = await chats('', { method: 'POST', body: { title: 'capacity review' } });
    expect(created.status).toBe(201);
    const chatId = created.body['id'] as string;
    const branchId = created.body['default_branch_id'] as string;
    const first = await client.responses.create({
      model: BETA,
      input: 'How full is the cluster?',
      conversation: chatId,
    });
    expect(first.output_text).toBe('This is a scripted answer to: "How full is the cluster?".');
    const second = await client.responses
      .stream({ model: BETA, input: 'And tomorrow?', conversation: { id: chatId } })
      .finalResponse();
    expect(second.output_text).toBe('This is a scripted answer to: "And tomorrow?".');
    const messages = await chats(`/${chatId}/branches/${branchId}/messages`);
    const listed = messages.body['data'] as { role: string; sequence: number; response_id: string; items: unknown[] }[];
    expect(listed.map((message) => [message.sequence, message.role, message.response_id])).toEqual([
      [1, 'user', first.id],
      [2, 'assistant', first.id],
      [3, 'user', second.id],
      [4, 'assistant', second.id],
    ]);
    expect(JSON.stringify(listed[3]!.items)).toContain('And tomorrow?');

    // A slow turn holds the branch: a second one at the same time is refused, not interleaved.
    const slow = await client.responses.create({
      model: ALPHA,
      input: 'Write a long report',
      conversation: chatId,
      stream: true,
    });
    const events = slow[Symbol.asyncIterator]();
    await events.next();
    const concurrent = client.responses.create({ model: BETA, input: 'Meanwhile?', conversation: chatId });
    await expect(concurrent).rejects.toMatchObject({ status: 409, code: 'turn_in_progress' });
    for (let event = await events.next(); !event.done; event = await events.next());
    const after = await chats(`/${chatId}/branches/${branchId}/messages`);
    expect((after.body['data'] as { role: string }[]).map((message) => message.role)).toEqual([
      'user',
      'assistant',
      'user',
      'assistant',
      'user',
      'assistant',
    ]);
    const both = client.responses.create({
      model: BETA,
      input: 'x',
      conversation: chatId,
      previous_response_id: first.id,
    });
    await expect(both).rejects.toBeInstanceOf(OpenAI.BadRequestError);
  });

  it('streams chat completions with tool-call deltas and usage when asked', async () => {
    const stream = await client.chat.completions.create({
      model: BETA,
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'call get_weather with {"city":"Lima"}' }],
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: WEATHER_TOOL.parameters } }],
    });
    let args = '';
    let name = '';
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      for (const fragment of chunk.choices[0]?.delta.tool_calls ?? []) {
        name += fragment.function?.name ?? '';
        args += fragment.function?.arguments ?? '';
      }
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    expect({ name, args: JSON.parse(args) as unknown, finish }).toEqual({
      name: 'get_weather',
      args: { city: 'Lima' },
      finish: 'tool_calls',
    });
    expect(usage).toMatchObject({ prompt_tokens: expect.any(Number), completion_tokens: expect.any(Number) });
    const plain = await client.chat.completions.create({
      model: BETA,
      messages: [{ role: 'user', content: 'hello there' }],
    });
    expect(plain.choices[0]!.message.content).toBe('This is a scripted answer to: "hello there".');
    expect(plain.usage?.completion_tokens).toBeGreaterThan(0);
    expect(await (await fetch(router.metrics_url)).text()).toMatch(
      /xerotier_inference_requests_total\{api="chat.completions",outcome="completed"[^}]*\} [1-9]/,
    );
  });

  it("maps refusals to the SDK's error classes: 401, 403, 404, 429, 503 with retry-after", async () => {
    await expect(clientFor('xero_acme_not-a-real-key').responses.create({ input: 'x' })).rejects.toBeInstanceOf(
      OpenAI.AuthenticationError,
    );
    const management = (
      await api('/management/api-keys', { method: 'POST', body: { name: 'mgmt', scopes: ['management'] } })
    ).body['key'] as string;
    await expect(
      clientFor(management).chat.completions.create({ model: BETA, messages: [{ role: 'user', content: 'x' }] }),
    ).rejects.toBeInstanceOf(OpenAI.PermissionDeniedError);
    await expect(clientFor(inferenceKey, 'missing').responses.create({ input: 'x' })).rejects.toBeInstanceOf(
      OpenAI.NotFoundError,
    );
    await expect(client.responses.create({ model: 'scripted/unlisted', input: 'x' })).rejects.toMatchObject({
      status: 404,
      code: 'model_not_found',
    });
    const refused = await clientFor(inferenceKey, 'nobody')
      .responses.create({ input: 'x' })
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(OpenAI.InternalServerError);
    expect(refused).toMatchObject({ status: 503, code: 'no_capacity' });
    expect((refused as InstanceType<typeof OpenAI.APIError>).headers?.get('retry-after')).toBe('1');
    expect(await (await fetch(router.metrics_url)).text()).toMatch(
      /xerotier_inference_refusals_total\{reason="no_worker_for_model"[^}]*\} [1-9]/,
    );
    const burst = (
      await api('/management/api-keys', { method: 'POST', body: { name: 'burst', scopes: ['inference'] } })
    ).body['key'] as string;
    await Promise.all(
      Array.from({ length: 300 }, () =>
        fetch(`${router.http_url}/acme/nobody/v1/models`, { headers: { authorization: `Bearer ${burst}` } }).then(
          (response) => response.arrayBuffer(),
        ),
      ),
    );
    await expect(clientFor(burst).responses.create({ model: BETA, input: 'x' })).rejects.toBeInstanceOf(
      OpenAI.RateLimitError,
    );
  });

  it('sends each request only to an agent serving its model, and counts usage per request', async () => {
    const served = new Map<string, string[]>();
    for (const model of [ALPHA, BETA, BETA, ALPHA, BETA, ALPHA]) {
      const { data, response } = await client.chat.completions
        .create({ model, messages: [{ role: 'user', content: `which agent ${Math.random()}` }] })
        .withResponse();
      served.set(model, [...(served.get(model) ?? []), response.headers.get('x-xerotier-agent-id')!]);
      const usage = await waitFor('the usage row', 5_000, () => usageOf(`inf_${data.id.slice('chatcmpl-'.length)}`));
      expect(usage).toMatchObject({ agent_id: response.headers.get('x-xerotier-agent-id'), outcome: 'completed' });
      expect(usage.output_tokens).toBe(data.usage!.completion_tokens);
    }
    expect(new Set(served.get(BETA))).toEqual(new Set([betaAgent]));
    expect(served.get(ALPHA)!.every((agent) => alphaAgents.includes(agent))).toBe(true);
  });

  it('cancels the inference on the engine when the client goes away', async () => {
    const { data: stream, response } = await client.responses
      .create({
        model: ALPHA,
        input: 'tell me a very long story about leases, approvals, audits and routers and fences',
        stream: true,
      })
      .withResponse();
    for await (const event of stream) if (event.type === 'response.output_text.delta') break;
    // Breaking out of the loop aborts the request; the agent is told, and the engine stops.
    await waitFor('the engine idle again', 3_000, async () =>
      (await stack.engineRunning(join(dir, 'alpha.sock'))) === 0 ? true : undefined,
    );
    const agent = response.headers.get('x-xerotier-agent-id')!;
    const row = await waitFor(
      'the cancelled usage row',
      5_000,
      async () =>
        (
          await stack.pool.query<{ outcome: string }>(
            "SELECT outcome FROM inference_usage WHERE agent_id = $1 AND outcome = 'cancelled'",
            [agent],
          )
        ).rows[0],
    );
    expect(row.outcome).toBe('cancelled');
  });

  it('fails a stream in-band when its agent dies, and sends later requests to the survivor', async () => {
    // A model of its own, on two agents of its own: killing one leaves the other cases' agents be.
    await stack.startEngine(GAMMA, join(dir, 'gamma.sock'), 40);
    const pair = [
      await stack.startAgent('xim-gamma-1', join(dir, 'gamma.sock')),
      await stack.startAgent('xim-gamma-2', join(dir, 'gamma.sock')),
    ];
    expect(
      (
        await api('/management/endpoints', {
          method: 'POST',
          body: { slug: 'gamma', models: [GAMMA], service_tier: 'self_hosted' },
        })
      ).status,
    ).toBe(201);
    const gamma = clientFor(inferenceKey, 'gamma');
    await stack.available(gamma, 1);
    const { data: stream, response } = await gamma.responses
      .create({
        model: GAMMA,
        input: 'a long answer please, about leases approvals audits routers fences and queues',
        stream: true,
      })
      .withResponse();
    const victim = response.headers.get('x-xerotier-agent-id')!;
    expect(pair).toContain(victim);
    const types: string[] = [];
    for await (const event of stream) {
      if (types.length === 0) process.kill(-stack.agents.get(victim)!.child.pid!, 'SIGKILL');
      types.push(event.type);
      if (event.type === 'response.failed') expect(event.response.error).toMatchObject({ code: 'server_error' });
    }
    expect(types[0]).toBe('response.created');
    expect(types.at(-1)).toBe('response.failed');
    expect(await (await fetch(router.metrics_url)).text()).toMatch(
      /xerotier_inference_requests_total\{api="responses",outcome="failed"[^}]*\} [1-9]/,
    );
    const survivor = pair.find((agent) => agent !== victim)!;
    for (let n = 0; n < 3; n += 1) {
      const { response: next } = await gamma.chat.completions
        .create({ model: GAMMA, messages: [{ role: 'user', content: `after ${n}` }] })
        .withResponse();
      expect(next.headers.get('x-xerotier-agent-id')).toBe(survivor);
    }
  });
});

describe('a router process stopped with streams open', () => {
  const dir = mkdtempSync(join(tmpdir(), 'inference-sigterm-'));
  let stack: Awaited<ReturnType<typeof startInferenceStack>>;
  afterAll(async () => {
    await stack?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('on SIGTERM ends an open Responses stream and an open event stream with their last events, and closes everything in order', async () => {
    stack = await startInferenceStack(dir);
    const { router, admin } = stack;
    await stack.startEngine(ALPHA, join(dir, 'alpha.sock'), 40);
    expect(
      (
        await stack.api('/management/endpoints', {
          method: 'POST',
          body: { slug: 'default', models: [ALPHA], service_tier: 'self_hosted' },
        })
      ).status,
    ).toBe(201);
    await stack.startAgent('xim-alpha', join(dir, 'alpha.sock'));
    const client = stack.clientFor(
      (await stack.api('/management/api-keys', { method: 'POST', body: { name: 'sdk', scopes: ['inference'] } })).body[
        'key'
      ] as string,
    );
    await stack.available(client, 1);
    const events = fetch(`${router.http_url}/acme/v1/exec/events`, { headers: { authorization: `Bearer ${admin}` } });
    const stream = await client.responses.create({
      model: ALPHA,
      input: 'a long answer please, about leases approvals audits routers fences and queues and more',
      stream: true,
    });
    const types: string[] = [];
    let failure: unknown;
    const reading = (async () => {
      for await (const event of stream) {
        if (types.length === 0) router.run.child.kill('SIGTERM');
        types.push(event.type);
        if (event.type === 'response.failed') failure = event.response.error;
      }
    })();
    const exec = await (await events).text();
    await reading;
    expect(types.at(-1)).toBe('response.failed');
    expect(failure).toMatchObject({ code: 'server_shutting_down' });
    expect(exec).toContain('event: shutdown');
    // Streams did not hold the drain: it finished in the grace (a forced exit is code 1 and skips closers).
    expect((await router.run.exited).code).toBe(0);
    const closed = [...router.run.stdout().matchAll(/"resource":"([a-z ]+)"[^\n]*"msg":"closed"/g)].map(
      (match) => match[1],
    );
    expect(closed).toEqual([
      'http server',
      'metrics server',
      'audit checkpointer',
      'webhook worker',
      'exec runtime',
      'routing notes',
      'mesh',
      'rate limiter',
      'database pool',
      'router',
      'tracing',
    ]);
  });
});
