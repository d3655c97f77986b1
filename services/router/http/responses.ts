import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import Type, { type Static } from 'typebox';
import { engineChatFromResponses, InputError, inputItems, type ResponseItem } from '../inference/responses-request.js';
import { ResponsesTranslator, type ResponseEvent, type ResponseStatus } from '../inference/responses-stream.js';
import { findResponse } from '../store/responses.js';
import { keepResponse } from './keep-response.js';
import { replayResponse, ReplayQuery, wantsExecEvents } from './response-replay.js';
import { openTurn } from '../conversations/turns.js';
import { chatTurnBody, pinnedTemplate } from '../templates/in-chat.js';
import { isMcpTool, offeredServers, withEndpointTools } from '../loop/servers.js';
import { BUILTIN_LABEL } from '../loop/builtins.js';
import { newLoopId } from '../loop/mcp-call.js';
import { respondWithLoop } from './responses-loop.js';
import type { EndpointRecord } from '../store/endpoints.js';
import { assertPermission, hasPermission, projectOf } from './auth.js';
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

const ResponseId = Type.String({ pattern: '^resp_[0-9a-f]{24,48}$' });
const ChatId = Type.String({ pattern: '^chat_[0-9a-f]{24}$' });

const ResponsesBody = Type.Object(
  {
    ...InferenceParameters,
    input: Type.Union([Type.String({ maxLength: 1_000_000 }), Type.Array(FreeObject, { maxItems: 4_096 })]),
    instructions: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    tool_choice: Type.Optional(Type.Unknown()),
    previous_response_id: Type.Optional(Type.Union([ResponseId, Type.Null()])),
    max_output_tokens: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()])),
    truncation: Type.Optional(Type.Union([Type.Literal('disabled'), Type.Literal('auto'), Type.Null()])),
    text: Type.Optional(FreeObject),
    reasoning: Type.Optional(Type.Union([FreeObject, Type.Null()])),
    include: Type.Optional(Type.Union([Type.Array(Type.String()), Type.Null()])),
    stream_options: Type.Optional(Type.Union([FreeObject, Type.Null()])),
    background: Type.Optional(Type.Union([Type.Literal(false), Type.Null()])),
    // With mcp tools: model turns that call tools, at most (docs/conversations.md).
    max_tool_calls: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: 50 }), Type.Null()])),
    // A chat to add this turn to (docs/conversations.md): its id, or {id}; metadata.x_branch_id
    // picks a branch other than the default one.
    conversation: Type.Optional(Type.Union([ChatId, Type.Object({ id: ChatId }, strict), Type.Null()])),
  },
  { ...strict, wireSafe: true },
);

type Body = Static<typeof ResponsesBody>;

/**
 * `POST …/v1/responses` (and `GET …/v1/responses/:id` for stored ones): a Responses turn run as
 * a chat completion on an XIM agent and translated event by event (responses-stream.ts).
 * Stored turns keep their whole history, so `previous_response_id` continues a conversation,
 * including a function-call round trip. Refusals come as HTTP errors before the stream starts;
 * after that, failures are `response.failed` in the stream.
 */
