import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { ScriptedPrefixCache } from './prefix-cache.js';
import { scriptedReply, textOf, tokens, type ChatMessage, type FunctionTool, type ToolChoice } from './reply.js';

export interface ScriptedEngineOptions {
  readonly model: string;
  /** Streamed tokens per second; 0 streams as fast as the socket takes them. */
  readonly tokensPerSecond: number;
  /** Injected failure: after this many streamed content tokens, an in-band error ends the stream. */
  readonly failAfterTokens?: number;
  /** Sees every chat request body as received (tests check what agents send, e.g. cache_salt). */
  readonly observe?: (body: Record<string, unknown>) => void;
}

interface ChatRequest {
  model?: string;
  messages?: ChatMessage[];
  tools?: FunctionTool[];
  tool_choice?: ToolChoice;
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  max_tokens?: number;
  /** vLLM's per-tenant prefix-cache isolation. */
  cache_salt?: string;
}

/**
 * A deterministic stand-in for vLLM's OpenAI-compatible server (no GPU here): `/v1/chat/completions`
 * streaming and not, `/v1/models` (labelled scripted), `/health`, `/metrics` with vLLM's metric
 * names. Replies come from reply.ts. Listens on TCP or a Unix socket, as vLLM does with `--uds`.
 */
export function createScriptedEngine(options: ScriptedEngineOptions): Server {
  const counters = { running: 0, prompt: 0, generation: 0, success: 0, cache: new ScriptedPrefixCache() };
  return createServer((request, response) => {
    void route(request, response, options, counters).catch(() => {
      if (!response.headersSent)
        send(response, 500, {
          error: { message: 'scripted engine failure', type: 'server_error', code: null, param: null },
        });
      else response.end();
    });
  });
}

type Counters = { running: number; prompt: number; generation: number; success: number; cache: ScriptedPrefixCache };

async function route(
  request: IncomingMessage,
  response: ServerResponse,
  options: ScriptedEngineOptions,
  counters: Counters,
): Promise<void> {
  const path = (request.url ?? '').split('?')[0];
  if (request.method === 'GET' && path === '/health') return void response.writeHead(200).end();
  if (request.method === 'GET' && path === '/v1/models') {
    return send(response, 200, {
      object: 'list',
      data: [
        {
          id: options.model,
          object: 'model',
          created: 0,
          owned_by: 'xerotier-scripted',
          root: options.model,
          max_model_len: 32_768,
          scripted: true,
        },
      ],
    });
  }
  if (request.method === 'GET' && path === '/metrics')
    return void response
      .writeHead(200, { 'content-type': 'text/plain; version=0.0.4' })
      .end(metrics(options.model, counters));
  if (request.method === 'POST' && path === '/v1/chat/completions')
    return complete(request, response, options, counters);
  send(response, 404, {
    error: {
      message: `no route ${request.method} ${path}`,
      type: 'invalid_request_error',
      code: 'not_found',
      param: null,
    },
  });
}

async function complete(
  request: IncomingMessage,
  response: ServerResponse,
  options: ScriptedEngineOptions,
  counters: Counters,
): Promise<void> {
  let body: ChatRequest;
  try {
    body = JSON.parse(await readBody(request)) as ChatRequest;
  } catch {
    return send(response, 400, {
      error: { message: 'body is not JSON', type: 'invalid_request_error', code: 'invalid_body', param: null },
    });
  }
  options.observe?.(body as Record<string, unknown>);
  if (body.model !== options.model)
    return send(response, 404, {
      error: {
        message: `The model \`${String(body.model)}\` does not exist.`,
        type: 'NotFoundError',
        code: 404,
        param: 'model',
      },
    });
  if (!Array.isArray(body.messages) || body.messages.length === 0)
    return send(response, 400, {
      error: {
        message: 'messages must be a non-empty array',
        type: 'invalid_request_error',
        code: 'invalid_body',
        param: 'messages',
      },
    });
  const reply = scriptedReply(body.messages, body.tools ?? [], body.tool_choice ?? 'auto');
  const promptTokens = Math.ceil(body.messages.reduce((sum, message) => sum + textOf(message).length, 0) / 4) + 1;
  const prompt = body.messages.map((message) => `${message.role}\u0000${textOf(message)}\u0000`).join('');
  const cachedTokens = Math.min(promptTokens, counters.cache.admit(prompt, String(body.cache_salt ?? '')));
  const pieces = reply.kind === 'text' ? tokens(reply.text).slice(0, body.max_tokens ?? Infinity) : [];
  const completionTokens =
    reply.kind === 'text'
      ? pieces.length
      : reply.calls.reduce((sum, call) => sum + Math.ceil(call.arguments.length / 4) + 1, 0);
  const usage = {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
    prompt_tokens_details: { cached_tokens: cachedTokens },
  };
  const id = `chatcmpl-${randomUUID()}`;
  const finish =
    reply.kind === 'tool_calls'
      ? 'tool_calls'
      : pieces.length < tokens(reply.kind === 'text' ? reply.text : '').length
        ? 'length'
        : 'stop';
  counters.prompt += promptTokens;
  if (!body.stream) {
    if (options.failAfterTokens !== undefined)
      return send(response, 500, {
        error: { message: 'injected engine failure', type: 'server_error', code: 'engine_failure', param: null },
      });
    counters.generation += completionTokens;
    counters.success += 1;
    const message =
      reply.kind === 'text'
        ? { role: 'assistant', content: pieces.join('') }
        : {
            role: 'assistant',
            content: null,
            tool_calls: reply.calls.map((call) => ({
              id: `chatcmpl-tool-${randomUUID()}`,
              type: 'function',
              function: { name: call.name, arguments: call.arguments },
            })),
          };
    return send(response, 200, {
      id,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1_000),
      model: options.model,
      choices: [{ index: 0, message, finish_reason: finish, logprobs: null }],
      usage,
    });
  }
  counters.running += 1;
  try {
    await stream(
      response,
      {
        id,
        model: options.model,
        reply,
        pieces,
        finish,
        usage: body.stream_options?.include_usage ? usage : undefined,
      },
      options,
      counters,
    );
  } finally {
    counters.running -= 1;
  }
}

