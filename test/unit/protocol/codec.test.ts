import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { createFrameCodec } from '../../../services/protocol/codec.js';
import { ProtocolError, ProtocolErrorCode, type ProtocolErrorCode as Code } from '../../../services/protocol/errors.js';
import { makeFrame, type Frame } from '../../../services/protocol/frame.js';
import { sampleFrames } from './sample-frames.js';

const codec = createFrameCodec();
const raw = new Packr({ useRecords: false, moreTypes: false });

function codeOf(fn: () => unknown): Code | 'no error' | 'foreign error' {
  try {
    fn();
    return 'no error';
  } catch (error) {
    return error instanceof ProtocolError ? error.code : 'foreign error';
  }
}

const dispatch = (args: Record<string, unknown> = { database: 'app' }) =>
  makeFrame(
    'exec.dispatch',
    {
      invocation_id: 'inv_1',
      attempt: 1,
      tool: 'pg_list_databases',
      workspace_id: 'ws_0123456789ab',
      risk: 'read',
      args,
      request_hash: 'ab'.repeat(32),
      timeout_ms: 30_000,
      not_after: 1_800_000_000_000,
    },
    { id: 'frame-1', ts: 1_700_000_000_000 },
  );

/** A map {v,type,id,ts,body:{args:{x: <inner>}}} with `inner` spliced in as raw bytes. */
function withRawArgs(inner: Buffer): Buffer {
  const marker = 0x7e7e7e7e;
  const encoded = codec.encode(dispatch({ x: marker }));
  const at = encoded.indexOf(Buffer.from([0xce, 0x7e, 0x7e, 0x7e, 0x7e]));
  return Buffer.concat([encoded.subarray(0, at), inner, encoded.subarray(at + 5)]);
}

describe('frame codec: valid frames', () => {
  it.each(Object.entries(sampleFrames))('round-trips a %s frame', (_, frame) => {
    expect(codec.decode(codec.encode(frame))).toEqual(frame);
  });

  it('drops undefined members and sorts keys, so equal frames encode equally', () => {
    const a = dispatch({ b: 1, a: undefined, c: { z: 1, y: 2 } });
    const b = dispatch({ c: { y: 2, z: 1 }, b: 1 });
    expect(codec.encode(a).equals(codec.encode(b))).toBe(true);
  });

  it('accepts nesting up to the depth limit of 32', () => {
    const deep = Buffer.concat([Buffer.alloc(28, 0x91), Buffer.from([0xc0])]); // 28 arrays under depth 4
    expect(codeOf(() => codec.decode(withRawArgs(deep)))).toBe('no error');
  });
});

