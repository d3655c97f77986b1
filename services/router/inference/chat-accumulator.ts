/** A tool call as the chat API reports it once all its fragments arrived. */
export interface ToolCall {
  readonly id: string;
  readonly type: 'function';
  readonly function: { readonly name: string; readonly arguments: string };
}

export interface ChatUsage {
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  readonly total_tokens: number;
  readonly prompt_tokens_details?: { readonly cached_tokens?: number };
}

/** One piece of a streamed tool call; the first for an index carries its id and name. */
export interface ToolFragment {
  readonly index: number;
  readonly id?: string;
  readonly type?: string;
  readonly function?: { readonly name?: string; readonly arguments?: string };
}

export interface ChunkDelta {
  readonly content?: string | null;
  readonly tool_calls?: readonly ToolFragment[];
}

export interface ChatChunk {
  readonly choices?: readonly { index: number; delta?: ChunkDelta; finish_reason?: string | null }[];
  readonly usage?: ChatUsage | null;
}

/**
 * Folds streamed chat-completion chunks (vLLM's shape: the first fragment of a tool call carries
 * its id and name, later ones only argument pieces) into the final message. Pure bookkeeping;
 * both the non-streamed chat API and the Responses translation read from it.
 */
export class ChatAccumulator {
  content = '';
  finishReason: string | null = null;
  usage: ChatUsage | undefined;
  private readonly calls = new Map<number, { id: string; name: string; arguments: string }>();

  add(chunk: ChatChunk): void {
    if (chunk.usage) this.usage = chunk.usage;
    for (const choice of chunk.choices ?? []) {
      if (choice.index !== 0) continue;
      if (choice.delta?.content) this.content += choice.delta.content;
      for (const fragment of choice.delta?.tool_calls ?? []) this.addFragment(fragment);
      if (choice.finish_reason) this.finishReason = choice.finish_reason;
    }
  }

  get toolCalls(): ToolCall[] {
    return [...this.calls.entries()]
      .sort(([a], [b]) => a - b)
      .map(([, call]) => ({ id: call.id, type: 'function', function: { name: call.name, arguments: call.arguments } }));
  }

  private addFragment(fragment: ToolFragment): void {
    const call = this.calls.get(fragment.index) ?? { id: '', name: '', arguments: '' };
    if (fragment.id) call.id = fragment.id;
    if (fragment.function?.name) call.name = fragment.function.name;
    if (fragment.function?.arguments) call.arguments += fragment.function.arguments;
    this.calls.set(fragment.index, call);
  }
}