interface StreamPlan {
  id: string;
  model: string;
  reply: ReturnType<typeof scriptedReply>;
  pieces: string[];
  finish: string;
  usage: object | undefined;
}

async function stream(
  response: ServerResponse,
  plan: StreamPlan,
  options: ScriptedEngineOptions,
  counters: Counters,
): Promise<void> {
  response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  let closed = false;
  response.on('close', () => (closed = true));
  const chunk = (choices: unknown[], extra: object = {}) =>
    response.write(
      `data: ${JSON.stringify({ id: plan.id, object: 'chat.completion.chunk', created: Math.floor(Date.now() / 1_000), model: plan.model, choices, ...extra })}\n\n`,
    );
  const delay = options.tokensPerSecond > 0 ? 1_000 / options.tokensPerSecond : 0;
  chunk([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }]);
  if (plan.reply.kind === 'tool_calls') {
    for (const [index, call] of plan.reply.calls.entries()) {
      const fragment = (fields: object) =>
        chunk([{ index: 0, delta: { tool_calls: [{ index, ...fields }] }, finish_reason: null }]);
      fragment({ id: `chatcmpl-tool-${randomUUID()}`, type: 'function', function: { name: call.name, arguments: '' } });
      for (const piece of call.arguments.match(/.{1,16}/gs) ?? []) {
        if (closed) return;
        await pause(delay);
        fragment({ function: { arguments: piece } });
      }
    }
  }
  for (const [index, piece] of plan.pieces.entries()) {
    if (closed) return;
    if (options.failAfterTokens !== undefined && index >= options.failAfterTokens) {
      response.write(
        `data: ${JSON.stringify({ error: { message: 'injected engine failure', type: 'server_error', code: 'engine_failure', param: null } })}\n\ndata: [DONE]\n\n`,
      );
      return void response.end();
    }
    await pause(delay);
    chunk([{ index: 0, delta: { content: piece }, finish_reason: null }]);
    counters.generation += 1;
  }
  chunk([{ index: 0, delta: {}, finish_reason: plan.finish }]);
  if (plan.usage) chunk([], { usage: plan.usage });
  counters.success += 1;
  response.end('data: [DONE]\n\n');
}

function metrics(model: string, counters: Counters): string {
  const label = `{model_name="${model}",engine="0"}`;
  return [
    '# TYPE vllm:num_requests_running gauge',
    `vllm:num_requests_running${label} ${counters.running}`,
    '# TYPE vllm:num_requests_waiting gauge',
    `vllm:num_requests_waiting${label} 0`,
    '# TYPE vllm:kv_cache_usage_perc gauge',
    `vllm:kv_cache_usage_perc${label} ${Math.min(1, counters.running / 64)}`,
    '# TYPE vllm:prompt_tokens_total counter',
    `vllm:prompt_tokens_total${label} ${counters.prompt}`,
    '# TYPE vllm:generation_tokens_total counter',
    `vllm:generation_tokens_total${label} ${counters.generation}`,
    '# TYPE vllm:request_success_total counter',
    `vllm:request_success_total{model_name="${model}",engine="0",finished_reason="stop"} ${counters.success}`,
    '# TYPE vllm:prefix_cache_queries_total counter',
    `vllm:prefix_cache_queries_total${label} ${counters.cache.queriedTokens}`,
    '# TYPE vllm:prefix_cache_hits_total counter',
    `vllm:prefix_cache_hits_total${label} ${counters.cache.hitTokens}`,
    '',
  ].join('\n');
}

function send(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

async function readBody(request: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of request) {
    text += (chunk as Buffer).toString('utf8');
    if (text.length > 8 * 1024 * 1024) throw new Error('body too large');
  }
  return text;
}

const pause = (ms: number) => (ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve());
