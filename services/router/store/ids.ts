import { randomBytes } from 'node:crypto';

/** External ids: a readable prefix and 96 random bits (`agt_1f3a…`). */
export function newId(prefix: 'proj' | 'ws' | 'key' | 'jk' | 'agt' | 'inv' | 'apr' | 'wh' | 'ep'): string {
  return `${prefix}_${randomBytes(12).toString('hex')}`;
}
