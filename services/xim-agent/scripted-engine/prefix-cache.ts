import { createHash } from 'node:crypto';

const BLOCK_CHARS = 64;

/**
 * The scripted engine's stand-in for vLLM's automatic prefix caching: prompts are cut into
 * 64-character blocks (~16 tokens), each block's hash chains everything before it and starts
 * from the request's `cache_salt` (so two tenants never share a block, as with vLLM), and the
 * most recently used blocks are kept up to a capacity. A request's cached tokens are its leading
 * blocks already held, which is what routing with prefix affinity is meant to raise.
 */
export class ScriptedPrefixCache {
  private readonly blocks = new Map<string, true>();
  queriedTokens = 0;
  hitTokens = 0;

  constructor(private readonly capacityBlocks = 4_096) {}

  /** Looks the prompt up, then holds all its blocks; returns the tokens served from cache. */
  admit(prompt: string, salt: string): number {
    let previous = createHash('sha256').update(`salt\u0000${salt}`).digest('hex');
    let leading = 0;
    let stillLeading = true;
    const count = Math.floor(prompt.length / BLOCK_CHARS);
    for (let index = 0; index < count; index += 1) {
      previous = createHash('sha256')
        .update(previous)
        .update(prompt.slice(index * BLOCK_CHARS, (index + 1) * BLOCK_CHARS))
        .digest('hex');
      stillLeading &&= this.blocks.delete(previous);
      if (stillLeading) leading += 1;
      else this.blocks.delete(previous);
      this.blocks.set(previous, true);
    }
    for (const key of this.blocks.keys()) {
      if (this.blocks.size <= this.capacityBlocks) break;
      this.blocks.delete(key);
    }
    const tokens = Math.ceil(prompt.length / 4);
    const cached = Math.min(tokens, (leading * BLOCK_CHARS) / 4);
    this.queriedTokens += tokens;
    this.hitTokens += cached;
    return cached;
  }
}
