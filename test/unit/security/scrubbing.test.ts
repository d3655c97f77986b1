import { describe, expect, it } from 'vitest';
import { createRedactor, REDACTED } from '../../../services/runtime/redact.js';
import { createStreamScrubber } from '../../../services/runtime/redact-stream.js';

const SECRET = 's3cr3t-Passw0rd+/=42';

/** What a reader of the whole stream sees when it arrives in the given pieces. */
function streamed(pieces: readonly string[]): string {
  const scrubber = createStreamScrubber(createRedactor([SECRET]));
  return pieces.map((piece) => scrubber.push(piece)).join('') + scrubber.end();
}

describe('secret scrubbing of live output', () => {
  it('removes a secret split across two chunks, at every split point', () => {
    const text = `password is ${SECRET} (keep it)`;
    for (let cut = 1; cut < text.length; cut += 1) {
      const out = streamed([text.slice(0, cut), text.slice(cut)]);
      expect(out, `cut at ${cut}`).toBe(`password is ${REDACTED} (keep it)`);
    }
  });

  it('removes a secret spread over many one-character chunks, and holds back nothing else', () => {
    expect(streamed([...`a ${SECRET} b`])).toBe(`a ${REDACTED} b`);
    const scrubber = createStreamScrubber(createRedactor([SECRET]));
    // Text that cannot be the start of a secret is not delayed beyond the longest secret form.
    const early = scrubber.push('x'.repeat(200));
    expect(early.length).toBeGreaterThan(150);
  });

  it('removes the base64 and URL-encoded forms of a secret, at any alignment', () => {
    const redactor = createRedactor([SECRET]);
    for (const prefix of ['', 'a', 'ab', 'abc']) {
      const encoded = Buffer.from(`${prefix}${SECRET}tail`).toString('base64');
      expect(redactor.text(encoded), `after "${prefix}"`).toContain(REDACTED);
      const urlSafe = Buffer.from(`${prefix}${SECRET}`).toString('base64url');
      expect(redactor.text(urlSafe), `url-safe after "${prefix}"`).toContain(REDACTED);
    }
    expect(redactor.text(`?p=${encodeURIComponent(SECRET)}&x=1`)).toBe(`?p=${REDACTED}&x=1`);
  });

  it('scrubs credential formats that run to the end of a chunk once the rest arrives', () => {
    const key = `xero_acme_${'k'.repeat(40)}`;
    expect(streamed([`token ${key.slice(0, 20)}`, `${key.slice(20)} done`])).toBe(`token ${REDACTED} done`);
  });
});
