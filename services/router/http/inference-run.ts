import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '../../runtime/logger.js';
import {
  InferenceRefused,
  type InferenceDispatch,
  type InferenceTarget,
  type StartedInference,
} from '../inference/dispatch.js';
import type { StreamBroker, StreamEvent } from '../inference/streams.js';
import type { ChatChunk, ChatUsage } from '../inference/chat-accumulator.js';
import type { SseStream } from './sse.js';
import { SERVICE_TIERS, type EndpointRecord } from '../store/endpoints.js';
import type { EndpointCache } from '../inference/endpoint-cache.js';
import type { InferenceMetrics } from '../inference/metrics.js';
import { recordUsage, type UsageRecord } from '../store/inference-usage.js';
import type { Pool } from '../store/pool.js';
import { ApiError } from './errors.js';
import { traced } from './request-tracing.js';
import type { LoopExecDeps } from '../loop/run-tool.js';
import type { WorkspaceCatalogs } from '../exec/workspace-catalog.js';
import type { LiveResponses } from '../loop/live-responses.js';
import type { Learner } from '../loop/learning.js';

export interface InferenceHttpDeps {
  readonly pool: Pool;
  readonly dispatch: InferenceDispatch;
  readonly broker: StreamBroker;
  readonly logger: Logger;
  readonly endpoints: EndpointCache;
  readonly metrics?: InferenceMetrics;
  /** The execution runtime, for the workspace tools a Responses turn may run (the agentic loop). */
  readonly exec?: LoopExecDeps & { readonly catalogs: WorkspaceCatalogs };
  /** The responses running in this process, for clients that replay and follow their streams. */
  readonly live?: LiveResponses;
  /** What finished turns teach their workspace; the deterministic rule when unset. */
  readonly learner?: Learner;
}

/** The endpoint of the path and the model the request runs on (the endpoint's first by default). */
export async function resolveEndpoint(
  endpoints: EndpointCache,
  projectId: string,
  slug: string,
  model: string | undefined,
  serviceTier: string | null | undefined,
): Promise<{ endpoint: EndpointRecord; model: string }> {
  const endpoint = await endpoints.get(projectId, slug);
  if (!endpoint || endpoint.slug !== slug)
    throw new ApiError('endpoint_not_found', `No endpoint "${slug}" in this project`, 'endpoint_slug');
  // The endpoint's slug as the model means its first model (what SDKs that need a model name can send).
  const chosen = model === undefined || model === slug ? endpoint.models[0]! : model;
  if (!endpoint.models.includes(chosen))
    throw new ApiError(
      'model_not_found',
      `Endpoint "${slug}" serves ${endpoint.models.join(', ')}, not ${chosen}`,
      'model',
    );
  // OpenAI's own tier names mean "whatever this endpoint runs on"; ours must be the endpoint's.
  if (
    serviceTier &&
    (SERVICE_TIERS as readonly string[]).includes(serviceTier) &&
    serviceTier !== endpoint.service_tier
  ) {
    throw new ApiError(
      'invalid_parameter',
      `Endpoint "${slug}" runs in the ${endpoint.service_tier} tier, not ${serviceTier}`,
      'service_tier',
    );
  }
  return { endpoint, model: chosen };
}

/**
 * Where a request's inference goes, all but the engine request: the project, the model, the
 * endpoint's tier, the client's prompt cache key and the request's trace.
 */
export function inferenceTarget(
  request: FastifyRequest,
  route: { projectId: string; model: string; endpoint: EndpointRecord; promptCacheKey?: string | undefined },
): Omit<InferenceTarget, 'chat'> {
  return {
    projectId: route.projectId,
    model: route.model,
    tier: route.endpoint.service_tier,
    ...(route.promptCacheKey ? { promptCacheKey: route.promptCacheKey } : {}),
    ...traced(request),
  };
}

/** Starts the inference, or answers with a status before any stream exists. */
export async function startInference(deps: InferenceHttpDeps, target: InferenceTarget): Promise<StartedInference> {
  let started: StartedInference;
  try {
    started = await deps.dispatch.start(target);
  } catch (error) {
    if (!(error instanceof InferenceRefused)) throw error;
    deps.metrics?.refused(error.reason);
    const refused = new ApiError('no_capacity', error.message);
    refused.retryAfterSeconds = 1;
    throw refused;
  }
  if (started.first.kind === 'error') {
    deps.metrics?.refused('engine_failed');
    throw new ApiError('inference_failed', `The engine failed the request: ${started.first.message}`);
  }
  return started;
}