describe('frame codec: hostile and malformed input (S12, S13)', () => {
  const valid = codec.encode(dispatch());
  const cases: [string, Buffer, Code][] = [
    ['an empty buffer', Buffer.alloc(0), ProtocolErrorCode.malformedFrame],
    ['a non-map root (array)', raw.pack([1, 2]), ProtocolErrorCode.malformedFrame],
    ['a non-map root (string)', raw.pack('hello'), ProtocolErrorCode.malformedFrame],
    ['the reserved byte 0xc1', withRawArgs(Buffer.from([0xc1])), ProtocolErrorCode.malformedFrame],
    ['trailing bytes', Buffer.concat([valid, Buffer.from([0xc0])]), ProtocolErrorCode.malformedFrame],
    [
      'an array header claiming 2^32-1 items',
      withRawArgs(Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff])),
      ProtocolErrorCode.collectionTooLarge,
    ],
    [
      'a map header longer than the frame',
      withRawArgs(Buffer.from([0xde, 0x00, 0x20])),
      ProtocolErrorCode.malformedFrame,
    ],
    [
      'a string longer than the frame',
      withRawArgs(Buffer.from([0xdb, 0x00, 0x10, 0x00, 0x00, 0x41])),
      ProtocolErrorCode.malformedFrame,
    ],
    ['an extension type', withRawArgs(Buffer.from([0xd4, 0x01, 0x00])), ProtocolErrorCode.unsupportedType],
    ['a timestamp extension', withRawArgs(Buffer.from([0xd6, 0xff, 0, 0, 0, 1])), ProtocolErrorCode.unsupportedType],
    [
      'a __proto__ key',
      withRawArgs(raw.pack(JSON.parse('{"__proto__":{"polluted":true}}'))),
      ProtocolErrorCode.forbiddenKey,
    ],
    ['a constructor key', withRawArgs(raw.pack({ constructor: { prototype: 1 } })), ProtocolErrorCode.forbiddenKey],
    ['a non-string map key', withRawArgs(Buffer.from([0x81, 0x01, 0xc0])), ProtocolErrorCode.malformedFrame],
    ['a uint64 of 2^53', withRawArgs(Buffer.from([0xcf, 0, 0x20, 0, 0, 0, 0, 0, 0])), ProtocolErrorCode.unsafeInteger],
    [
      'an int64 below -(2^53-1)',
      withRawArgs(Buffer.from([0xd3, 0xff, 0xe0, 0, 0, 0, 0, 0, 0])),
      ProtocolErrorCode.unsafeInteger,
    ],
    [
      'nesting of 33 levels',
      withRawArgs(Buffer.concat([Buffer.alloc(30, 0x91), Buffer.from([0xc0])])),
      ProtocolErrorCode.frameTooDeep,
    ],
    [
      'an array of 20,000 items',
      withRawArgs(Buffer.concat([Buffer.from([0xdc, 0x4e, 0x20]), Buffer.alloc(20_000, 0xc0)])),
      ProtocolErrorCode.collectionTooLarge,
    ],
    ['a frame over the size cap', withRawArgs(raw.pack('x'.repeat(1_100_000))), ProtocolErrorCode.frameTooLarge],
  ];

  it.each(cases)('rejects %s', (_, bytes, expected) => {
    expect(codeOf(() => codec.decode(bytes))).toBe(expected);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('rejects a 250 KB deeply nested frame by its depth, before decoding', () => {
    const hostile = Buffer.concat([
      Buffer.from([0x81, 0xa1, 0x78]),
      Buffer.alloc(250 * 1024, 0x91),
      Buffer.from([0xc0]),
    ]);
    expect(codeOf(() => codec.decode(hostile))).toBe(ProtocolErrorCode.frameTooDeep);
  });

  it('rejects a 250 KB frame of many small collections by its item budget', () => {
    const chunk = Buffer.concat([Buffer.from([0xdc, 0x27, 0x10]), Buffer.alloc(10_000, 0x01)]);
    const many = Buffer.concat([Buffer.from([0xdc, 0x00, 0x19]), ...Array.from({ length: 25 }, () => chunk)]);
    expect(codeOf(() => codec.decode(withRawArgs(many)))).toBe(ProtocolErrorCode.collectionTooLarge);
  });

  it('rejects every truncation of a valid frame', () => {
    for (let length = 0; length < valid.length; length++) {
      expect(codeOf(() => codec.decode(valid.subarray(0, length)))).not.toMatch(/no error|foreign error/);
    }
  });
});

