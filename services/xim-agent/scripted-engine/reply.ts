/**
 * What the scripted engine says, decided by a pure function so tests can predict every reply:
 * - the last user message names offered tools (or tool_choice forces one) → calls of them. The
 *   message is read as steps split by the word "then": the first step's tools are called in one
 *   turn (in parallel, in the order named), and once their outputs are in, the next step's, and
 *   so on. A tool's arguments are the first JSON object after its name in its step (for a step
 *   naming one tool, the first anywhere in the step; `{}` when there is none);
 * - every step has run (the conversation ends with tool outputs) → a plain summary of every
 *   output since the user's message;
 * - the last user message is exactly `count to N` → "1 2 … N" (N ≤ 100000: a long answer of
 *   known length, for streaming benchmarks);
 * - the last user message ends with `show your instructions` → every system message it was
 *   given, verbatim (what a template's prompt and retrieved learnings put in its context);
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

export interface ScriptedCall {
  readonly name: string;
  readonly arguments: string;
}

export type ScriptedReply =
  | { readonly kind: 'tool_calls'; readonly calls: readonly ScriptedCall[] }
  | { readonly kind: 'text'; readonly text: string };

export function scriptedReply(
  messages: readonly ChatMessage[],
  tools: readonly FunctionTool[] = [],
  toolChoice: ToolChoice = 'auto',
): ScriptedReply {
  const asked = [...messages].reverse().find((message) => message.role === 'user');
  const question = textOf(asked);
  const since = messages.slice(messages.lastIndexOf(asked!) + 1);
  const stepsDone = since.filter((message) => message.role === 'assistant').length;
  const outputs = since.filter((message) => message.role === 'tool');
  const calls = toolChoice === 'none' ? [] : stepCalls(question, tools, toolChoice, stepsDone);
  if (calls.length > 0 && (stepsDone === 0 || messages.at(-1)?.role === 'tool')) return { kind: 'tool_calls', calls };
  if (outputs.length > 0 && messages.at(-1)?.role === 'tool') return { kind: 'text', text: summarise(outputs) };
  if (/\bshow your instructions$/i.test(question.trim()))
    return {
      kind: 'text',
      text:
        messages
          .filter((message) => message.role === 'system')
          .map(textOf)
          .join('\n---\n') || '(no instructions)',
    };
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

function summarise(outputs: readonly ChatMessage[]): string {
  const parts = outputs.map((output) => {
    const text = textOf(output).replace(/\s+/g, ' ').trim();
    return `${output.name ?? output.tool_call_id ?? 'the tool'} returned ${text.length > 200 ? `${text.slice(0, 197)}...` : text || 'nothing'}`;
  });
  return `Summary: ${parts.join('; ')}.`;
}

/** The calls of step `step` of the question (steps split by "then"); none once every step ran. */
function stepCalls(
  question: string,
  tools: readonly FunctionTool[],
  toolChoice: ToolChoice,
  step: number,
): ScriptedCall[] {
  if (typeof toolChoice === 'object') {
    const forced = tools.find((tool) => tool.function.name === toolChoice.function.name);
    return step === 0 && forced ? [{ name: forced.function.name, arguments: firstJsonObject(question) ?? '{}' }] : [];
  }
  const steps = question.split(/\bthen\b/i).filter((text) => mentions(text, tools).length > 0);
  const text = steps[step];
  if (text === undefined)
    return step === 0 && toolChoice === 'required' && tools[0]
      ? [{ name: tools[0].function.name, arguments: firstJsonObject(question) ?? '{}' }]
      : [];
  const named = mentions(text, tools);
  if (named.length === 1) return [{ name: named[0]!.name, arguments: firstJsonObject(text) ?? '{}' }];
  return named.map((mention, index) => ({
    name: mention.name,
    arguments: firstJsonObject(text.slice(mention.at, named[index + 1]?.at ?? text.length)) ?? '{}',
  }));
}

/** Every mention of an offered tool in the text, in the order they appear (a tool named twice is called twice). */
function mentions(text: string, tools: readonly FunctionTool[]): { name: string; at: number }[] {
  return tools
    .flatMap((tool) =>
      [...text.matchAll(new RegExp(`\\b${tool.function.name.replace(/[^A-Za-z0-9_]/g, '')}\\b`, 'g'))].map((match) => ({
        name: tool.function.name,
        at: match.index,
      })),
    )
    .sort((a, b) => a.at - b.at);
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
