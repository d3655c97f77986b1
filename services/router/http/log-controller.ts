import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';

const PROBE_PATHS = new Set(['/healthz', '/readyz']);

/**
 * One line per request, on completion, with the fields operators grep for; health probes log at
 * debug so a kubelet polling every few seconds does not drown the log.
 */
export class RouterLogController extends LogController {
  constructor() {
    super({ requestIdLogLabel: 'request_id' });
  }

  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const line = {
      method: request.method,
      url: request.url,
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime),
    };
    if (error) reply.log.error({ ...line, err: error }, 'request errored');
    else if (PROBE_PATHS.has(request.url)) reply.log.debug(line, 'request completed');
    else reply.log.info(line, 'request completed');
  }
}
