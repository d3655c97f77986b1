import { ProtocolError, ProtocolErrorCode } from './errors.js';

/** Limits applied to untrusted MessagePack before any decoder allocates for it. */
export interface DecodeLimits {
  /** Largest accepted frame in bytes. @default 1 MiB */
  readonly maxBytes: number;
  /** Deepest nesting of maps and arrays (the root map is depth 1). @default 32 */
  readonly maxDepth: number;
  /** Largest single map (entries) or array (items). @default 10000 */
  readonly maxCollectionLength: number;
  /** Most values in the whole frame, counted across all collections. @default 100000 */
  readonly maxItems: number;
}

export const defaultDecodeLimits: DecodeLimits = Object.freeze({
  maxBytes: 1024 * 1024,
  maxDepth: 32,
  maxCollectionLength: 10_000,
  maxItems: 100_000,
});

/** Keys refused in any map: they reach prototypes when a decoded value is used carelessly. */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);
const MAX_SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER);

interface Open {
  remaining: number;
  isMap: boolean;
  /** Within a map, values alternate key, value; keys sit at even offsets. */
  read: number;
}

/**
 * Walks the encoding once, iteratively (no recursion, so no stack overflow), and throws a
 * ProtocolError unless the bytes are one well-formed map within the limits: no extension types,
 * no reserved bytes, only string map keys, none of them prototype-polluting, no integer a JS
 * number cannot hold exactly, nothing truncated and nothing trailing. A decoder handed bytes
 * that pass this scan does bounded work.
 */
export function scanMessagePack(bytes: Uint8Array, limits: DecodeLimits = defaultDecodeLimits): void {
  if (bytes.length > limits.maxBytes) {
    fail(ProtocolErrorCode.frameTooLarge, `frame is ${bytes.length} bytes; the limit is ${limits.maxBytes}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const scanner = new Scanner(bytes, view, limits);
  scanner.run();
}

class Scanner {
  private pos = 0;
  private items = 0;
  private readonly stack: Open[] = [];

  constructor(
    private readonly bytes: Uint8Array,
    private readonly view: DataView,
    private readonly limits: DecodeLimits,
  ) {}

  run(): void {
    const first = this.bytes[0];
    if (first === undefined) fail(ProtocolErrorCode.malformedFrame, 'frame is empty');
    if (!isMapHeader(first)) fail(ProtocolErrorCode.malformedFrame, 'frame root must be a map');
    this.value(false);
    while (this.stack.length > 0) {
      const top = this.stack[this.stack.length - 1]!;
      if (top.remaining === 0) {
        this.stack.pop();
        continue;
      }
      const isKey = top.isMap && top.read % 2 === 0;
      top.remaining -= 1;
      top.read += 1;
      this.value(isKey);
    }
    if (this.pos !== this.bytes.length) {
      fail(ProtocolErrorCode.malformedFrame, `${this.bytes.length - this.pos} trailing byte(s) after the frame`);
    }
  }

  private value(isKey: boolean): void {
    const b = this.u8();
    if (isKey) return this.key(b);
    if (b <= 0x7f || b >= 0xe0 || b === 0xc0 || b === 0xc2 || b === 0xc3) return;
    if (b >= 0xa0 && b <= 0xbf) return this.skip(b & 0x1f);
    if (b >= 0x80 && b <= 0x8f) return this.open(b & 0x0f, true);
    if (b >= 0x90 && b <= 0x9f) return this.open(b & 0x0f, false);
    this.wide(b);
  }

  private wide(b: number): void {
    switch (b) {
      case 0xc4:
      case 0xd9:
        return this.skip(this.u8());
      case 0xc5:
      case 0xda:
        return this.skip(this.u16());
      case 0xc6:
      case 0xdb:
        return this.skip(this.u32());
      case 0xca:
        return this.skip(4);
      case 0xcb:
        return this.skip(8);
      case 0xcc:
      case 0xd0:
        return this.skip(1);
      case 0xcd:
      case 0xd1:
        return this.skip(2);
      case 0xce:
      case 0xd2:
        return this.skip(4);
      case 0xcf:
        return this.int64(false);
      case 0xd3:
        return this.int64(true);
      case 0xdc:
        return this.open(this.u16(), false);
      case 0xdd:
        return this.open(this.u32(), false);
      case 0xde:
        return this.open(this.u16(), true);
      case 0xdf:
        return this.open(this.u32(), true);
      case 0xc1:
        return fail(ProtocolErrorCode.malformedFrame, 'reserved byte 0xc1 in frame');
      default:
        return fail(ProtocolErrorCode.unsupportedType, `extension type 0x${b.toString(16)} is not accepted`);
    }
  }

  private key(b: number): void {
    let length: number;
    if (b >= 0xa0 && b <= 0xbf) length = b & 0x1f;
    else if (b === 0xd9) length = this.u8();
    else if (b === 0xda) length = this.u16();
    else if (b === 0xdb) length = this.u32();
    else return fail(ProtocolErrorCode.malformedFrame, 'map keys must be strings');
    this.need(length);
    if (length === 9 || length === 11) {
      const name = Buffer.from(this.bytes.buffer, this.bytes.byteOffset + this.pos, length).toString('latin1');
      if (FORBIDDEN_KEYS.has(name)) fail(ProtocolErrorCode.forbiddenKey, `map key "${name}" is not accepted`);
    }
    this.pos += length;
  }

  private open(length: number, isMap: boolean): void {
    if (this.stack.length + 1 > this.limits.maxDepth) {
      fail(ProtocolErrorCode.frameTooDeep, `frame nests deeper than ${this.limits.maxDepth} levels`);
    }
    if (length > this.limits.maxCollectionLength) {
      fail(
        ProtocolErrorCode.collectionTooLarge,
        `a ${isMap ? 'map' : 'array'} of ${length} exceeds ${this.limits.maxCollectionLength}`,
      );
    }
    const values = isMap ? length * 2 : length;
    // Every value takes at least one byte, so a header promising more than is left is a lie.
    if (values > this.bytes.length - this.pos) fail(ProtocolErrorCode.malformedFrame, 'frame is truncated');
    this.items += length;
    if (this.items > this.limits.maxItems) {
      fail(ProtocolErrorCode.collectionTooLarge, `frame holds more than ${this.limits.maxItems} values`);
    }
    this.stack.push({ remaining: values, isMap, read: 0 });
  }

  private int64(signed: boolean): void {
    this.need(8);
    const value = signed ? this.view.getBigInt64(this.pos) : this.view.getBigUint64(this.pos);
    if (value > MAX_SAFE_BIG || value < -MAX_SAFE_BIG) {
      fail(ProtocolErrorCode.unsafeInteger, 'integer outside the exactly representable range (±2^53-1)');
    }
    this.pos += 8;
  }

  private u8(): number {
    this.need(1);
    return this.view.getUint8(this.pos++);
  }

  private u16(): number {
    this.need(2);
    const value = this.view.getUint16(this.pos);
    this.pos += 2;
    return value;
  }

  private u32(): number {
    this.need(4);
    const value = this.view.getUint32(this.pos);
    this.pos += 4;
    return value;
  }

  private skip(length: number): void {
    this.need(length);
    this.pos += length;
  }

  private need(length: number): void {
    if (this.pos + length > this.bytes.length) fail(ProtocolErrorCode.malformedFrame, 'frame is truncated');
  }
}

function isMapHeader(b: number): boolean {
  return (b >= 0x80 && b <= 0x8f) || b === 0xde || b === 0xdf;
}

function fail(code: ProtocolErrorCode, message: string): never {
  throw new ProtocolError(code, message);
}
