import { Packr } from 'msgpackr';
import nacl from 'tweetnacl';
import { toWireValue } from './canonical.js';
import { ProtocolError, ProtocolErrorCode } from './errors.js';
import type { Frame } from './frame.js';

/** An Ed25519 key pair. The 32-byte seed is what agents persist (hex, mode 0600). */
export interface SigningKeyPair {
  readonly publicKey: Uint8Array;
  /** tweetnacl's 64-byte secret key (seed followed by the public key). */
  readonly secretKey: Uint8Array;
}

// Domain separation: a signature over a frame can never be replayed as a signature over
// anything else the same key signs.
const DOMAIN = Buffer.from('xerotier-mesh-frame-v1\0', 'latin1');
const packr = new Packr({ useRecords: false, moreTypes: false });

export function generateSigningKeyPair(): SigningKeyPair {
  return nacl.sign.keyPair();
}

export function signingKeyPairFromSeed(seed: Uint8Array): SigningKeyPair {
  if (seed.length !== nacl.sign.seedLength) {
    throw new ProtocolError(ProtocolErrorCode.invalidKey, `an Ed25519 seed is ${nacl.sign.seedLength} bytes, got ${seed.length}`);
  }
  return nacl.sign.keyPair.fromSeed(seed);
}

export function signingSeed(pair: SigningKeyPair): Uint8Array {
  return pair.secretKey.slice(0, nacl.sign.seedLength);
}

/** The exact bytes a frame signature covers: version, type, id, timestamp and canonical body. */
export function frameSigningBytes(frame: Pick<Frame, 'v' | 'type' | 'id' | 'ts' | 'body'>): Uint8Array {
  const payload = packr.pack(toWireValue([frame.v, frame.type, frame.id, frame.ts, frame.body]));
  return Buffer.concat([DOMAIN, payload]);
}

export function signFrame<F extends Frame>(frame: F, pair: SigningKeyPair): F {
  return { ...frame, sig: nacl.sign.detached(frameSigningBytes(frame), pair.secretKey) };
}

export function verifyFrame(frame: Frame, publicKey: Uint8Array): boolean {
  if (!frame.sig || frame.sig.length !== nacl.sign.signatureLength) return false;
  if (publicKey.length !== nacl.sign.publicKeyLength) return false;
  try {
    return nacl.sign.detached.verify(frameSigningBytes(frame), frame.sig, publicKey);
  } catch {
    return false;
  }
}

/** Throws bad_signature unless the frame carries a valid signature by publicKey. */
export function assertFrameSignature(frame: Frame, publicKey: Uint8Array): void {
  if (!verifyFrame(frame, publicKey)) {
    throw new ProtocolError(ProtocolErrorCode.badSignature, `${frame.type} frame ${frame.id} has no valid signature`);
  }
}
