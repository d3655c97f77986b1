import { createHash } from 'node:crypto';

export { tenantSalt } from '../../protocol/cache-salt.js';

/** Characters per block: ~16 tokens at ~4 characters a token, as llm-d's approximate scorer. */
export const BLOCK_CHARS = 64;
/** At most this many blocks are hashed: affinity is decided by the first 16K characters. */
export const MAX_BLOCKS = 256;

/**
 * Chained block hashes of the rendered prompt: h₀ covers model and tenant salt, hᵢ covers block i
 * and hᵢ₋₁, so equal hashes mean equal prefixes and two tenants never share one. Only full
 * blocks count, as only full blocks are cached by vLLM. 48-bit numbers (safe integers).
 */
export function prefixHashes(prompt: string, model: string, tenantSalt: string): number[] {
  const hashes: number[] = [];
  let previous = createHash('sha256').update(`${model}\u0000${tenantSalt}`).digest();
  const blocks = Math.min(MAX_BLOCKS, Math.floor(prompt.length / BLOCK_CHARS));
  for (let index = 0; index < blocks; index += 1) {
    previous = createHash('sha256')
      .update(previous)
      .update(prompt.slice(index * BLOCK_CHARS, (index + 1) * BLOCK_CHARS))
      .digest();
    hashes.push(previous.readUIntBE(0, 6));
  }
  return hashes;
}
