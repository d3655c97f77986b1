import type { ApiKeyRecord } from '../store/api-keys.js';

export type KeyState = 'valid' | 'revoked' | 'expired' | 'rotated_out';

/** Whether a stored key authenticates at `now`: not revoked, not expired, not past its grace. */
export function apiKeyState(key: Pick<ApiKeyRecord, 'revoked_at' | 'expires_at' | 'grace_until'>, now: Date): KeyState {
  if (key.revoked_at !== null && key.revoked_at <= now) return 'revoked';
  if (key.expires_at !== null && key.expires_at <= now) return 'expired';
  if (key.grace_until !== null && key.grace_until <= now) return 'rotated_out';
  return 'valid';
}