/** Starts it, tells the client which agent serves it, and cancels it if the client leaves. */
export async function beginInference(
  request: FastifyRequest,
  reply: FastifyReply,
  deps: InferenceHttpDeps,
  target: InferenceTarget,
): Promise<StartedInference> {
  const started = await startInference(deps, target);
  cancelOnDisconnect(request, reply, deps.broker, started.requestId);
  void reply.headers(servedBy(started.agentId));
  return started;
}

const MAX_CLIENT_BACKLOG_BYTES = 8 * 1024 * 1024;

export interface Consumed {
  readonly firstTokenMs: number | null;
  readonly usage: ChatUsage | undefined;
  readonly failure: { readonly code: string; readonly message: string } | undefined;
}

/**
 * Feeds every chunk to `onChunk` until the stream ends (when streaming, one mesh frame's chunks
 * leave in one socket write), and says how it ended: the usage (from `infer.done`, else the
 * engine's usage chunk) or the failure.
 */
export async function consume(
  started: StartedInference,
  began: number,
  sse: SseStream | undefined,
  broker: StreamBroker,
  onChunk: (chunk: ChatChunk) => void,
): Promise<Consumed> {
  let firstTokenMs: number | null = null;
  let usage: ChatUsage | undefined;
  let failure: Consumed['failure'];
  for await (const report of reports(started)) {
    if (report.kind === 'chunks') {
      firstTokenMs ??= Math.round(performance.now() - began);
      const each = () => {
        for (const chunk of report.chunks as readonly ChatChunk[]) {
          if (chunk.usage) usage = chunk.usage;
          onChunk(chunk);
        }
      };
      if (sse) sse.together(each);
      else each();
      // A client that reads slower than the engine writes would grow this buffer without end.
      if (sse && sse.backlog > MAX_CLIENT_BACKLOG_BYTES)
        broker.cancel(started.requestId, 'the client reads too slowly');
    } else if (report.kind === 'done') usage = (report.usage as ChatUsage | undefined) ?? usage;
    else failure = report;
  }
  return { firstTokenMs, usage, failure };
}

async function* reports(started: StartedInference): AsyncGenerator<StreamEvent> {
  yield started.first;
  for (;;) {
    const next = await started.rest.next();
    if (next.done) return;
    yield next.value;
  }
}

/** Cancels the inference on its agent when the client goes away before the answer is complete. */
export function cancelOnDisconnect(
  request: FastifyRequest,
  reply: FastifyReply,
  broker: StreamBroker,
  requestId: string,
): void {
  const gone = () => {
    if (!reply.raw.writableFinished) broker.cancel(requestId, 'the client went away');
  };
  // The request stream itself ends (and is destroyed) once its body is read: watch the response.
  if (reply.raw.destroyed || request.raw.socket.destroyed) gone();
  else reply.raw.once('close', gone);
}

/** Usage is written after the answer; a failure to write it is logged, never the client's problem. */
export function countUsage(
  deps: InferenceHttpDeps,
  record: Omit<UsageRecord, 'inputTokens' | 'cachedTokens' | 'outputTokens'>,
  usage: ChatUsage | undefined,
): void {
  const counted = {
    inputTokens: usage?.prompt_tokens ?? 0,
    cachedTokens: usage?.prompt_tokens_details?.cached_tokens ?? 0,
    outputTokens: usage?.completion_tokens ?? 0,
  };
  deps.metrics?.finished({ api: record.api, outcome: record.outcome, firstTokenMs: record.firstTokenMs, ...counted });
  void recordUsage(deps.pool, { ...record, ...counted }).catch((error: unknown) =>
    deps.logger.warning({ err: error, request_id: record.requestId }, 'could not record inference usage'),
  );
}

/** Which of the project's agents served the request: for operators tracing one answer. */
export function servedBy(agentId: string): Record<string, string> {
  return { 'x-xerotier-agent-id': agentId };
}
