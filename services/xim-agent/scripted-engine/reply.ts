/**
 * What the scripted engine says, decided by a pure function so tests can predict every reply:
 * - the conversation ends with tool outputs → a plain summary of them;
 * - the last user message names an offered tool (or tool_choice forces one) → a call to it, with
 *   the first JSON object found in that message as its arguments (`{}` when there is none);
 * - the last user message is exactly `count to N` → "1 2 … N" (N ≤ 100000: a long answer of
 *   known length, for streaming benchmarks);
 * - otherwise → a plain, deterministic answer quoting the question.
 */
export interface ChatMessage {
  readonly role: 'system' | 'developer' | 'user' | 'assistant' | 'tool';
  readonly content?: string | null | readonly { type: string; text?: string }[];
  readonly tool_call_id?: string;
  readonly name?: string;
}

export interface FunctionTool {
  readonly type: 'function';
  readonly function: { readonly name: string; readonly description?: string; readonly parameters?: unknown };
}

export type ToolChoice =
  'auto' | 'none' | 'required' | { readonly type: 'function'; readonly function: { readonly name: string } };

export type ScriptedReply =
  | { readonly kind: 'tool_call'; readonly name: string; readonly arguments: string }
  | { readonly kind: 'text'; readonly text: string };

export function scriptedReply(
  messages: readonly ChatMessage[],
  tools: readonly FunctionTool[] = [],
  toolChoice: ToolChoice = 'auto',
): ScriptedReply {
  const trailingTools = trailing(messages, 'tool');
  if (trailingTools.length > 0) return { kind: 'text', text: summarise(trailingTools) };
  const question = textOf([...messages].reverse().find((message) => message.role === 'user'));
  const tool = toolChoice === 'none' ? undefined : pickTool(question, tools, toolChoice);
  if (tool) return { kind: 'tool_call', name: tool, arguments: firstJsonObject(question) ?? '{}' };
  const count = /^count to (\d{1,6})$/i.exec(question.trim());
  if (count && Number(count[1]) <= 100_000)
    return { kind: 'text', text: Array.from({ length: Number(count[1]) }, (_, index) => String(index + 1)).join(' ') };
  const quoted = question.length > 120 ? `${question.slice(0, 117)}...` : question;
  return { kind: 'text', text: quoted ? `This is a scripted answer to: "${quoted}".` : 'This is a scripted answer.' };
}

export function textOf(message: ChatMessage | undefined): string {
  if (!message?.content) return '';
  if (typeof message.content === 'string') return message.content;
  return message.content.map((part) => part.text ?? '').join('');
}

function trailing(messages: readonly ChatMessage[], role: ChatMessage['role']): ChatMessage[] {
  const found: ChatMessage[] = [];
  for (let index = messages.length - 1; index >= 0 && messages[index]!.role === role; index -= 1)
    found.unshift(messages[index]!);
  return found;
}

function summarise(outputs: readonly ChatMessage[]): string {
  const parts = outputs.map((output) => {
    const text = textOf(output).replace(/\s+/g, ' ').trim();
    return `${output.name ?? output.tool_call_id ?? 'the tool'} returned ${text.length > 200 ? `${text.slice(0, 197)}...` : text || 'nothing'}`;
  });
  return `Summary: ${parts.join('; ')}.`;
}

function pickTool(question: string, tools: readonly FunctionTool[], toolChoice: ToolChoice): string | undefined {
  if (typeof toolChoice === 'object')
    return tools.find((tool) => tool.function.name === toolChoice.function.name)?.function.name;
  const mentioned = tools.find((tool) =>
    new RegExp(`\\b${tool.function.name.replace(/[^A-Za-z0-9_]/g, '')}\\b`).test(question),
  );
  if (mentioned) return mentioned.function.name;
  return toolChoice === 'required' ? tools[0]?.function.name : undefined;
}

/** The first balanced `{…}` in the text that parses as a JSON object, re-serialised compactly. */
export function firstJsonObject(text: string): string | undefined {
  for (let start = text.indexOf('{'); start >= 0; start = text.indexOf('{', start + 1)) {
    let depth = 0;
    for (let end = start; end < text.length; end += 1) {
      if (text[end] === '{') depth += 1;
      else if (text[end] === '}' && --depth === 0) {
        try {
          const value: unknown = JSON.parse(text.slice(start, end + 1));
          if (value && typeof value === 'object' && !Array.isArray(value)) return JSON.stringify(value);
        } catch {
          // not JSON: try the next brace
        }
        break;
      }
    }
  }
  return undefined;
}

/** Word-sized pieces, as a tokenizer would stream them (whitespace kept with the word before it). */
export function tokens(text: string): string[] {
  return text.match(/\S+\s*|\s+/g) ?? [];
}
