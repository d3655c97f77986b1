import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { Packr } from 'msgpackr';
import { toWireValue } from './canonical.js';
import { ProtocolError, ProtocolErrorCode } from './errors.js';
import type { Frame } from './frame.js';

// Ed25519 through node:crypto (OpenSSL) rather than tweetnacl: the router verifies every
// agent frame, and the pure-JS signer is roughly a thousand times slower (docs/development.md).

/** An Ed25519 key pair. The 32-byte seed is what agents persist (hex, mode 0600). */
export interface SigningKeyPair {
  readonly seed: Uint8Array;
  /** Raw 32-byte public key, as registered with the router at enrollment. */
  readonly publicKey: Uint8Array;
  readonly privateKeyObject: KeyObject;
}

const SEED_BYTES = 32;
const SIGNATURE_BYTES = 64;
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

// Domain separation: a signature over a frame can never be replayed as a signature over
// anything else the same key signs.
const DOMAIN = Buffer.from('xerotier-mesh-frame-v1\0', 'latin1');
const packr = new Packr({ useRecords: false, moreTypes: false });

export function generateSigningKeyPair(): SigningKeyPair {
  const { privateKey } = generateKeyPairSync('ed25519');
  const der = privateKey.export({ format: 'der', type: 'pkcs8' });
  return signingKeyPairFromSeed(der.subarray(der.length - SEED_BYTES));
}

export function signingKeyPairFromSeed(seed: Uint8Array): SigningKeyPair {
  if (seed.length !== SEED_BYTES) {
    throw new ProtocolError(ProtocolErrorCode.invalidKey, `an Ed25519 seed is ${SEED_BYTES} bytes, got ${seed.length}`);
  }
  const privateKeyObject = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(privateKeyObject).export({ format: 'der', type: 'spki' });
  return { seed: Uint8Array.from(seed), publicKey: Uint8Array.from(spki.subarray(spki.length - 32)), privateKeyObject };
}

export function signingSeed(pair: SigningKeyPair): Uint8Array {
  return pair.seed;
}

/** A reusable verification key from the raw 32 bytes (cache it per agent). */
export function signingPublicKey(raw: Uint8Array): KeyObject {
  if (raw.length !== 32)
    throw new ProtocolError(ProtocolErrorCode.invalidKey, `an Ed25519 public key is 32 bytes, got ${raw.length}`);
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

/** The exact bytes a frame signature covers: version, type, id, timestamp and canonical body. */
export function frameSigningBytes(frame: Pick<Frame, 'v' | 'type' | 'id' | 'ts' | 'body'>): Buffer {
  const payload = packr.pack(toWireValue([frame.v, frame.type, frame.id, frame.ts, frame.body]));
  return Buffer.concat([DOMAIN, payload]);
}

export function signFrame<F extends Frame>(frame: F, pair: SigningKeyPair): F {
  return { ...frame, sig: new Uint8Array(sign(null, frameSigningBytes(frame), pair.privateKeyObject)) };
}

export function verifyFrame(frame: Frame, publicKey: Uint8Array | KeyObject): boolean {
  if (!frame.sig || frame.sig.length !== SIGNATURE_BYTES) return false;
  try {
    const key = publicKey instanceof Uint8Array ? signingPublicKey(publicKey) : publicKey;
    return verify(null, frameSigningBytes(frame), key, frame.sig);
  } catch {
    return false;
  }
}

/** Throws bad_signature unless the frame carries a valid signature by publicKey. */
export function assertFrameSignature(frame: Frame, publicKey: Uint8Array | KeyObject): void {
  if (!verifyFrame(frame, publicKey)) {
    throw new ProtocolError(ProtocolErrorCode.badSignature, `${frame.type} frame ${frame.id} has no valid signature`);
  }
}
