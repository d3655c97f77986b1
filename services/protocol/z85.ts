import { ProtocolError, ProtocolErrorCode } from './errors.js';

// ZeroMQ RFC 32. zeromq.js ships no codec, yet its CURVE options take Z85 text while the ZAP
// handler sees raw 32-byte keys, so both directions are needed.
const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';
const DECODE = new Int16Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;

export function z85Encode(bytes: Uint8Array): string {
  if (bytes.length % 4 !== 0) {
    throw new ProtocolError(
      ProtocolErrorCode.invalidKey,
      `Z85 input must be a multiple of 4 bytes, got ${bytes.length}`,
    );
  }
  let out = '';
  for (let i = 0; i < bytes.length; i += 4) {
    let value = ((bytes[i]! << 24) | (bytes[i + 1]! << 16) | (bytes[i + 2]! << 8) | bytes[i + 3]!) >>> 0;
    const chunk = new Array<string>(5);
    for (let j = 4; j >= 0; j--) {
      chunk[j] = ALPHABET[value % 85]!;
      value = Math.floor(value / 85);
    }
    out += chunk.join('');
  }
  return out;
}

export function z85Decode(text: string): Uint8Array {
  if (text.length % 5 !== 0) {
    throw new ProtocolError(
      ProtocolErrorCode.invalidKey,
      `Z85 text must be a multiple of 5 characters, got ${text.length}`,
    );
  }
  const out = new Uint8Array((text.length / 5) * 4);
  for (let i = 0, o = 0; i < text.length; i += 5, o += 4) {
    let value = 0;
    for (let j = 0; j < 5; j++) value = value * 85 + digit(text.charCodeAt(i + j));
    if (value > 0xffffffff) throw new ProtocolError(ProtocolErrorCode.invalidKey, 'Z85 group overflows 32 bits');
    out[o] = value >>> 24;
    out[o + 1] = (value >>> 16) & 0xff;
    out[o + 2] = (value >>> 8) & 0xff;
    out[o + 3] = value & 0xff;
  }
  return out;
}

function digit(code: number): number {
  const value = code < 128 ? DECODE[code]! : -1;
  if (value < 0)
    throw new ProtocolError(ProtocolErrorCode.invalidKey, 'Z85 text holds a character outside the alphabet');
  return value;
}
