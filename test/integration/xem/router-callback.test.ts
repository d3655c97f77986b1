import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FrameBody } from '../../../services/protocol/frame-bodies.js';
import { buildManifest } from '../../../services/xem-agent/bundles/manifest.js';
import { routerCallbackTools, type RouterCallback } from '../../../services/xem-agent/executors/router-callback.js';
import { engineHarness } from '../../helpers/xem-engine.js';

const TOKEN = 'xero_acme_canaryCallbackToken1234567890';

// A stand-in for the router's OpenAI-compatible API (the real one arrives with the inference
// work): it checks what the agent sends and answers like a chat completion.
describe('router callback tools (deep_think)', () => {
  let router: Server;
  let routerUrl: string;
  const requests: { url: string; headers: IncomingHttpHeaders; body: Record<string, unknown> }[] = [];

  beforeAll(async () => {
    router = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        const parsed = JSON.parse(body) as { messages: { content: string }[] };
        requests.push({
          url: request.url!,
          headers: request.headers,
          body: parsed as unknown as Record<string, unknown>,
        });
        response.setHeader('content-type', 'application/json');
        response.end(
          JSON.stringify({
            choices: [
              {
                message: {
                  role: 'assistant',
                  content: `thought about: ${parsed.messages[0]!.content} (${request.headers.authorization})`,
                },
              },
            ],
          }),
        );
      });
    });
    await new Promise<void>((resolve) => router.listen(0, '127.0.0.1', resolve));
    routerUrl = `http://127.0.0.1:${(router.address() as AddressInfo).port}`;
  });
  afterAll(() => router.close());

  async function run(callback: RouterCallback, args: Record<string, unknown>): Promise<FrameBody<'exec.result'>> {
    const tools = new Map(routerCallbackTools(callback).map((tool) => [tool.spec.name, tool]));
    const local = engineHarness({
      tools: () => tools,
      workspace: 'ws_any',
      credentialsDir: '/nonexistent',
      routerCallback: callback,
    });
    try {
      return await local.run('deep_think', args, 10_000);
    } finally {
      local.close();
    }
  }

  it('without a token the tool is listed as unavailable and refused with router_callback_missing', async () => {
    const callback = { routerUrl, token: undefined, projectExternalId: 'proj_acme' };
    const before = requests.length;
    const manifest = buildManifest(new Map(routerCallbackTools(callback).map((tool) => [tool.spec.name, tool])), []);
    expect(manifest.tools).toEqual([
      expect.objectContaining({ name: 'deep_think', available: false, unavailable_reason: 'router_callback_missing' }),
    ]);
    expect(await run(callback, { question: 'why?' })).toMatchObject({
      status: 'rejected',
      error: { code: 'router_callback_missing' },
    });
    expect(requests.length).toBe(before);
  });

  it("with token and project, asks the router's chat completions API as the project and never shows the token", async () => {
    const result = await run(
      { routerUrl, token: TOKEN, projectExternalId: 'proj_acme' },
      { question: 'is the cluster healthy?' },
    );
    expect(result.status).toBe('succeeded');
    expect(result.output).toBe('thought about: is the cluster healthy? (Bearer [REDACTED])');
    expect(requests.at(-1)).toMatchObject({
      url: '/proj_acme/default/v1/chat/completions',
      headers: { authorization: `Bearer ${TOKEN}` },
      body: { model: 'default', stream: false },
    });
  });
});
