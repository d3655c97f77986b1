import type { FastifyInstance, FastifyReply } from 'fastify';
import type { FrameBody } from '../../protocol/frame-bodies.js';
import type { TraceCarrier } from '../../runtime/tracing.js';
import { FORWARD_CONTENT_TYPE, FORWARD_PATH, type ForwardedInference } from '../fleet/forward-client.js';
import { REPLICA_SIGNATURE_HEADER, type ReplicaAuth } from '../fleet/replica-auth.js';
import type { StreamBroker, StreamEvent } from '../inference/streams.js';
import { ApiError } from './errors.js';

export interface FleetForwardingDeps {
  readonly auth: ReplicaAuth;
  readonly broker: StreamBroker;
  readonly bodyLimit: number;
  readonly now?: () => number;
  readonly counted?: () => void;
}

/**
 * `POST /v1/fleet/infer`: another replica hands this one an inference for an agent whose
 * connection this one holds. Signed by a replica (fleet/replica-auth.ts) or refused; the stream
 * opens on the local mesh and its reports go back as NDJSON. Not holding the agent (it moved)
 * is a retryable report, so the forwarding replica places the request elsewhere. When the
 * forwarding replica drops the request, the stream is cancelled on the agent.
 */
export function fleetForwardingRoutes(deps: FleetForwardingDeps) {
  const now = deps.now ?? Date.now;
  return async function register(app: FastifyInstance): Promise<void> {
    app.addContentTypeParser(FORWARD_CONTENT_TYPE, { parseAs: 'string', bodyLimit: deps.bodyLimit }, (_r, body, done) =>
      done(null, body),
    );
    app.post(FORWARD_PATH, async (request, reply) => {
      if (typeof request.body !== 'string') throw new ApiError('unsupported_media_type');
      const header = request.headers[REPLICA_SIGNATURE_HEADER];
      const verdict = deps.auth.verify(typeof header === 'string' ? header : undefined, request.body, now());
      if (verdict !== 'ok') throw new ApiError('replica_unauthorized', `replica signature: ${verdict}`);
      const inference = parseForwarded(request.body);
      deps.counted?.();
      const requestId = inference.request.request_id;
      const gone = () => {
        if (!reply.raw.writableFinished) deps.broker.cancel(requestId, 'the forwarding router went away');
      };
      // Watched before the stream opens: the forwarding replica may give up while it does.
      reply.raw.once('close', gone);
      const stream = await deps.broker.open(inference.agent_id, inference.request, inference.trace);
      if (reply.raw.destroyed) gone();
      reply.hijack();
      reply.raw.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
      for await (const event of stream) await writeLine(reply, event);
      reply.raw.end();
    });
  };
}

function parseForwarded(body: string): ForwardedInference {
  let value: Partial<ForwardedInference>;
  try {
    value = JSON.parse(body) as Partial<ForwardedInference>;
  } catch {
    throw new ApiError('invalid_body', 'the forwarded inference is not JSON');
  }
  const request = value.request as Partial<FrameBody<'infer.request'>> | undefined;
  if (
    typeof value.agent_id !== 'string' ||
    typeof request?.request_id !== 'string' ||
    typeof request.project_id !== 'string' ||
    typeof request.model !== 'string' ||
    typeof request.request !== 'object' ||
    request.request === null
  )
    throw new ApiError('invalid_body', 'a forwarded inference names agent_id and an infer.request');
  return {
    agent_id: value.agent_id,
    request: request as FrameBody<'infer.request'>,
    ...(isCarrier(value.trace) ? { trace: value.trace } : {}),
  };
}

function isCarrier(value: unknown): value is TraceCarrier {
  const carrier = value as Partial<TraceCarrier> | null | undefined;
  return (
    typeof carrier?.traceparent === 'string' &&
    (carrier.tracestate === undefined || typeof carrier.tracestate === 'string')
  );
}

async function writeLine(reply: FastifyReply, event: StreamEvent): Promise<void> {
  if (reply.raw.destroyed) return;
  if (!reply.raw.write(`${JSON.stringify(event)}\n`))
    await new Promise<void>((resolve) => {
      reply.raw.once('drain', resolve);
      reply.raw.once('close', resolve);
    });
}
