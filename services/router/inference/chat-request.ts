import type { EndpointDefaults } from '../store/endpoints.js';

export interface ChatMessage {
  readonly role: 'system' | 'developer' | 'user' | 'assistant' | 'tool';
  readonly content?: string | null | readonly Record<string, unknown>[];
  readonly name?: string;
  readonly tool_call_id?: string;
  readonly tool_calls?: readonly Record<string, unknown>[];
}

/** What the engine is asked: an OpenAI chat-completions body without model and stream flags. */
export interface EngineChat {
  readonly messages: readonly ChatMessage[];
  readonly [parameter: string]: unknown;
}

/** Chat-completions parameters passed to the engine as they are; the rest are the router's. */
const PASSED = [
  'tools',
  'tool_choice',
  'temperature',
  'top_p',
  'max_tokens',
  'stop',
  'seed',
  'presence_penalty',
  'frequency_penalty',
  'response_format',
  'parallel_tool_calls',
  'logit_bias',
  'logprobs',
  'top_logprobs',
  'user',
] as const;

/**
 * The engine request for a `/v1/chat/completions` body: the endpoint's defaults under the
 * caller's values, `max_completion_tokens` as vLLM's `max_tokens`, and the router-only fields
 * (model choice, stream options, service tier, prompt_cache_key, metadata) left out.
 */
export function engineChatFromChat(
  body: Record<string, unknown> & { messages: readonly ChatMessage[] },
  defaults: EndpointDefaults,
): EngineChat {
  const request: Record<string, unknown> = { messages: withInstructions(body.messages, defaults.instructions) };
  if (defaults.temperature !== undefined) request['temperature'] = defaults.temperature;
  if (defaults.max_output_tokens !== undefined) request['max_tokens'] = defaults.max_output_tokens;
  for (const key of PASSED) if (body[key] !== undefined) request[key] = body[key];
  if (body['max_completion_tokens'] !== undefined) request['max_tokens'] = body['max_completion_tokens'];
  return request as EngineChat;
}

/** The endpoint's default instructions lead the conversation unless the caller brought its own. */
export function withInstructions(
  messages: readonly ChatMessage[],
  instructions: string | undefined,
): readonly ChatMessage[] {
  if (!instructions || messages.some((message) => message.role === 'system' || message.role === 'developer'))
    return messages;
  return [{ role: 'system', content: instructions }, ...messages];
}

/**
 * The prompt as text for prefix hashing: tools first (chat templates render them into the
 * system turn), then each turn. It need not match the engine's template byte for byte, only
 * share a prefix exactly when the engine's rendering does.
 */
export function promptText(chat: EngineChat): string {
  const head = chat['tools'] === undefined ? '' : `${JSON.stringify(chat['tools'])}\n`;
  return (
    head +
    chat.messages
      .map(
        (message) =>
          `<|${message.role}|>${contentText(message.content)}${message.tool_calls ? JSON.stringify(message.tool_calls) : ''}\n`,
      )
      .join('')
  );
}

function contentText(content: ChatMessage['content']): string {
  if (content === undefined || content === null) return '';
  if (typeof content === 'string') return content;
  return content.map((part) => (typeof part['text'] === 'string' ? part['text'] : JSON.stringify(part))).join('');
}
