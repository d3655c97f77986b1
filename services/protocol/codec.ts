import { Packr, Unpackr } from 'msgpackr';
import type { TSchema } from 'typebox';
import { Compile, type Validator } from 'typebox/compile';
import { toWireValue } from './canonical.js';
import { ProtocolError, ProtocolErrorCode } from './errors.js';
import { frameBodySchemas, isFrameType, type FrameType } from './frame-bodies.js';
import { EnvelopeSchema, PROTOCOL_VERSION, type AnyFrame, type Frame } from './frame.js';
import { defaultDecodeLimits, scanMessagePack, type DecodeLimits } from './msgpack-scan.js';

export interface FrameCodec {
  /** Validates, canonicalises and encodes; refuses frames the peer's decoder would reject. */
  encode(frame: Frame): Buffer;
  /** Scans, decodes and validates untrusted bytes; throws ProtocolError and nothing else. */
  decode(bytes: Uint8Array): AnyFrame;
  readonly limits: DecodeLimits;
}

const envelopeValidator = Compile(EnvelopeSchema);
const bodyValidators = new Map<string, Validator>(
  Object.entries(frameBodySchemas).map(([type, schema]) => [type, Compile(schema as TSchema)]),
);

export function createFrameCodec(limits: Partial<DecodeLimits> = {}): FrameCodec {
  const resolved: DecodeLimits = Object.freeze({ ...defaultDecodeLimits, ...limits });
  const packr = new Packr({ useRecords: false, moreTypes: false });
  const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });
  return {
    limits: resolved,
    encode(frame) {
      checkFrame(frame);
      const bytes = packr.pack(toWireValue(frame));
      if (bytes.length > resolved.maxBytes) {
        throw new ProtocolError(
          ProtocolErrorCode.frameTooLarge,
          `encoded ${frame.type} frame is ${bytes.length} bytes; the limit is ${resolved.maxBytes}`,
        );
      }
      return bytes;
    },
    decode(bytes) {
      scanMessagePack(bytes, resolved);
      let value: unknown;
      try {
        value = unpackr.unpack(bytes);
      } catch (error) {
        throw new ProtocolError(ProtocolErrorCode.malformedFrame, `undecodable frame: ${(error as Error).message}`);
      }
      checkFrame(value);
      return value as AnyFrame;
    },
  };
}

/** Validates an envelope and its body against the frame type's schema. */
export function checkFrame(value: unknown): asserts value is AnyFrame {
  if (!envelopeValidator.Check(value)) {
    throw new ProtocolError(
      ProtocolErrorCode.invalidEnvelope,
      `invalid frame envelope: ${firstError(envelopeValidator, value)}`,
    );
  }
  // The envelope schema guarantees v is an integer and type a short string.
  const { v, type, body } = value as { v: number; type: string; body: unknown };
  if (v !== PROTOCOL_VERSION) {
    throw new ProtocolError(
      ProtocolErrorCode.unsupportedVersion,
      `frame version ${v} is not supported (expected ${PROTOCOL_VERSION})`,
    );
  }
  if (!isFrameType(type)) throw new ProtocolError(ProtocolErrorCode.unknownFrameType, `unknown frame type "${type}"`);
  checkBody(type, body);
}

function checkBody(type: FrameType, body: unknown): void {
  const validator = bodyValidators.get(type)!;
  if (!validator.Check(body)) {
    throw new ProtocolError(ProtocolErrorCode.invalidBody, `invalid ${type} body: ${firstError(validator, body)}`);
  }
}

// Names the failing path and rule, never the offending value: frames are untrusted and may be
// large or carry secrets.
function firstError(validator: Validator, value: unknown): string {
  for (const error of validator.Errors(value)) {
    if (error.keyword === 'boolean') continue;
    return `${error.instancePath || '/'} ${error.message}`;
  }
  return 'does not match the schema';
}
