import * as zmq from 'zeromq';
import { describe, expect, it } from 'vitest';
import {
  curveKeyBytes,
  curvePublicFromSecret,
  generateCurveKeyPair,
  isCurveKey,
} from '../../../services/protocol/curve-keys.js';

describe('CURVE keys', () => {
  it('derives the same public key as libzmq for its own key pairs', () => {
    for (let i = 0; i < 25; i++) {
      const pair = zmq.curveKeyPair();
      expect(curvePublicFromSecret(pair.secretKey)).toBe(pair.publicKey);
    }
  });

  it('generates pairs whose public half derives from the secret half', () => {
    const pair = generateCurveKeyPair();
    expect(pair.publicKey).toHaveLength(40);
    expect(curvePublicFromSecret(pair.secretKey)).toBe(pair.publicKey);
    expect(curveKeyBytes(pair.publicKey)).toHaveLength(32);
  });

  it('rejects keys of the wrong length or alphabet', () => {
    expect(isCurveKey('x'.repeat(39))).toBe(false);
    expect(isCurveKey(' '.repeat(40))).toBe(false);
    expect(() => curvePublicFromSecret('short')).toThrow(/40 Z85 characters/);
  });
});
