import type { EndpointDefaults } from '../store/endpoints.js';
import type { ChatMessage, EngineChat } from './chat-request.js';

/** A Responses input or output item, as stored and replayed. */
export type ResponseItem = Record<string, unknown> & { readonly type: string };

export class InputError extends Error {
  override readonly name = 'InputError';
  constructor(
    message: string,
    readonly param: string,
  ) {
    super(message);
  }
}

export interface ResponsesBody {
  readonly input: string | readonly Record<string, unknown>[];
  readonly instructions?: string | null;
  readonly tools?: readonly Record<string, unknown>[];
  readonly tool_choice?: unknown;
  readonly temperature?: number | null;
  readonly top_p?: number | null;
  readonly max_output_tokens?: number | null;
  readonly parallel_tool_calls?: boolean | null;
}

/** The caller's `input` as items: a string is one user message. */
export function inputItems(input: ResponsesBody['input']): ResponseItem[] {
  if (typeof input === 'string') return [{ type: 'message', role: 'user', content: input }];
  return input.map((item, index) => {
    const type = item['type'] ?? (item['role'] !== undefined ? 'message' : undefined);
    if (
      type !== 'message' &&
      type !== 'function_call' &&
      type !== 'function_call_output' &&
      type !== 'mcp_approval_response'
    ) {
      throw new InputError(
        `input[${index}]: items of type ${JSON.stringify(type ?? null)} are not supported; send messages, function_call and function_call_output items`,
        `input[${index}]`,
      );
    }
    return { ...item, type } as ResponseItem;
  });
}

/**
 * The engine's chat request for a Responses turn: instructions (the caller's, else the
 * endpoint's) as the system turn, then the stored history and this turn's items as chat
 * messages (consecutive function calls become one assistant turn with tool_calls, their outputs
 * tool turns), function tools in the chat shape, sampling defaults from the endpoint.
 */
export function engineChatFromResponses(
  body: ResponsesBody,
  items: readonly ResponseItem[],
  defaults: EndpointDefaults,
): EngineChat {
  const instructions = body.instructions ?? defaults.instructions;
  const messages: ChatMessage[] = instructions ? [{ role: 'system', content: instructions }] : [];
  const turns = new Map<string, number>();
  items.forEach((item, index) => appendItem(messages, item, index, turns));
  const request: Record<string, unknown> = { messages };
  if (body.tools && body.tools.length > 0) request['tools'] = body.tools.map(chatTool);
  if (body.tool_choice !== undefined) request['tool_choice'] = chatToolChoice(body.tool_choice);
  const temperature = body.temperature ?? defaults.temperature;
  if (temperature !== undefined) request['temperature'] = temperature;
  if (body.top_p !== undefined && body.top_p !== null) request['top_p'] = body.top_p;
  const maxTokens = body.max_output_tokens ?? defaults.max_output_tokens;
  if (maxTokens !== undefined) request['max_tokens'] = maxTokens;
  if (body.parallel_tool_calls !== undefined && body.parallel_tool_calls !== null)
    request['parallel_tool_calls'] = body.parallel_tool_calls;
  return request as EngineChat;
}

// Items of the router's own tools that the model does not see as such: the tool listing, and
// approvals still open or their answers (a decided one comes back as an mcp_call).
const NOT_FOR_THE_MODEL = new Set(['mcp_list_tools', 'mcp_approval_request', 'mcp_approval_response']);

/**
 * `turns`: for each model turn that called several workspace tools at once (`x_model_turn`), the
 * index of its assistant message, so the engine sees them as one message with parallel calls.
 */
