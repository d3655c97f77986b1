import { ProtocolError, ProtocolErrorCode } from './errors.js';
import { FORBIDDEN_KEYS } from './msgpack-scan.js';

/**
 * The canonical wire form of a value: plain objects with sorted keys and no undefined members,
 * arrays, strings, finite numbers (integers within ±2^53-1), booleans, null and binary.
 * Anything else (Date, Map, bigint, functions, NaN) is refused instead of being encoded as a
 * MessagePack extension our own decoder would reject. Signatures are computed over the encoding
 * of this form, so signer and verifier agree on the bytes whatever order properties were built
 * or decoded in.
 */
export function toWireValue(value: unknown, depth = 0): unknown {
  if (depth > 64) throw unsupported('value nests too deeply to encode');
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return checkNumber(value);
    case 'object':
      return wireObject(value, depth);
    default:
      throw unsupported(`${typeof value} values cannot be sent`);
  }
}

function wireObject(value: object | null, depth: number): unknown {
  if (value === null || value instanceof Uint8Array) return value;
  if (Array.isArray(value)) return value.map((item) => toWireValue(item, depth + 1));
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) throw unsupported('only plain objects can be sent');
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    // Refused here as the decoder refuses them; assigning `__proto__` would also swap out's prototype.
    if (FORBIDDEN_KEYS.has(key))
      throw new ProtocolError(ProtocolErrorCode.forbiddenKey, `map key "${key}" cannot be sent`);
    const member = (value as Record<string, unknown>)[key];
    if (member !== undefined) out[key] = toWireValue(member, depth + 1);
  }
  return out;
}

function checkNumber(value: number): number {
  if (!Number.isFinite(value)) throw unsupported('non-finite numbers cannot be sent');
  if (Number.isInteger(value) && !Number.isSafeInteger(value)) {
    throw new ProtocolError(ProtocolErrorCode.unsafeInteger, 'integer outside ±2^53-1 cannot be sent exactly');
  }
  return value;
}

function unsupported(message: string): ProtocolError {
  return new ProtocolError(ProtocolErrorCode.unsupportedType, message);
}
