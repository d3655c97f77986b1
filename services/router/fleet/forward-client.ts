import type { FrameBody } from '../../protocol/frame-bodies.js';
import type { TraceCarrier } from '../../runtime/tracing.js';
import type { StreamEvent } from '../inference/streams.js';
import { REPLICA_SIGNATURE_HEADER, type ReplicaAuth } from './replica-auth.js';

export const FORWARD_PATH = '/v1/fleet/infer';
export const FORWARD_CONTENT_TYPE = 'application/vnd.xerotier.forward+json';

/** What one replica hands another: the agent it holds and the `infer.request` to open there. */
export interface ForwardedInference {
  readonly agent_id: string;
  readonly request: FrameBody<'infer.request'>;
  readonly trace?: TraceCarrier;
}

export interface Forwarder {
  /** Opens the stream on the replica at `url`; every report goes to `report`. Returns the abort. */
  open(url: string, inference: ForwardedInference, report: (event: StreamEvent) => void): () => void;
}

/**
 * The forwarding side: one signed POST per inference to the replica holding the agent, whose
 * answer is the stream's reports as NDJSON. Anything short of a full stream (refused, cut,
 * unreachable) ends it with a retryable error, so before its first report the dispatcher moves
 * it to another agent; aborting the request is how the holder learns the client left.
 */
export function createForwarder(
  auth: ReplicaAuth,
  now: () => number = Date.now,
  counted: () => void = () => undefined,
): Forwarder {
  return {
    open(url, inference, report) {
      counted();
      const controller = new AbortController();
      const body = JSON.stringify(inference);
      void run(url, body, auth.sign(body, now()), controller.signal, report);
      return () => controller.abort();
    },
  };
}

async function run(
  url: string,
  body: string,
  signature: string,
  signal: AbortSignal,
  report: (event: StreamEvent) => void,
): Promise<void> {
  try {
    const response = await fetch(new URL(FORWARD_PATH, url), {
      method: 'POST',
      headers: { 'content-type': FORWARD_CONTENT_TYPE, [REPLICA_SIGNATURE_HEADER]: signature },
      body,
      signal,
    });
    if (!response.ok || !response.body) {
      await response.body?.cancel().catch(() => undefined);
      report(lost('replica_refused', `the replica holding the agent answered ${response.status}`));
      return;
    }
    let ended = false;
    for await (const line of lines(response.body)) {
      const event = parseEvent(line);
      if (!event) continue;
      ended = event.kind !== 'chunks';
      report(event);
    }
    if (!ended) report(lost('replica_lost', 'the replica holding the agent cut the stream'));
  } catch (error) {
    if (signal.aborted) return;
    report(lost('replica_unreachable', `the replica holding the agent is unreachable: ${(error as Error).message}`));
  }
}

function lost(code: string, message: string): StreamEvent {
  return { kind: 'error', code, message, retryable: true };
}

async function* lines(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffered = '';
  for await (const piece of body as unknown as AsyncIterable<Uint8Array>) {
    buffered += decoder.decode(piece, { stream: true });
    let newline = buffered.indexOf('\n');
    while (newline >= 0) {
      yield buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      newline = buffered.indexOf('\n');
    }
  }
  if (buffered.trim() !== '') yield buffered;
}

/** One report line as the holder wrote it; anything else is skipped, never trusted. */
export function parseEvent(line: string): StreamEvent | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const event = value as Record<string, unknown>;
  if (event['kind'] === 'chunks' && typeof event['seq'] === 'number' && Array.isArray(event['chunks']))
    return { kind: 'chunks', seq: event['seq'], chunks: event['chunks'] as Record<string, unknown>[] };
  if (event['kind'] === 'done') return { kind: 'done', ...(isObject(event['usage']) ? { usage: event['usage'] } : {}) };
  if (event['kind'] === 'error' && typeof event['code'] === 'string' && typeof event['message'] === 'string')
    return { kind: 'error', code: event['code'], message: event['message'], retryable: event['retryable'] === true };
  return undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
