import nacl from 'tweetnacl';
import { ProtocolError, ProtocolErrorCode } from './errors.js';
import { z85Decode, z85Encode } from './z85.js';

/** A CURVE key pair as zeromq.js takes it: each half 40 characters of Z85 (32 raw bytes). */
export interface CurveKeyPair {
  readonly publicKey: string;
  readonly secretKey: string;
}

const KEY_BYTES = 32;

/** Same construction as libzmq's zmq_curve_keypair: a random X25519 secret and its base point product. */
export function generateCurveKeyPair(): CurveKeyPair {
  const pair = nacl.box.keyPair();
  return { publicKey: z85Encode(pair.publicKey), secretKey: z85Encode(pair.secretKey) };
}

/** What zmq_curve_public computes, so a secret alone (from a secret store) is enough to run. */
export function curvePublicFromSecret(secretKeyZ85: string): string {
  return z85Encode(nacl.scalarMult.base(curveKeyBytes(secretKeyZ85)));
}

export function curveKeyPairFromSecret(secretKeyZ85: string): CurveKeyPair {
  return { publicKey: curvePublicFromSecret(secretKeyZ85), secretKey: secretKeyZ85 };
}

/** Decodes and length-checks a Z85 CURVE key. */
export function curveKeyBytes(keyZ85: string): Uint8Array {
  if (keyZ85.length !== 40) {
    throw new ProtocolError(ProtocolErrorCode.invalidKey, `a CURVE key is 40 Z85 characters, got ${keyZ85.length}`);
  }
  const bytes = z85Decode(keyZ85);
  if (bytes.length !== KEY_BYTES) throw new ProtocolError(ProtocolErrorCode.invalidKey, 'a CURVE key is 32 bytes');
  return bytes;
}

export function isCurveKey(value: string): boolean {
  try {
    curveKeyBytes(value);
    return true;
  } catch {
    return false;
  }
}
