import { sign, verify } from 'node:crypto';
import { signingKeyPairFromSeed, signingPublicKey, type SigningKeyPair } from '../../protocol/signing.js';

/**
 * A signed statement that the audit chain's head was at `position` with `hash` at `at`. Kept
 * outside the database (a file, the webhook stream, the log), it lets a verifier tell whether
 * the chain was truncated or re-chained since: a database owner can recompute every hash in the
 * table, but not a checkpoint signed with a key the database never holds.
 */
export interface Checkpoint {
  readonly object: 'audit_checkpoint';
  readonly v: 1;
  /** Which chain: one per database today (per project later; the field keeps the format stable). */
  readonly chain: string;
  readonly position: number;
  /** The head row's hash, hex. */
  readonly hash: string;
  readonly at: string;
  /** The signer's Ed25519 public key, hex: verifiers compare it with the one they pinned. */
  readonly key: string;
  /** Ed25519 over the domain-separated canonical text of the fields above, base64. */
  readonly signature: string;
}

export type UnsignedCheckpoint = Omit<Checkpoint, 'signature' | 'key' | 'object' | 'v'>;

const DOMAIN = 'xerotier-audit-checkpoint-v1';

function signedText(checkpoint: Omit<Checkpoint, 'signature'>): Buffer {
  return Buffer.from(
    [DOMAIN, checkpoint.v, checkpoint.chain, checkpoint.position, checkpoint.hash, checkpoint.at, checkpoint.key].join(
      '\n',
    ),
    'utf8',
  );
}

export function auditSigner(seedHex: string): SigningKeyPair {
  return signingKeyPairFromSeed(Buffer.from(seedHex, 'hex'));
}

export function publicKeyHex(pair: SigningKeyPair): string {
  return Buffer.from(pair.publicKey).toString('hex');
}

export function signCheckpoint(head: UnsignedCheckpoint, pair: SigningKeyPair): Checkpoint {
  const unsigned = { object: 'audit_checkpoint' as const, v: 1 as const, ...head, key: publicKeyHex(pair) };
  return { ...unsigned, signature: sign(null, signedText(unsigned), pair.privateKeyObject).toString('base64') };
}

/** True when the checkpoint is well formed and signed by `publicKeyHex` (the pinned key, not the one it names). */
export function checkpointSignedBy(checkpoint: Checkpoint, expectedKeyHex: string): boolean {
  if (
    checkpoint.key !== expectedKeyHex ||
    !/^[0-9a-f]{64}$/.test(checkpoint.hash) ||
    !Number.isSafeInteger(checkpoint.position)
  )
    return false;
  try {
    return verify(
      null,
      signedText(checkpoint),
      signingPublicKey(Buffer.from(expectedKeyHex, 'hex')),
      Buffer.from(checkpoint.signature, 'base64'),
    );
  } catch {
    return false;
  }
}
