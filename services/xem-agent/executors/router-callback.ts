import { Ajv } from 'ajv';
import type { LoadedTool } from '../bundles/loader.js';

/** What callback tools need to call the router back as this project. */
export interface RouterCallback {
  readonly routerUrl: string;
  readonly token: string | undefined;
  readonly projectExternalId: string | undefined;
}

export const ROUTER_CALLBACK_MISSING = 'router_callback_missing';

const DEEP_THINK_PARAMETERS = {
  type: 'object',
  properties: {
    question: { type: 'string', minLength: 1, maxLength: 8_000, description: 'What to think about' },
    endpoint: {
      type: 'string',
      pattern: '^[a-z0-9][a-z0-9-]{0,62}$',
      description: 'Inference endpoint slug (default: default)',
    },
  },
  required: ['question'],
  additionalProperties: false,
};

/**
 * Tools that call the router's own APIs back. They exist on every agent, but only run with
 * XEM_ROUTER_AUTH_TOKEN and XEM_PROJECT_EXTERNAL_ID; without them the manifest marks them
 * unavailable and a dispatch is refused with router_callback_missing.
 */
export function routerCallbackTools(callback: RouterCallback): LoadedTool[] {
  const missing = !callback.token || !callback.projectExternalId;
  return [
    {
      bundle: 'router',
      domain: 'reasoning',
      bundleDir: '.',
      callback: 'deep_think',
      validateArgs: new Ajv({ strict: true }).compile(DEEP_THINK_PARAMETERS),
      spec: {
        name: 'deep_think',
        description: "Ask the platform's own model a question and return its answer.",
        risk: 'read',
        timeout_ms: 120_000,
        parameters: DEEP_THINK_PARAMETERS,
      },
      ...(missing ? { unavailable: ROUTER_CALLBACK_MISSING } : {}),
    },
  ];
}

/** deep_think: one non-streaming chat completion through the router's OpenAI-compatible API. */
export async function deepThink(
  callback: RouterCallback,
  args: Record<string, unknown>,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<{ ok: boolean; output: string; timedOut: boolean; cancelled: boolean }> {
  const deadline = AbortSignal.timeout(timeoutMs);
  const endpoint = typeof args['endpoint'] === 'string' ? args['endpoint'] : 'default';
  const url = new URL(
    `${encodeURIComponent(callback.projectExternalId!)}/${endpoint}/v1/chat/completions`,
    callback.routerUrl.endsWith('/') ? callback.routerUrl : `${callback.routerUrl}/`,
  );
  try {
    const response = await fetch(url, {
      method: 'POST',
      signal: AbortSignal.any([signal, deadline]),
      headers: { authorization: `Bearer ${callback.token!}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: endpoint,
        messages: [{ role: 'user', content: String(args['question']) }],
        stream: false,
      }),
    });
    const text = await response.text();
    if (!response.ok)
      return {
        ok: false,
        output: `HTTP ${response.status}\n${text.slice(0, 64 * 1024)}`,
        timedOut: false,
        cancelled: false,
      };
    const answer =
      (JSON.parse(text) as { choices?: { message?: { content?: string } }[] }).choices?.[0]?.message?.content ?? '';
    return { ok: true, output: answer, timedOut: false, cancelled: false };
  } catch (error) {
    if (deadline.aborted || signal.aborted)
      return { ok: false, output: '', timedOut: deadline.aborted, cancelled: signal.aborted };
    return {
      ok: false,
      output: `router callback failed: ${(error as Error).message}`,
      timedOut: false,
      cancelled: false,
    };
  }
}
