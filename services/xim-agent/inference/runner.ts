import type { FrameBody, FrameType } from '../../protocol/frame-bodies.js';
import type { Logger } from '../../runtime/logger.js';
import { TaskSet } from '../../runtime/task-set.js';
import { inSpan, type TraceCarrier } from '../../runtime/tracing.js';
import { tenantSalt } from '../../protocol/cache-salt.js';
import { EngineError, streamChat } from '../engine/client.js';
import type { EngineAddress } from '../engine/http.js';

export interface InferenceRunnerOptions {
  readonly engine: () => EngineAddress;
  readonly maxConcurrent: () => number;
  /** XEROTIER_AGENT_VLLM_SALT_SECRET: each project gets its own prefix-cache salt. */
  readonly saltSecret: string | undefined;
  /** Sends a frame continuing the request's trace. */
  readonly send: (type: FrameType, body: Record<string, unknown>, trace: TraceCarrier | undefined) => Promise<boolean>;
  readonly logger: Logger;
}

export interface InferenceRunner {
  request(body: FrameBody<'infer.request'>, trace?: TraceCarrier): void;
  cancel(body: FrameBody<'infer.cancel'>): void;
  readonly running: number;
  /** Requests by how they ended since start (for metrics). */
  readonly outcomes: Readonly<Record<'completed' | 'failed' | 'cancelled' | 'refused', number>>;
  /** Cancels whatever still runs after the grace period. */
  drain(graceMs: number): Promise<void>;
}

/**
 * Runs the router's `infer.request` frames as streaming chat completions on the engine and
 * streams the chunks back in `infer.chunk` frames (numbered), then `infer.done` with the usage, or
 * one `infer.error`. A frame is sent only after the previous one left (backpressure from the
 * mesh socket); chunks arriving meanwhile share the next frame, so a fast engine costs fewer
 * frames, not more latency. Over capacity, a request is refused at once (retryable) rather than queued here: the
 * router knows other agents.
 */
export function createInferenceRunner(options: InferenceRunnerOptions): InferenceRunner {
  const running = new TaskSet<{ controller: AbortController; done: Promise<void>; stop(): void }>();
  const outcomes = { completed: 0, failed: 0, cancelled: 0, refused: 0 };
  const run = (body: FrameBody<'infer.request'>, controller: AbortController, parent: TraceCarrier | undefined) =>
    inSpan('xim.infer', parent, (trace) => stream(body, controller, trace), {
      'xerotier.request_id': body.request_id,
      'xerotier.model': body.model,
    });
  const stream = async (
    body: FrameBody<'infer.request'>,
    controller: AbortController,
    trace: TraceCarrier | undefined,
  ) => {
    const send = (type: FrameType, frameBody: Record<string, unknown>) => options.send(type, frameBody, trace);
    const batch = chunkBatcher((chunks, seq) => send('infer.chunk', { request_id: body.request_id, seq, chunks }));
    const request = {
      ...body.request,
      model: body.model,
      ...(options.saltSecret ? { cache_salt: tenantSalt(options.saltSecret, body.project_id) } : {}),
    };
    try {
      const outcome = await streamChat(options.engine(), request, (chunk) => batch.push(chunk), controller.signal);
      await batch.flushed();
      await send('infer.done', { request_id: body.request_id, ...(outcome.usage ? { usage: outcome.usage } : {}) });
      outcomes.completed += 1;
    } catch (error) {
      await batch.flushed();
      const engineError =
        error instanceof EngineError ? error : new EngineError('engine_failed', (error as Error).message, false);
      outcomes[engineError.code === 'cancelled' ? 'cancelled' : 'failed'] += 1;
      if (engineError.code !== 'cancelled')
        options.logger.warning(
          { request_id: body.request_id, code: engineError.code, err: { message: engineError.message } },
          'inference failed',
        );
      await send('infer.error', {
        request_id: body.request_id,
        code: engineError.code,
        message: engineError.message.slice(0, 500),
        retryable: engineError.retryable && !engineError.started,
      });
    }
  };
  return {
    request(body, trace) {
      if (running.has(body.request_id)) return;
      if (running.size >= options.maxConcurrent()) {
        outcomes.refused += 1;
        void options.send(
          'infer.error',
          {
            request_id: body.request_id,
            code: 'capacity_exhausted',
            message: `all ${options.maxConcurrent()} inference slots are busy`,
            retryable: true,
          },
          trace,
        );
        return;
      }
      const controller = new AbortController();
      running.add(body.request_id, { controller, done: run(body, controller, trace), stop: () => controller.abort() });
    },
    cancel(body) {
      running.get(body.request_id)?.controller.abort();
    },
    get running() {
      return running.size;
    },
    outcomes,
    drain: (graceMs) => running.drain(graceMs),
  };
}

const MAX_CHUNKS_PER_FRAME = 256;

/** Chunks pushed while a send is in flight (or in the same turn) leave together, in order. */
function chunkBatcher(send: (chunks: Record<string, unknown>[], seq: number) => Promise<boolean>) {
  const pending: Record<string, unknown>[] = [];
  let next = 0;
  let sending: Promise<void> | undefined;
  const drain = async () => {
    while (pending.length > 0) {
      const chunks = pending.splice(0, MAX_CHUNKS_PER_FRAME);
      await send(chunks, next);
      next += chunks.length;
    }
    sending = undefined;
  };
  return {
    push(chunk: Record<string, unknown>) {
      pending.push(chunk);
      sending ??= new Promise<void>((resolve) => setImmediate(resolve)).then(drain);
    },
    async flushed() {
      while (sending) await sending;
    },
  };
}
