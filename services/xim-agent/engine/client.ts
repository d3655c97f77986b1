import { engineRequest, readAll, type EngineAddress } from './http.js';

/** An engine failure, classified for the router: retryable ones may go to another XIM. */
export class EngineError extends Error {
  override readonly name = 'EngineError';
  constructor(
    readonly code: 'engine_unavailable' | 'engine_rejected' | 'engine_failed' | 'cancelled',
    message: string,
    readonly retryable: boolean,
    /** True once a chunk was delivered: the request can no longer move elsewhere. */
    readonly started = false,
  ) {
    super(message);
  }
}

export interface StreamOutcome {
  readonly usage?: Record<string, unknown>;
  readonly chunks: number;
}

/**
 * Runs one streaming `/v1/chat/completions` call and hands each chunk to `onChunk` as it comes.
 * Errors before the stream are the engine's HTTP answer; errors after it started arrive in band
 * (`data: {"error":…}`, vLLM's way) and are raised as EngineError with `started`. Aborting the
 * signal closes the connection, which makes vLLM drop the request.
 */
export async function streamChat(
  address: EngineAddress,
  body: Record<string, unknown>,
  onChunk: (chunk: Record<string, unknown>) => void,
  signal?: AbortSignal,
): Promise<StreamOutcome> {
  const payload = JSON.stringify({ ...body, stream: true, stream_options: { include_usage: true } });
  let response;
  try {
    response = await engineRequest(address, '/v1/chat/completions', {
      method: 'POST',
      body: payload,
      ...(signal ? { signal } : {}),
      timeoutMs: 600_000,
    });
  } catch (error) {
    throw signal?.aborted
      ? new EngineError('cancelled', 'cancelled', false)
      : new EngineError('engine_unavailable', `engine unreachable: ${(error as Error).message}`, true);
  }
  if (response.statusCode !== 200) {
    const text = await readAll(response).catch(() => '');
    const status = response.statusCode ?? 0;
    throw new EngineError(
      status >= 500 ? 'engine_failed' : 'engine_rejected',
      engineMessage(text) ?? `engine answered HTTP ${status}`,
      status >= 500,
    );
  }
  return readStream(response, onChunk, signal);
}

async function readStream(
  response: AsyncIterable<unknown>,
  onChunk: (chunk: Record<string, unknown>) => void,
  signal?: AbortSignal,
): Promise<StreamOutcome> {
  let buffer = '';
  let chunks = 0;
  let usage: Record<string, unknown> | undefined;
  try {
    for await (const piece of response) {
      buffer += (piece as Buffer).toString('utf8');
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = event
          .split('\n')
          .filter((line) => line.startsWith('data: '))
          .map((line) => line.slice(6))
          .join('\n');
        if (!data || data === '[DONE]') continue;
        const parsed = JSON.parse(data) as Record<string, unknown>;
        if (parsed['error'])
          throw new EngineError('engine_failed', engineMessage(data) ?? 'engine failed mid-stream', false, chunks > 0);
        if (parsed['usage']) usage = parsed['usage'] as Record<string, unknown>;
        chunks += 1;
        onChunk(parsed);
      }
    }
  } catch (error) {
    if (error instanceof EngineError) throw error;
    throw signal?.aborted
      ? new EngineError('cancelled', 'cancelled', false, chunks > 0)
      : new EngineError('engine_failed', `stream broke: ${(error as Error).message}`, false, chunks > 0);
  }
  if (signal?.aborted) throw new EngineError('cancelled', 'cancelled', false, chunks > 0);
  return { chunks, ...(usage ? { usage } : {}) };
}

function engineMessage(text: string): string | undefined {
  try {
    const body = JSON.parse(text) as { error?: { message?: string }; message?: string };
    return body.error?.message ?? body.message;
  } catch {
    return undefined;
  }
}
