import { createHash } from 'node:crypto';
import { toWireValue } from './canonical.js';

/**
 * What an approval is bound to: the frozen call, independent of which agent will run it. The
 * router computes it when the call is made, recomputes it at dispatch and sends it; the
 * executing agent recomputes it from what it received and refuses a mismatch, so a call changed
 * anywhere on the way (database row, frame) runs nowhere.
 */
export interface FrozenRequest {
  readonly tool: string;
  readonly args: Record<string, unknown>;
  readonly workspace_id: string;
}

/** sha256 (hex) of the canonical JSON (sorted keys): any change to tool, args or workspace changes it. */
export function requestHash(request: FrozenRequest): string {
  const canonical = toWireValue({ tool: request.tool, args: request.args, workspace_id: request.workspace_id });
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex');
}

/** Risk levels, least to most dangerous: the one order every party compares with. */
export const RISKS = ['read', 'write', 'destructive', 'irreversible'] as const;
export type Risk = (typeof RISKS)[number];

export function riskRank(risk: Risk): number {
  return RISKS.indexOf(risk);
}

/** The stricter of two risks. */
export function stricterRisk(a: Risk, b: Risk): Risk {
  return riskRank(a) >= riskRank(b) ? a : b;
}

export function isRisk(value: unknown): value is Risk {
  return typeof value === 'string' && (RISKS as readonly string[]).includes(value);
}
