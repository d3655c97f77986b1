import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** A 32-byte key (the router's XEROTIER_COMPLETION_ENCRYPTION_KEY, the UI's session secret): 64 hex or 44 base64 characters. */
export function atRestKey(configured: string): Buffer {
  const key = /^[0-9a-fA-F]{64}$/.test(configured) ? Buffer.from(configured, 'hex') : Buffer.from(configured, 'base64');
  if (key.length !== 32) throw new Error('the at-rest key must be 32 bytes');
  return key;
}

/** AES-256-GCM: 12-byte nonce, ciphertext, 16-byte tag, in one buffer. */
export function seal(key: Buffer, plaintext: string): Buffer {
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([nonce, body, cipher.getAuthTag()]);
}

/** The plaintext; throws when the data was altered or sealed under another key. */
export function open(key: Buffer, sealed: Buffer): string {
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, 12));
  decipher.setAuthTag(sealed.subarray(sealed.length - 16));
  return Buffer.concat([decipher.update(sealed.subarray(12, sealed.length - 16)), decipher.final()]).toString('utf8');
}
