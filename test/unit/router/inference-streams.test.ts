import { describe, expect, it, vi } from 'vitest';
import { makeFrame } from '../../../services/protocol/frame.js';
import { consume } from '../../../services/router/http/inference-run.js';
import type { SseStream } from '../../../services/router/http/sse.js';
import type { StartedInference } from '../../../services/router/inference/dispatch.js';
import { InferenceStream, StreamBroker, type StreamEvent } from '../../../services/router/inference/streams.js';

const chunk = (content: string) => ({ choices: [{ index: 0, delta: { content } }] });

function started(events: StreamEvent[]): StartedInference {
  const stream = new InferenceStream('inf_1', 'agt_1');
  for (const event of events) stream.push(event);
  const rest = stream[Symbol.asyncIterator]();
  return { requestId: 'inf_1', agentId: 'agt_1', first: { kind: 'chunks', seq: 0, chunks: [chunk('a')] }, rest };
}

function fakeSse(backlog: () => number): SseStream & { written: number } {
  const sse = {
    written: 0,
    send: () => undefined,
    data: () => undefined,
    end: () => undefined,
    closed: false,
    together(write: () => void) {
      write();
      sse.written += 1;
    },
    get backlog() {
      return backlog();
    },
  };
  return sse;
}

describe('consume', () => {
  it('feeds every chunk in order and reports the usage of infer.done', async () => {
    const seen: string[] = [];
    const usage = { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 };
    const result = await consume(
      started([
        { kind: 'chunks', seq: 0, chunks: [chunk('b'), chunk('c')] },
        { kind: 'done', usage },
      ]),
      performance.now(),
      undefined,
      new StreamBroker({ send: async () => true }),
      (value) => {
        seen.push(value.choices![0]!.delta!.content!);
      },
    );
    expect(seen).toEqual(['a', 'b', 'c']);
    expect(result).toMatchObject({ usage, failure: undefined, firstTokenMs: expect.any(Number) });
  });

  it('cancels the inference on its agent when the client falls more than 8 MiB behind', async () => {
    const frames: string[] = [];
    const broker = new StreamBroker({
      send: async (_agent, frame) => {
        frames.push(frame.type);
        return true;
      },
    });
    const stream = await broker.open('agt_1', { request_id: 'inf_1', project_id: 'proj_1', model: 'm', request: {} });
    stream.push({ kind: 'chunks', seq: 0, chunks: [chunk('a')] });
    const rest = stream[Symbol.asyncIterator]();
    const first = (await rest.next()).value as StreamEvent;
    const sse = fakeSse(() => 9 * 1024 * 1024);
    const result = await consume(
      { requestId: 'inf_1', agentId: 'agt_1', first, rest },
      performance.now(),
      sse,
      broker,
      () => undefined,
    );
    expect(frames).toEqual(['infer.request', 'infer.cancel']);
    expect(result.failure).toMatchObject({ code: 'cancelled', message: 'the client reads too slowly' });
    expect(sse.written).toBe(1);
  });
});

describe('StreamBroker', () => {
  it('fails and cancels a stream whose engine stops reporting, counting from the last chunk', async () => {
    vi.useFakeTimers();
    try {
      const frames: string[] = [];
      const broker = new StreamBroker({
        idleMs: 1_000,
        send: async (_agent, frame) => {
          frames.push(frame.type);
          return true;
        },
      });
      const stream = await broker.open('agt_1', { request_id: 'inf_2', project_id: 'proj_1', model: 'm', request: {} });
      await vi.advanceTimersByTimeAsync(800);
      await broker.handlers()['infer.chunk']!(
        { id: 'agt_1' } as never,
        makeFrame('infer.chunk', { request_id: 'inf_2', seq: 0, chunks: [chunk('a')] }) as never,
      );
      await vi.advanceTimersByTimeAsync(800);
      expect(stream.done).toBe(false);
      await vi.advanceTimersByTimeAsync(300);
      expect(stream.done).toBe(true);
      expect(frames).toEqual(['infer.request', 'infer.cancel']);
      const events: StreamEvent[] = [];
      for await (const event of stream) events.push(event);
      expect(events.at(-1)).toMatchObject({ kind: 'error', code: 'engine_stalled', retryable: false });
      expect(broker.openCount).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});
