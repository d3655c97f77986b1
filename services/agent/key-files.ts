import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { curveKeyPairFromSecret, generateCurveKeyPair, type CurveKeyPair } from '../protocol/curve-keys.js';
import { z85Decode, z85Encode } from '../protocol/z85.js';
import { generateSigningKeyPair, signingKeyPairFromSeed, type SigningKeyPair } from '../protocol/signing.js';

export class KeyFileError extends Error {
  override readonly name = 'KeyFileError';
}

/**
 * The agent's two long-lived keys, each a file of 64 hex characters (32 bytes), mode 0600:
 * created on first run, reused after, so restarts keep the identity the router enrolled.
 */
export async function loadOrCreateSigningKey(path: string): Promise<SigningKeyPair> {
  const existing = readKeyFile(path);
  if (existing) return signingKeyPairFromSeed(existing);
  const pair = generateSigningKeyPair();
  await writeKeyFile(path, pair.seed);
  return pair;
}

export async function loadOrCreateCurveKey(path: string): Promise<CurveKeyPair> {
  const existing = readKeyFile(path);
  if (existing) return curveKeyPairFromSecret(z85Encode(existing));
  const pair = generateCurveKeyPair();
  await writeKeyFile(path, z85Decode(pair.secretKey));
  return pair;
}

function readKeyFile(path: string): Uint8Array | undefined {
  if (!existsSync(path)) return undefined;
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) !== 0)
    throw new KeyFileError(`key file ${path} is readable by others (mode ${mode.toString(8)}); chmod 600 it`);
  const text = readFileSync(path, 'utf8').trim();
  if (!/^[0-9a-f]{64}$/i.test(text)) throw new KeyFileError(`key file ${path} does not hold 64 hex characters`);
  return Buffer.from(text, 'hex');
}

async function writeKeyFile(path: string, key: Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, `${Buffer.from(key).toString('hex')}\n`, { mode: 0o600 });
  await rename(temp, path);
}
