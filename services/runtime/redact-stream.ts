import type { Redactor } from './redact.js';

/** Live output is never held back more than this, whatever it looks like. */
const MAX_HELD = 64 * 1024;

export interface StreamScrubber {
  /** Scrubs what can be decided now and returns it; holds back what a secret may still be completing. */
  push(chunk: string): string;
  /** The rest, scrubbed: call once the stream ends. */
  end(): string;
}

/**
 * Scrubs output that arrives in chunks: a secret split across two reads is still removed. The
 * tail of each chunk that could be the start of a secret (up to the longest secret form, or
 * the start of a credential-shaped match still running at the end) waits for the next chunk;
 * nothing else is delayed.
 */
export function createStreamScrubber(redactor: Redactor): StreamScrubber {
  let held = '';
  const hold = Math.max(0, redactor.longest() - 1);
  return {
    push(chunk) {
      const text = held + chunk;
      let cut = Math.max(0, text.length - hold);
      for (const span of redactor.spans(text)) if (span.start < cut && span.end > cut) cut = span.start;
      // A credential-shaped run reaching the end may go on in the next chunk.
      for (const span of redactor.spans(text)) if (span.end === text.length && span.start < cut) cut = span.start;
      if (text.length - cut > MAX_HELD) cut = text.length - MAX_HELD;
      held = text.slice(cut);
      return redactor.text(text.slice(0, cut));
    },
    end() {
      const rest = redactor.text(held);
      held = '';
      return rest;
    },
  };
}
