import { inSpan, type TraceCarrier } from '../../runtime/tracing.js';
import { makeFrame, type Frame } from '../../protocol/frame.js';
import type { FrameBody, FrameType } from '../../protocol/frame-bodies.js';
import type { AdmittedAgent } from '../mesh/admission.js';
import type { FrameHandler } from '../mesh/server.js';

export type StreamEvent =
  /** `seq` numbers the first chunk (the agent's count of chunks sent before it). */
  | { readonly kind: 'chunks'; readonly seq: number; readonly chunks: readonly Record<string, unknown>[] }
  | { readonly kind: 'done'; readonly usage?: Record<string, unknown> }
  | { readonly kind: 'error'; readonly code: string; readonly message: string; readonly retryable: boolean };

/**
 * One inference in flight on one XIM agent, as an async iterable of what the agent reports.
 * Ends after `done` or `error`; `started` says whether any chunk came (a retry is safe only
 * before that).
 */
export class InferenceStream implements AsyncIterable<StreamEvent> {
  started = false;
  private finished = false;
  private readonly queue: StreamEvent[] = [];
  private wake: (() => void) | undefined;

  constructor(
    readonly requestId: string,
    readonly agentId: string,
  ) {}

  push(event: StreamEvent): void {
    if (this.finished) return;
    if (event.kind === 'chunks') this.started = true;
    else this.finished = true;
    this.queue.push(event);
    this.wake?.();
  }