describe('frame codec: envelope and body validation', () => {
  const encodeRaw = (value: unknown) => raw.pack(value);
  const base = { v: 1, type: 'ack', id: 'f1', ts: 1, body: { ack_id: 'f0', status: 'ok' } };

  it.each([
    ['an unknown frame type', { ...base, type: 'exec.teleport' }, ProtocolErrorCode.unknownFrameType, /exec\.teleport/],
    ['another protocol version', { ...base, v: 2 }, ProtocolErrorCode.unsupportedVersion, /version 2/],
    ['an id with spaces', { ...base, id: 'a b' }, ProtocolErrorCode.invalidEnvelope, /\/id/],
    ['an unknown envelope member', { ...base, extra: 1 }, ProtocolErrorCode.invalidEnvelope, /additional/],
    ['a textual signature', { ...base, sig: 'abc' }, ProtocolErrorCode.invalidEnvelope, /\/sig/],
    [
      'a malformed traceparent',
      { ...base, trace: { traceparent: 'nope' } },
      ProtocolErrorCode.invalidEnvelope,
      /traceparent/,
    ],
    ['a body missing a member', { ...base, body: { ack_id: 'f0' } }, ProtocolErrorCode.invalidBody, /ack body/],
    [
      'a body with an unknown member',
      { ...base, body: { ack_id: 'f0', status: 'ok', admin: true } },
      ProtocolErrorCode.invalidBody,
      /additional/,
    ],
    [
      'a body with a bad enum value',
      { ...base, body: { ack_id: 'f0', status: 'maybe' } },
      ProtocolErrorCode.invalidBody,
      /status/,
    ],
  ])('rejects %s with a message naming the problem', (_, value, code, message) => {
    try {
      codec.decode(encodeRaw(value));
      expect.unreachable('decode should have thrown');
    } catch (error) {
      expect(error).toBeInstanceOf(ProtocolError);
      expect((error as ProtocolError).code).toBe(code);
      expect((error as ProtocolError).message).toMatch(message);
    }
  });

  it('refuses to encode what the peer would reject', () => {
    expect(codeOf(() => codec.encode(dispatch({ when: new Date() })))).toBe(ProtocolErrorCode.unsupportedType);
    expect(codeOf(() => codec.encode(dispatch({ big: 2 ** 60 })))).toBe(ProtocolErrorCode.unsafeInteger);
    expect(codeOf(() => codec.encode(dispatch({ nan: Number.NaN })))).toBe(ProtocolErrorCode.unsupportedType);
    expect(codeOf(() => codec.encode({ ...dispatch(), body: { invocation_id: 'x' } } as unknown as Frame))).toBe(
      ProtocolErrorCode.invalidBody,
    );
    expect(codeOf(() => createFrameCodec({ maxBytes: 100 }).encode(dispatch({ blob: 'x'.repeat(200) })))).toBe(
      ProtocolErrorCode.frameTooLarge,
    );
  });
});

describe('frame codec: properties', () => {
  it('throws only ProtocolError on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
        expect(codeOf(() => codec.decode(bytes))).not.toBe('foreign error');
      }),
      { numRuns: 3_000 },
    );
  });

  it('throws only ProtocolError on mutations of valid frames, and never pollutes prototypes', () => {
    const frames = Object.values(sampleFrames).map((frame) => codec.encode(frame));
    fc.assert(
      fc.property(
        fc.constantFrom(...frames),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
        (frame, edits) => {
          const mutated = Buffer.from(frame);
          for (const [at, byte] of edits) mutated[at % mutated.length] = byte;
          expect(codeOf(() => codec.decode(mutated))).not.toBe('foreign error');
          expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
        },
      ),
      { numRuns: 3_000 },
    );
  });

  it('refuses to encode a forbidden key whatever its value (it would otherwise swap a prototype)', () => {
    for (const value of [[], {}, 'x', null]) {
      const args = JSON.parse(`{"__proto__": ${JSON.stringify(value)}}`) as Record<string, unknown>;
      expect(codeOf(() => codec.encode(dispatch(args)))).toBe(ProtocolErrorCode.forbiddenKey);
    }
  });

  it('round-trips arbitrary JSON tool arguments (or rejects forbidden keys and inexact integers)', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 6 })), (value) => {
        const args = JSON.parse(JSON.stringify(value)) as Record<string, unknown>;
        const outcome = codeOf(() => codec.decode(codec.encode(dispatch(args))));
        // With both faults, whichever the encoder meets first (keys are walked in sorted order) is reported.
        const expected = [
          ...(hasUnsafeInteger(args) ? [ProtocolErrorCode.unsafeInteger] : []),
          ...(hasForbiddenKey(args) ? [ProtocolErrorCode.forbiddenKey] : []),
        ];
        if (expected.length > 0) expect(expected).toContain(outcome);
        else expect(codec.decode(codec.encode(dispatch(args))).body).toEqual(dispatch(args).body);
      }),
      { numRuns: 500 },
    );
  });
});

function hasForbiddenKey(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(hasForbiddenKey);
  if (value === null || typeof value !== 'object') return false;
  return Object.entries(value).some(
    ([key, member]) => ['__proto__', 'constructor', 'prototype'].includes(key) || hasForbiddenKey(member),
  );
}

function hasUnsafeInteger(value: unknown): boolean {
  if (typeof value === 'number') return Number.isInteger(value) && !Number.isSafeInteger(value);
  if (value === null || typeof value !== 'object') return false;
  return Object.values(value).some(hasUnsafeInteger);
}