function appendItem(messages: ChatMessage[], item: ResponseItem, index: number, turns: Map<string, number>): void {
  // A subplan's own calls are its model's context, not this one's: this one reads its answer.
  if (NOT_FOR_THE_MODEL.has(item.type) || item['x_subplan'] !== undefined) return;
  if (item.type === 'mcp_call') {
    // A workspace tool the router ran: to the engine, a tool call and its result.
    const call = toolCall(String(item['id']), item);
    const group = typeof item['x_model_turn'] === 'string' ? item['x_model_turn'] : undefined;
    const at = group === undefined ? undefined : turns.get(group);
    const same = at === undefined ? undefined : messages[at];
    if (same?.tool_calls) messages[at!] = { ...same, tool_calls: [...same.tool_calls, call] };
    else {
      messages.push({ role: 'assistant', content: null, tool_calls: [call] });
      if (group !== undefined) turns.set(group, messages.length - 1);
    }
    const text = typeof item['output'] === 'string' && item['output'] !== '' ? item['output'] : '';
    const error = typeof item['error'] === 'string' ? item['error'] : '';
    messages.push({
      role: 'tool',
      // The tool's name, so an engine (and the scripted one's summary) can say which tool said it.
      name: String(item['name']),
      tool_call_id: String(item['id']),
      // A failed call's output already says why; older items may carry only the error.
      content: text || (error ? `error: ${error}` : ''),
    });
    return;
  }
  if (item.type === 'function_call') {
    const call = toolCall(String(item['call_id']), item);
    const last = messages.at(-1);
    if (last?.role === 'assistant' && last.tool_calls)
      messages[messages.length - 1] = { ...last, tool_calls: [...last.tool_calls, call] };
    else messages.push({ role: 'assistant', content: null, tool_calls: [call] });
    return;
  }
  if (item.type === 'function_call_output') {
    messages.push({ role: 'tool', tool_call_id: String(item['call_id']), content: textOf(item['output'], index) });
    return;
  }
  const role = item['role'];
  if (role !== 'user' && role !== 'assistant' && role !== 'system' && role !== 'developer')
    throw new InputError(`input[${index}].role must be user, assistant, system or developer`, `input[${index}].role`);
  messages.push({ role: role === 'developer' ? 'system' : role, content: textOf(item['content'], index) });
}

/** A call as the engine's assistant message carries it. */
function toolCall(id: string, item: ResponseItem) {
  const args = item['arguments'];
  return {
    id,
    type: 'function',
    function: { name: String(item['name']), arguments: typeof args === 'string' ? args : JSON.stringify(args ?? {}) },
  };
}

/** Text parts joined; images and files are refused (no engine here takes them yet). */
function textOf(content: unknown, index: number): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content))
    throw new InputError(
      `input[${index}]: content must be a string or a list of text parts`,
      `input[${index}].content`,
    );
  return content
    .map((part: Record<string, unknown>) => {
      if (
        (part['type'] === 'input_text' || part['type'] === 'output_text' || part['type'] === 'text') &&
        typeof part['text'] === 'string'
      )
        return part['text'];
      throw new InputError(
        `input[${index}]: content parts of type ${JSON.stringify(part['type'])} are not supported; send text`,
        `input[${index}].content`,
      );
    })
    .join('');
}

function chatTool(tool: Record<string, unknown>, index: number): Record<string, unknown> {
  if (tool['type'] !== 'function' || typeof tool['name'] !== 'string')
    throw new InputError(`tools[${index}]: only function tools with a name are supported`, `tools[${index}]`);
  const fn: Record<string, unknown> = { name: tool['name'] };
  if (tool['description'] !== undefined) fn['description'] = tool['description'];
  if (tool['parameters'] !== undefined && tool['parameters'] !== null) fn['parameters'] = tool['parameters'];
  return { type: 'function', function: fn };
}

function chatToolChoice(choice: unknown): unknown {
  if (choice === 'auto' || choice === 'none' || choice === 'required') return choice;
  const named = choice as { type?: unknown; name?: unknown };
  if (named && named.type === 'function' && typeof named.name === 'string')
    return { type: 'function', function: { name: named.name } };
  throw new InputError('tool_choice must be auto, none, required or {"type":"function","name":…}', 'tool_choice');
}
