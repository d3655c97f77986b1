import type { ChatChunk, ChatUsage, ToolFragment } from './chat-accumulator.js';
import type { ResponseItem } from './responses-request.js';

/** Every field of a Response the router fills before any output exists. */
export type ResponseShell = Record<string, unknown> & { readonly id: string; readonly model: string };

export type ResponseEvent = Record<string, unknown> & { readonly type: string; readonly sequence_number: number };

export type ResponseStatus = 'in_progress' | 'completed' | 'incomplete' | 'failed';

interface OpenItem {
  readonly outputIndex: number;
  readonly item: Record<string, unknown> & { id: string; type: 'message' | 'function_call' };
  text: string;
}

/**
 * Turns the engine's chat-completion chunks into the Responses event stream the official SDK
 * accepts (research/inference-anchors.md §1.4–1.6): `response.created` first, every event
 * numbered, items added before their deltas at append-only output indices, a message's content
 * part before its text, non-empty ids and call_ids, every item closed before
 * `response.completed`, which carries the whole response. Pure: ids come from `newId`.
 */
export class ResponsesTranslator {
  private sequence = 0;
  private readonly output: ResponseItem[] = [];
  private message: OpenItem | undefined;
  private readonly calls = new Map<number, OpenItem>();
  /** This model turn's calls of server (MCP) tools: held back, the loop decides what each becomes. */
  private readonly serverCalls = new Map<number, { name: string; arguments: string }>();
  private finishReason: string | null = null;
  usage: Record<string, unknown> | null = null;

  constructor(
    private readonly shell: ResponseShell,
    private readonly newId: (prefix: string) => string,
    /** Names of the tools the router runs itself (the workspace's, offered as `mcp`). */
    private readonly serverTools: ReadonlySet<string> = new Set(),
  ) {}

  /**
   * A translator that goes on with a stored response (resumed after people decided what it
   * waited for): its output and usage so far, numbering after its last event.
   */
  static resume(
    shell: ResponseShell,
    newId: (prefix: string) => string,
    serverTools: ReadonlySet<string>,
    stored: { output: readonly ResponseItem[]; lastSequence: number; usage: Record<string, unknown> | null },
  ): ResponsesTranslator {
    const translator = new ResponsesTranslator(shell, newId, serverTools);
    translator.output.push(...stored.output.map((item) => ({ ...item })));
    translator.sequence = stored.lastSequence + 1;
    translator.usage = stored.usage;
    return translator;
  }

  /** The first event of a resumed response: it runs again. */
  resumed(): ResponseEvent[] {
    return [this.event('response.in_progress', { response: this.response('in_progress') })];
  }

  start(): ResponseEvent[] {
    return [
      this.event('response.created', { response: this.response('in_progress') }),
      this.event('response.in_progress', { response: this.response('in_progress') }),
    ];
  }

  chunk(chunk: ChatChunk): ResponseEvent[] {
    const events: ResponseEvent[] = [];
    if (chunk.usage) this.usage = responsesUsage(chunk.usage);
    for (const choice of chunk.choices ?? []) {
      if (choice.index !== 0) continue;
      if (choice.delta?.content) events.push(...this.text(choice.delta.content));
      for (const fragment of choice.delta?.tool_calls ?? []) events.push(...this.toolFragment(fragment));
      if (choice.finish_reason) this.finishReason = choice.finish_reason;
    }
    return events;
  }

  /** Closes every open item, then `response.completed` (or `.incomplete` when the token cap cut it). */
  complete(usage?: ChatUsage): ResponseEvent[] {
    if (usage) this.usage = responsesUsage(usage);
    const events = [...this.closeMessage(), ...this.closeCalls()];
    const status = this.finishReason === 'length' ? 'incomplete' : 'completed';
    events.push(this.event(`response.${status}`, { response: this.response(status) }));
    return events;
  }

  /** In-band failure once the stream has started; items so far stay as they are. */
  fail(code: string, message: string): ResponseEvent[] {
    return [this.event('response.failed', { response: this.response('failed', { code, message }) })];
  }

  response(status: ResponseStatus, error: { code: string; message: string } | null = null): Record<string, unknown> {
    return {
      ...this.shell,
      object: 'response',
      status,
      output: this.output.map((item) => ({ ...item })),
      error,
      incomplete_details: status === 'incomplete' ? { reason: 'max_output_tokens' } : null,
      usage: this.usage,
    };
  }

  private text(delta: string): ResponseEvent[] {
    // Text after a tool call has no place in the item order the SDK accepts; engines do not send it.
    if (this.calls.size > 0) return [];
    const events = this.openMessage();
    if (!this.message) return events;
    this.message.text += delta;
    const { id } = this.message.item;
    events.push(
      this.event('response.output_text.delta', {
        item_id: id,
        output_index: this.message.outputIndex,
        content_index: 0,
        delta,
        logprobs: [],
      }),
    );
    return events;
  }

  private openMessage(): ResponseEvent[] {
    if (this.message) return [];
    const item = {
      id: this.newId('msg'),
      type: 'message' as const,
      status: 'in_progress',
      role: 'assistant',
      content: [] as unknown[],
    };
    this.message = { outputIndex: this.output.length, item, text: '' };
    this.output.push(item);
    return [
      this.event('response.output_item.added', {
        output_index: this.message.outputIndex,
        item: { ...item, content: [] },
      }),
      this.event('response.content_part.added', {
        item_id: item.id,
        output_index: this.message.outputIndex,
        content_index: 0,
        part: { type: 'output_text', text: '', annotations: [] },
      }),
    ];
  }

