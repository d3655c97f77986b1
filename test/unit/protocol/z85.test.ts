import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../../services/protocol/errors.js';
import { z85Decode, z85Encode } from '../../../services/protocol/z85.js';

describe('Z85 (ZeroMQ RFC 32)', () => {
  it('encodes and decodes the RFC test vector', () => {
    const bytes = new Uint8Array([0x86, 0x4f, 0xd2, 0x6f, 0xb5, 0x59, 0xf7, 0x5b]);
    expect(z85Encode(bytes)).toBe('HelloWorld');
    expect(Array.from(z85Decode('HelloWorld'))).toEqual(Array.from(bytes));
  });

  it('round-trips any byte string whose length is a multiple of 4', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 64 }).map((b) => b.slice(0, b.length - (b.length % 4))),
        (bytes) => {
          expect(Array.from(z85Decode(z85Encode(bytes)))).toEqual(Array.from(bytes));
        },
      ),
    );
  });

  it.each([
    ['a length that is not a multiple of 5', 'abcd'],
    ['a character outside the alphabet', 'Hello Worl'],
    ['a non-ASCII character', 'Helloé1234'],
    ['a group above 2^32', '%%%%%'],
  ])('rejects %s', (_, text) => {
    expect(() => z85Decode(text)).toThrow(ProtocolError);
  });

  it('refuses to encode lengths that are not a multiple of 4', () => {
    expect(() => z85Encode(new Uint8Array(5))).toThrow(/multiple of 4/);
  });
});