  get done(): boolean {
    return this.finished;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<StreamEvent> {
    for (;;) {
      const event = this.queue.shift();
      if (event) {
        yield event;
        if (event.kind !== 'chunks') return;
        continue;
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }
}

export interface StreamBrokerOptions {
  send(agentId: string, frame: Frame): Promise<boolean>;
  /** A report about a stream another agent holds: refused, and counted and audited here. */
  refuse?(
    agent: AdmittedAgent,
    refusal: { type: string; reason: string; subject: string },
  ): Promise<{ status: 'rejected'; reason: string }>;
  /** A stream with no report for this long is failed and cancelled on its agent. @default 120000 */
  readonly idleMs?: number;
  /** After an agent's lease lapses, a stream that reported within this long gets as long again. @default 5000 */
  readonly lostGraceMs?: number;
  /**
   * Opens a stream on an agent another replica holds (fleet/forward-client.ts); returns its
   * abort, which is how that replica learns to cancel. Without it remote agents are unreachable.
   */
  forward?(
    url: string,
    inference: { agent_id: string; request: FrameBody<'infer.request'>; trace?: TraceCarrier },
    report: (event: StreamEvent) => void,
  ): () => void;
}

/**
 * The router's side of `infer.*`: opens streams on agents, feeds them what the agents report,
 * cancels them when clients leave, and fails every stream of an agent that is lost. A report
 * from another agent than the one a stream was opened on is refused. A stream on an agent
 * another replica holds (`via` its address) is fed by that replica instead of the mesh.
 */
export class StreamBroker {
  private readonly streams = new Map<string, InferenceStream>();
  private readonly perAgent = new Map<string, number>();
  private readonly idle = new Map<string, NodeJS.Timeout>();
  private readonly lastReport = new Map<string, number>();
  private readonly remote = new Map<string, () => void>();

  constructor(private readonly options: StreamBrokerOptions) {}

  async open(
    agentId: string,
    body: FrameBody<'infer.request'>,
    trace?: TraceCarrier,
    via?: string,
  ): Promise<InferenceStream> {
    const stream = new InferenceStream(body.request_id, agentId);
    this.streams.set(body.request_id, stream);
    this.perAgent.set(agentId, (this.perAgent.get(agentId) ?? 0) + 1);
    this.watch(stream);
    if (via !== undefined) return this.openRemote(stream, via, body, trace);
    if (!(await this.options.send(agentId, makeFrame('infer.request', body, trace ? { trace } : {})))) {
      this.finish(stream, {
        kind: 'error',
        code: 'agent_unreachable',
        message: 'the XIM agent is not connected to this router',
        retryable: true,
      });
    }
    return stream;
  }

  private openRemote(
    stream: InferenceStream,
    via: string,
    request: FrameBody<'infer.request'>,
    trace: TraceCarrier | undefined,
  ): InferenceStream {
    if (!this.options.forward) {
      const message = 'the XIM agent is held by another router replica and forwarding is off';
      this.finish(stream, { kind: 'error', code: 'agent_unreachable', message, retryable: true });
      return stream;
    }
    const inference = { agent_id: stream.agentId, request, ...(trace ? { trace } : {}) };
    const abort = this.options.forward(via, inference, (event) => this.report(stream, event));
    if (this.streams.has(stream.requestId)) this.remote.set(stream.requestId, abort);
    return stream;
  }

  /** What the holding replica reports of a forwarded stream. */
  private report(stream: InferenceStream, event: StreamEvent): void {
    if (this.streams.get(stream.requestId) !== stream) return;
    if (event.kind !== 'chunks') {
      this.finish(stream, event);
      return;
    }
    this.lastReport.set(stream.requestId, Date.now());
    stream.push(event);
  }

  /** The client went away: the agent stops generating. */
  cancel(requestId: string, reason: string): void {
    const stream = this.streams.get(requestId);
    if (!stream) return;
    this.halt(stream, reason);
    this.finish(stream, { kind: 'error', code: 'cancelled', message: reason, retryable: false });
  }

  /** Tells the agent to stop: over the mesh, or by dropping the forwarded request. */
  private halt(stream: InferenceStream, reason: string): void {
    const abort = this.remote.get(stream.requestId);
    if (abort) abort();
    else void this.options.send(stream.agentId, makeFrame('infer.cancel', { request_id: stream.requestId, reason }));
  }

  /**
   * An engine that stops reporting (hung, or its agent wedged) must not hold the client forever.
   * One timer per stream, re-armed for what is left when it fires: a chunk only notes its time.
   */
  private watch(stream: InferenceStream): void {
    const idleMs = this.options.idleMs ?? 120_000;
    this.lastReport.set(stream.requestId, Date.now());
    const check = () => {
      if (!this.streams.has(stream.requestId)) return;
      const quiet = Date.now() - (this.lastReport.get(stream.requestId) ?? 0);
      if (quiet < idleMs) {
        this.idle.set(stream.requestId, setTimeout(check, idleMs - quiet).unref());
        return;
      }
      const seconds = Math.round(idleMs / 1_000);
      this.halt(stream, `no report for ${seconds} s`);
      this.finish(stream, {
        kind: 'error',
        code: 'engine_stalled',
        message: `the engine reported nothing for ${seconds} s`,
        retryable: false,
      });
    };
    this.idle.set(stream.requestId, setTimeout(check, idleMs).unref());
  }

  /** The router stops: every stream fails with `server_shutting_down` (the client may retry elsewhere) and its agent is told to stop. */
  shutdown(reason: string): void {
    for (const stream of [...this.streams.values()]) {
      this.halt(stream, reason);
      this.finish(stream, { kind: 'error', code: 'server_shutting_down', message: reason, retryable: true });
    }
  }

  /**
   * The agent's lease lapsed here. A stream still reporting is not lost: the agent may have moved
   * its lease to another replica (a CURVE key rotation) while finishing this stream on the old
   * connection. Quiet streams fail now; the others only if they stay quiet for the grace.
   */
  agentLost(agentId: string): void {
    const lost = (stream: InferenceStream) =>
      this.finish(stream, {
        kind: 'error',
        code: 'agent_lost',
        message: 'the XIM agent serving this request went away',
        retryable: true,
      });
    const graceMs = this.options.lostGraceMs ?? 5_000;
    for (const stream of this.streams.values()) {
      if (stream.agentId !== agentId || this.remote.has(stream.requestId)) continue;
      if (Date.now() - (this.lastReport.get(stream.requestId) ?? 0) > graceMs) lost(stream);
      else
        setTimeout(() => {
          const quiet = Date.now() - (this.lastReport.get(stream.requestId) ?? 0) > graceMs;
          if (quiet && this.streams.get(stream.requestId) === stream) lost(stream);
        }, graceMs).unref();
    }
  }

  get openCount(): number {
    return this.streams.size;
  }

  /** Streams this router has open on the agent (fresher than its last lease renewal). */
  openOn(agentId: string): number {
    return this.perAgent.get(agentId) ?? 0;
  }

  /** Feeds an agent's `infer.chunk|done|error` to its stream (the mesh handler for all three). */
  readonly deliver: FrameHandler = async (agent, frame) => {
    const body = frame.body as { request_id: string };
    const stream = this.streams.get(body.request_id);
    // A forwarded stream is fed by the replica holding its agent, never by this mesh.
    if (!stream || this.remote.has(body.request_id)) return { status: 'ok' };
    if (stream.agentId !== agent.id) {
      const refusal = { type: frame.type, reason: 'not_your_stream', subject: body.request_id };
      return this.options.refuse
        ? this.options.refuse(agent, refusal)
        : { status: 'rejected', reason: 'refused: not_your_stream' };
    }
    if (frame.type === 'infer.chunk') {
      this.lastReport.set(stream.requestId, Date.now());
      stream.push({ kind: 'chunks', seq: frame.body.seq, chunks: frame.body.chunks });
      return { status: 'ok' };
    }
    // The end of a stream continues the agent's span (one span per stream, not per chunk).
    await inSpan(
      `${frame.type}`,
      frame.trace,
      async () => {
        if (frame.type === 'infer.done')
          this.finish(stream, { kind: 'done', ...(frame.body.usage ? { usage: frame.body.usage } : {}) });
        else if (frame.type === 'infer.error')
          this.finish(stream, {
            kind: 'error',
            code: frame.body.code,
            message: frame.body.message,
            retryable: frame.body.retryable,
          });
      },
      { 'xerotier.request_id': body.request_id },
    );
    return { status: 'ok' };
  };

  handlers(): Partial<Record<FrameType, FrameHandler>> {
    return { 'infer.chunk': this.deliver, 'infer.done': this.deliver, 'infer.error': this.deliver };
  }

  private finish(stream: InferenceStream, event: StreamEvent): void {
    if (!this.streams.delete(stream.requestId)) return;
    clearTimeout(this.idle.get(stream.requestId));
    this.idle.delete(stream.requestId);
    this.lastReport.delete(stream.requestId);
    this.remote.delete(stream.requestId);
    const left = (this.perAgent.get(stream.agentId) ?? 1) - 1;
    if (left > 0) this.perAgent.set(stream.agentId, left);
    else this.perAgent.delete(stream.agentId);
    stream.push(event);
  }
}