  private closeMessage(): ResponseEvent[] {
    const open = this.message;
    if (!open || open.item['status'] === 'completed') return [];
    const part = { type: 'output_text', text: open.text, annotations: [] };
    Object.assign(open.item, { status: 'completed', content: [part] });
    const where = { item_id: open.item.id, output_index: open.outputIndex, content_index: 0 };
    return [
      this.event('response.output_text.done', { ...where, text: open.text, logprobs: [] }),
      this.event('response.content_part.done', { ...where, part }),
      this.event('response.output_item.done', { output_index: open.outputIndex, item: { ...open.item } }),
    ];
  }

  private toolFragment(fragment: ToolFragment): ResponseEvent[] {
    const held = this.serverCalls.get(fragment.index);
    if (held || (!this.calls.has(fragment.index) && this.serverTools.has(fragment.function?.name ?? ''))) {
      const call = held ?? { name: fragment.function!.name!, arguments: '' };
      call.arguments += fragment.function?.arguments ?? '';
      this.serverCalls.set(fragment.index, call);
      return [];
    }
    const events: ResponseEvent[] = [];
    let open = this.calls.get(fragment.index);
    if (!open) {
      events.push(...this.closeMessage());
      const item = {
        id: this.newId('fc'),
        type: 'function_call' as const,
        status: 'in_progress',
        call_id: fragment.id || this.newId('call'),
        name: fragment.function?.name ?? '',
        arguments: '',
      };
      open = { outputIndex: this.output.length, item, text: '' };
      this.calls.set(fragment.index, open);
      this.output.push(item);
      events.push(this.event('response.output_item.added', { output_index: open.outputIndex, item: { ...item } }));
    }
    const delta = fragment.function?.arguments;
    if (delta) {
      open.text += delta;
      open.item['arguments'] = open.text;
      events.push(
        this.event('response.function_call_arguments.delta', {
          item_id: open.item.id,
          output_index: open.outputIndex,
          delta,
        }),
      );
    }
    return events;
  }

  /**
   * Ends one model turn of a multi-turn response: its message and function calls are closed,
   * its server-tool calls handed to the loop, and the next model turn starts fresh items (the
   * numbering and the output go on).
   */
  endModelTurn(): { events: ResponseEvent[]; serverCalls: { name: string; arguments: string }[]; clientCalls: number } {
    const events = [...this.closeMessage(), ...this.closeCalls()];
    const clientCalls = this.calls.size;
    const serverCalls = [...this.serverCalls.values()];
    this.message = undefined;
    this.calls.clear();
    this.serverCalls.clear();
    return { events, serverCalls, clientCalls };
  }

  /** Adds an item the loop made (a tool listing, a server call, an approval request) and returns its events. */
  addItem(item: ResponseItem & { id: string }, done = true): { outputIndex: number; events: ResponseEvent[] } {
    const outputIndex = this.output.length;
    this.output.push(item);
    const events = [this.event('response.output_item.added', { output_index: outputIndex, item: { ...item } })];
    if (done) events.push(this.event('response.output_item.done', { output_index: outputIndex, item: { ...item } }));
    return { outputIndex, events };
  }

  /** Changes an item already added (a server call's status and output) and closes it. */
  finishItem(outputIndex: number, change: Record<string, unknown>, before: ResponseEvent[] = []): ResponseEvent[] {
    const item = this.output[outputIndex]!;
    Object.assign(item, change);
    return [...before, this.event('response.output_item.done', { output_index: outputIndex, item: { ...item } })];
  }

  /** An event of the loop's own (mcp_call progress, vendor events), numbered with the rest. */
  loopEvent(type: string, fields: Record<string, unknown>): ResponseEvent {
    return this.event(type, fields);
  }

  /** Every item so far, as the next model turn's history needs them. */
  items(): ResponseItem[] {
    return this.output.map((item) => ({ ...item }));
  }

  /** Ends the response after the loop's last model turn (or at an approval). */
  finish(status: 'completed' | 'incomplete', incomplete?: { reason: string }): ResponseEvent[] {
    const events = [...this.closeMessage(), ...this.closeCalls()];
    const response = { ...this.response(status), ...(incomplete ? { incomplete_details: incomplete } : {}) };
    events.push(this.event(`response.${status}`, { response }));
    return events;
  }

  private closeCalls(): ResponseEvent[] {
    return [...this.calls.values()].flatMap((open) => {
      open.item['status'] = 'completed';
      const where = { item_id: open.item.id, output_index: open.outputIndex };
      return [
        this.event('response.function_call_arguments.done', {
          ...where,
          name: open.item['name'],
          arguments: open.text,
        }),
        this.event('response.output_item.done', { output_index: open.outputIndex, item: { ...open.item } }),
      ];
    });
  }

  private event(type: string, fields: Record<string, unknown>): ResponseEvent {
    return { type, sequence_number: this.sequence++, ...fields };
  }
}

export function responsesUsage(usage: ChatUsage): Record<string, unknown> {
  return {
    input_tokens: usage.prompt_tokens,
    input_tokens_details: { cached_tokens: usage.prompt_tokens_details?.cached_tokens ?? 0 },
    output_tokens: usage.completion_tokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: usage.total_tokens,
  };
}
