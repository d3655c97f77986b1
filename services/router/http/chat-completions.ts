import type { FastifyInstance } from 'fastify';
import Type, { type Static } from 'typebox';
import { ChatAccumulator, type ChatUsage } from '../inference/chat-accumulator.js';
import { engineChatFromChat, type ChatMessage } from '../inference/chat-request.js';
import { projectOf } from './auth.js';
import { ApiError } from './errors.js';
import {
  beginInference,
  inferenceTarget,
  consume,
  countUsage,
  resolveEndpoint,
  servedBy,
  type InferenceHttpDeps,
} from './inference-run.js';
import { EndpointPath, FreeObject, InferenceParameters } from './inference-schemas.js';
import { openSse } from './sse.js';
import { strict } from './schemas.js';

const Message = Type.Object(
  {
    role: Type.Union([
      Type.Literal('system'),
      Type.Literal('developer'),
      Type.Literal('user'),
      Type.Literal('assistant'),
      Type.Literal('tool'),
    ]),
    content: Type.Optional(Type.Union([Type.String(), Type.Null(), Type.Array(FreeObject, { maxItems: 256 })])),
    name: Type.Optional(Type.String({ maxLength: 256 })),
    tool_call_id: Type.Optional(Type.String({ maxLength: 256 })),
    tool_calls: Type.Optional(Type.Array(FreeObject, { maxItems: 128 })),
    refusal: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  },
  strict,
);

const ChatBody = Type.Object(
  {
    ...InferenceParameters,
    messages: Type.Array(Message, { minItems: 1, maxItems: 4_096 }),
    stream_options: Type.Optional(
      Type.Union([Type.Null(), Type.Object({ include_usage: Type.Optional(Type.Boolean()) }, strict)]),
    ),
    tool_choice: Type.Optional(Type.Unknown()),
    max_tokens: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()])),
    max_completion_tokens: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()])),
    stop: Type.Optional(Type.Union([Type.String(), Type.Array(Type.String(), { maxItems: 4 }), Type.Null()])),
    seed: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
    presence_penalty: Type.Optional(Type.Union([Type.Number({ minimum: -2, maximum: 2 }), Type.Null()])),
    frequency_penalty: Type.Optional(Type.Union([Type.Number({ minimum: -2, maximum: 2 }), Type.Null()])),
    response_format: Type.Optional(FreeObject),
    logit_bias: Type.Optional(Type.Union([FreeObject, Type.Null()])),
    n: Type.Optional(Type.Union([Type.Literal(1), Type.Null()])),
    logprobs: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
    top_logprobs: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: 20 }), Type.Null()])),
  },
  { ...strict, wireSafe: true },
);

type ChatBodyType = Static<typeof ChatBody>;

/**
 * `POST …/v1/chat/completions`: the engine's chunks pass through with this router's id and the
 * endpoint's model name, usage only when `stream_options.include_usage` asks (it is always
 * counted), `[DONE]` at the end; a failure after the first chunk is an in-band `error` line.
 */
export function chatCompletionsRoute(app: FastifyInstance, deps: InferenceHttpDeps): void {
  app.post<{ Params: Static<typeof EndpointPath>; Body: ChatBodyType }>(
    '/chat/completions',
    { schema: { params: EndpointPath, body: ChatBody } },
    async (request, reply) => {
      const began = performance.now();
      const project = projectOf(request);
      const body = request.body;
      const { endpoint, model } = await resolveEndpoint(
        deps.endpoints,
        project.id,
        request.params.endpoint_slug,
        body.model,
        body.service_tier,
      );
      const chat = engineChatFromChat(
        stripNulls(body) as Record<string, unknown> & { messages: readonly ChatMessage[] },
        endpoint.defaults,
      );
      const started = await beginInference(request, reply, deps, {
        ...inferenceTarget(request, { projectId: project.id, model, endpoint, promptCacheKey: body.prompt_cache_key }),
        chat,
      });
      const identity = { id: `chatcmpl-${started.requestId.slice(4)}`, created: Math.floor(Date.now() / 1_000), model };
      const accumulator = new ChatAccumulator();
      // On shutdown the broker fails the stream, and the in-band error below ends it.
      const sse = body.stream
        ? openSse(
            request,
            reply,
            () => undefined,
            servedBy(started.agentId),
            () => undefined,
          )
        : undefined;
      const includeUsage = body.stream_options?.include_usage === true;
      const { firstTokenMs, usage, failure } = await consume(started, began, sse, deps.broker, (chunk) => {
        accumulator.add(chunk);
        if (sse) forward(sse, chunk as Record<string, unknown>, identity, includeUsage);
      });
      const outcome = failure ? (failure.code === 'cancelled' ? 'cancelled' : 'failed') : 'completed';
      countUsage(
        deps,
        {
          projectId: project.id,
          endpointId: endpoint.id,
          api: 'chat.completions',
          model,
          agentId: started.agentId,
          requestId: started.requestId,
          outcome,
          firstTokenMs,
          durationMs: Math.round(performance.now() - began),
        },
        usage,
      );
      if (sse) {
        sse.data(failure ? inBandError(failure) : '[DONE]');
        sse.end();
        return reply;
      }
      if (failure) throw new ApiError('inference_failed', `The engine failed the request: ${failure.message}`);
      return completion(identity, accumulator, usage);
    },
  );
}

function inBandError(failure: { code: string; message: string }) {
  if (failure.code === 'server_shutting_down')
    return {
      error: {
        message: 'The router is shutting down; retry the request',
        type: 'service_error',
        code: 'shutting_down',
        param: null,
      },
    };
  return {
    error: {
      message: `The engine failed the request: ${failure.message}`,
      type: 'service_error',
      code: 'inference_failed',
      param: null,
    },
  };
}

function forward(
  sse: ReturnType<typeof openSse>,
  chunk: Record<string, unknown>,
  identity: { id: string; created: number; model: string },
  includeUsage: boolean,
): void {
  const usageOnly = Array.isArray(chunk['choices']) && chunk['choices'].length === 0 && chunk['usage'];
  if (usageOnly && !includeUsage) return;
  const { usage, ...rest } = chunk;
  sse.data({
    ...rest,
    ...identity,
    object: 'chat.completion.chunk',
    ...(includeUsage ? { usage: usage ?? null } : {}),
  });
}

function completion(
  identity: { id: string; created: number; model: string },
  accumulator: ChatAccumulator,
  usage: ChatUsage | undefined,
) {
  const toolCalls = accumulator.toolCalls;
  return {
    ...identity,
    object: 'chat.completion',
    choices: [
      {
        index: 0,
        logprobs: null,
        finish_reason: accumulator.finishReason ?? 'stop',
        message: {
          role: 'assistant',
          content: accumulator.content === '' && toolCalls.length > 0 ? null : accumulator.content,
          refusal: null,
          ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
        },
      },
    ],
    usage: usage ?? null,
  };
}

/** OpenAI clients send `null` for "not set"; the engine should see them as absent. */
function stripNulls(body: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(body).filter(([, value]) => value !== null));
}
