import { request as httpRequest } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEngineArgs } from '../../../services/xim-agent/scripted-engine/args.js';
import { scriptedReply, tokens } from '../../../services/xim-agent/scripted-engine/reply.js';
import { createScriptedEngine } from '../../../services/xim-agent/scripted-engine/server.js';
import { cleanEnv, spawnGroup, waitFor } from '../../helpers/processes.js';

const MODEL = 'scripted/tiny';
const TOOLS = [{ type: 'function' as const, function: { name: 'get_weather', parameters: { type: 'object' } } }];

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

/** The data lines of an SSE response, parsed (the final [DONE] kept as a string). */
async function streamed(url: string, body: object): Promise<unknown[]> {
  const response = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL, stream: true, ...body }),
  });
  const text = await response.text();
  return text
    .split('\n\n')
    .filter((block) => block.startsWith('data: '))
    .map((block): unknown => (block === 'data: [DONE]' ? '[DONE]' : (JSON.parse(block.slice(6)) as unknown)));
}

describe('the scripted engine (a deterministic stand-in for vLLM)', () => {
  let engine: Server;
  let failing: Server;
  let url: string;
  let failingUrl: string;

  beforeAll(async () => {
    engine = createScriptedEngine({ model: MODEL, tokensPerSecond: 0 });
    failing = createScriptedEngine({ model: MODEL, tokensPerSecond: 0, failAfterTokens: 2 });
    url = await listen(engine);
    failingUrl = await listen(failing);
  });
  afterAll(async () => {
    await new Promise((resolve) => engine.close(resolve));
    await new Promise((resolve) => failing.close(resolve));
  });

  it('labels its model as scripted, answers /health, and exposes vLLM metric names', async () => {
    expect(await (await fetch(`${url}/v1/models`)).json()).toMatchObject({
      object: 'list',
      data: [{ id: MODEL, owned_by: 'xerotier-scripted', scripted: true }],
    });
    expect((await fetch(`${url}/health`)).status).toBe(200);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    for (const name of [
      'vllm:num_requests_running',
      'vllm:num_requests_waiting',
      'vllm:kv_cache_usage_perc',
      'vllm:prompt_tokens_total',
      'vllm:generation_tokens_total',
    ])
      expect(metrics).toContain(`${name}{model_name="${MODEL}"`);
  });

  it('streams a plain answer token by token, with usage when asked, and ends with [DONE]', async () => {
    const events = await streamed(url, {
      messages: [{ role: 'user', content: 'What is a lease?' }],
      stream_options: { include_usage: true },
    });
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1) as {
      choices: { delta: { content?: string }; finish_reason: string | null }[];
      usage?: { completion_tokens: number };
    }[];
    const text = chunks.flatMap((chunk) => chunk.choices.map((choice) => choice.delta.content ?? '')).join('');
    expect(text).toBe('This is a scripted answer to: "What is a lease?".');
    expect(chunks.find((chunk) => chunk.choices[0]?.finish_reason)?.choices[0]?.finish_reason).toBe('stop');
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { completion_tokens: 10 } });
  });

  it('calls a tool the user names, with the JSON in the message as arguments, streamed as tool-call deltas', async () => {
    const events = await streamed(url, {
      messages: [{ role: 'user', content: 'Please get_weather for {"city": "Paris"}' }],
      tools: TOOLS,
    });
    const deltas = (
      events.slice(0, -1) as {
        choices: {
          delta: { tool_calls?: { index: number; id?: string; function: { name?: string; arguments?: string } }[] };
          finish_reason: string | null;
        }[];
      }[]
    ).flatMap((chunk) => chunk.choices);
    const calls = deltas.flatMap((choice) => choice.delta.tool_calls ?? []);
    expect(calls[0]).toMatchObject({
      index: 0,
      id: expect.stringMatching(/^chatcmpl-tool-/),
      function: { name: 'get_weather', arguments: '' },
    });
    expect(JSON.parse(calls.map((call) => call.function.arguments ?? '').join(''))).toEqual({ city: 'Paris' });
    expect(deltas.at(-1)?.finish_reason).toBe('tool_calls');
  });

  it('summarises tool outputs it is given, and answers without streaming too', async () => {
    const response = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: MODEL,
        messages: [
          { role: 'user', content: 'get_weather {}' },
          { role: 'assistant', content: null },
          { role: 'tool', tool_call_id: 'call_1', content: '18 degrees, cloudy' },
        ],
      }),
    });
    expect(await response.json()).toMatchObject({
      object: 'chat.completion',
      choices: [
        {
          message: { role: 'assistant', content: 'Summary: call_1 returned 18 degrees, cloudy.' },
          finish_reason: 'stop',
        },
      ],
      usage: { prompt_tokens: expect.any(Number) },
    });
  });

  it('refuses an unknown model before streaming, and fails in-band after streaming started when told to', async () => {
    const wrong = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      body: JSON.stringify({ model: 'nope', messages: [{ role: 'user', content: 'x' }] }),
    });
    expect(wrong.status).toBe(404);
    expect(((await wrong.json()) as { error: { param: string } }).error.param).toBe('model');
    const events = await streamed(failingUrl, {
      messages: [{ role: 'user', content: 'a long enough question to fail' }],
    });
    expect(events.at(-2)).toMatchObject({ error: { code: 'engine_failure' } });
    expect(events.at(-1)).toBe('[DONE]');
  });

  it('serves on a Unix socket, as vLLM does with --uds', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'scripted-uds-'));
    const server = createScriptedEngine({ model: MODEL, tokensPerSecond: 0 });
    await new Promise<void>((resolve) => server.listen(join(dir, 'engine.sock'), resolve));
    try {
      const body = await new Promise<string>((resolve, reject) => {
        httpRequest({ socketPath: join(dir, 'engine.sock'), path: '/v1/models' }, (response) => {
          let text = '';
          response.on('data', (chunk: Buffer) => (text += chunk.toString()));
          response.on('end', () => resolve(text));
        })
          .on('error', reject)
          .end();
      });
      expect(JSON.parse(body)).toMatchObject({ data: [{ id: MODEL }] });
    } finally {
      await new Promise((resolve) => server.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('scripted replies (pure)', () => {
  it('counts when asked to, one token per number, so benchmarks know the length of the answer', () => {
    const reply = scriptedReply([{ role: 'user', content: 'count to 5' }]);
    expect(reply).toEqual({ kind: 'text', text: '1 2 3 4 5' });
    expect(tokens((reply as { text: string }).text)).toHaveLength(5);
    expect(scriptedReply([{ role: 'user', content: 'count to 5 please' }])).toMatchObject({
      text: 'This is a scripted answer to: "count to 5 please".',
    });
  });

  it('does not call tools when tool_choice is none, and forces the named one otherwise', () => {
    const messages = [{ role: 'user' as const, content: 'get_weather please' }];
    expect(scriptedReply(messages, TOOLS, 'none')).toMatchObject({ kind: 'text' });
    expect(
      scriptedReply([{ role: 'user', content: 'hello' }], TOOLS, {
        type: 'function',
        function: { name: 'get_weather' },
      }),
    ).toEqual({ kind: 'tool_calls', calls: [{ name: 'get_weather', arguments: '{}' }] });
    expect(scriptedReply([{ role: 'user', content: 'hello' }], TOOLS, 'required')).toMatchObject({
      kind: 'tool_calls',
      calls: [{ name: 'get_weather' }],
    });
    expect(scriptedReply([{ role: 'user', content: 'hello' }], TOOLS)).toMatchObject({ kind: 'text' });
  });

  it('calls every tool a step names at once, chains the steps split by "then", and summarises them all', () => {
    const tools = ['pg_activity', 'pg_list_databases', 'pg_locks'].map((name) => ({
      type: 'function' as const,
      function: { name },
    }));
    const question = {
      role: 'user' as const,
      content: 'pg_activity {"limit":5} and pg_list_databases, then pg_locks {"database":"app"}',
    };
    expect(scriptedReply([question], tools)).toEqual({
      kind: 'tool_calls',
      calls: [
        { name: 'pg_activity', arguments: '{"limit":5}' },
        { name: 'pg_list_databases', arguments: '{}' },
      ],
    });
    const firstStep = [
      question,
      { role: 'assistant' as const, content: null },
      { role: 'tool' as const, tool_call_id: 'a', name: 'pg_activity', content: 'two sessions' },
      { role: 'tool' as const, tool_call_id: 'b', name: 'pg_list_databases', content: 'app, scratch' },
    ];
    expect(scriptedReply(firstStep, tools)).toEqual({
      kind: 'tool_calls',
      calls: [{ name: 'pg_locks', arguments: '{"database":"app"}' }],
    });
    const both = [
      ...firstStep,
      { role: 'assistant' as const, content: null },
      { role: 'tool' as const, tool_call_id: 'c', name: 'pg_locks', content: 'no locks' },
    ];
    expect(scriptedReply(both, tools)).toEqual({
      kind: 'text',
      text: 'Summary: pg_activity returned two sessions; pg_list_databases returned app, scratch; pg_locks returned no locks.',
    });
  });
});

describe('scripted engine process, started as vLLM would be', () => {
  it("takes vLLM's command line (ignoring flags it does not need), serves on --uds, and exits 0 on SIGTERM", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'scripted-proc-'));
    const socket = join(dir, 'vllm.sock');
    const run = spawnGroup(
      process.execPath,
      [
        '--import',
        'tsx',
        'services/xim-agent/scripted-engine/main.ts',
        'serve',
        MODEL,
        '--uds',
        socket,
        '--enable-auto-tool-choice',
        '--tool-call-parser',
        'hermes',
        '--max-model-len=8192',
      ],
      cleanEnv(),
    );
    try {
      await waitFor('the engine to listen', 15_000, () =>
        run.stdout().includes('scripted engine serving') ? true : undefined,
      );
      const body = await new Promise<string>((resolve, reject) => {
        httpRequest({ socketPath: socket, path: '/health' }, (response) => resolve(String(response.statusCode)))
          .on('error', reject)
          .end();
      });
      expect(body).toBe('200');
      process.kill(run.child.pid!, 'SIGTERM');
      expect(await run.exited).toEqual({ code: 0, signal: null });
    } finally {
      if (run.child.exitCode === null) run.child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads models and flags like vLLM, and names bad values', () => {
    expect(parseEngineArgs(['serve', 'org/model', '--port', '9001', '--tool-call-parser', 'hermes'])).toEqual({
      model: 'org/model',
      host: '127.0.0.1',
      port: 9001,
      tokensPerSecond: 0,
    });
    expect(
      parseEngineArgs(['--model', 'org/model', '--served-model-name', 'alias', '--fail-after-tokens', '3']),
    ).toMatchObject({ model: 'alias', failAfterTokens: 3 });
    expect(parseEngineArgs(['--port', '9001'])).toEqual({
      error: 'no model: pass it as `serve <model>` or --model <model>',
    });
    expect(parseEngineArgs(['serve', 'm', '--tokens-per-second', '-1'])).toEqual({
      error: '--tokens-per-second must be a non-negative integer',
    });
  });
});
