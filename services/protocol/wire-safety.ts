import { defaultDecodeLimits } from './msgpack-scan.js';
import { FORBIDDEN_KEYS } from './msgpack-scan.js';

export interface WireLimits {
  readonly maxDepth: number;
  readonly maxCollectionLength: number;
  readonly maxItems: number;
}

/**
 * What a payload that travels inside a mesh frame may be. Payloads sit two levels below the
 * frame's root (frame → body → payload), and the rest of the frame needs a little room, so an
 * HTTP body checked against these limits always encodes to a frame the peer's decoder accepts.
 */
export const PAYLOAD_LIMITS: WireLimits = Object.freeze({
  maxDepth: defaultDecodeLimits.maxDepth - 2,
  maxCollectionLength: defaultDecodeLimits.maxCollectionLength,
  maxItems: defaultDecodeLimits.maxItems - 1_000,
});

export interface WireProblem {
  /** JSON-pointer-ish path of the first offending value (`/args/a/b`). */
  readonly path: string;
  readonly message: string;
}

/**
 * The first reason a plain JSON value could not cross the mesh, if any: nesting deeper than the
 * decoder allows, a collection or a whole payload with too many items, an integer a JS number
 * cannot hold exactly (JSON parsing already rounded it), or a key the decoder refuses. Walks
 * iteratively, so a hostile depth cannot overflow the stack.
 */
export function wireProblem(value: unknown, limits: WireLimits = PAYLOAD_LIMITS): WireProblem | undefined {
  const stack: { value: unknown; path: string; depth: number }[] = [{ value, path: '', depth: 1 }];
  let items = 0;
  while (stack.length > 0) {
    const { value: current, path, depth } = stack.pop()!;
    items += 1;
    if (items > limits.maxItems) return { path, message: `has more than ${limits.maxItems} values in all` };
    if (typeof current === 'number' && Number.isInteger(current) && !Number.isSafeInteger(current)) {
      return { path, message: 'is an integer beyond ±2^53-1, which cannot be carried exactly: send it as a string' };
    }
    if (typeof current !== 'object' || current === null) continue;
    if (depth > limits.maxDepth) return { path, message: `nests deeper than ${limits.maxDepth} levels` };
    const entries = Array.isArray(current)
      ? current.map((item, index) => [String(index), item] as const)
      : Object.entries(current);
    if (entries.length > limits.maxCollectionLength)
      return { path, message: `has more than ${limits.maxCollectionLength} members` };
    for (const [key, member] of entries) {
      if (!Array.isArray(current) && FORBIDDEN_KEYS.has(key))
        return { path: `${path}/${key}`, message: `uses the reserved key "${key}"` };
      stack.push({ value: member, path: `${path}/${key}`, depth: depth + 1 });
    }
  }
  return undefined;
}
