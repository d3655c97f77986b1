import { describe, expect, it } from 'vitest';
import { makeFrame, type AnyFrame, type Frame } from '../../../services/protocol/frame.js';
import type { FrameBody } from '../../../services/protocol/frame-bodies.js';
import { promptText } from '../../../services/router/inference/chat-request.js';
import { InferenceDispatch, InferenceRefused } from '../../../services/router/inference/dispatch.js';
import { prefixHashes } from '../../../services/router/inference/prefix-hash.js';
import type { WorkerView } from '../../../services/router/inference/scheduler.js';
import { StreamBroker } from '../../../services/router/inference/streams.js';
import type { AdmittedAgent } from '../../../services/router/mesh/admission.js';

const worker = (id: string, extra: Partial<WorkerView> = {}): WorkerView => ({
  id,
  models: ['m'],
  healthy: true,
  running: 0,
  waiting: 0,
  maxConcurrent: 4,
  kvUsage: 0,
  ...extra,
});
const chat = (content: string) => ({ messages: [{ role: 'user' as const, content }] });

/** A broker whose "agents" answer at once: refuse (retryable) when told to, else one chunk. */
function fakeAgents(refusing: ReadonlySet<string>) {
  const sent: { agentId: string; body: FrameBody<'infer.request'> }[] = [];
  const broker: StreamBroker = new StreamBroker({
    async send(agentId, frame: Frame) {
      if (frame.type !== 'infer.request') return true;
      const body = frame.body as FrameBody<'infer.request'>;
      sent.push({ agentId, body });
      const handlers = broker.handlers();
      const agent = { id: agentId } as AdmittedAgent;
      const reply = (type: 'infer.chunk' | 'infer.error', fields: Record<string, unknown>) =>
        handlers[type]!(agent, makeFrame(type, { request_id: body.request_id, ...fields } as never) as AnyFrame);
      queueMicrotask(
        () =>
          void (refusing.has(agentId)
            ? reply('infer.error', { code: 'capacity_exhausted', message: 'slots busy', retryable: true })
            : reply('infer.chunk', { seq: 0, chunks: [{ choices: [] }] })),
      );
      return true;
    },
  });
  return { broker, sent };
}

describe('InferenceDispatch', () => {
  it('moves a request refused before its first chunk to another agent serving the model', async () => {
    const { broker, sent } = fakeAgents(new Set(['a']));
    const dispatch = new InferenceDispatch(
      { views: async () => [worker('a'), worker('b', { running: 1 }), worker('x', { models: ['other'] })] },
      broker,
    );
    const started = await dispatch.start({ projectId: 'proj_1', model: 'm', chat: chat('hello') });
    expect(sent.map((entry) => entry.agentId)).toEqual(['a', 'b']);
    expect(started).toMatchObject({ agentId: 'b', first: { kind: 'chunks' } });
    expect(sent[0]!.body).toMatchObject({ project_id: 'proj_1', model: 'm', request: chat('hello') });
  });

  it("refuses with the scheduler's reason when nothing serves the model, and says failed when every agent refused", async () => {
    const { broker } = fakeAgents(new Set(['a', 'b']));
    await expect(
      new InferenceDispatch({ views: async () => [worker('a', { models: ['other'] })] }, broker).start({
        projectId: 'p',
        model: 'm',
        chat: chat('x'),
      }),
    ).rejects.toMatchObject({ reason: 'no_worker_for_model' });
    await expect(
      new InferenceDispatch({ views: async () => [worker('a', { running: 4 })] }, broker).start({
        projectId: 'p',
        model: 'm',
        chat: chat('x'),
      }),
    ).rejects.toMatchObject({ reason: 'no_capacity' });
    const refused = await new InferenceDispatch({ views: async () => [worker('a'), worker('b')] }, broker)
      .start({ projectId: 'p', model: 'm', chat: chat('x') })
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(InferenceRefused);
    expect(refused).toMatchObject({ reason: 'failed', message: expect.stringContaining('slots busy') });
  });

  it('sends a prompt back where its prefix went, and honours prompt_cache_key', async () => {
    const { broker, sent } = fakeAgents(new Set());
    const dispatch = new InferenceDispatch({ views: async () => [worker('a'), worker('b'), worker('c')] }, broker);
    const long = `${'You are the on-call assistant for the payments cluster. '.repeat(20)}`;
    for (let n = 0; n < 4; n += 1)
      await dispatch.start({ projectId: 'p', model: 'm', chat: chat(`${long} question ${n}`) });
    expect(new Set(sent.map((entry) => entry.agentId)).size).toBe(1);
    const keyed = [];
    for (let n = 0; n < 3; n += 1)
      keyed.push(
        (await dispatch.start({ projectId: 'p', model: 'm', chat: chat(`short ${n}`), promptCacheKey: 'user-42' }))
          .agentId,
      );
    expect(new Set(keyed).size).toBe(1);
  });

  it('keys affinity per tenant: the same prompt in two projects shares no block hash', () => {
    const text = promptText(chat('You are the on-call assistant. '.repeat(40)));
    const [a, b] = [prefixHashes(text, 'm', 'proj_a'), prefixHashes(text, 'm', 'proj_b')];
    expect(a.length).toBeGreaterThan(10);
    expect(a.filter((hash) => b.includes(hash))).toEqual([]);
  });
});
