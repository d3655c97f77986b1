/** One Server-Sent Event as the router sends it (WHATWG HTML §9.2 framing; comments dropped). */
export interface SseEvent {
  readonly event: string;
  readonly data: string;
  readonly id?: string;
}

/** Dispatches on each blank line; a `: keep-alive` comment yields nothing. */
export function* parseSseChunk(buffer: { pending: string }, chunk: string): Generator<SseEvent> {
  buffer.pending += chunk.replace(/\r\n?/g, '\n');
  let end: number;
  while ((end = buffer.pending.indexOf('\n\n')) !== -1) {
    const block = buffer.pending.slice(0, end);
    buffer.pending = buffer.pending.slice(end + 2);
    let event = 'message';
    let id: string | undefined;
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line === '' || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
      else if (field === 'id') id = value;
    }
    if (data.length) yield { event, data: data.join('\n'), ...(id !== undefined ? { id } : {}) };
  }
}

export async function* readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent> {
  const buffer = { pending: '' };
  const decoder = new TextDecoder();
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>)
    yield* parseSseChunk(buffer, decoder.decode(chunk, { stream: true }));
}