export function responsesRoutes(app: FastifyInstance, deps: InferenceHttpDeps): void {
  app.post<{ Params: Static<typeof EndpointPath>; Body: Body }>(
    '/responses',
    { schema: { params: EndpointPath, body: ResponsesBody } },
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
      const previous = body.previous_response_id
        ? await findResponse(deps.pool, project.id, body.previous_response_id)
        : undefined;
      if (body.previous_response_id && !previous)
        throw new ApiError(
          'response_not_found',
          `No stored response ${body.previous_response_id} in this project`,
          'previous_response_id',
        );
      const responseShell = shell(body, model, endpoint);
      const input = inputOf(body);
      const conversation = body.conversation
        ? await openTurn(deps.pool, {
            projectId: project.id,
            chatId: conversationId(body.conversation),
            ...(branchNamed(body) ? { branchId: branchNamed(body)! } : {}),
            principalId: request.principal!.principalId,
            responseId: responseShell.id,
            input,
          })
        : undefined;
      const prior = conversation?.history ?? (previous ? [...previous.history, ...previous.response.output] : []);
      // The endpoint's workspace only for those who may run its tools; others get a plain answer.
      const mayInvoke = hasPermission(request, 'exec.invoke');
      const endpointBody = mayInvoke ? withEndpointTools(body, endpoint.defaults.workspace) : body;
      const loopBody = conversation
        ? chatTurnBody(endpointBody, conversation.chat, await pinnedTemplate(deps.pool, conversation.chat), mayInvoke)
        : endpointBody;
      const servers = await serversOf(deps, project.id, loopBody, request).catch(async (error: unknown) => {
        await conversation?.abandon();
        throw error;
      });
      if (servers)
        return respondWithLoop(
          request,
          reply,
          { ...deps, exec: deps.exec! },
          {
            body: loopBody,
            shell: responseShell,
            endpoint,
            model,
            projectId: project.id,
            servers,
            history: [...(prior as ResponseItem[]), ...input],
            input,
            conversation,
            began,
          },
        );
      if (input.some((item) => item.type === 'mcp_approval_response'))
        throw new ApiError(
          'invalid_parameter',
          'An mcp_approval_response needs the mcp tools it answers for in tools',
          'input',
        );
      const { history, chat } = turn(loopBody, prior as ResponseItem[], input, endpoint);
      const started = await beginInference(request, reply, deps, {
        ...inferenceTarget(request, { projectId: project.id, model, endpoint, promptCacheKey: body.prompt_cache_key }),
        chat,
      }).catch(async (error: unknown) => {
        // Refused before the model ran: the chat keeps nothing of it.
        await conversation?.abandon();
        throw error;
      });
      const translator = new ResponsesTranslator(responseShell, newLoopId);
      // On shutdown the broker fails the stream, and the translator's response.failed ends it.
      const sse = body.stream
        ? openSse(
            request,
            reply,
            () => undefined,
            servedBy(started.agentId),
            () => undefined,
          )
        : undefined;
      const sent: ResponseEvent[] = [];
      const emit = (events: ResponseEvent[]) => {
        sent.push(...events);
        if (sse) events.forEach((event) => sse.send(event.type, event));
      };
      emit(translator.start());
      const { firstTokenMs, usage, failure } = await consume(started, began, sse, deps.broker, (chunk) =>
        emit(translator.chunk(chunk)),
      );
      const error = failure && failedWith(failure);
      const ending = error ? translator.fail(error.code, error.message) : translator.complete(usage);
      const status: ResponseStatus = error
        ? 'failed'
        : ending.at(-1)!.type === 'response.incomplete'
          ? 'incomplete'
          : 'completed';
      const final = translator.response(status, error ?? null);
      const outcome = failure?.code === 'cancelled' ? 'cancelled' : status;
      countUsage(
        deps,
        {
          projectId: project.id,
          endpointId: endpoint.id,
          api: 'responses',
          model,
          agentId: started.agentId,
          requestId: started.requestId,
          outcome,
          firstTokenMs,
          durationMs: Math.round(performance.now() - began),
        },
        usage,
      );
      await keepResponse(deps.pool, request, {
        projectId: project.id,
        endpointId: endpoint.id,
        store: body.store !== false,
        previousResponseId: body.previous_response_id ?? null,
        outcome,
        history,
        final: final as Record<string, unknown> & { id: string },
        events: [...sent, ...ending],
        conversation,
      });
      emit(ending);
      sse?.end();
      if (sse) return reply;
      if (failure) throw new ApiError('inference_failed', `The engine failed the request: ${failure.message}`);
      return final;
    },
  );

  app.get<{ Params: Static<typeof EndpointPath> & { response_id: string }; Querystring: ReplayQuery }>(
    '/responses/:response_id',
    {
      schema: {
        params: Type.Object({ ...EndpointPath.properties, response_id: ResponseId }, strict),
        querystring: ReplayQuery,
      },
    },
    async (request, reply) => {
      const projectId = projectOf(request).id;
      const responseId = request.params.response_id;
      if (request.query.stream === 'true')
        return replayResponse(request, reply, deps, {
          projectId,
          responseId,
          after: Number(request.query.starting_after ?? -1),
          vendorEvents: wantsExecEvents(request),
        });
      const stored = await findResponse(deps.pool, projectId, responseId);
      if (!stored) throw new ApiError('response_not_found', undefined, 'response_id');
      return stored.response;
    },
  );
}

