import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineError, streamChat } from '../../../services/xim-agent/engine/client.js';
import type { EngineAddress } from '../../../services/xim-agent/engine/http.js';
import { parseVllmMetrics, probeEngine } from '../../../services/xim-agent/engine/probe.js';
import { createScriptedEngine } from '../../../services/xim-agent/scripted-engine/server.js';
import { waitFor } from '../../helpers/processes.js';

const MODEL = 'scripted/tiny';

describe("the XIM agent's engine client, against the scripted engine", () => {
  const dir = mkdtempSync(join(tmpdir(), 'engine-client-'));
  const servers: Server[] = [];
  let uds: EngineAddress;
  let slow: EngineAddress;
  let failing: EngineAddress;

  const start = async (
    options: Parameters<typeof createScriptedEngine>[0],
    socket?: string,
  ): Promise<EngineAddress> => {
    const server = createScriptedEngine(options);
    servers.push(server);
    if (socket) {
      await new Promise<void>((resolve) => server.listen(socket, resolve));
      return { socketPath: socket };
    }
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { baseUrl: `http://127.0.0.1:${(server.address() as { port: number }).port}` };
  };

  beforeAll(async () => {
    uds = await start({ model: MODEL, tokensPerSecond: 0 }, join(dir, 'vllm.sock'));
    slow = await start({ model: MODEL, tokensPerSecond: 20 });
    failing = await start({ model: MODEL, tokensPerSecond: 0, failAfterTokens: 3 });
  });
  afterAll(async () => {
    for (const server of servers) await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  it('streams chunks over a Unix socket and returns the usage', async () => {
    const chunks: Record<string, unknown>[] = [];
    const outcome = await streamChat(
      uds,
      { model: MODEL, messages: [{ role: 'user', content: 'hello there' }] },
      (chunk) => chunks.push(chunk),
    );
    const text = chunks
      .flatMap((chunk) =>
        ((chunk['choices'] ?? []) as { delta: { content?: string } }[]).map((choice) => choice.delta.content ?? ''),
      )
      .join('');
    expect(text).toBe('This is a scripted answer to: "hello there".');
    expect(outcome.usage).toMatchObject({ completion_tokens: 8, prompt_tokens: 4 });
  });

  it('classifies failures: refused before the stream, failed in band after it, unreachable', async () => {
    await expect(
      streamChat(uds, { model: 'other', messages: [{ role: 'user', content: 'x' }] }, () => undefined),
    ).rejects.toMatchObject({ code: 'engine_rejected', retryable: false, started: false });
    await expect(
      streamChat(failing, { model: MODEL, messages: [{ role: 'user', content: 'x y z w v u' }] }, () => undefined),
    ).rejects.toMatchObject({ code: 'engine_failed', started: true, message: 'injected engine failure' });
    await expect(
      streamChat({ socketPath: join(dir, 'missing.sock') }, { model: MODEL, messages: [] }, () => undefined),
    ).rejects.toMatchObject({ code: 'engine_unavailable', retryable: true });
  });

  it('cancels mid-stream: the connection closes and the engine stops counting it as running', async () => {
    const controller = new AbortController();
    let seen = 0;
    const streaming = streamChat(
      slow,
      {
        model: MODEL,
        messages: [{ role: 'user', content: 'tell me a long story about leases and approvals and audits' }],
      },
      () => {
        seen += 1;
        if (seen === 3) controller.abort();
      },
      controller.signal,
    );
    await expect(streaming).rejects.toBeInstanceOf(EngineError);
    await expect(streaming).rejects.toMatchObject({ code: 'cancelled' });
    expect(
      await waitFor('the engine to stop counting it', 5_000, async () =>
        (await probeEngine(slow)).running === 0 ? 0 : undefined,
      ),
    ).toBe(0);
  });

  it('probes health, models and load; an engine that is gone reads as down', async () => {
    expect(await probeEngine(uds)).toEqual({
      healthy: true,
      models: [MODEL],
      scripted: [MODEL],
      running: 0,
      waiting: 0,
      kvUsage: 0,
      prefixCacheQueries: expect.any(Number),
      prefixCacheHits: expect.any(Number),
    });
    expect(await probeEngine({ socketPath: join(dir, 'missing.sock') })).toMatchObject({ healthy: false, models: [] });
    expect(
      parseVllmMetrics(
        'vllm:num_requests_running{model_name="a",engine="0"} 2\nvllm:num_requests_running{model_name="a",engine="1"} 3\nvllm:gpu_cache_usage_perc{model_name="a"} 0.5\nvllm:prefix_cache_queries_total{model_name="a"} 640\nvllm:prefix_cache_hits_total{model_name="a"} 512\n# HELP x\n',
      ),
    ).toEqual({ running: 5, waiting: 0, kvUsage: 0.5, prefixCacheQueries: 640, prefixCacheHits: 512 });
  });
});
