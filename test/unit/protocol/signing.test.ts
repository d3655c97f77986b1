import nacl from 'tweetnacl';
import { describe, expect, it } from 'vitest';
import { createFrameCodec } from '../../../services/protocol/codec.js';
import { ProtocolError } from '../../../services/protocol/errors.js';
import { makeFrame } from '../../../services/protocol/frame.js';
import {
  assertFrameSignature,
  frameSigningBytes,
  generateSigningKeyPair,
  signFrame,
  signingKeyPairFromSeed,
  signingPublicKey,
  signingSeed,
  verifyFrame,
} from '../../../services/protocol/signing.js';

const result = () =>
  makeFrame('exec.result', {
    invocation_id: 'inv_1',
    attempt: 1,
    status: 'succeeded',
    exit_code: 0,
    output: 'ok',
    output_truncated: false,
    duration_ms: 12,
  });

describe('frame signatures (Ed25519 over the canonical encoding)', () => {
  it('verifies a signed frame after it crossed the codec', () => {
    const keys = generateSigningKeyPair();
    const codec = createFrameCodec();
    const decoded = codec.decode(codec.encode(signFrame(result(), keys)));
    expect(verifyFrame(decoded, keys.publicKey)).toBe(true);
  });

  it('fails for a changed body, id, type or timestamp', () => {
    const keys = generateSigningKeyPair();
    const signed = signFrame(result(), keys);
    expect(verifyFrame({ ...signed, body: { ...signed.body, output: 'tampered' } }, keys.publicKey)).toBe(false);
    expect(verifyFrame({ ...signed, id: 'other' }, keys.publicKey)).toBe(false);
    expect(verifyFrame({ ...signed, ts: signed.ts + 1 }, keys.publicKey)).toBe(false);
    expect(verifyFrame({ ...signed, type: 'exec.accepted' } as never, keys.publicKey)).toBe(false);
  });

  it('fails for another key, a missing or malformed signature', () => {
    const signed = signFrame(result(), generateSigningKeyPair());
    expect(verifyFrame(signed, generateSigningKeyPair().publicKey)).toBe(false);
    const { sig: _sig, ...unsigned } = signed;
    expect(verifyFrame(unsigned, generateSigningKeyPair().publicKey)).toBe(false);
    expect(verifyFrame({ ...signed, sig: new Uint8Array(10) }, generateSigningKeyPair().publicKey)).toBe(false);
    expect(() => assertFrameSignature(unsigned, generateSigningKeyPair().publicKey)).toThrow(ProtocolError);
  });

  it('does not depend on property order', () => {
    const frame = result();
    const reordered = { ...frame, body: Object.fromEntries(Object.entries(frame.body).reverse()) as typeof frame.body };
    expect(Buffer.from(frameSigningBytes(reordered)).equals(Buffer.from(frameSigningBytes(frame)))).toBe(true);
  });

  it('agrees with tweetnacl, the reference Ed25519 implementation', () => {
    const keys = generateSigningKeyPair();
    const reference = nacl.sign.keyPair.fromSeed(keys.seed);
    expect(Buffer.from(reference.publicKey).equals(Buffer.from(keys.publicKey))).toBe(true);
    const signed = signFrame(result(), keys);
    expect(nacl.sign.detached.verify(frameSigningBytes(signed), signed.sig!, reference.publicKey)).toBe(true);
    const byReference = { ...signed, sig: nacl.sign.detached(frameSigningBytes(signed), reference.secretKey) };
    expect(verifyFrame(byReference, signingPublicKey(keys.publicKey))).toBe(true);
  });

  it('restores a key pair from its persisted 32-byte seed', () => {
    const keys = generateSigningKeyPair();
    const restored = signingKeyPairFromSeed(signingSeed(keys));
    expect(Buffer.from(restored.publicKey).equals(Buffer.from(keys.publicKey))).toBe(true);
    expect(() => signingKeyPairFromSeed(new Uint8Array(31))).toThrow(/32 bytes/);
  });
});