/** The items the model sees this turn (stored history, then this input) and the engine request. */
function turn(body: Body, prior: readonly ResponseItem[], input: readonly ResponseItem[], endpoint: EndpointRecord) {
  try {
    const history: ResponseItem[] = [...prior, ...input];
    return {
      history,
      chat: engineChatFromResponses(body as Parameters<typeof engineChatFromResponses>[0], history, endpoint.defaults),
    };
  } catch (error) {
    if (error instanceof InputError) throw new ApiError('invalid_parameter', error.message, error.param);
    throw error;
  }
}

/** The workspaces offered as `mcp` tools, or undefined when the request offers none. */
async function serversOf(deps: InferenceHttpDeps, projectId: string, body: Body, request: FastifyRequest) {
  const tools = (body.tools ?? []) as Record<string, unknown>[];
  if (!tools.some(isMcpTool)) return undefined;
  // The model's calls are the requester's: running a workspace's tools needs what the exec API
  // needs (the execution scope and a role that may invoke), reading calls back exec.read.
  const labels = tools.filter(isMcpTool).map((tool) => tool['server_label']);
  assertPermission(request, labels.every((label) => label === BUILTIN_LABEL) ? 'exec.read' : 'exec.invoke');
  if (!deps.exec) throw new ApiError('invalid_parameter', 'This router runs no workspace tools', 'tools');
  return offeredServers(deps.pool, deps.exec.catalogs, projectId, tools);
}

function inputOf(body: Body): ResponseItem[] {
  if (body.conversation && body.previous_response_id)
    throw new ApiError('invalid_body', 'Use conversation or previous_response_id, not both', 'conversation');
  try {
    return inputItems(body.input as string | Record<string, unknown>[]);
  } catch (error) {
    if (error instanceof InputError) throw new ApiError('invalid_parameter', error.message, error.param);
    throw error;
  }
}

const conversationId = (conversation: NonNullable<Body['conversation']>) =>
  typeof conversation === 'string' ? conversation : conversation.id;

/** `metadata.x_branch_id`: the branch of the conversation to continue (its default one when unset). */
function branchNamed(body: Body): string | undefined {
  const branch = (body.metadata as Record<string, unknown> | undefined)?.['x_branch_id'];
  return typeof branch === 'string' ? branch : undefined;
}

function shell(body: Body, model: string, endpoint: EndpointRecord) {
  return {
    id: `resp_${randomBytes(16).toString('hex')}`,
    created_at: Math.floor(Date.now() / 1_000),
    model,
    instructions: body.instructions ?? endpoint.defaults.instructions ?? null,
    tools: body.tools ?? [],
    tool_choice: body.tool_choice ?? 'auto',
    parallel_tool_calls: body.parallel_tool_calls ?? true,
    temperature: body.temperature ?? endpoint.defaults.temperature ?? 1,
    top_p: body.top_p ?? 1,
    max_output_tokens: body.max_output_tokens ?? endpoint.defaults.max_output_tokens ?? null,
    previous_response_id: body.previous_response_id ?? null,
    ...(body.conversation ? { conversation: { id: conversationId(body.conversation) } } : {}),
    metadata: body.metadata ?? {},
    store: body.store !== false,
    service_tier: endpoint.service_tier,
    text: { format: { type: 'text' } },
    truncation: 'disabled',
    reasoning: null,
  };
}

function failedWith(failure: { code: string; message: string }): { code: string; message: string } {
  if (failure.code === 'server_shutting_down')
    return { code: 'server_shutting_down', message: 'The router is shutting down; retry the request' };
  return {
    code: failure.code === 'cancelled' ? 'cancelled' : 'server_error',
    message: `The engine failed the request: ${failure.message}`,
  };
}
