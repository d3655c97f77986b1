/**
 * How many CURVE handshakes one enrolled key may make: a burst, then one per refill period.
 * An honest agent handshakes once per connection and reconnects with backoff, so it stays well
 * inside; a key that keeps opening connections (the routing-id squat of security-anchors §1.4
 * needs one per guess) is refused at the handshake until its bucket refills. Pure: time is an
 * argument.
 */
export interface HandshakeBudgetOptions {
  /** Handshakes a key may make back to back. @default 10 */
  readonly burst?: number;
  /** One more handshake is allowed per this many ms. @default 20000 */
  readonly refillMs?: number;
  /** Keys tracked at most; the least recently seen are forgotten first. @default 100000 */
  readonly maxKeys?: number;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

export class HandshakeBudget {
  private readonly buckets = new Map<string, Bucket>();
  private readonly burst: number;
  private readonly refillMs: number;
  private readonly maxKeys: number;

  constructor(options: HandshakeBudgetOptions = {}) {
    this.burst = options.burst ?? 10;
    this.refillMs = options.refillMs ?? 20_000;
    this.maxKeys = options.maxKeys ?? 100_000;
  }

  /** Spends a handshake; false when the key has none left. */
  spend(keyHex: string, now: number): boolean {
    const bucket = this.current(keyHex, now);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  tokens(keyHex: string, now: number): number {
    return this.current(keyHex, now).tokens;
  }

  private current(keyHex: string, now: number): Bucket {
    let bucket = this.buckets.get(keyHex);
    if (bucket) {
      const refilled = Math.floor((now - bucket.updatedAt) / this.refillMs);
      bucket.tokens = Math.min(this.burst, bucket.tokens + refilled);
      bucket.updatedAt = bucket.tokens >= this.burst ? now : bucket.updatedAt + refilled * this.refillMs;
      this.buckets.delete(keyHex);
    } else {
      bucket = { tokens: this.burst, updatedAt: now };
      if (this.buckets.size >= this.maxKeys) this.buckets.delete(this.buckets.keys().next().value!);
    }
    this.buckets.set(keyHex, bucket);
    return bucket;
  }
}
